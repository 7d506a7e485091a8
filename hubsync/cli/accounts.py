"""`hubsync discover`, `hubsync connect` and `hubsync accounts ...`."""

import shlex
import sys
from typing import TYPE_CHECKING

import typer

from hubsync import accounts as core
from hubsync import client_setup, credentials, redact, render
from hubsync import config as cfg
from hubsync.cli import options
from hubsync.errors import AuthFailure, CredentialError, UsageError
from hubsync.mail import discovery_verdict
from hubsync.mail.discovery import Discovery, discover
from hubsync.oauth.grant import TokenSource
from hubsync.render import emit_json, emit_json_line, err, interactive, mark, out, safe

if TYPE_CHECKING:
    from hubsync.oauth.flows import DeviceCode
    from hubsync.oauth.signin import OAuthRequest

accounts_app = typer.Typer(
    help="List, show, remove accounts, or choose the default one.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("discover")(discover_command)
    app.command("connect")(connect_command)
    app.add_typer(accounts_app, name="accounts")


def discover_command(
    email: str = typer.Argument(
        ..., metavar="ADDRESS", help="The email address to find servers for."
    ),
    cafile: str = options.cafile(),
    json_out: bool = options.json_out(),
) -> None:
    """Find the IMAP and SMTP servers for ADDRESS (provider table, DNS SRV, autoconfig, MX,
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
    table = render.table(
        f"Server candidates for {safe(found.email)}",
        *("kind", "host", "port", "security", "source", "verified"),
    )
    for c in found.candidates + found.guesses:  # what was tried, the failed guesses too
        table.add_row(
            c.kind,
            safe(c.host),
            str(c.port),
            c.security,
            safe(c.source),
            f"{mark(c.verified)} {safe(c.check)}",
        )
    render.show(table)
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
            why = discovery_verdict.explain(found, label.lower(), f"--{label.lower()}")
            out.print(f"{label}: [red]none verified[/red]: {safe(why.cause)}")
            out.print(f"  [bold]Fix:[/bold] {safe(why.fix)}")
    if found.pop3_only:
        from hubsync.mail.probe import POP3_ONLY_EXPLANATION

        out.print(f"[yellow]POP3 only.[/yellow] {POP3_ONLY_EXPLANATION}")
    for note in found.notes:
        out.print(f"[dim]{safe(note)}[/dim]")


def connect_command(
    email: str = typer.Argument(..., metavar="ADDRESS", help="The inbox's email address."),
    account: str = typer.Option(
        None,
        "--account",
        "-a",
        metavar="NAME",
        help="Name for the account (default: ADDRESS).",
        autocompletion=options.complete_account,
    ),
    imap_host: str = typer.Option(
        None, "--imap-host", metavar="HOST", help="IMAP server host name (default: discovered)."
    ),
    imap_port: int = typer.Option(
        None, "--imap-port", metavar="PORT", help="IMAP port (993 for SSL/TLS, 143 for STARTTLS)."
    ),
    imap_security: str = typer.Option(
        None, "--imap-security", metavar="ssl|starttls", help="ssl or starttls."
    ),
    smtp_host: str = typer.Option(
        None, "--smtp-host", metavar="HOST", help="SMTP submission host name (default: discovered)."
    ),
    smtp_port: int = typer.Option(
        None,
        "--smtp-port",
        metavar="PORT",
        help="SMTP submission port (465 for SSL/TLS, 587 for STARTTLS).",
    ),
    smtp_security: str = typer.Option(
        None, "--smtp-security", metavar="ssl|starttls", help="ssl or starttls."
    ),
    username: str = typer.Option(
        None, "--username", metavar="LOGIN", help="Login name (default: ADDRESS)."
    ),
    display_name: str = typer.Option(
        None, "--name", metavar="DISPLAY-NAME", help="Your name for the From header."
    ),
    sent_folder: str = typer.Option(
        None, "--sent-folder", metavar="FOLDER", help="Use this Sent folder."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    store: str = typer.Option(
        "keyring",
        "--store",
        metavar="keyring|none",
        help="Where the password goes: keyring, or none (then give it "
        "each run via HUBSYNC_PASSWORD or a password_command).",
    ),
    cafile: str = options.cafile(),
    auth: str = typer.Option(
        None,
        "--auth",
        metavar="password|oauth2",
        help="password (default) or oauth2 (Gmail, Microsoft 365, any OpenID Connect issuer).",
    ),
    oauth_flow: str = typer.Option(
        None,
        "--oauth-flow",
        metavar="browser|device",
        help="browser (sign in through a browser; default on a desktop) or device (enter a "
        "code on another device; default without a display or with --no-browser).",
    ),
    oauth_issuer: str = typer.Option(
        None,
        "--oauth-issuer",
        metavar="URL",
        help="OAuth2 issuer URL (known for Gmail and Microsoft 365).",
    ),
    oauth_client_id: str = typer.Option(
        None,
        "--oauth-client-id",
        metavar="ID",
        help="Your registered OAuth2 client ID (see docs/oauth.md).",
    ),
    oauth_client_secret_stdin: bool = typer.Option(
        False,
        "--oauth-client-secret-stdin",
        help="Read the client secret from stdin (Google 'Desktop app' clients have one).",
    ),
    scope: list[str] = typer.Option(
        None,
        "--scope",
        metavar="SCOPE",
        help="OAuth2 scope to ask for (repeatable; known for the big two).",
    ),
    oauth_mechanism: str = typer.Option(
        None,
        "--oauth-mechanism",
        metavar="XOAUTH2|OAUTHBEARER",
        help="XOAUTH2 or OAUTHBEARER first (default: automatic).",
    ),
    oauth_token_command: str = typer.Option(
        None,
        "--oauth-token-command",
        metavar="COMMAND",
        help="A command that prints an access token (run without a shell for each login), "
        "for organisations that hand out tokens another way.",
    ),
    no_browser: bool = typer.Option(
        False, "--no-browser", help="Never open a browser: print the sign-in URL or code."
    ),
    oauth_timeout: float = typer.Option(
        300.0, "--oauth-timeout", metavar="SECONDS", help="Seconds to wait for the browser sign-in."
    ),
    log_attachments: bool = options.log_attachments(),
    attachment_limit_mb: float = options.attachment_limit_mb(),
    log_folder: str = options.log_folder(),
    log_keyword: str = options.log_keyword(),
    log_address: str = options.log_address(),
    track_sent: str = options.track_sent(),
    test_log_address: bool = typer.Option(
        False,
        "--test-log-address",
        help="Send one test message to the --log-address and say whether (and where) the "
        "server delivers it.",
    ),
    timeout: float = options.timeout(),
    yes: bool = options.yes(),
    json_out: bool = options.json_out(),
) -> None:
    """Connect an inbox: IMAP connect and login, capabilities, Sent folder, the ways of
    logging from your mail client, SMTP connect and authentication. The account is saved
    (and the password or OAuth2 sign-in stored) only if every step passed.

    Running it again for an existing account updates it (e.g. after a password change, or to
    sign in again with --auth oauth2 after consent was revoked).
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
    if auth not in (None, "password", "oauth2"):
        raise UsageError("--auth must be password or oauth2.")
    plan.auth = auth or plan.auth or "password"
    if log_attachments is not None:
        plan.log_attachments = log_attachments
    if attachment_limit_mb is not None:
        plan.attachment_limit_mb = attachment_limit_mb
    client_setup.change(plan, log_folder, log_keyword, log_address, track_sent)
    if test_log_address and not plan.log_address:
        raise UsageError("--test-log-address needs a logging address: give --log-address.")
    ways_options = {
        "create_log_folder": log_folder is not None and bool(plan.log_folder),
        "test_log_address": test_log_address,
    }
    saved_timeout = plan.timeout
    if timeout:
        plan.timeout = timeout  # this run only; the account's own `timeout` is kept
    retry_prompt = None  # asks again after a refused password typed at the prompt
    if plan.auth == "oauth2":
        from hubsync.oauth.signin import OAuthRequest  # only for OAuth2 sign-ins

        secret = _oauth_sign_in(
            plan,
            config,
            OAuthRequest(
                flow=oauth_flow,
                issuer=oauth_issuer,
                client_id=oauth_client_id,
                client_secret=_stdin_line("--oauth-client-secret-stdin")
                if oauth_client_secret_stdin
                else "",
                scopes=list(scope or []),
                mechanism=oauth_mechanism,
                token_command=shlex.split(oauth_token_command) if oauth_token_command else [],
                open_browser=not no_browser,
                timeout=oauth_timeout,
            ),
            json_out,
        )
        store = "keyring" if secret.pending is not None else "none"
    else:
        secret, source = _password(password_stdin, yes, plan)
        if source == "prompt":
            retry_prompt = _prompt_for(plan)

    def show_step(step: core.Step) -> None:
        if json_out:
            return
        if step.ok:
            out.print(f"{mark(step.ok)} {step.name}: {safe(step.detail)}")
        else:  # the error itself is printed once, on stderr
            out.print(f"{mark(step.ok)} {step.name}: failed")

    if not json_out:
        imap_at = plan.imap_endpoint()
        err.print(f"Connecting to {safe(str(imap_at))}…")  # the first step can take a while
    result, secret = _verify_with_retries(plan, secret, show_step, retry_prompt, ways_options)
    result.discovery = found
    if result.failure:
        # One JSON object under --json: the error, with the steps that ran inside it.
        result.failure.details["connect"] = result.to_dict()
        raise result.failure
    if not json_out:
        out.print(safe(PRIVACY_STATEMENT))
    result.account.timeout = saved_timeout
    core.save_connected(config, result.account, secret, store)
    if json_out:
        emit_json(result.to_dict())
        return
    what = "OAuth2 sign-in" if plan.auth == "oauth2" else "password"
    where = "the OS keyring" if store == "keyring" else "nowhere (give it each run)"
    if plan.auth == "oauth2" and store == "none":
        where = "nowhere (tokens come from oauth_token_command)"
    out.print(
        f"[green]Connected[/green] {safe(plan.email)} as account [bold]{safe(plan.name)}[/bold]; "
        f"{what} stored in {where}; settings in {safe(config.path)}."
    )


def _stdin_line(option: str) -> str:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise UsageError(f"{option} was given but standard input was empty.")
    redact.register(value)
    return value


def _oauth_sign_in(
    plan: cfg.Account, config: cfg.Config, request: "OAuthRequest", json_out: bool
) -> TokenSource:
    """Sign in by the chosen flow. The URL or device code goes to stderr for the user and,
    with --json, as one JSON line on stdout as it happens (the result follows)."""
    from hubsync.oauth import signin

    signin.configure(plan, request, config)

    def on_url(url: str) -> None:
        err.print("Sign in and allow access in your browser:", markup=False)
        err.print(f"  {safe(url)}", soft_wrap=True)  # the provider's text: no escapes
        if json_out:
            emit_json_line({"event": "authorization-url", "url": url})
        err.print("Waiting for the sign-in…", markup=False)

    def on_code(code: "DeviceCode") -> None:
        err.print(
            f"To sign in, open {safe(code.verification_uri)} on any device and enter the code "
            f"{safe(code.user_code)} (valid for {code.expires_in / 60:.0f} minutes).",
            soft_wrap=True,
        )
        if json_out:
            emit_json_line(code.to_dict())
        err.print("Waiting for the sign-in…", markup=False)

    return signin.sign_in(plan, request, on_url, on_code)


PRIVACY_STATEMENT = (
    "What hubsync will read: the sender, recipients, subject and threading headers of new "
    "mail in the folders it watches, to find replies and the mail you mark for the log in "
    "your mail client; the body and attachments only of replies to threads you sent or "
    "logged with hubsync, and of the mail you marked. What it keeps: those threads (contacts' "
    "addresses and names, subjects, bodies, attachments while an email is under its size "
    "limit). Nothing of any other email is kept, not even its addresses."
)
PASSWORD_ATTEMPTS = 3


def _prompt_for(plan: cfg.Account):
    def prompt() -> str:
        value = typer.prompt(f"Password for {plan.name}", hide_input=True)
        redact.register(value)
        return value

    return prompt


def _verify_with_retries(plan, secret, show_step, retry_prompt, ways_options):
    """Verify; a password typed at the prompt and refused at login is asked for again, up to
    three tries in all (nothing is retyped but the password). Returns the result and the
    secret it was reached with."""
    for attempt in range(1, PASSWORD_ATTEMPTS + 1):
        result = core.verify(plan, secret, on_step=show_step, **ways_options)
        refused = isinstance(result.failure, AuthFailure)
        if not (refused and retry_prompt and attempt < PASSWORD_ATTEMPTS):
            return result, secret
        err.print(
            f"[red]{safe(result.failure.message.splitlines()[0])}[/red] "
            f"Try again ({PASSWORD_ATTEMPTS - attempt} left)."
        )
        secret = retry_prompt()
    return result, secret


def _password(from_stdin: bool, yes: bool, plan: cfg.Account) -> tuple[str, str]:
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
    return secret.value, secret.source


@accounts_app.command("list")
def list_command(json_out: bool = options.json_out()) -> None:
    """List connected accounts."""
    config = cfg.load()
    rows = [_summary(config, a) for a in config.accounts.values()]
    if json_out:
        emit_json({"default": config.default_account or None, "accounts": rows})
        return
    if not rows:
        out.print("No accounts yet. Connect one with `hubsync connect you@example.com`.")
        return
    table = render.table("Accounts", *("", "account", "email", "IMAP", "SMTP", "Sent folder"))
    for r in rows:
        table.add_row(
            "*" if r["default"] else "",
            safe(r["account"]),
            safe(r["email"]),
            safe(f"{r['imap']['host']}:{r['imap']['port']} {r['imap']['security']}"),
            safe(f"{r['smtp']['host']}:{r['smtp']['port']} {r['smtp']['security']}"),
            safe(f"{r['sent_folder']} ({r['sent_folder_rule']})"),
        )
    render.show(table)


@accounts_app.command("show")
def show_command(
    name: str = options.optional_account_name(),
    json_out: bool = options.json_out(),
) -> None:
    """Show one account's settings as config.toml has them (never its password)."""
    config = cfg.load()
    acc = config.account(name)
    data = _summary(config, acc)
    data["settings"] = acc.to_toml()
    data["client_ways"] = client_setup.settings(acc)
    if json_out:
        emit_json(data)
        return
    out.print(f"[bold]\\[accounts.{safe(cfg.toml_key(acc.name))}][/bold]")
    for key, value in data["settings"].items():
        out.print(safe(cfg.toml_line(key, value)))
    out.print(f"[bold]password[/bold]: {data['password']}")
    out.print(f"[bold]logging from your mail client[/bold]: {safe(client_setup.describe(acc))}")


@accounts_app.command("remove")
def remove_command(
    name: str = options.account_name(),
    yes: bool = options.yes(),
    json_out: bool = options.json_out(),
) -> None:
    """Remove an account and delete its password (or OAuth2 sign-in) from the keyring. Asks
    first on a terminal; without one, give --yes."""
    config = cfg.load()
    config.account(name)  # not found: said before asking
    if not yes:
        if not interactive():
            raise UsageError(
                f"Removing {name!r} deletes its stored password; confirm with --yes.",
                reason="confirmation-needed",
            )
        typer.confirm(
            f"Remove account {name} and delete its password from the keyring?", abort=True
        )
    deleted = core.remove(config, name)
    if json_out:
        emit_json({"removed": name, "secret_deleted": deleted})
    else:
        out.print(
            f"Removed account {name}"
            + ("; its password was deleted from the keyring." if deleted else "."),
            markup=False,
        )


@accounts_app.command("set")
def set_command(
    name: str = options.optional_account_name(),
    log_attachments: bool = options.log_attachments(),
    attachment_limit_mb: float = options.attachment_limit_mb(),
    timeout: float = options.timeout(),
    folders: str = typer.Option(
        None,
        "--folders",
        metavar="all|inbox|NAME,...",
        help="Which folders sync reads for replies: all (every folder a reply can land in: "
        "\\All where offered, else every folder but Junk, Trash and Drafts), inbox, or a "
        "comma-separated list. The Sent folder is always read.",
    ),
    exclude_folder: list[str] = typer.Option(
        None,
        "--exclude-folder",
        metavar="NAME",
        help="Never read this folder (repeatable; kept until --include-folder).",
    ),
    include_folder: list[str] = typer.Option(
        None,
        "--include-folder",
        metavar="NAME",
        help="Undo --exclude-folder for this folder (repeatable).",
    ),
    sent_copy_grace_minutes: float = typer.Option(
        None,
        "--sent-copy-grace-minutes",
        metavar="MINUTES",
        min=0,
        max=1440,
        help="Where the provider files its own Sent copy: how long to wait for it before "
        "hubsync files one (default 15).",
    ),
    log_folder: str = options.log_folder(),
    log_keyword: str = options.log_keyword(),
    log_address: str = options.log_address(),
    track_sent: str = options.track_sent(),
    never_log: list[str] = typer.Option(
        None,
        "--never-log",
        metavar="ADDRESS|DOMAIN",
        help="Never log mail with this address or domain (repeatable; added to never_log).",
    ),
    remove_never_log: list[str] = typer.Option(
        None,
        "--remove-never-log",
        metavar="ADDRESS|DOMAIN",
        help="Take this entry off never_log (repeatable).",
    ),
    sent_folder: str = typer.Option(
        None, "--sent-folder", metavar="FOLDER", help="Use this Sent folder."
    ),
    assignments: list[str] = typer.Option(
        None,
        "--set",
        metavar="KEY=VALUE",
        help="Set any setting of config.toml's account table, checked as config.toml is "
        "(repeatable): imap_host=..., smtp_port=587, imap_security=starttls, timeout=60, "
        "password_command='pass show mail/work', watched_folders='INBOX, Customers'.",
    ),
    unset: list[str] = typer.Option(
        None, "--unset", metavar="KEY", help="Put a setting back to its default (repeatable)."
    ),
    json_out: bool = options.json_out(),
) -> None:
    """Change an account's settings (what is not given stays as it is). Every key of the
    account's table in config.toml can be changed with --set KEY=VALUE; the common ones have
    options of their own."""
    config = cfg.load()
    acc = config.account(name)
    name = acc.name
    for item in assignments or []:
        key, equals, value = item.partition("=")
        if not equals:
            raise UsageError(f"--set {item!r} must look like KEY=VALUE.", reason="bad-option")
        cfg.apply_setting(acc, key.strip(), value)
    for key in unset or []:
        cfg.reset_setting(acc, key.strip())
    for entry in never_log or []:
        if entry.strip().lower() not in acc.never_log:
            acc.never_log.append(entry.strip().lower())
    drop = {e.strip().lower() for e in remove_never_log or []}
    acc.never_log = [e for e in acc.never_log if e.lower() not in drop]
    if sent_folder is not None:
        acc.sent_folder, acc.sent_folder_rule = sent_folder, "config"
    if folders is not None:
        acc.watched_folders = core.parse_folders_setting(folders)
    for folder in exclude_folder or []:
        if folder not in acc.excluded_folders:
            acc.excluded_folders.append(folder)
    acc.excluded_folders = [f for f in acc.excluded_folders if f not in (include_folder or [])]
    if sent_copy_grace_minutes is not None:
        acc.sent_copy_grace_minutes = sent_copy_grace_minutes
    if log_attachments is not None:
        acc.log_attachments = log_attachments
    if attachment_limit_mb is not None:
        acc.attachment_limit_mb = attachment_limit_mb
    if timeout is not None:
        acc.timeout = timeout
    client_setup.change(acc, log_folder, log_keyword, log_address, track_sent)
    config.save()
    settings = acc.to_toml()
    if json_out:
        emit_json({"account": name, "settings": settings})
        return
    out.print(f"[bold]\\[accounts.{safe(cfg.toml_key(name))}][/bold]")
    for key, value in settings.items():
        out.print(safe(cfg.toml_line(key, value)))
    out.print(f"Watched folders: {safe(core.describe_folders(acc))}")
    out.print(f"Logging from your mail client: {safe(client_setup.describe(acc))}")


@accounts_app.command("default")
def default_command(
    name: str = options.account_name(),
    json_out: bool = options.json_out(),
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
    if a.auth == "oauth2" and a.oauth_token_command:
        stored = "OAuth2 tokens from oauth_token_command"
    elif a.credential_source == "keyring":
        stored = KEYRING_STATUS_TEXT[credentials.keyring_status(a.name)]
        stored = f"OAuth2 sign-in {stored}" if a.auth == "oauth2" else stored
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
        "auth": a.auth,
        "password": stored,
    }
