"""`hubsync discover`, `hubsync connect` and `hubsync accounts ...`."""

import sys

import typer
from rich.table import Table

from hubsync import accounts as core
from hubsync import config as cfg
from hubsync import credentials, redact
from hubsync.errors import CredentialError, UsageError
from hubsync.mail.discovery import Discovery, discover
from hubsync.render import emit_json, err, interactive, mark, out, safe

accounts_app = typer.Typer(
    help="List, show, remove accounts, or choose the default one.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("discover")(discover_command)
    app.command("connect")(connect_command)
    app.add_typer(accounts_app, name="accounts")


def discover_command(
    email: str = typer.Argument(..., help="The email address to find servers for."),
    cafile: str = typer.Option(None, "--cafile", help="Also trust this CA bundle."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Find the IMAP and SMTP servers for EMAIL (provider table, DNS SRV, autoconfig, MX,
    guesses), probe each candidate, and pick the most secure verified one.

    Exit 0 when an IMAP server was found and verified, 1 otherwise.
    """
    found = discover(email, cafile)
    if json_out:
        emit_json(found.to_dict())
    else:
        show_discovery(found)
    raise typer.Exit(0 if found.imap else 1)


def show_discovery(found: Discovery) -> None:
    """Render a discovery as a table with the chosen servers."""
    table = Table(title=f"Server candidates for {safe(found.email)}")
    for col in ("kind", "host", "port", "security", "source", "verified"):
        table.add_column(col)
    for c in found.candidates:
        table.add_row(
            c.kind,
            safe(c.host),
            str(c.port),
            c.security,
            safe(c.source),
            f"{mark(c.verified)} {safe(c.check)}",
        )
    out.print(table)
    if found.provider:
        out.print(f"Provider: [bold]{found.provider.name}[/bold]")
    for prefix in found.not_offered:
        out.print(
            f"DNS says {safe(prefix)} is not offered for {safe(found.domain)} (SRV target '.')."
        )
    for label, chosen in (("IMAP", found.imap), ("SMTP", found.smtp)):
        if chosen:
            out.print(
                f"{label}: [green]{safe(chosen.host)}:{chosen.port} {chosen.security}[/green] "
                f"(from {chosen.source})"
            )
        else:
            out.print(f"{label}: [red]none verified[/red]")
    if found.pop3_only:
        from hubsync.mail.probe import POP3_ONLY_EXPLANATION

        out.print(f"[yellow]POP3 only.[/yellow] {POP3_ONLY_EXPLANATION}")
    for note in found.notes:
        out.print(f"[dim]{safe(note)}[/dim]")


def connect_command(
    email: str = typer.Argument(..., help="The inbox's email address."),
    account: str = typer.Option(None, "--account", help="Name for the account (default: EMAIL)."),
    imap_host: str = typer.Option(None, "--imap-host"),
    imap_port: int = typer.Option(None, "--imap-port"),
    imap_security: str = typer.Option(None, "--imap-security", help="ssl or starttls."),
    smtp_host: str = typer.Option(None, "--smtp-host"),
    smtp_port: int = typer.Option(None, "--smtp-port"),
    smtp_security: str = typer.Option(None, "--smtp-security", help="ssl or starttls."),
    username: str = typer.Option(None, "--username", help="Login name (default: EMAIL)."),
    display_name: str = typer.Option(None, "--name", help="Your name for the From header."),
    sent_folder: str = typer.Option(None, "--sent-folder", help="Use this Sent folder."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    store: str = typer.Option(
        "keyring",
        "--store",
        help="Where the password goes: keyring, or none (then give it "
        "each run via HUBSYNC_PASSWORD or a password_command).",
    ),
    cafile: str = typer.Option(None, "--cafile", help="Also trust this CA bundle."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Never prompt."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Connect an inbox: IMAP connect and login, capabilities, Sent folder, SMTP connect and
    authentication. The account is saved (and the password stored) only if every step passed.

    Running it again for an existing account updates it (e.g. after a password change).
    """
    for value, name in ((imap_security, "--imap-security"), (smtp_security, "--smtp-security")):
        if value and value not in cfg.SECURITY_MODES:
            raise UsageError(f"{name} must be ssl or starttls.")
    if store not in ("keyring", "none"):
        raise UsageError("--store must be keyring or none.")
    config = cfg.load()
    existing = core.find_existing(config, email, account)
    request = core.ConnectRequest(
        email=email,
        account=account,
        imap_host=imap_host,
        imap_port=imap_port,
        imap_security=imap_security,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_security=smtp_security,
        username=username,
        cafile=cafile,
        sent_folder=sent_folder,
        display_name=display_name,
    )
    if not json_out and not (imap_host and smtp_host):
        err.print("Looking up settings…")
    plan, found = core.plan(request, existing)
    password = _password(password_stdin, yes, plan)

    def show_step(step: core.Step) -> None:
        if not json_out:
            out.print(f"{mark(step.ok)} {step.name}: {safe(step.detail)}")

    result = core.verify(plan, password, on_step=show_step)
    result.discovery = found
    if result.failure:
        if json_out:
            emit_json(result.to_dict())
            json_out = False  # the error itself goes to stderr below, not a second JSON
        raise result.failure
    core.save_connected(config, result.account, password, store)
    if json_out:
        emit_json(result.to_dict())
        return
    where = "the OS keyring" if store == "keyring" else "nowhere (give it each run)"
    out.print(
        f"[green]Connected[/green] {safe(plan.email)} as account [bold]{safe(plan.name)}[/bold]; "
        f"password stored in {where}; settings in {safe(config.path)}."
    )


def _password(from_stdin: bool, yes: bool, plan: cfg.Account) -> str:
    """The password to connect with, from the same sources and in the same order as every
    other command (credentials.resolve), with a prompt before the keyring on a terminal: a
    user reconnecting after a password change types the new one."""
    stdin_value = None
    if from_stdin:
        stdin_value = sys.stdin.readline().rstrip("\r\n")
        if not stdin_value:
            raise UsageError("--password-stdin was given but standard input was empty.")
    prompt = None
    if interactive() and not yes:

        def prompt() -> str:
            return typer.prompt(f"Password for {plan.name}", hide_input=True)

    try:
        secret = credentials.resolve(plan.name, plan.password_command or None, stdin_value, prompt)
    except CredentialError as exc:
        raise UsageError(
            "No password given, and hubsync does not prompt without a terminal (or with "
            f"--yes). ({exc.message})",
            fix="Pass --password-stdin (e.g. `pass show mail | hubsync connect ... "
            "--password-stdin`) or set HUBSYNC_PASSWORD.",
            reason="password-missing",
        ) from None
    redact.register(secret.value)
    return secret.value


@accounts_app.command("list")
def list_command(json_out: bool = typer.Option(False, "--json", help="Print JSON only.")) -> None:
    """List connected accounts."""
    config = cfg.load()
    rows = [_summary(config, a) for a in config.accounts.values()]
    if json_out:
        emit_json({"default": config.default_account or None, "accounts": rows})
        return
    if not rows:
        out.print("No accounts yet. Connect one with `hubsync connect you@example.com`.")
        return
    table = Table(title="Accounts")
    for col in ("", "account", "email", "IMAP", "SMTP", "Sent folder"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            "*" if r["default"] else "",
            safe(r["account"]),
            safe(r["email"]),
            safe(f"{r['imap']['host']}:{r['imap']['port']} {r['imap']['security']}"),
            safe(f"{r['smtp']['host']}:{r['smtp']['port']} {r['smtp']['security']}"),
            safe(f"{r['sent_folder']} ({r['sent_folder_rule']})"),
        )
    out.print(table)


@accounts_app.command("show")
def show_command(
    name: str = typer.Argument(...),
    json_out: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Show one account's settings (never its password)."""
    config = cfg.load()
    data = _summary(config, config.account(name))
    data["settings"] = config.account(name).to_toml()
    if json_out:
        emit_json(data)
        return
    for key, value in data["settings"].items():
        out.print(f"[bold]{key}[/bold] = {safe(value)}")
    out.print(f"[bold]password[/bold]: {data['password']}")


@accounts_app.command("remove")
def remove_command(
    name: str = typer.Argument(...),
    json_out: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Remove an account and delete its password from the keyring."""
    config = cfg.load()
    deleted = core.remove(config, name)
    if json_out:
        emit_json({"removed": name, "secret_deleted": deleted})
    else:
        out.print(
            f"Removed account {name}"
            + ("; its password was deleted from the keyring." if deleted else "."),
            markup=False,
        )


@accounts_app.command("default")
def default_command(
    name: str = typer.Argument(...),
    json_out: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Make NAME the default account."""
    config = cfg.load()
    config.account(name)
    config.default_account = name
    config.save()
    if json_out:
        emit_json({"default": name})
    else:
        out.print(f"Default account: {safe(name)}")


KEYRING_STATUS_TEXT = {
    "stored": "in keyring",
    "missing": "missing from keyring",
    "locked": "keyring locked",
    "unavailable": "keyring unavailable",
}


def _summary(config: cfg.Config, a: cfg.Account) -> dict:
    if a.credential_source == "keyring":
        stored = KEYRING_STATUS_TEXT[credentials.keyring_status(a.name)]
    else:
        stored = "HUBSYNC_PASSWORD or password_command"
    return {
        "account": a.name,
        "email": a.email,
        "default": a.name == config.default_account,
        "imap": {"host": a.imap_host, "port": a.imap_port, "security": a.imap_security},
        "smtp": {"host": a.smtp_host, "port": a.smtp_port, "security": a.smtp_security},
        "sent_folder": a.sent_folder,
        "sent_folder_rule": a.sent_folder_rule,
        "provider": a.provider or None,
        "password": stored,
    }
