"""`hubsync service install|uninstall|status`: keep logging replies with no terminal open."""

import typer

from hubsync.cli import common, options
from hubsync.render import emit_json, err, out, safe

service_app = typer.Typer(
    help="Run `sync --watch` unattended (a systemd user unit; cron where there is no systemd).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(service_app, name="service")


@service_app.command("install")
def install_command(
    account: str = options.account(),
    no_enable: bool = typer.Option(
        False, "--no-enable", help="Only write the unit file; do not enable or start it."
    ),
    json_out: bool = options.json_out(),
) -> None:
    """Write a systemd user unit that runs `hubsync sync --watch` for the account, then
    enable and start it (restarted if it crashes; output in `journalctl --user`)."""
    from hubsync import service

    acc = common.account(account)
    problem = service.unattended_problem(acc)
    if problem is not None:
        raise problem
    state = service.install(acc.name, enable=not no_enable, settings=acc)
    _show(state, json_out, "Installed")


@service_app.command("uninstall")
def uninstall_command(
    account: str = options.account(), json_out: bool = options.json_out()
) -> None:
    """Stop and disable the account's unit and delete its file."""
    from hubsync import service

    acc = common.account(account)
    _show(service.uninstall(acc.name), json_out, "Uninstalled")


@service_app.command("status")
def status_command(account: str = options.account(), json_out: bool = options.json_out()) -> None:
    """Whether the account's unit is installed, enabled and running; the cron line to use
    where there is no systemd."""
    from hubsync import service

    acc = common.account(account)
    state = service.status(acc.name, acc)
    if not state.systemd:
        service.prepare_cron_log(acc.name)
    _show(state, json_out, None)


def _show(state, json_out: bool, verb: str | None) -> None:
    if json_out:
        emit_json(state.to_dict())
        return
    if verb:
        out.print(f"{verb} {safe(state.unit)} ({safe(state.path)}).")
    out.print(f"Unit file: {'present' if state.installed else 'absent'} ({safe(state.path)})")
    if state.systemd:
        out.print(f"systemd: enabled={safe(state.enabled)}, active={safe(state.active)}")
        if state.installed:
            out.print(f"Logs: journalctl --user -u {safe(state.unit)}")
    else:
        out.print(safe(state.note))
        out.print(
            f"Equivalent cron line (`crontab -e`; output appended to {safe(state.cron_log)}):"
        )
        out.print(state.cron, markup=False, highlight=False, soft_wrap=True)
        if state.cron_problem:
            err.print(f"[yellow]Warning:[/yellow] {safe(state.cron_problem)}")
