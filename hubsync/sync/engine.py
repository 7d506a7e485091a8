"""Incremental sync: scan headers, match replies to tracked threads, log only those.

Per folder: examine it read-only, plan where to scan (``plan.plan_folder``), scan header
fields of new UIDs in bounded ranges, plan what to log (``plan.plan_range``), log it, and move
the sync position after each range. An unmatched message leaves no trace: not its headers,
not its addresses.
"""

import contextlib
import dataclasses
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import imapclient

from hubsync import config as cfg
from hubsync import logged_messages
from hubsync.environment import fault_point
from hubsync.errors import HubsyncError, NetworkError, ProtocolFailure, StoreError
from hubsync.mail import parse
from hubsync.mail.reply_folders import WatchPlan, is_all_setting, reply_folders
from hubsync.sessions import Secret, imap_session
from hubsync.store import Store
from hubsync.sync.capture import log_replies
from hubsync.sync.client_log import ClientLog
from hubsync.sync.client_ways import log_folder_among, resolve_log_folder, ways_of
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
    return (
        is_all_setting(account.watched_folders)
        or bool(account.excluded_folders)
        or bool(account.log_folder)  # whether the CRM folder exists, and its server name
    )


def watch_plan(account: cfg.Account, mailbox: Mailbox | None = None) -> WatchPlan:
    """The folders a sync reads (the watched ones, the Sent folder and the CRM folder),
    primary first. An account that watches every folder needs ``mailbox`` to list them; a
    fixed list does not."""
    listing = mailbox.list_folders() if mailbox is not None and needs_listing(account) else []
    plan = reply_folders(
        listing, account.watched_folders, account.sent_folder, account.excluded_folders
    )
    log = resolve_log_folder(listing, account.log_folder)
    if not log:
        return plan
    return dataclasses.replace(
        plan,
        folders=plan.folders if log in plan.folders else [*plan.folders, log],
        skipped={k: v for k, v in plan.skipped.items() if k != log},
        covered=[f for f in plan.covered if f != log],
        log_folder=log,
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
    # A sync the user asked for counts as complete for the folders it covered (`--folder`
    # too), so their positions settle; the watch's polls of one folder do not (watch.py).
    if client is not None:
        return sync_mailbox(ImapMailbox(client), store, account, folders, progress, complete=True)
    with session(account, password, store) as own:
        return sync_mailbox(ImapMailbox(own), store, account, folders, progress, complete=True)


def sync_mailbox(
    mailbox: Mailbox,
    store: Store,
    account: cfg.Account,
    folders: list[str] | None = None,
    progress: Progress | None = None,
    batch: int = BATCH,
    complete: bool | None = None,
) -> SyncReport:
    """Sync folders of ``mailbox`` into ``store``, scanning ``batch`` UIDs per range; the
    event history records the outcome. ``complete``: ``folders`` are every watched folder
    (the default when ``folders`` is not given), so a finished sync clears the floors."""
    complete = folders is None if complete is None else complete
    report = SyncReport(account.name)
    before = logged_messages.mark(store, account.name)
    try:
        tracked = store.tracked_ids(account.name)
        if folders:
            log_folder = log_folder_among(folders, account.log_folder)
        else:
            plan = watch_plan(account, mailbox)
            folders, log_folder = plan.folders, plan.log_folder
        ways = ways_of(account, log_folder)
        marked = ClientLog(mailbox, store, account, ways, tracked) if ways.any else None
        passed: list[Skipped] = []
        for folder in folders:
            skipped = Skipped(folder, len(tracked))
            try:
                report.folders.append(
                    sync_folder(
                        mailbox, store, account, folder, tracked, progress, batch, skipped, marked
                    )
                )
                passed.append(skipped)
            except imapclient.exceptions.IMAPClientAbortError:
                raise  # the connection is gone: no other folder can be synced
            except imapclient.exceptions.IMAPClientError as exc:
                message = f"{folder}: {exc}"
                report.errors.append(message)
                store.add_event(account.name, "sync", "folder-failed", detail=message)
        _catch_up(mailbox, store, account, tracked, passed, report, batch)
        if complete and not report.errors:
            store.clear_rescan_floors(account.name, [p.folder for p in passed])
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
    report.messages = logged_messages.logged(store, account.name, after_id=before)
    return report


@dataclass
class Skipped:
    """What one folder's scan passed over that refers to other messages, kept in memory for
    this sync only (nothing of it is stored): a hash of each Message-ID such a header names,
    with the first UID of the range it was seen in. A reply is passed over when the message
    it answers is logged only later in the same sync: from a folder synced after this one
    (a reply in INBOX to a reply that sits in Sent or a label), or at a higher UID (a parent
    moved into the folder after its reply arrived)."""

    folder: str
    tracked_at_start: int  # how many Message-IDs were tracked when the scan began
    hashes: array = field(default_factory=lambda: array("q"))  # of each id noted
    firsts: array = field(default_factory=lambda: array("I"))  # its range's first UID
    overflow_from: int | None = None  # more than MAX_SKIPPED_REFS: unknown from this UID on
    uidvalidity: int | None = None
    first: int = 0  # the first UID this sync scanned
    reached: int = 0  # the highest UID it reached

    def note(self, ids: list[bytes], first_uid: int) -> None:
        """A passed-over header naming ``ids``, in the range that starts at ``first_uid``."""
        if self.overflow_from is not None:
            return
        if len(self.hashes) >= MAX_SKIPPED_REFS:
            self.overflow_from = first_uid
            return
        self.hashes.extend(map(hash, ids))
        self.firsts.extend([first_uid] * len(ids))

    def rescan_from(self, new_ids: list[str]) -> int | None:
        """The UID to scan this folder again from, because a header it passed over names
        one of ``new_ids`` (logged since); None when none does."""
        wanted = {hash(m.encode()) for m in new_ids}
        hits = [first for h, first in zip(self.hashes, self.firsts, strict=True) if h in wanted]
        if self.overflow_from is not None and new_ids:
            hits.append(self.overflow_from)
        return min(hits, default=None)


# Ids noted, 12 bytes each (24 MB at worst; 2,000,000 is every id named by the replies of a
# folder of about 2,000,000 messages); beyond it a catch-up rescans from where notes stopped.
MAX_SKIPPED_REFS = 2_000_000


def _catch_up(
    mailbox: Mailbox,
    store: Store,
    account: cfg.Account,
    tracked: dict[str, int],
    passed: list[Skipped],
    report: SyncReport,
    batch: int,
) -> None:
    """Scan again, until nothing changes, the part of a folder that this sync passed over
    where a header names a message logged after it was passed over, so a reply is logged
    whatever the order of folders and UIDs. An interruption loses nothing: the folder's
    rescan floor stays until a complete sync finishes."""
    changed = True
    while changed:
        changed = False
        for skipped in passed:
            if len(tracked) == skipped.tracked_at_start or skipped.uidvalidity is None:
                continue
            new_ids = list(tracked)[skipped.tracked_at_start :]
            skipped.tracked_at_start = len(tracked)
            start = skipped.rescan_from(new_ids)
            if start is None:
                continue
            before = len(tracked)
            stats = next(f for f in report.folders if f.folder == skipped.folder)
            _rescan(mailbox, store, account, skipped, start, tracked, stats, batch)
            changed = changed or len(tracked) > before


def _rescan(mailbox, store, account, skipped: Skipped, start: int, tracked, stats, batch):
    """Scan ``start``..``skipped.reached`` of the folder again (the position moved past it)."""
    folder = skipped.folder
    state = mailbox.examine(folder)
    if state.uidvalidity != skipped.uidvalidity:
        return  # renumbered meanwhile: the next sync rescans the whole folder anyway
    where = [start]
    candidate = _prefilter(tracked, skipped, where)
    first = start
    while first <= skipped.reached:
        end = min(first + batch - 1, skipped.reached)
        where[0] = first
        found, _ = mailbox.scan(first, end, candidate)
        actions = plan_range([header_record(uid, h) for uid, h in found], tracked)
        _execute(actions, mailbox, store, account, folder, tracked, stats)
        first = end + 1
    stats.caught_up = True


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
    skipped: "Skipped | None" = None,
    marked: ClientLog | None = None,
) -> FolderStats:
    """Sync one folder from its stored position; ``tracked`` (Message-ID -> thread) grows
    with what is logged; ``skipped`` notes what the scan passed over that refers to other
    messages (see ``_catch_up``); ``marked`` logs what the user marked for the log in their
    mail client. Returns the folder's figures.

    The position only ever moves to a UID the server returned in a FETCH (never to the
    UIDNEXT it claims), and a UID range that holds no message is not walked batch by batch:
    one UID SEARCH finds where the next message is."""
    stats = FolderStats(folder)
    started = time.perf_counter()
    try:
        position = store.sync_state(account.name, folder)
        status = mailbox.status(folder) if position is not None else None
        if position is not None and unchanged(status, position):
            stats.unchanged, stats.last_uid = True, position["last_uid"]
            if marked is not None:
                marked.keywords(folder, status, False, stats)
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
            if marked is not None:
                marked.keywords(folder, state, True, stats)
            return stats
        where = [plan.start]  # the range being scanned, for ``skipped``
        candidate = _prefilter(tracked, skipped, where)
        # The new territory is scanned again by the next complete sync (see ``Skipped``).
        new_from = plan.start if position is None or plan.rescan else position["last_uid"] + 1
        store.mark_rescan_floor(account.name, folder, state.uidvalidity, new_from)
        if skipped is not None:
            skipped.uidvalidity, skipped.first = state.uidvalidity, plan.start
        total = plan.last - plan.start + 1
        if progress:
            progress(folder, 0, total)  # the bar shows from the start, not after a batch
        reached = plan.start - 1  # the highest UID the server returned so far
        first = plan.start
        while first <= plan.last:
            end = min(first + batch - 1, plan.last)
            where[0] = first
            ahead = (end + 1, min(end + batch, plan.last)) if end < plan.last else None
            found, tally = mailbox.scan(first, end, candidate, ahead)
            stats.scanned += tally.seen
            actions = plan_range([header_record(uid, h) for uid, h in found], tracked)
            # One transaction per range: the messages it logs (with their contacts and
            # attachments) and the folder's new position commit together, or not at all.
            with store.transaction():
                _execute(actions, mailbox, store, account, folder, tracked, stats)
                if tally.seen:
                    reached = max(reached, min(tally.top_uid, end))
                    if marked is not None:
                        marked.new_range(folder, first, reached, stats)
                    store.set_sync_state(
                        account.name, folder, state.uidvalidity, reached, state.highestmodseq
                    )
            if tally.seen:
                first = end + 1
            else:
                first = mailbox.next_uid(end + 1) or plan.last + 1
            if progress:
                progress(folder, min(first, plan.last + 1) - plan.start, total)
        store.set_sync_state(
            account.name, folder, state.uidvalidity, reached, state.highestmodseq, claimed=claimed
        )
        stats.last_uid = reached
        if skipped is not None:
            skipped.reached = reached
        if marked is not None:
            marked.keywords(folder, state, True, stats)
    except Exception as exc:
        # A range asked for ahead is read to its end, so a connection that still works is
        # left as it was found (the next folder, a watch's IDLE or the logout use it next);
        # what failed here is what is reported. A connection that failed is not waited on.
        if not isinstance(exc, _CONNECTION_GONE):
            with contextlib.suppress(HubsyncError, imapclient.exceptions.IMAPClientError, OSError):
                mailbox.settle()
        raise
    finally:
        stats.seconds = round(time.perf_counter() - started, 3)
    return stats


_CONNECTION_GONE = (
    NetworkError,
    ProtocolFailure,  # the answer could not be read: where it stands is unknown
    imapclient.exceptions.IMAPClientAbortError,
    OSError,
)


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


def unchanged(status: FolderState | None, position, floors: bool = True) -> bool:
    """Whether STATUS shows nothing new since ``position``: the same UIDVALIDITY and no UID
    beyond the last one scanned, or exactly what the server claimed when the position was
    saved (its newest messages were moved away). Expunges do not matter: only new mail can
    be a reply. A last UID below the position is not "unchanged": the position is wrong.
    ``floors``: a range kept for scanning again also counts as a change (the watch's poll
    asks only about new mail)."""
    if status is None or status.uidvalidity != position["uidvalidity"]:
        return False
    rescan = [f for f in (position.get("rescan_from"), position.get("new_from")) if f]
    if floors and any(f <= position["last_uid"] for f in rescan):
        return False  # a range to scan again (see ``Skipped``)
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


def _prefilter(
    tracked: dict[str, int], skipped: "Skipped | None" = None, where: list[int] | None = None
) -> Callable[[bytes], bool]:
    """The scan's hot-path test, called once per message in UID order. Most messages are
    unrelated, so one regex pass finds every <id> in the three fields and only a header that
    names a known id passes. A passing message's own Message-ID becomes known at once, so a
    reply to it later in the same range passes too (the plan then decides exactly)."""
    known = {k.encode() for k in tracked}
    find_ids = parse.MSG_ID.findall

    def candidate(header: bytes) -> bool:
        ids = find_ids(header)
        if known.isdisjoint(ids):
            if skipped is not None and len(ids) > 1:  # it refers to other messages
                skipped.note(ids, where[0])
            return False
        own = header_record(0, header).message_id
        if own:
            known.add(own.encode())
        return True

    return candidate
