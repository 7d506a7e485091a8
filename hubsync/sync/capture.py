"""Fetching and logging the messages that matched a tracked thread.

Sizes first (RFC822.SIZE, from the server's index), then whole messages in batches bounded by
total size; messages over the attachment limit (or with attachment logging off) get their
header and text part only, and an event says why.
"""

from hubsync import config as cfg
from hubsync.logbook import log_message
from hubsync.mail import parse
from hubsync.store import Store
from hubsync.sync import bodies
from hubsync.sync.matching import ReplyMatch, never_log_hit
from hubsync.sync.stats import FolderStats

FULL_FETCH_BYTES = 64 * 1024 * 1024  # bound memory: full messages fetched per round trip


def log_matches(
    client,
    store: Store,
    account: cfg.Account,
    folder: str,
    matches: list[tuple[int, ReplyMatch]],
    stats: FolderStats,
):
    """Fetch and log matched messages, a few round trips for the whole batch; yield
    (Message-ID, thread) for each one logged."""
    if not matches:
        return
    stats.matched += len(matches)
    found_by_uid = dict(matches)
    # RFC822.SIZE first (from the server's index): decide before downloading anything big.
    sizes = client.fetch(list(found_by_uid), ["RFC822.SIZE"])
    limit = int(account.attachment_limit_mb * 1024 * 1024)
    full: list[tuple[int, int]] = []
    for uid, found in matches:
        size = int(sizes.get(uid, {}).get(b"RFC822.SIZE") or 0)
        if account.log_attachments and size < limit:
            full.append((uid, size))
        else:
            logged = _log_text_only(client, store, account, folder, uid, size, found, stats)
            if logged:
                yield logged, found.thread_id
    for group in _groups(full, FULL_FETCH_BYTES):
        bodies_by_uid = client.fetch(group, ["BODY.PEEK[]"])
        for uid in group:
            raw = bodies_by_uid.get(uid, {}).get(b"BODY[]") or b""
            found = found_by_uid[uid]
            parsed = parse.parse(raw)
            if _never_log(store, account, parsed, found, stats):
                continue
            logged = _log(store, account, folder, uid, found, parsed, raw, True, None, stats)
            if logged:
                yield logged, found.thread_id


def _never_log(
    store: Store, account: cfg.Account, parsed, found: ReplyMatch, stats: FolderStats
) -> bool:
    """A never-log address or domain among the participants overrides the match; the
    message is dropped (only an event with its Message-ID says it was skipped)."""
    own = account.email.lower()
    people = [parsed.from_addr, *[a for _, a in parsed.to], *[a for _, a in parsed.cc]]
    hit = never_log_hit([a for a in people if a and a != own], account.never_log)
    if hit:
        stats.never_log += 1
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
    client,
    store: Store,
    account: cfg.Account,
    folder: str,
    uid: int,
    size: int,
    found: ReplyMatch,
    stats: FolderStats,
) -> str | None:
    """Over the size limit, or attachment logging off: header and text only, and say why."""
    header, text, attachment_parts = bodies.fetch_text_only(client, uid)
    parsed = parse.parse(header, with_body=False)
    parsed.body = text
    if _never_log(store, account, parsed, found, stats):
        return None
    if not account.log_attachments:
        reason, note = "attachments-off", "attachment logging is switched off"
    else:
        reason = "over-limit"
        note = (
            f"attachments not logged: the email is {size / 1048576:.1f} MB, over the "
            f"{account.attachment_limit_mb:g} MB limit"
        )
    if attachment_parts or reason == "over-limit":
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
    direction = "sent" if parsed.from_addr == account.email.lower() else "received"
    outcome = log_message(
        store,
        account.name,
        parsed,
        raw,
        direction=direction,
        origin="reply",
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
    stats.attachments_stored += outcome.attachments_stored
    store.add_event(
        account.name,
        "logged",
        found.rule,
        parsed.message_id,
        f"{folder} UID {uid}; matched {found.ref}",
    )
    return parsed.message_id
