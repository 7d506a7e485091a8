"""Incremental sync: scan headers, match replies to tracked threads, log only those.

Per folder: SELECT read-only (EXAMINE), compare UIDVALIDITY with the stored one (a change means
a rescan, harmless because messages are keyed by Message-ID), fetch header fields of new UIDs in
bounded ranges, and move the sync position after each range. An unmatched message leaves no
trace: not its headers, not its addresses.
"""

import contextlib
import os
import time
from collections.abc import Callable, Iterator

import imapclient

from hubsync import config as cfg
from hubsync.errors import HubsyncError, StoreError
from hubsync.mail import imap, parse, providers
from hubsync.store import Store
from hubsync.sync.capture import log_matches
from hubsync.sync.fetch import parse_fields, scan_headers, uid_ranges
from hubsync.sync.matching import ReplyMatch, ids_in, match_reply
from hubsync.sync.stats import FolderStats, SyncReport

Progress = Callable[[str, int, int], None]  # folder, done, total


def connect(account: cfg.Account, password: str, store: Store) -> imapclient.IMAPClient:
    """Open and log in; a failure is recorded as an account event (doctor's history)."""
    try:
        client = imap.open_session(
            imap.ImapEndpoint(
                account.imap_host, account.imap_port, account.imap_security, account.cafile or None
            )
        )
        try:
            imap.login(client, account.username, password, providers.by_key(account.provider))
        except HubsyncError:
            imap.close(client)
            raise
    except HubsyncError as exc:
        store.add_event(account.name, "connection", exc.reason, detail=exc.message)
        raise
    return client


@contextlib.contextmanager
def session(account: cfg.Account, password: str, store: Store) -> Iterator[imapclient.IMAPClient]:
    """A logged-in session for one piece of work; a dropped connection becomes a clear error,
    and the session is always closed."""
    client = connect(account, password, store)
    try:
        with imap.session_guard(account.imap_host, account.imap_port):
            yield client
    finally:
        imap.close(client)


def watched_folders(account: cfg.Account) -> list[str]:
    folders = list(account.watched_folders or ["INBOX"])
    if account.sent_folder and account.sent_folder not in folders:
        folders.append(account.sent_folder)
    return folders


def sync_account(
    store: Store,
    account: cfg.Account,
    password: str,
    folders: list[str] | None = None,
    progress: Progress | None = None,
    client: imapclient.IMAPClient | None = None,
) -> SyncReport:
    report = SyncReport(account.name)
    own_client = client is None
    client = client or connect(account, password, store)
    try:
        with imap.session_guard(account.imap_host, account.imap_port):
            tracked = store.tracked_ids(account.name)
            for folder in folders or watched_folders(account):
                try:
                    report.folders.append(
                        sync_folder(client, store, account, folder, tracked, progress)
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
    finally:
        if own_client:
            imap.close(client)
    store.add_event(
        account.name,
        "sync",
        "ok" if not report.errors else "partial",
        detail=f"scanned {report.total('scanned')}, logged {report.total('logged')}",
    )
    return report


def _record(store: Store, account: str, reason: str, detail: str) -> None:
    """Record a connection failure; if even that cannot be written, the original error wins."""
    with contextlib.suppress(StoreError):
        store.add_event(account, "connection", reason, detail=detail)


def sync_folder(
    client: imapclient.IMAPClient,
    store: Store,
    account: cfg.Account,
    folder: str,
    tracked: dict[str, int],
    progress: Progress | None = None,
) -> FolderStats:
    stats = FolderStats(folder)
    started = time.perf_counter()
    try:
        _sync_into(stats, client, store, account, folder, tracked, progress)
    finally:
        stats.seconds = round(time.perf_counter() - started, 3)
    return stats


def _sync_into(
    stats: FolderStats,
    client: imapclient.IMAPClient,
    store: Store,
    account: cfg.Account,
    folder: str,
    tracked: dict[str, int],
    progress: Progress | None,
) -> None:
    info = client.select_folder(folder, readonly=True)
    uidvalidity = int(info[b"UIDVALIDITY"])
    uidnext = info.get(b"UIDNEXT")
    modseq = info.get(b"HIGHESTMODSEQ")
    state = store.sync_state(account.name, folder)
    start = 1
    if state and state["uidvalidity"] == uidvalidity:
        start = state["last_uid"] + 1
    elif state:
        stats.uidvalidity_changed = True
        store.add_event(
            account.name,
            "sync",
            "uidvalidity-changed",
            detail=f"{folder}: {state['uidvalidity']} -> {uidvalidity}; rescanning",
        )
    last = int(uidnext) - 1 if uidnext else _last_uid(client)
    stats.last_uid = max(last, start - 1)
    if start > last or int(info.get(b"EXISTS", 1)) == 0:
        store.set_sync_state(
            account.name, folder, uidvalidity, stats.last_uid, int(modseq) if modseq else None
        )
        return stats
    total = last - start + 1
    # Hot path: most messages are unrelated. One regex pass finds every <id> in the three
    # fields; only when one of them is tracked is the header parsed exactly.
    tracked_bytes = {k.encode() for k in tracked}
    find_ids = parse.MSG_ID.findall

    def candidate(header: bytes) -> bool:
        return not tracked_bytes.isdisjoint(find_ids(header))

    provisional: list[str] = []
    for first, end in uid_ranges(start, last):
        matches: list[tuple[int, ReplyMatch]] = []
        seen = [0]
        for uid, header in scan_headers(client, first, end, candidate, seen):
            fields = parse_fields(header)
            own_id = (ids_in(fields.get(b"message-id")) or [""])[0]
            if own_id and own_id in tracked:
                stats.already_logged += 1
                continue
            found = match_reply(
                ids_in(fields.get(b"in-reply-to")), ids_in(fields.get(b"references")), tracked
            )
            if found:
                matches.append((uid, found))
                if own_id:  # a reply to this one, later in the same range, matches too
                    provisional.append(own_id)
                    tracked[own_id] = found.thread_id
                    tracked_bytes.add(own_id.encode())
        stats.scanned += seen[0]
        logged = set()
        for message_id, thread_id in log_matches(client, store, account, folder, matches, stats):
            logged.add(message_id)
            tracked[message_id] = thread_id
            tracked_bytes.add(message_id.encode())
            _fault_point("mid-fetch")
        for own_id in provisional:  # matched but not logged (never-log): no chain through it
            if own_id not in logged and store.thread_of(account.name, own_id) is None:
                tracked.pop(own_id, None)
                tracked_bytes.discard(own_id.encode())
        provisional.clear()
        store.set_sync_state(
            account.name, folder, uidvalidity, end, int(modseq) if modseq else None
        )
        if progress:
            progress(folder, end - start + 1, total)


def _fault_point(name: str) -> None:
    """Crash-safety tests set HUBSYNC_FAULT to kill the process here, between logging a
    message and moving the sync position, as a power cut would."""
    if os.environ.get("HUBSYNC_FAULT") == name:
        os._exit(137)


def _last_uid(client: imapclient.IMAPClient) -> int:
    data = client.fetch("*", ["UID"])
    return max((int(v[b"UID"]) for v in data.values()), default=0)
