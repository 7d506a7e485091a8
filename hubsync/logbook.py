"""Writing a logged message into the store: message, thread, contacts and attachments at once."""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from hubsync.mail.parse import ParsedMessage, parse
from hubsync.store import Store
from hubsync.store.db import now
from hubsync.sync.matching import MatchRule, match_reply


class Direction(StrEnum):
    """Who wrote a logged message: the account's owner, or someone else."""

    SENT = "sent"
    RECEIVED = "received"


class Origin(StrEnum):
    """How a message came into the log (the logging report counts by these)."""

    SENT = "sent"  # sent by hubsync
    REPLY = "reply"  # found by sync as a reply to a tracked thread
    MANUAL = "manual"  # logged by hand


# The name of a count of messages by origin, the same in every report's JSON (`report`'s
# totals, `by_contact`, `by_day`); people see it with spaces ("logged by hand").
COUNT_NAMES = {Origin.SENT: "sent", Origin.REPLY: "replies", Origin.MANUAL: "logged_by_hand"}


def display(name: str, address: str) -> str:
    """ "Name <address>" (RFC 5322 quoting), or the address alone when there is no name."""
    import email.utils

    return email.utils.formataddr((name, address)) if name else address


def label(name: str) -> str:
    """A JSON name as people read it in a table header."""
    return name.replace("_", " ")


def direction_of(from_addr: str, own_addresses: Iterable[str]) -> Direction:
    """SENT when the message is from one of the account's own addresses, else RECEIVED."""
    own = {a.lower() for a in own_addresses if a}
    return Direction.SENT if from_addr and from_addr.lower() in own else Direction.RECEIVED


@dataclass
class LogOutcome:
    """What logging one message did."""

    message_pk: int | None  # None: already in the log
    thread_id: int
    contacts_created: int
    attachments_logged: int


def log_message(
    store: Store,
    account: str,
    parsed: ParsedMessage,
    raw: bytes,
    *,
    direction: Direction,
    origin: Origin,
    thread_id: int | None = None,
    match_rule: MatchRule | None = None,
    match_ref: str | None = None,
    folder: str | None = None,
    uid: int | None = None,
    keep_attachments: bool = True,
    attachments_note: str | None = None,
    own_addresses: tuple[str, ...] = (),
) -> LogOutcome:
    """Log ``parsed`` with its contacts and attachments in one transaction; a new thread is
    made when ``thread_id`` is None. Returns what was done (``message_pk`` None when the
    Message-ID was already in the log: nothing is written twice)."""
    # Attachment bytes are kept first (content-addressed, idempotent), rows after.
    saved = []
    if keep_attachments:
        saved = [(a, store.save_attachment_bytes(a.data)) for a in parsed.attachments]
    try:
        return _insert(
            store, account, parsed, raw, thread_id, direction, origin, match_rule, match_ref,
            folder, uid, attachments_note, own_addresses, saved,
        )  # fmt: skip
    except _LoggedMeanwhile:  # another process logged it first (a team store): rolled back
        return LogOutcome(None, store.thread_of(account, parsed.message_id), 0, 0)


class _LoggedMeanwhile(Exception):
    """Raised inside the transaction to roll it back when the message was logged by another
    process between the check and the insert."""


def _insert(
    store: Store,
    account: str,
    parsed: ParsedMessage,
    raw: bytes,
    thread_id: int | None,
    direction: str,
    origin: str,
    match_rule: str | None,
    match_ref: str | None,
    folder: str | None,
    uid: int | None,
    attachments_note: str | None,
    own_addresses: tuple[str, ...],
    saved: list,
) -> LogOutcome:
    with store.transaction() as conn:
        existing = store.thread_of(account, parsed.message_id)
        if existing is not None:
            return LogOutcome(None, existing, 0, 0)
        if thread_id is None:
            thread_id = store.new_thread(conn, account, parsed.subject, origin)
        pk = store.add_message(
            conn,
            account=account,
            message_id=parsed.message_id,
            thread_id=thread_id,
            direction=direction,
            origin=origin,
            match_rule=match_rule,
            match_ref=match_ref,
            folder=folder,
            uid=uid,
            date=parsed.date,
            from_addr=parsed.from_addr,
            from_name=parsed.from_name,
            to_addrs=[a for _, a in parsed.to],
            cc_addrs=[a for _, a in parsed.cc],
            subject=parsed.subject,
            body=parsed.body,
            raw=raw,
            size=len(raw),
            in_reply_to=parsed.in_reply_to,
            refs=parsed.references,
            attachments_note=attachments_note or parsed.body_note or None,
        )
        if pk is None:
            raise _LoggedMeanwhile
        created = 0
        seen = parsed.date or None
        people = [(parsed.from_name, parsed.from_addr), *parsed.to, *parsed.cc]
        own = {a.lower() for a in own_addresses}
        for name, address in people:
            if address and address.lower() not in own:
                created += store.add_contact(conn, account, address, name, seen or now())
        for attachment, digest in saved:
            store.add_attachment(
                conn, pk, attachment.filename, attachment.mime_type, len(attachment.data), digest
            )
        return LogOutcome(pk, thread_id, created, len(saved))


def log_manual(
    store: Store,
    account: str,
    raw: bytes,
    own_addresses: tuple[str, ...] = (),
    folder: str | None = None,
    uid: int | None = None,
    body: str | None = None,
    note: str | None = None,
    rule: MatchRule = MatchRule.MANUAL,
    parsed: ParsedMessage | None = None,
    detail: str | None = None,
) -> LogOutcome:
    """Log a message by hand (the BCC-logging counterpart): it joins the thread it replies
    into, or starts a tracked thread of its own, so later replies to it are logged.
    With ``body``, ``raw`` is the header only (a message too large to keep whole): that text
    is its body, nothing is kept of its attachments, and ``note`` says why.
    ``rule`` says how the user logged it (by hand, or from their mail client: ``parsed`` is
    then ``raw`` already parsed, and ``detail`` the event's words).
    Returns what was done; raises MessageError for input that is not a mail message."""
    if parsed is None and body is None:
        parsed = parse(raw)
    elif parsed is None:
        parsed = parse(raw, with_body=False)
        parsed.body = body
    found = match_reply(
        [parsed.in_reply_to] if parsed.in_reply_to else [],
        parsed.references,
        store.tracked_ids(account),
    )
    outcome = log_message(
        store,
        account,
        parsed,
        raw,
        direction=direction_of(parsed.from_addr, own_addresses),
        origin=Origin.MANUAL,
        thread_id=found.thread_id if found else None,
        match_rule=rule,
        match_ref=found.ref if found else None,
        folder=folder,
        uid=uid,
        keep_attachments=body is None,
        attachments_note=note,
        own_addresses=own_addresses,
    )
    if outcome.message_pk is not None:
        store.add_event(
            account,
            "logged",
            rule,
            parsed.message_id,
            detail or f"logged by hand{' from ' + folder if folder else ''}",
        )
    return outcome
