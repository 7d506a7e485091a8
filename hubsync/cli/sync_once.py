"""One sync of one account, or of every account (`hubsync sync` without --watch): run it,
render what it logged, return the exit code. Free of Typer, so the quick dispatch
(``hubsync.cli.quick``) and the Typer command share it; Rich only once there is something
to show a person."""

from hubsync import locking, render
from hubsync.cli import common
from hubsync.cli.failures import say_failure
from hubsync.errors import EXIT_FAILED, HubsyncError, UsageError
from hubsync.logbook import display
from hubsync.render import emit_json, err, interactive, out, safe
from hubsync.sync import engine


def all_alone() -> UsageError:
    """--all with --watch or --folder."""
    return UsageError(
        "--all syncs every account once; it does not go with --watch or --folder.",
        fix="Watch many accounts with `hubsync worker`, or one `sync --watch` each.",
    )


def sync_once(
    account: str | None, every: bool, timeout: float | None, folders: list[str], json_out: bool
) -> int:
    """Sync the account (or, with ``every``, each account) once; return the exit code."""
    if every:
        if folders:
            raise all_alone()
        return _sync_all(common.accounts(account, every, timeout), json_out)
    acc = common.account(account, timeout)
    store = common.store()
    password = common.password_for(acc)
    with locking.account_lock(acc.name), locking.team_account_lock(store, acc.name):
        report = _run_once(store, acc, password, folders or None, json_out)
        settle_outbox(store, acc, password, report)
    if json_out:
        emit_json(report.to_dict())
    else:
        show_report(report)
    return 1 if report.errors else 0


def _sync_all(accounts, json_out: bool) -> int:
    results: list[dict] = []
    codes: set[int] = set()
    for acc in accounts:
        try:
            store = common.store()
            password = common.password_for(acc)
            with locking.account_lock(acc.name), locking.team_account_lock(store, acc.name):
                report = _run_once(store, acc, password, None, json_out)
                settle_outbox(store, acc, password, report)
        except HubsyncError as exc:
            codes.add(exc.exit_code)
            results.append({"account": acc.name, **exc.to_dict()})
            say_failure(exc, about=acc.name)
            continue
        if report.errors:
            codes.add(EXIT_FAILED)
        results.append(report.to_dict())
        if not json_out:
            show_report(report)
    if json_out:
        emit_json({"accounts": results, "ok": not codes})
    return 0 if not codes else codes.pop() if len(codes) == 1 else EXIT_FAILED


def _run_once(store, acc, password, folders, json_out) -> engine.SyncReport:
    if json_out or not interactive():
        return engine.sync_account(store, acc, password, folders)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=render.console(err), transient=True) as bar:
        # Shown from the first moment: connecting and logging in can take seconds.
        waiting = bar.add_task(f"Connecting to {safe(acc.imap_host)}…", total=None)
        tasks: dict[str, int] = {}

        def progress(folder: str, done: int, total: int) -> None:
            if folder not in tasks:
                bar.update(waiting, visible=False)
                tasks[folder] = bar.add_task(f"Scanning {safe(folder)}", total=total)
            bar.update(tasks[folder], completed=done)

        return engine.sync_account(store, acc, password, folders, progress)


def settle_outbox(store, acc, password, report: engine.SyncReport) -> None:
    """After a sync: file the Sent copy of a send whose delivery a reply just proved, and
    look for the provider's own copies that sends are waiting for (filing one once the
    grace period is over). Never a resend; a failure leaves the copy owed."""
    if not report.total("deliveries_proven") and not store.outbox(acc.name, ("awaiting-copy",)):
        return
    from hubsync import sending  # only when the outbox has something to settle

    for item in sending.retry_filing(store, acc, password):
        if item.get("error"):
            err.print(
                f"[yellow]The Sent copy of {safe(item['message_id'])} is still owed:[/yellow] "
                f"{safe(item['error'])} (`hubsync outbox --retry` files it)"
            )


def show_report(report: engine.SyncReport) -> None:
    """Render a sync report as a table."""
    counts = ("scanned", "matched", "logged", "never-log", "attachments", "skipped attachments")
    table = render.table(f"Sync of {safe(report.account)}", "folder", *counts, right=counts)
    for f in report.folders:
        table.add_row(
            safe(f.folder) + (" (rescanned: UIDVALIDITY changed)" if f.uidvalidity_changed else ""),
            str(f.scanned),
            str(f.matched),
            str(f.logged),
            str(f.never_log_hits),
            str(f.attachments_logged),
            str(f.attachments_skipped),
        )
    render.show(table)
    show_logged(report)
    logged = report.total("logged")
    out.print(
        f"Logged {logged} {'reply' if logged == 1 else 'replies'} to tracked threads; other "
        "mail was read only as far as its Message-ID, In-Reply-To and References, and nothing "
        "of it was stored."
    )


def show_logged(report: engine.SyncReport) -> None:
    """One line per message the sync logged: who, what, and the id `why` takes."""
    for m in report.messages:
        who = display(m.contact["name"] or "", m.contact["address"] or "?")
        way = "from" if m.direction == "received" else "to"
        out.print(
            f"  logged {way} {safe(who)}: {safe(m.subject or '(no subject)')} "
            f"[dim]{safe(m.message_id)}[/dim]"
        )
    if report.total("unreadable"):
        err.print(
            f"[yellow]{report.total('unreadable')} matched message(s) could not be read[/yellow]"
            " and were skipped (the ones after them were synced); `hubsync report` lists them."
        )
    for error in report.errors:
        err.print(f"[red]Error:[/red] {safe(error)}")
