"""Options shared by many commands: one spelling, one short flag, one placeholder and one help
text each, and the shell completions they offer (account, folder and template names)."""

import typer

from hubsync.cli.quick import TIMEOUT_RANGE


def complete_account(incomplete: str) -> list[str]:
    try:
        from hubsync import config as cfg

        names = cfg.load().accounts
    except Exception:  # noqa: BLE001 - a broken config must not break the user's shell
        return []
    return [n for n in names if n.startswith(incomplete)]


def complete_folder(incomplete: str) -> list[str]:
    """Folders of every account's last sync (read from the store; no network)."""
    import sqlite3

    try:
        from hubsync.store.db import db_path

        path = db_path()
        if not path.exists():
            return []
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            rows = conn.execute("SELECT DISTINCT folder FROM sync_state").fetchall()
    except Exception:  # noqa: BLE001 - completion never fails loudly
        return []
    return sorted(r[0] for r in rows if r[0].startswith(incomplete))


def _templates(incomplete: str) -> list[str]:
    try:
        from hubsync import templates

        return [t.name for t in templates.all_templates() if t.name.startswith(incomplete)]
    except Exception:  # noqa: BLE001 - completion never fails loudly
        return []


def account():
    """``--account/-a NAME``: the same on every command."""
    return typer.Option(
        None,
        "--account",
        "-a",
        metavar="NAME",
        help="The account to use (default: the default account; see `hubsync accounts list`).",
        autocompletion=complete_account,
    )


def all_accounts(what: str):
    """``--all``: every account of config.toml (instead of --account)."""
    return typer.Option(False, "--all", help=f"{what} every account (not with --account).")


def json_out():
    """``--json``: stdout carries exactly one JSON object (docs/schema/ has each shape)."""
    return typer.Option(False, "--json", help="Print one JSON object only (docs/schema/).")


def timeout():
    """``--timeout SECONDS``: how long any one network step may take (this run only)."""
    return typer.Option(
        None,
        "--timeout",
        metavar="SECONDS",
        min=TIMEOUT_RANGE[0],
        max=TIMEOUT_RANGE[1],
        help="Give up a network step (connect, TLS, login, one command) after this many "
        "seconds, 0.5 to 3600 (default: the account's `timeout`, else 30).",
    )


def template():
    return typer.Option(
        None,
        "--template",
        "-t",
        metavar="NAME",
        help="Use this saved template (see `hubsync templates list`).",
        autocompletion=_templates,
    )


def template_name(help_text: str = "The template's name."):
    return typer.Argument(..., metavar="NAME", help=help_text, autocompletion=_templates)


def account_name(help_text: str = "The account's name (see `hubsync accounts list`)."):
    return typer.Argument(..., metavar="NAME", help=help_text, autocompletion=complete_account)


def optional_account_name():
    """``[NAME]``: the account, the default account when not given."""
    return typer.Argument(
        None,
        metavar="[NAME]",
        help="The account's name (default: the default account; see `hubsync accounts list`).",
        autocompletion=complete_account,
    )


def cafile():
    return typer.Option(
        None, "--cafile", metavar="FILE", help="Also trust the CA certificates in this PEM file."
    )


def yes():
    return typer.Option(False, "--yes", "-y", help="Never prompt; assume yes to confirmations.")


def log_attachments():
    """``--log-attachments/--no-log-attachments`` (None: leave as it is)."""
    return typer.Option(
        None,
        "--log-attachments/--no-log-attachments",
        help="Store attachments of logged mail, or only note that there were some "
        "(default: store them).",
    )


def attachment_limit_mb():
    """``--attachment-limit-mb MB`` (None: leave as it is)."""
    return typer.Option(
        None,
        "--attachment-limit-mb",
        metavar="MB",
        min=0.001,
        max=1_000_000,
        help="Emails this large or larger are logged without their attachments (default 50).",
    )


def poll(default: float, more: str = ""):
    """``--poll SECONDS``: the watch checks its primary folder at least this often."""
    return typer.Option(
        default,
        "--poll",
        metavar="SECONDS",
        min=1,
        max=1500,
        help="Check the primary folder at least this often, whatever IDLE says (a server "
        "whose IDLE is silent, or a connection that died quietly, costs at most about this "
        "long; 2 s once IDLE was seen silent)." + more,
    )


def sweep():
    """``--sweep SECONDS``: how often the watch checks every other watched folder."""
    return typer.Option(
        60.0,
        "--sweep",
        metavar="SECONDS",
        min=1,
        max=86400,
        help="Check every other watched folder this often (STATUS first).",
    )


def log_folder():
    """``--log-folder NAME|off`` (None: leave as it is)."""
    return typer.Option(
        None,
        "--log-folder",
        metavar="NAME|off",
        help='Log every message you move or copy into this folder (default "CRM", where it '
        "exists); connect creates it. off: turn this way off.",
    )


def log_keyword():
    """``--log-keyword WORD|off`` (None: leave as it is)."""
    return typer.Option(
        None,
        "--log-keyword",
        metavar="WORD|off",
        help="Log every message in a read folder tagged with this IMAP keyword, in any case "
        "(default $CRM; a Thunderbird tag or an Apple Mail flag). off: turn it off.",
    )


def log_address():
    """``--log-address ADDRESS|off`` (None: leave as it is)."""
    return typer.Option(
        None,
        "--log-address",
        metavar="ADDRESS|off",
        help="A plus-address you BCC (e.g. you+crm@example.com): a message sent to it is "
        "logged, once. off: turn it off.",
    )


def track_sent():
    """``--track-sent off|contacts|all`` (None: leave as it is)."""
    return typer.Option(
        None,
        "--track-sent",
        metavar="off|contacts|all",
        help="Track mail you send from other mail clients (found in the Sent folder): to "
        "addresses that are already contacts, to anyone, or not at all (default). Only mail "
        "sent after it is turned on.",
    )
