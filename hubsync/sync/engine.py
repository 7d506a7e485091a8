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
from hubsync.mail.reply_folders import WatchPlan, is_all_setting, reply_folders
from hubsync.sessions import Secret, imap_session
from hubsync.store import Store
from hubsync.sync.capture import log_replies
from hubsync.sync.fetch import BATCH
from hubsync.sync.mailbox import FolderState, ImapMailbox, Mailbox
from hubsync.sync.plan import AlreadyLogged, LogReply, header_record, plan_folder, plan_range
from hubsync.sync.stats import FolderStats, SyncReport

Progress = Callable[[str, int, int], None]  # folder, done, total


@contextlib.contextmanager
def session(
    account: cfg.Account, password: Secret, store: Store, timeout: float | None = None
) -> Iterator[imapclient.IMAPClient]:
    """A logged-in IMAP session for one piece of work (``timeout``: per network step, else
    the account's); a failure to connect or log in is recorded as an account event (doctor's
    history), and the session is always closed."""
    opened = False
    try:
        with imap_session(account, password, timeout=timeout) as client:
            opened = True
            yield client
    except HubsyncError as exc:
        if not opened:
            _record(store, account.name, exc.reason, exc.message)
        raise


def needs_listing(account: cfg.Account) -> bool:
    """Whether the account's folders can only be known from the server's folder list."""
    return is_all_setting(account.watched_folders) or bool(account.excluded_folders)


def watch_plan(account: cfg.Account, mailbox: Mailbox | None = None) -> WatchPlan:
    """The folders a sync reads (the watched ones and the Sent folder), primary first. An
    account that watches every folder needs ``mailbox`` to list them; a fixed list does not."""
    listing = mailbox.list_folders() if mailbox is not None and needs_listing(account) else []
    return reply_folders(
        listing, account.watched_folders, account.sent_folder, account.excluded_folders
    )


def watched_folders(account: cfg.Account, mailbox: Mailbox | None = None) -> list[str]:
    """The folders a sync reads, in order (see ``watch_plan``)."""
    return watch_plan(account, mailbox).folders


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
        for folder in folders or watched_folders(account, mailbox):
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
    with what is logged. Returns the folder's figures.

    The position only ever moves to a UID the server returned in a FETCH (never to the
    UIDNEXT it claims), and a UID range that holds no message is not walked batch by batch:
    one UID SEARCH finds where the next message is."""
    stats = FolderStats(folder)
    started = time.perf_counter()
    try:
        position = store.sync_state(account.name, folder)
        if position is not None and unchanged(mailbox.status(folder), position):
            stats.unchanged, stats.last_uid = True, position["last_uid"]
            return stats
        state = mailbox.examine(folder)
        plan = plan_folder(state, position)
        _note_rescan(store, account, folder, plan, state, stats)
        claimed = (state.last_uid, state.exists)
        stats.last_uid = plan.position
        if plan.empty:
            store.set_sync_state(
                account.name,
                folder,
                state.uidvalidity,
                plan.position,
                state.highestmodseq,
                claimed=claimed,
            )
            return stats
        candidate = _prefilter(tracked)
        total = plan.last - plan.start + 1
        if progress:
            progress(folder, 0, total)  # the bar shows from the start, not after a batch
        reached = plan.start - 1  # the highest UID the server returned so far
        first = plan.start
        while first <= plan.last:
            end = min(first + batch - 1, plan.last)
            found, tally = mailbox.scan(first, end, candidate)
            stats.scanned += tally.seen
            actions = plan_range([header_record(uid, h) for uid, h in found], tracked)
            _execute(actions, mailbox, store, account, folder, tracked, stats)
            if tally.seen:
                reached = max(reached, min(tally.top_uid, end))
                store.set_sync_state(
                    account.name, folder, state.uidvalidity, reached, state.highestmodseq
                )
                first = end + 1
            else:
                first = mailbox.next_uid(end + 1) or plan.last + 1
            if progress:
                progress(folder, min(first, plan.last + 1) - plan.start, total)
        store.set_sync_state(
            account.name, folder, state.uidvalidity, reached, state.highestmodseq, claimed=claimed
        )
        stats.last_uid = reached
    finally:
        stats.seconds = round(time.perf_counter() - started, 3)
    return stats


def _note_rescan(store: Store, account: cfg.Account, folder: str, plan, state, stats) -> None:
    """Record why a folder is scanned from the start again (doctor shows these events)."""
    if plan.rescan:
        stats.uidvalidity_changed = True
        store.add_event(
            account.name,
            "sync",
            "uidvalidity-changed",
            detail=f"{folder}: {plan.previous_uidvalidity} -> {state.uidvalidity}; rescanning",
        )
    if plan.position_ahead is not None:
        stats.position_reset = True
        store.add_event(
            account.name,
            "sync",
            "position-ahead",
            detail=f"{folder}: the saved position (UID {plan.position_ahead}) is past the "
            f"server's last UID ({state.last_uid}) with the same UIDVALIDITY; rescanning the "
            "folder so that no reply is missed",
        )


def unchanged(status: FolderState | None, position) -> bool:
    """Whether STATUS shows nothing new since ``position``: the same UIDVALIDITY and no UID
    beyond the last one scanned, or exactly what the server claimed when the position was
    saved (its newest messages were moved away). Expunges do not matter: only new mail can
    be a reply. A last UID below the position is not "unchanged": the position is wrong."""
    if status is None or status.uidvalidity != position["uidvalidity"]:
        return False
    if status.last_uid < position["last_uid"]:
        return False
    if status.last_uid == position["last_uid"]:
        return True
    claimed = (position.get("claimed_last_uid"), position.get("claimed_exists"))
    return claimed == (status.last_uid, status.exists)


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
    if replies:
        _prove_deliveries(store, account, replies, stats)


def _prove_deliveries(store: Store, account: cfg.Account, replies: list, stats) -> None:
    """A reply that answers a send of unknown outcome proves it reached the recipient: the
    send becomes submitted (its Sent copy is owed and filed by `outbox --retry`, the next
    send, or the sync command right after this sync)."""
    uncertain = store.uncertain_sends(account.name)
    for reply in replies:
        ref = reply.match.ref
        if ref in uncertain and store.prove_delivered(ref, reply.message_id or "a reply"):
            uncertain.discard(ref)
            stats.deliveries_proven += 1
            store.add_event(
                account.name,
                "outbox",
                "delivery-proven",
                ref,
                f"{reply.message_id or 'a reply'} answers it: it reached the recipient",
            )


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
