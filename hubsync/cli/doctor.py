"""`hubsync doctor`: why an inbox disconnected, and what to do."""

import typer

from hubsync import config as cfg
from hubsync import doctor as core
from hubsync.cli import options
from hubsync.errors import HubsyncError
from hubsync.render import emit_json, hanging, out, safe, status, status_style
from hubsync.store import open_configured


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("doctor")(doctor_command)


def doctor_command(
    account: str = options.account(),
    timeout: float = options.timeout(),
    all_accounts: bool = typer.Option(False, "--all", help="Check every account."),
    offline: bool = typer.Option(
        False, "--offline", help="Only local checks (config, keyring, store, outbox, history)."
    ),
    json_out: bool = options.json_out(),
) -> None:
    """Diagnose accounts: config, keyring, DNS, TCP, TLS, IMAP login, capabilities, Sent folder,
    folder sizes, SMTP, sync history, outbox and store. Each check says pass, warn or fail,
    with the evidence and the fix. Exit 0 when nothing failed (warnings allowed), 1 otherwise.
    """
    config_error = None
    try:
        config = cfg.load()
    except HubsyncError as exc:
        config_error, config = exc, None
    results = []
    if config is None:
        results.append(("-", [core.config_check(str(cfg.paths.config_file()), config_error)]))
    else:
        names = list(config.accounts) if all_accounts else [config.account(account).name]
        store = _store()
        for name in names:
            checks = [core.config_check(str(config.path), None)]
            if timeout:
                config.accounts[name].timeout = timeout  # this run only
            with status(f"Checking {name}…", quiet=json_out):
                checks += core.run(config.accounts[name], store[0], offline)
            if store[1]:
                checks.append(store[1])
            results.append((name, checks))
    healthy = all(c.status != "fail" for _, checks in results for c in checks)
    if json_out:
        emit_json({"accounts": [core.to_dict(n, c) for n, c in results], "ok": healthy})
    else:
        for name, checks in results:
            out.print(f"[bold]Account {safe(name)}[/bold]")
            for c in checks:
                style = status_style(c.status)
                label = f"[{style}]{c.status.upper():4}[/{style}]"
                out.print(hanging(label, f"{c.id}: {safe(c.evidence)}", 2))
                if c.status != "pass" and c.fix:
                    out.print(hanging("[bold]Fix:[/bold]", safe(c.fix), 7))
        out.print("[green]Healthy.[/green]" if healthy else "[red]Problems found.[/red]")
    raise typer.Exit(0 if healthy else 1)


def _store():
    try:
        return open_configured(), None
    except HubsyncError as exc:
        return None, core.from_error("store", exc)
