"""`hubsync sync` and `hubsync log`."""

import contextlib
import signal
import sys

import typer

from hubsync import locking
from hubsync.cli import common, options
from hubsync.cli.sync_once import all_alone, settle_outbox, show_logged, sync_once
from hubsync.errors import AlreadyRunning, UsageError
from hubsync.render import emit_json, emit_json_line, err, out, safe
from hubsync.sync import engine, watch


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("sync")(sync_command)
    app.command("log")(log_command)


def sync_command(
    account: str = options.account(),
    every: bool = options.all_accounts("Sync"),
    timeout: float = options.timeout(),
    folder: list[str] = typer.Option(
        None,
        "--folder",
        "-f",
        metavar="FOLDER",
        help="Folder to sync (repeatable; this run only; default: the account's watched "
        "folders and Sent, see `accounts set --folders`).",
        autocompletion=options.complete_folder,
    ),
    watch_mode: bool = typer.Option(
        False, "--watch", help="Keep running: IMAP IDLE on the primary folder, with polls."
    ),
    poll: float = options.poll(watch.POLL, " With --watch."),
    sweep: float = options.sweep(),
    json_out: bool = options.json_out(),
) -> None:
    """Log replies to tracked threads. Nothing else is stored; mail is never marked as read.

    Reads every folder the account watches (`accounts set --folders`) and the Sent folder,
    and names each message it logged (`--json`: `messages`, with the ids other commands
    take). Only one sync runs per account at a time. With --all, every account in turn: one
    account's failure does not stop the others, and the exit code is that of the failure
    (1 when they differ).
    """
    if watch_mode:
        if every:
            raise all_alone()
        _watch_account(account, timeout, folder or None, json_out, poll, sweep)
        return
    raise typer.Exit(sync_once(account, every, timeout, folder or [], json_out))


def _watch_account(account, timeout, folders, json_out, poll, sweep) -> None:
    acc = common.account(account, timeout)
    store = common.store()
    password = common.password_for(acc)
    with locking.account_lock(acc.name), locking.team_account_lock(store, acc.name) as lost:
        settings = watch.WatchSettings(poll=poll, sweep=sweep)
        _watch(store, acc, password, folders, json_out, settings, lost)
        if lost.is_set():
            raise AlreadyRunning(
                f"Stopped watching {acc.name!r}: its lease ran out while the store was "
                "away, and another hubsync took the account over.",
                fix="Nothing was lost: that one logs its replies now; see `hubsync team status`.",
            )


def _watch(store, acc, password, folders, json_out, settings, stop=None) -> None:
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    def on_report(report: engine.SyncReport) -> None:
        settle_outbox(store, acc, password, report)
        if json_out:  # JSON Lines: each logged message, then the sync, as it happens
            for message in report.messages:
                emit_json_line({"event": "logged", **message.to_dict()})
            emit_json_line({"event": "sync", **report.to_dict()})
        else:
            primary = report.folders[0].folder if report.folders else "INBOX"
            others = len(report.folders) - 1
            also = f" and {others} other folder(s)" if others > 0 else ""
            out.print(
                f"Synced {safe(acc.name)}: scanned {report.total('scanned')}, logged "
                f"{report.total('logged')}. Watching {safe(primary)}{also} (Ctrl-C to stop)…"
            )
            show_logged(report)
            for error in report.errors:
                err.print(f"[red]Error:[/red] {safe(error)}")
        sys.stdout.flush()

    def on_trouble(message: str, delay: float) -> None:
        err.print(
            f"[yellow]Connection trouble:[/yellow] {safe(message)}; reconnecting in {delay:g}s"
        )
        if json_out:  # the watch goes on: an error event, not the end of the stream
            emit_json_line({"event": "error", "message": message, "retry_in": delay})

    def on_store(state: str, detail: str) -> None:
        if json_out:
            emit_json_line({"event": state, "account": acc.name, "detail": detail})
        if state == "store-lost":
            err.print(
                f"[yellow]The store cannot be reached:[/yellow] {safe(detail)}; waiting for it "
                "(nothing is lost: positions move only with their messages logged)"
            )
        else:
            err.print("[green]The store is back.[/green]")

    if json_out:
        emit_json_line({"event": "start", "account": acc.name})
    try:
        watch.watch(
            store, acc, password, folders, on_report, on_trouble, settings=settings,
            on_store=on_store, stop=stop,
        )  # fmt: skip
    except KeyboardInterrupt:
        err.print("Stopped watching.")


def log_command(
    files: list[str] = typer.Argument(
        None, metavar="FILE", help="Message files (.eml); - for standard input."
    ),
    account: str = options.account(),
    timeout: float = options.timeout(),
    folder: str = typer.Option(
        None,
        "--folder",
        metavar="FOLDER",
        help="Log a message from this IMAP folder...",
        autocompletion=options.complete_folder,
    ),
    uid: int = typer.Option(None, "--uid", metavar="UID", help="...with this UID."),
    json_out: bool = options.json_out(),
) -> None:
    """Log messages by hand (like a CRM's BCC address): each becomes a tracked thread, so
    replies to it are logged by later syncs."""
    from hubsync.sync import manual  # only for `log`

    acc = common.account(account, timeout)
    store = common.store()
    if folder or uid is not None:
        if not (folder and uid is not None) or files:
            raise UsageError("Give --folder and --uid together, and no files with them.")
        results = [manual.log_from_folder(store, acc, common.password_for(acc), folder, uid)]
    elif not files:
        raise UsageError("Give message files, - for standard input, or --folder/--uid.")
    else:
        results = []
        for name in files:
            with _open(name) as stream:
                results.append(manual.log_file(store, acc, name, stream))
    if json_out:
        emit_json({"account": acc.name, "logged": [r.to_dict() for r in results]})
        return
    for r in results:
        state = "logged" if r.new else "already in the log"
        out.print(f"{safe(r.source)}: {safe(r.message_id)} {state} (thread {r.thread_id})")


def _open(name: str):
    """The message file to log, or standard input for "-" (read as a stream, never whole)."""
    if name == "-":
        return contextlib.nullcontext(sys.stdin.buffer)
    try:
        return open(name, "rb")  # noqa: SIM115 - closed by the caller's with
    except OSError as exc:
        raise UsageError(f"Cannot read {name}: {exc.strerror}.") from None
