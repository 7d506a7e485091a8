"""`hubsync worker` and `hubsync team status`: a team's inboxes watched from its shared store."""

import signal
import time

import typer

from hubsync import config as cfg
from hubsync.cli import common, options
from hubsync.errors import UsageError
from hubsync.render import emit_json, emit_json_line, err, out, safe, show, table

team_app = typer.Typer(help="The team's shared log: who watches which inbox.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("worker")(worker_command)
    app.add_typer(team_app, name="team")


def worker_command(
    concurrency: int = typer.Option(
        50, "--concurrency", metavar="N", min=1, help="Watch at most this many accounts at once."
    ),
    lease: float = typer.Option(
        60.0,
        "--lease",
        metavar="SECONDS",
        min=3.0,
        help="How long a claim on an account lasts without renewal; a dead worker's accounts "
        "are taken over after this.",
    ),
    db_connections: int = typer.Option(
        10,
        "--db-connections",
        metavar="N",
        min=2,
        help="Connections to a PostgreSQL store in all: one for the lease rounds, the rest "
        "shared by all watched accounts.",
    ),
    poll: float = options.poll(
        4.0,
        " Shorter than sync --watch's 10 s: a server hosting many watched mailboxes is where "
        "IDLE goes silent (Dovecot past the kernel's inotify limit).",
    ),
    sweep: float = options.sweep(),
    json_out: bool = options.json_out(),
) -> None:
    """Watch the accounts of config.toml from the team's shared store: claim accounts through
    leases (no account is watched by two workers), keep an IMAP IDLE watch on each, log replies
    as `sync --watch` does, and give the leases up on Ctrl-C or SIGTERM (exit 0)."""
    from hubsync.sync.watch import WatchSettings
    from hubsync.team.worker import Worker

    config = cfg.load()
    if not config.accounts:
        raise UsageError(
            "No account is configured.", fix="Run `hubsync connect` for each inbox first."
        )
    store = common.store()
    shared = None
    if store.kind == "postgresql":
        from hubsync.store import open_configured

        shared = open_configured(pool=db_connections - 1)  # one is the lease rounds' own
    else:
        err.print(
            "Note: the store is a local SQLite file; workers on other machines cannot share "
            "it (set store_url, see docs/team.md)."
        )
    store.close()

    def on_event(event: dict) -> None:
        event = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **event}
        if json_out:
            emit_json_line(event)
            return
        details = ", ".join(
            f"{k}={v}" for k, v in event.items() if k not in ("at", "event", "account", "worker")
        )
        who = event["account"] or event["worker"]
        out.print(safe(f"{event['at']} {event['event']} {who} {details}".rstrip()))

    worker = Worker(
        common.store,
        list(config.accounts.values()),
        on_event,
        concurrency,
        lease_seconds=lease,
        shared_store=shared,
        watch_settings=WatchSettings(poll=poll, sweep=sweep),
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: worker.stop())
    try:
        worker.run()
    finally:
        if shared is not None:
            shared.close()


@team_app.command("status")
def team_status_command(json_out: bool = options.json_out()) -> None:
    """Every account: which worker holds it, until when, its last successful sync and its
    last failure with the reason code."""
    from hubsync.team.status import team_status, worker_status

    config = cfg.load()
    store = common.store()
    now = store.clock_ms()
    rows = team_status(store, list(config.accounts), now)
    workers = worker_status(store, now)
    if json_out:
        emit_json(
            {"store": store.kind, "accounts": [r.to_dict() for r in rows], "workers": workers}
        )
        return
    for w in workers:
        out.print(
            f"Worker {safe(w['worker'])}: {w['accounts_held']} account(s), last heard from "
            f"{w['seconds_ago']:g} s ago"
            + (" (waiting for the database, or stopped)" if w["seconds_ago"] > 120 else "")
        )
    made = table(None, "account", "worker", "lease until", "last sync", "last failure")
    for r in rows:
        lease = (r.lease_expires or "-") + (" (expired)" if r.lease_expired else "")
        failure = f"{r.last_failure['reason']} at {r.last_failure['at']}" if r.last_failure else "-"
        made.add_row(
            safe(r.account), safe(r.worker or "-"), safe(lease), safe(r.last_sync or "never"),
            safe(failure),
        )  # fmt: skip
    show(made)


@team_app.command("key")
def team_key_command(
    path: str = typer.Argument(..., metavar="FILE", help="Where to write the new key (0600)."),
) -> None:
    """Make a new key file for the team store's encrypted secrets. Give every worker the same
    file through HUBSYNC_SECRET_KEY_FILE; without it the stored secrets cannot be read."""
    from pathlib import Path

    from hubsync.team import secrets

    written = secrets.new_key_file(Path(path))
    out.print(f"Wrote a new key to {safe(str(written))}; keep a copy somewhere safe.")


@team_app.command("secret")
def team_secret_command(
    account: str = typer.Argument(..., metavar="NAME", help="The account whose secret to store."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input (one line)."
    ),
    json_out: bool = options.json_out(),
) -> None:
    """Keep the account's password in the team store, encrypted with the key file named by
    HUBSYNC_SECRET_KEY_FILE (never in clear), and set the account's credential_source to
    "store" so workers read it from there."""
    import getpass
    import sys

    from hubsync.team import secrets

    config = cfg.load()
    acc = config.account(account)
    if password_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        value = getpass.getpass(f"Password for {acc.name}: ")
    else:
        raise UsageError("Give the password with --password-stdin (no terminal to ask on).")
    if not value:
        raise UsageError("The password is empty; nothing was stored.")
    store = common.store()
    secrets.put(store, acc.name, value)
    acc.credential_source = "store"
    config.save()
    if json_out:
        emit_json({"account": acc.name, "stored": True, "credential_source": "store"})
        return
    out.print(f"Stored the password of {safe(acc.name)} in the team store, encrypted.")
