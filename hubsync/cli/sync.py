"""`hubsync sync` and `hubsync log`."""

import signal
import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hubsync import locking, logbook
from hubsync.cli import common
from hubsync.errors import MessageError, UsageError
from hubsync.mail import parse
from hubsync.render import emit_json, err, interactive, out
from hubsync.sync import bodies, engine, watch


def register(app: typer.Typer) -> None:
    app.command("sync")(sync_command)
    app.command("log")(log_command)


def sync_command(
    account: str = typer.Option(None, "--account", "-a"),
    folder: list[str] = typer.Option(
        None, "--folder", "-f", help="Folder to sync (repeatable; default: INBOX and Sent)."
    ),
    watch_mode: bool = typer.Option(False, "--watch", help="Keep running: IMAP IDLE on INBOX."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Log replies to tracked threads. Nothing else is stored; mail is never marked as read.

    Only one sync runs per account at a time.
    """
    acc = common.account(account)
    store = common.store()
    password = common.password_for(acc)
    with locking.account_lock(acc.name):
        if watch_mode:
            _watch(store, acc, password, folder or None, json_out)
            return
        report = _run_once(store, acc, password, folder or None, json_out)
    if json_out:
        emit_json(report.to_dict())
    else:
        show_report(report)
    raise typer.Exit(1 if report.errors else 0)


def _run_once(store, acc, password, folders, json_out) -> engine.SyncReport:
    if json_out or not interactive():
        return engine.sync_account(store, acc, password, folders)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(folder: str, done: int, total: int) -> None:
            if folder not in tasks:
                tasks[folder] = bar.add_task(f"Scanning {folder}", total=total)
            bar.update(tasks[folder], completed=done)

        return engine.sync_account(store, acc, password, folders, progress)


def _watch(store, acc, password, folders, json_out) -> None:
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    def on_report(report: engine.SyncReport) -> None:
        if json_out:
            emit_json(report.to_dict())
        else:
            out.print(
                f"Synced {acc.name}: scanned {report.total('scanned')}, logged "
                f"{report.total('logged')}. Watching INBOX (Ctrl-C to stop)…"
            )
        sys.stdout.flush()

    def on_trouble(message: str, delay: float) -> None:
        err.print(f"[yellow]Connection trouble:[/yellow] {message}; reconnecting in {delay:g}s")

    try:
        watch.watch(store, acc, password, folders, on_report, on_trouble)
    except KeyboardInterrupt:
        err.print("Stopped watching.")


def show_report(report: engine.SyncReport) -> None:
    table = Table(title=f"Sync of {report.account}")
    for col in (
        "folder",
        "scanned",
        "matched",
        "logged",
        "never-log",
        "attachments",
        "skipped attachments",
    ):
        table.add_column(col, justify="right" if col != "folder" else "left")
    for f in report.folders:
        table.add_row(
            f.folder + (" (rescanned: UIDVALIDITY changed)" if f.uidvalidity_changed else ""),
            str(f.scanned),
            str(f.matched),
            str(f.logged),
            str(f.never_log),
            str(f.attachments_stored),
            str(f.attachments_skipped),
        )
    out.print(table)
    out.print(
        f"Logged {report.total('logged')} repl(ies) to tracked threads; other mail was "
        "read only as far as its Message-ID, In-Reply-To and References, and nothing of "
        "it was stored."
    )
    for error in report.errors:
        err.print(f"[red]Error:[/red] {error}")


def log_command(
    files: list[str] = typer.Argument(None, help="Message files (.eml); - for standard input."),
    account: str = typer.Option(None, "--account", "-a"),
    folder: str = typer.Option(None, "--folder", help="Log a message from this IMAP folder..."),
    uid: int = typer.Option(None, "--uid", help="...with this UID."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Log messages by hand (like a CRM's BCC address): each becomes a tracked thread, so
    replies to it are logged by later syncs."""
    acc = common.account(account)
    store = common.store()
    results = []
    if folder or uid is not None:
        if not (folder and uid is not None) or files:
            raise UsageError("Give --folder and --uid together, and no files with them.")
        results.append(_log_from_server(store, acc, folder, uid))
    else:
        if not files:
            raise UsageError("Give message files, - for standard input, or --folder/--uid.")
        for name in files:
            raw = sys.stdin.buffer.read() if name == "-" else _read(name)
            try:
                outcome = logbook.log_manual(store, acc.name, raw, (acc.email,))
            except MessageError as exc:
                raise MessageError(f"{name}: {exc.message}", fix=exc.fix) from None
            results.append(_outcome(name, raw, outcome))
    if json_out:
        emit_json({"account": acc.name, "logged": results})
        return
    for r in results:
        state = "logged" if r["new"] else "already in the log"
        out.print(f"{r['source']}: {r['message_id']} {state} (thread {r['thread_id']})")


def _read(name: str) -> bytes:
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(f"Cannot read {name}: {exc.strerror}.") from None


def _log_from_server(store, acc, folder: str, uid: int) -> dict:
    with engine.session(acc, common.password_for(acc), store) as client:
        client.select_folder(folder, readonly=True)
        raw = bodies.fetch_full(client, uid)
    if not raw:
        raise UsageError(f"No message with UID {uid} in {folder}.", reason="no-such-message")
    outcome = logbook.log_manual(store, acc.name, raw, (acc.email,), folder, uid)
    return _outcome(f"{folder} UID {uid}", raw, outcome)


def _outcome(source: str, raw: bytes, outcome: logbook.LogOutcome) -> dict:
    return {
        "source": source,
        "message_id": parse.parse(raw, with_body=False).message_id,
        "thread_id": outcome.thread_id,
        "new": outcome.message_pk is not None,
        "contacts_created": outcome.contacts_created,
        "attachments_stored": outcome.attachments_stored,
    }
