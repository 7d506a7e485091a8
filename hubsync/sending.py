"""Send a message once, then file one copy in Sent; crash-safe through the outbox journal.

States (``OutboxState``): queued -> submitting -> submitted -> filed | filing-failed; failed
(nothing was sent); uncertain (the connection or the process died during submission: the
server may have the message, so hubsync never resubmits by itself).
"""

import datetime as dt
import email.utils
from dataclasses import dataclass, field
from enum import StrEnum

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from hubsync import attachment_policy
from hubsync import config as cfg
from hubsync.environment import fault_point
from hubsync.errors import HubsyncError, SendFailure, SmtpDisconnected, UsageError
from hubsync.logbook import Direction, Origin, log_message
from hubsync.mail import compose, imap, parse, providers, smtp
from hubsync.sessions import Secret, imap_session, smtp_session
from hubsync.store import Store
from hubsync.store.db import now
from hubsync.sync.matching import MatchRule


class OutboxState(StrEnum):
    """Where a message stands in the outbox journal (the store keeps these values)."""

    QUEUED = "queued"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    FILED = "filed"
    FILING_FAILED = "filing-failed"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    AWAITING_COPY = "awaiting-copy"  # submitted; the provider is expected to file the copy


# Not finished: `hubsync outbox` lists these; OWED_A_COPY are filed by `outbox --retry`.
PENDING = (
    OutboxState.AWAITING_COPY,
    OutboxState.QUEUED,
    OutboxState.SUBMITTING,
    OutboxState.SUBMITTED,
    OutboxState.FILING_FAILED,
    OutboxState.UNCERTAIN,
)
OWED_A_COPY = (OutboxState.SUBMITTED, OutboxState.FILING_FAILED)


class SentCopy(StrEnum):
    """What happened to the copy in the Sent folder."""

    APPENDED = "appended"  # hubsync filed it
    ALREADY_PRESENT = "already-present"  # the server filed its own
    SKIPPED = "skipped"  # --sent-copy never
    PENDING = "pending"  # filing failed this time; the next send or `outbox --retry` files it
    AWAITING = "awaiting"  # the provider files its own; checked later, filed after the grace
    FAILED = "failed"  # (older entries) the same as pending


class SentCopyMode(StrEnum):
    """``--sent-copy``: file a copy unless the server does (auto), always look and file, or
    never."""

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


FILING_WAIT_UNKNOWN = 5.0  # not yet known: a short look before appending
FACT = "server_files_sent_copy"


@dataclass
class SendResult:
    message_id: str
    account: str = ""
    thread_id: int | None = None
    campaign: str | None = None
    replayed: bool = False  # an earlier send with the same idempotency key; nothing sent now
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    sent_folder: str | None = None
    sent_copy: SentCopy = SentCopy.SKIPPED
    state: OutboxState = OutboxState.QUEUED
    error: str | None = None
    error_reason: str | None = None
    retried: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The result as JSON-ready data (`send --json`)."""
        return {
            k: getattr(self, k)
            for k in (
                "account",
                "message_id",
                "thread_id",
                "campaign",
                "replayed",
                "accepted",
                "refused",
                "sent_folder",
                "sent_copy",
                "state",
                "error",
                "error_reason",
                "retried",
            )
        }


def reply_headers(store: Store, account: str, parent_id: str) -> tuple[str, list[str]]:
    """In-Reply-To and References for a reply (RFC 5322 3.6.4), from the stored thread.
    UsageError when the parent is not a Message-ID, or not in the log (the reply would start
    an untracked thread)."""
    parent_id = parse.normalize_message_id(parent_id)
    parent = store.message(account, parent_id)
    if parent is None:
        raise UsageError(
            f"{parent_id} is not in the log, so the reply would not join a tracked thread.",
            fix="Log the message first (`hubsync log FILE.eml`, or `hubsync log --folder F "
            "--uid N`), or leave out --in-reply-to to start a new thread.",
            reason="no-such-message",
        )
    refs = list(parent["refs"])
    if not refs and parent.get("in_reply_to"):
        refs = [parent["in_reply_to"]]
    return parent_id, [*refs, parent_id]


def send(
    store: Store,
    account: cfg.Account,
    draft: compose.Draft,
    password: Secret,
    sent_copy_mode: str = SentCopyMode.AUTO,
    idempotency_key: str | None = None,
    campaign: str | None = None,
) -> SendResult:
    """Submit ``draft`` exactly once, track its thread, then file one Sent copy.

    Returns the result with the final outbox state (``filed``, or ``filing-failed`` when the
    message went out but its copy could not be filed: never resubmitted). Raises SendFailure
    (or a connection error) when nothing was submitted; SmtpDisconnected when the connection
    dropped mid-submission (the entry is then ``uncertain``).

    With ``idempotency_key``, a key already used by an earlier send of the account returns
    that send's result (``replayed``) and sends nothing. ``campaign`` tags the thread.
    """
    if idempotency_key:
        earlier = store.outbox_by_key(account.name, idempotency_key)
        if earlier:
            return _replay(store, account, earlier)
    msg = compose.build(draft, account.domain)
    message_id = str(msg["Message-ID"])
    full, wire = compose.to_bytes(msg), compose.wire_bytes(msg)
    result = SendResult(
        message_id=message_id,
        account=account.name,
        campaign=campaign,
        sent_folder=account.sent_folder or None,
    )
    result.retried = retry_filing(store, account, password)
    queued = store.outbox_add(
        account.name,
        message_id,
        full,
        draft.sender,
        draft.recipients,
        draft.subject,
        account.sent_folder,
        idempotency_key,
    )
    if not queued:  # another send with this key got there first
        return _replay(store, account, store.outbox_by_key(account.name, idempotency_key))
    fault_point("after-queued")
    try:
        with smtp_session(account, password, timeout=smtp.SUBMIT_TIMEOUT) as conn:
            store.outbox_update(message_id, OutboxState.SUBMITTING)
            fault_point("before-submit")
            submission = smtp.submit(conn, wire, draft.sender, draft.recipients)
    except SmtpDisconnected as exc:
        store.outbox_update(message_id, OutboxState.UNCERTAIN, error=exc.message)
        # It may have reached the recipient: track it (tracking never resends), so a reply
        # is logged and proves delivery (the sync then marks it submitted).
        _track(store, account, full, draft)
        raise
    except HubsyncError as exc:
        store.outbox_update(message_id, OutboxState.FAILED, error=exc.message)
        raise
    result.accepted, result.refused = submission.accepted, submission.refused
    store.outbox_update(
        message_id,
        OutboxState.SUBMITTED,
        accepted=submission.accepted,
        refused=submission.refused,
    )
    result.state = OutboxState.SUBMITTED
    _track(store, account, full, draft)
    result.thread_id = store.thread_of(account.name, message_id)
    if campaign and result.thread_id is not None:
        store.set_campaign(account.name, result.thread_id, campaign)
    fault_point("after-submit")
    _file(store, account, result, full, password, sent_copy_mode)
    fault_point("after-filed")
    return result


def _replay(store: Store, account: cfg.Account, row: dict) -> SendResult:
    """The result of the earlier send a repeated idempotency key refers to."""
    thread = store.thread_of(account.name, row["message_id"])
    campaign = store.campaign_of(account.name, thread) if thread is not None else None
    return SendResult(
        message_id=row["message_id"],
        account=account.name,
        thread_id=thread,
        campaign=campaign,
        replayed=True,
        accepted=row["accepted"] or [],
        refused=row["refused"] or {},
        sent_folder=row["sent_folder"],
        sent_copy=row["sent_copy"] or SentCopy.SKIPPED,
        state=row["state"],
        error=row["error"],
    )


def _track(store: Store, account: cfg.Account, raw: bytes, draft: compose.Draft) -> None:
    """The sent message starts (or continues) a tracked thread; recipients become contacts."""
    parsed = _track_raw(store, account, raw)
    for address in draft.bcc:
        with store.transaction() as conn:
            store.add_contact(
                conn, account.name, email.utils.parseaddr(address)[1], None, parsed.date or now()
            )


def _track_raw(store: Store, account: cfg.Account, raw: bytes) -> parse.ParsedMessage:
    """Log a submitted message as sent (idempotent), in the thread of the message it answers.
    Also used for journal entries a crash left untracked after submission."""
    parsed = parse.parse(raw)
    parent = parsed.in_reply_to
    thread = store.thread_of(account.name, parent) if parent else None
    decision = attachment_policy.decide(account, len(raw))
    outcome = log_message(
        store,
        account.name,
        parsed,
        raw,
        direction=Direction.SENT,
        origin=Origin.SENT,
        thread_id=thread,
        match_rule=MatchRule.SENT_BY_HUBSYNC,
        folder=account.sent_folder,
        own_addresses=(account.email,),
        keep_attachments=decision.keep,
        attachments_note=None if decision.keep or not parsed.attachments else decision.note,
    )
    if not decision.keep and parsed.attachments and outcome.message_pk is not None:
        store.add_event(
            account.name,
            "attachments-skipped",
            decision.reason,
            parsed.message_id,
            f"{decision.note}; {len(parsed.attachments)} attachment(s); size {len(raw)} bytes",
        )
    return parsed


def _file(
    store: Store, account: cfg.Account, result: SendResult, raw: bytes, password: Secret, mode: str
) -> None:
    try:
        result.sent_copy = file_copy(store, account, result.message_id, raw, password, mode)
        result.state = (
            OutboxState.AWAITING_COPY
            if result.sent_copy == SentCopy.AWAITING
            else OutboxState.FILED
        )
        store.outbox_update(result.message_id, result.state, sent_copy=result.sent_copy, error=None)
    except HubsyncError as exc:
        result.sent_copy, result.state = SentCopy.PENDING, OutboxState.FILING_FAILED
        result.error, result.error_reason = exc.message, exc.reason
        store.outbox_update(
            result.message_id,
            OutboxState.FILING_FAILED,
            sent_copy=SentCopy.PENDING,
            error=exc.message,
        )
        store.add_event(account.name, "filing", exc.reason, result.message_id, exc.message)


def file_copy(
    store: Store,
    account: cfg.Account,
    message_id: str,
    raw: bytes,
    password: Secret,
    mode: str,
    retry: bool = False,
) -> SentCopy:
    """Put one copy in Sent: never a duplicate; learn whether the server files its own.

    Returns what happened; raises SendFailure when the copy could not be filed.
    """
    if mode == SentCopyMode.NEVER:
        return SentCopy.SKIPPED
    folder = account.sent_folder
    if not folder:
        raise SendFailure(
            "No Sent folder is known for this account.",
            fix="Run `hubsync connect` again or set sent_folder.",
            reason="sent-folder-unknown",
        )
    known = store.fact(account.name, FACT)
    provider = providers.by_key(account.provider)
    expected = known == "yes" or (known is None and bool(provider and provider.files_sent_copy))
    learning = mode == SentCopyMode.AUTO and not retry
    wait = 0.0
    if learning:
        # Where the provider files its own copy, nobody waits for it now: the entry waits in
        # the outbox (awaiting-copy) and a later sync or `outbox --retry` checks for it, so
        # a copy that comes late is never doubled by hubsync's.
        wait = 0.0 if expected else (FILING_WAIT_UNKNOWN if known is None else 0.0)
    with imap_session(account, password) as client:
        try:
            present = imap.find_message_id(client, folder, message_id, wait)
        except IMAPClientAbortError:
            raise
        except IMAPClientError as exc:  # SELECT fails when the folder is gone
            raise imap.append_failure(folder, str(exc)) from None
        if present:
            if learning:
                store.set_fact(account.name, FACT, "yes")
            return SentCopy.ALREADY_PRESENT
        if learning and expected:
            return SentCopy.AWAITING
        if learning and known is None:
            store.set_fact(account.name, FACT, "no")
        imap.unselect(client)  # never APPEND to a folder the session holds read-only
        imap.append_message(client, folder, raw, _datetime(parse.parse(raw, False).date))
        return SentCopy.APPENDED


def retry_filing(store: Store, account: cfg.Account, password: Secret) -> list[dict]:
    """File the copies that are still owed (submitted or filing-failed); never resubmit.
    A message a power cut left untracked after submission is tracked first, so replies to it
    are logged; an entry a crash left ``queued`` (never submitted) is marked failed. Copies
    awaited from the provider are looked for, and filed once the grace period is over."""
    _settle_interrupted(store, account)
    done = settle_awaited(store, account, password)
    for item in store.outbox(account.name, OWED_A_COPY):
        raw = store.outbox_raw(item["message_id"])
        if store.message(account.name, item["message_id"]) is None:
            _track_raw(store, account, raw)
        try:
            copy = file_copy(
                store, account, item["message_id"], raw, password, account.sent_copy, retry=True
            )
            store.outbox_update(item["message_id"], OutboxState.FILED, sent_copy=copy, error=None)
            done.append(
                {"message_id": item["message_id"], "state": OutboxState.FILED, "sent_copy": copy}
            )
        except HubsyncError as exc:
            store.outbox_update(item["message_id"], OutboxState.FILING_FAILED, error=exc.message)
            done.append(
                {
                    "message_id": item["message_id"],
                    "state": OutboxState.FILING_FAILED,
                    "error": exc.message,
                }
            )
    return done


def settle_awaited(store: Store, account: cfg.Account, password: Secret) -> list[dict]:
    """Look for each awaited provider copy by Message-ID: found, the entry is filed; still
    missing after ``sent_copy_grace_minutes``, hubsync files one and learns that this provider
    does not file copies after all. Never two copies: hubsync appends only when none is there."""
    waiting = store.outbox(account.name, (OutboxState.AWAITING_COPY,))
    if not waiting:
        return []
    grace = dt.timedelta(minutes=account.sent_copy_grace_minutes)
    cutoff = (dt.datetime.now(dt.UTC) - grace).isoformat(timespec="seconds")
    done = []
    with imap_session(account, password) as client:
        for item in waiting:
            mid = item["message_id"]
            try:
                present = imap.find_message_id(client, account.sent_folder, mid)
                if not present and item["updated"] > cutoff:
                    continue  # still within the grace period
                copy = SentCopy.ALREADY_PRESENT
                if not present:
                    imap.unselect(client)
                    raw = store.outbox_raw(mid)
                    imap.append_message(
                        client, account.sent_folder, raw, _datetime(parse.parse(raw, False).date)
                    )
                    copy = SentCopy.APPENDED
                    store.set_fact(account.name, FACT, "no")
                    store.add_event(
                        account.name,
                        "filing",
                        "provider-copy-missing",
                        mid,
                        f"no copy from the provider within {account.sent_copy_grace_minutes:g} "
                        "minutes: hubsync filed one and no longer waits for the provider",
                    )
            except IMAPClientAbortError:
                raise
            except (IMAPClientError, HubsyncError) as exc:
                text = getattr(exc, "message", None) or str(exc)
                store.outbox_update(mid, OutboxState.AWAITING_COPY, error=text)
                done.append({"message_id": mid, "state": OutboxState.AWAITING_COPY, "error": text})
                continue
            store.outbox_update(mid, OutboxState.FILED, sent_copy=copy, error=None)
            done.append({"message_id": mid, "state": OutboxState.FILED, "sent_copy": copy})
    return done


QUEUED_STALE = dt.timedelta(minutes=10)  # a send connects within seconds of queueing


def _settle_interrupted(store: Store, account: cfg.Account) -> None:
    """A ``queued`` entry older than QUEUED_STALE belongs to a send that died before it
    reached the server: nothing was sent, so it is marked failed (and no longer listed). A
    ``submitting`` one died during submission: the server may have it, so it is uncertain,
    and tracked (a reply proves delivery)."""
    cutoff = (dt.datetime.now(dt.UTC) - QUEUED_STALE).isoformat(timespec="seconds")
    for item in store.outbox(account.name, (OutboxState.SUBMITTING,)):
        if item["updated"] < cutoff:
            store.outbox_update(
                item["message_id"],
                OutboxState.UNCERTAIN,
                error="interrupted during submission; the server may have it",
            )
            if store.message(account.name, item["message_id"]) is None:
                _track_raw(store, account, store.outbox_raw(item["message_id"]))
    for item in store.outbox(account.name, (OutboxState.QUEUED,)):
        if item["updated"] < cutoff:
            store.outbox_update(
                item["message_id"],
                OutboxState.FAILED,
                error="interrupted before it reached the server; nothing was sent",
            )


def _datetime(iso: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(iso) if iso else None
    except ValueError:
        return None
