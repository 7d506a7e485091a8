"""Fetching and logging the messages a sync plan chose to log.

Sizes first (RFC822.SIZE, from the server's index), then whole messages in batches bounded by
total size; messages over the attachment limit (or with attachment logging off) get their
header and text part only, and an event says why.
"""

from collections.abc import Iterator

from hubsync import attachment_policy
from hubsync import config as cfg
from hubsync.errors import MessageError
from hubsync.logbook import Origin, direction_of, log_message
from hubsync.mail import parse
from hubsync.store import Store
from hubsync.sync.mailbox import Mailbox
from hubsync.sync.matching import ReplyMatch, never_log_hit
from hubsync.sync.plan import LogReply
from hubsync.sync.stats import FolderStats

FULL_FETCH_BYTES = 64 * 1024 * 1024  # bound memory: full messages fetched per round trip


def log_replies(
    mailbox: Mailbox,
    store: Store,
    account: cfg.Account,
    folder: str,
    replies: list[LogReply],
    stats: FolderStats,
) -> Iterator[tuple[str, int]]:
    """Fetch and log the planned replies, a few round trips for the whole batch; yield
    (Message-ID, thread) for each one now in the log."""
    if not replies:
        return
    stats.matched += len(replies)
    by_uid = {r.uid: r.match for r in replies}
    # RFC822.SIZE first (from the server's index): decide before downloading anything big.
    sizes = mailbox.sizes(by_uid)
    full: list[tuple[int, int]] = []
    planned_ids = {r.uid: r.message_id for r in replies}
    for uid, found in by_uid.items():
        if uid not in sizes:
            # Moved or deleted since the scan: not unreadable. Where it was moved to, the
            # sync of that folder finds it (a message is logged once, in whichever folder).
            stats.vanished += 1
            continue
        size = sizes[uid]
        if attachment_policy.decide(account, size).keep:
            full.append((uid, size))
            continue
        try:
            logged = _log_text_only(mailbox, store, account, folder, uid, size, found, stats)
        except UNREADABLE as exc:
            record_unreadable(store, account, folder, uid, planned_ids[uid], exc, stats)
            continue
        if logged:
            yield logged, found.thread_id
    announced = dict(full)
    for group in _groups(full, FULL_FETCH_BYTES):
        raw_by_uid = mailbox.messages(group, sum(announced[uid] for uid in group))
        for uid in group:
            if uid not in raw_by_uid:
                stats.vanished += 1  # moved or deleted between its size and its body
                continue
            raw = raw_by_uid[uid]
            found = by_uid[uid]
            try:
                parsed = parse.parse(raw)
                if _never_log(store, account, parsed, found, stats):
                    continue
                logged = _log(store, account, folder, uid, found, parsed, raw, True, None, stats)
            except UNREADABLE as exc:
                record_unreadable(store, account, folder, uid, planned_ids[uid], exc, stats)
                continue
            if logged:
                yield logged, found.thread_id


# What a hostile or broken message can make parsing raise. One such message is recorded and
# skipped; it never stops the messages after it (a full disk, StoreError, still stops sync).
UNREADABLE = (
    MessageError,
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    AssertionError,
    RecursionError,
)


def record_unreadable(
    store: Store,
    account: cfg.Account,
    folder: str,
    uid: int,
    message_id: str,
    exc: Exception,
    stats: FolderStats,
) -> None:
    stats.unreadable += 1
    text = exc.message if isinstance(exc, MessageError) else f"{type(exc).__name__}: {exc}"
    store.add_event(
        account.name,
        "message-error",
        "unreadable",
        message_id or None,
        f"{folder} UID {uid}: {text[:300]}; skipped, the messages after it were synced",
    )


def _never_log(
    store: Store, account: cfg.Account, parsed, found: ReplyMatch, stats: FolderStats
) -> bool:
    """A never-log address or domain among the participants overrides the match; the
    message is dropped (only an event with its Message-ID says it was skipped)."""
    own = account.email.lower()
    people = [parsed.from_addr, *[a for _, a in parsed.to], *[a for _, a in parsed.cc]]
    hit = never_log_hit([a for a in people if a and a != own], account.never_log)
    if hit:
        stats.never_log_hits += 1
        store.add_event(
            account.name,
            "skip",
            "never-log",
            parsed.message_id,
            f"replies into thread {found.thread_id} ({found.rule}); never_log entry {hit}",
        )
    return bool(hit)


def _groups(items: list[tuple[int, int]], budget: int) -> list[list[int]]:
    groups, current, used = [], [], 0
    for uid, size in items:
        if current and used + size > budget:
            groups.append(current)
            current, used = [], 0
        current.append(uid)
        used += size
    if current:
        groups.append(current)
    return groups


def _log_text_only(
    mailbox: Mailbox,
    store: Store,
    account: cfg.Account,
    folder: str,
    uid: int,
    size: int,
    found: ReplyMatch,
    stats: FolderStats,
) -> str | None:
    """Over the size limit, or attachment logging off: header and text only, and say why."""
    header, text, attachment_parts = mailbox.text_only(uid)
    parsed = parse.parse(header, with_body=False)
    parsed.body = text
    if _never_log(store, account, parsed, found, stats):
        return None
    decision = attachment_policy.decide(account, size)
    reason, note = decision.reason, decision.note
    if attachment_parts or reason == attachment_policy.OVER_LIMIT:
        stats.attachments_skipped += attachment_parts or 1
        store.add_event(
            account.name,
            "attachments-skipped",
            reason,
            parsed.message_id,
            f"{note}; {attachment_parts} attachment(s); size {size} bytes",
        )
    return _log(store, account, folder, uid, found, parsed, header, False, note, stats)


def _log(
    store: Store,
    account: cfg.Account,
    folder: str,
    uid: int,
    found: ReplyMatch,
    parsed,
    raw: bytes,
    keep: bool,
    note: str | None,
    stats: FolderStats,
) -> str | None:
    outcome = log_message(
        store,
        account.name,
        parsed,
        raw,
        direction=direction_of(parsed.from_addr, (account.email,)),
        origin=Origin.REPLY,
        thread_id=found.thread_id,
        match_rule=found.rule,
        match_ref=found.ref,
        folder=folder,
        uid=uid,
        keep_attachments=keep,
        attachments_note=note,
        own_addresses=(account.email,),
    )
    if outcome.message_pk is None:
        stats.already_logged += 1
        return parsed.message_id
    stats.logged += 1
    stats.attachments_logged += outcome.attachments_logged
    store.add_event(
        account.name,
        "logged",
        found.rule,
        parsed.message_id,
        f"{folder} UID {uid}; matched {found.ref}",
    )
    return parsed.message_id
