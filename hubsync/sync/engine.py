"""Incremental sync: scan headers, match replies to tracked threads, log only those.

Per folder: examine it read-only, plan where to scan (``plan.plan_folder``), scan header
fields of new UIDs in bounded ranges, plan what to log (``plan.plan_range``), log it, and move
the sync position after each range. An unmatched message leaves no trace: not its headers,
not its addresses.
"""

import contextlib
import time
from collections.abc import Callable, Iterator

import imapclient

from hubsync import config as cfg
from hubsync.environment import fault_point
from hubsync.errors import HubsyncError, StoreError
from hubsync.mail import parse
from hubsync.sessions import Secret, imap_session
from hubsync.store import Store
from hubsync.sync.capture import log_replies
from hubsync.sync.fetch import BATCH, uid_ranges
from hubsync.sync.mailbox import FolderState, ImapMailbox, Mailbox
from hubsync.sync.plan import AlreadyLogged, LogReply, header_record, plan_folder, plan_range
from hubsync.sync.stats import FolderStats, SyncReport

Progress = Callable[[str, int, int], None]  # folder, done, total


@contextlib.contextmanager
def session(
    account: cfg.Account, password: Secret, store: Store
) -> Iterator[imapclient.IMAPClient]:
    """A logged-in IMAP session for one piece of work; a failure to connect or log in is
    recorded as an account event (doctor's history), and the session is always closed."""
    opened = False
    try:
        with imap_session(account, password) as client:
            opened = True
            yield client
    except HubsyncError as exc:
        if not opened:
            _record(store, account.name, exc.reason, exc.message)
        raise


def watched_folders(account: cfg.Account) -> list[str]:
    """The folders a sync reads: the watched ones (INBOX by default) and the Sent folder."""
    folders = list(account.watched_folders or ["INBOX"])
    if account.sent_folder and account.sent_folder not in folders:
        folders.append(account.sent_folder)
    return folders


def sync_account(
    store: Store,
    account: cfg.Account,
    password: Secret,
    folders: list[str] | None = None,
    progress: Progress | None = None,
    client: imapclient.IMAPClient | None = None,
) -> SyncReport:
    """Sync the account's watched folders (or ``folders``) over ``client``, or over a session
    of its own. Returns what was scanned and logged per folder; a folder the server refuses
    is reported in ``errors``, a lost connection raises ConnectionDropped."""
    if client is not None:
        return sync_mailbox(ImapMailbox(client), store, account, folders, progress)
    with session(account, password, store) as own:
        return sync_mailbox(ImapMailbox(own), store, account, folders, progress)


def sync_mailbox(
    mailbox: Mailbox,
    store: Store,
    account: cfg.Account,
    folders: list[str] | None = None,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> SyncReport:
    """Sync folders of ``mailbox`` into ``store``, scanning ``batch`` UIDs per range; the
    event history records the outcome."""
    report = SyncReport(account.name)
    try:
        tracked = store.tracked_ids(account.name)
        for folder in folders or watched_folders(account):
            try:
                report.folders.append(
                    sync_folder(mailbox, store, account, folder, tracked, progress, batch)
                )
            except imapclient.exceptions.IMAPClientAbortError:
                raise  # the connection is gone: no other folder can be synced
            except imapclient.exceptions.IMAPClientError as exc:
                message = f"{folder}: {exc}"
                report.errors.append(message)
                store.add_event(account.name, "sync", "folder-failed", detail=message)
    except StoreError:
        raise  # a full disk or damaged store: nothing more can be written, say why
    except HubsyncError as exc:
        _record(store, account.name, exc.reason, exc.message)
        raise
    except Exception as exc:
        # A defect, not an expected failure: record it so `doctor` shows the sync failed,
        # then let the CLI report it.
        _record(store, account.name, "internal-error", f"{type(exc).__name__}: {exc}", "sync")
        raise
    store.add_event(
        account.name,
        "sync",
        "ok" if not report.errors else "partial",
        detail=f"scanned {report.total('scanned')}, logged {report.total('logged')}",
    )
    return report


def _record(store: Store, account: str, reason: str, detail: str, kind: str = "connection") -> None:
    """Record a failure; if even that cannot be written, the original error wins."""
    with contextlib.suppress(StoreError):
        store.add_event(account, kind, reason, detail=detail)


def sync_folder(
    mailbox: Mailbox,
    store: Store,
    account: cfg.Account,
    folder: str,
    tracked: dict[str, int],
    progress: Progress | None = None,
    batch: int = BATCH,
) -> FolderStats:
    """Sync one folder from its stored position; ``tracked`` (Message-ID -> thread) grows
    with what is logged. Returns the folder's figures."""
    stats = FolderStats(folder)
    started = time.perf_counter()
    try:
        position = store.sync_state(account.name, folder)
        if position is not None and _unchanged(mailbox.status(folder), position):
            stats.unchanged, stats.last_uid = True, position["last_uid"]
            return stats
        state = mailbox.examine(folder)
        plan = plan_folder(state, position)
        if plan.rescan:
            stats.uidvalidity_changed = True
            store.add_event(
                account.name,
                "sync",
                "uidvalidity-changed",
                detail=f"{folder}: {plan.previous_uidvalidity} -> {state.uidvalidity}; rescanning",
            )
        stats.last_uid = plan.position
        if plan.empty:
            store.set_sync_state(
                account.name, folder, state.uidvalidity, plan.position, state.highestmodseq
            )
            return stats
        candidate = _prefilter(tracked)
        total = plan.last - plan.start + 1
        if progress:
            progress(folder, 0, total)  # the bar shows from the start, not after a batch
        for first, end in uid_ranges(plan.start, plan.last, batch):
            found, scanned = mailbox.scan(first, end, candidate)
            stats.scanned += scanned
            actions = plan_range([header_record(uid, h) for uid, h in found], tracked)
            _execute(actions, mailbox, store, account, folder, tracked, stats)
            store.set_sync_state(account.name, folder, state.uidvalidity, end, state.highestmodseq)
            if progress:
                progress(folder, end - plan.start + 1, total)
    finally:
        stats.seconds = round(time.perf_counter() - started, 3)
    return stats


def _unchanged(status: FolderState | None, position) -> bool:
    """Whether STATUS shows nothing new since ``position``: the same UIDVALIDITY and no UID
    beyond the last one scanned (expunges do not matter: only new mail can be a reply)."""
    return (
        status is not None
        and status.uidvalidity == position["uidvalidity"]
        and status.last_uid <= position["last_uid"]
    )


def _execute(
    actions: list,
    mailbox: Mailbox,
    store: Store,
    account: cfg.Account,
    folder: str,
    tracked: dict[str, int],
    stats: FolderStats,
) -> None:
    """Carry out one range's plan; what is logged joins ``tracked``."""
    stats.already_logged += sum(1 for a in actions if isinstance(a, AlreadyLogged))
    replies = [a for a in actions if isinstance(a, LogReply)]
    for message_id, thread_id in log_replies(mailbox, store, account, folder, replies, stats):
        tracked[message_id] = thread_id
        fault_point("mid-fetch")  # between logging a message and moving the position


def _prefilter(tracked: dict[str, int]) -> Callable[[bytes], bool]:
    """The scan's hot-path test, called once per message in UID order. Most messages are
    unrelated, so one regex pass finds every <id> in the three fields and only a header that
    names a known id passes. A passing message's own Message-ID becomes known at once, so a
    reply to it later in the same range passes too (the plan then decides exactly)."""
    known = {k.encode() for k in tracked}
    find_ids = parse.MSG_ID.findall

    def candidate(header: bytes) -> bool:
        if known.isdisjoint(find_ids(header)):
            return False
        own = header_record(0, header).message_id
        if own:
            known.add(own.encode())
        return True

    return candidate
