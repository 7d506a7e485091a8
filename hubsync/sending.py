"""Send a message once, then file one copy in Sent; crash-safe through the outbox journal.

States: queued -> submitting -> submitted -> filed | filing-failed; failed (nothing was sent);
uncertain (the process died during submission: hubsync never resubmits by itself).
"""

import datetime as dt
import email.utils
import os
from dataclasses import dataclass, field

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from hubsync import config as cfg
from hubsync.errors import HubsyncError, SendFailure
from hubsync.logbook import log_message
from hubsync.mail import compose, imap, parse, providers, smtp
from hubsync.store import Store
from hubsync.store.db import now

FILING_WAIT_EXPECTED = 10.0  # provider known to file its own copy: wait this long for it
FILING_WAIT_UNKNOWN = 5.0  # not yet known: a short look before appending
FACT = "server_files_sent_copy"


@dataclass
class SendResult:
    message_id: str
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    sent_folder: str | None = None
    sent_copy: str = "skipped"  # appended | already-present | skipped | failed
    state: str = "queued"
    error: str | None = None
    error_reason: str | None = None
    retried: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            k: getattr(self, k)
            for k in (
                "message_id",
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
    """In-Reply-To and References for a reply (RFC 5322 3.6.4), from the stored thread."""
    parent = store.message(account, parent_id)
    refs = list(parent["refs"]) if parent else []
    if not refs and parent and parent.get("in_reply_to"):
        refs = [parent["in_reply_to"]]
    return parent_id, [*refs, parent_id]


def send(
    store: Store,
    account: cfg.Account,
    draft: compose.Draft,
    password: str,
    sent_copy_mode: str = "auto",
) -> SendResult:
    msg = compose.build(draft, account.domain)
    message_id = str(msg["Message-ID"])
    full, wire = compose.to_bytes(msg), compose.wire_bytes(msg)
    result = SendResult(message_id=message_id, sent_folder=account.sent_folder or None)
    result.retried = retry_filing(store, account, password)
    store.outbox_add(
        account.name,
        message_id,
        full,
        draft.sender,
        draft.recipients,
        draft.subject,
        account.sent_folder,
    )
    provider = providers.by_key(account.provider)
    conn = None
    try:
        conn = smtp.open_session(
            smtp.SmtpEndpoint(
                account.smtp_host, account.smtp_port, account.smtp_security, account.cafile or None
            )
        )
        smtp.authenticate(conn, account.username, password, provider)
        store.outbox_update(message_id, "submitting")
        submission = smtp.submit(conn, wire, draft.sender, draft.recipients)
    except HubsyncError as exc:
        state = "uncertain" if exc.reason == "smtp-disconnected" else "failed"
        store.outbox_update(message_id, state, error=exc.message)
        raise
    finally:
        smtp.close(conn)
    result.accepted, result.refused = submission.accepted, submission.refused
    store.outbox_update(
        message_id, "submitted", accepted=submission.accepted, refused=submission.refused
    )
    result.state = "submitted"
    _track(store, account, full, draft)
    _fault_point("after-submit")
    _file(store, account, result, full, password, sent_copy_mode)
    return result


def _track(store: Store, account: cfg.Account, raw: bytes, draft: compose.Draft) -> None:
    """The sent message starts (or continues) a tracked thread; recipients become contacts."""
    parsed = parse.parse(raw)
    thread = store.thread_of(account.name, draft.in_reply_to) if draft.in_reply_to else None
    log_message(
        store,
        account.name,
        parsed,
        raw,
        direction="sent",
        origin="sent",
        thread_id=thread,
        match_rule="sent-by-hubsync",
        folder=account.sent_folder,
        own_addresses=(account.email,),
    )
    for address in draft.bcc:
        with store.transaction() as conn:
            store.add_contact(
                conn, account.name, email.utils.parseaddr(address)[1], None, parsed.date or now()
            )


def _file(
    store: Store, account: cfg.Account, result: SendResult, raw: bytes, password: str, mode: str
) -> None:
    try:
        result.sent_copy = file_copy(store, account, result.message_id, raw, password, mode)
        result.state = "filed"
        store.outbox_update(result.message_id, "filed", sent_copy=result.sent_copy, error=None)
    except HubsyncError as exc:
        result.sent_copy, result.state = "failed", "filing-failed"
        result.error, result.error_reason = exc.message, exc.reason
        store.outbox_update(
            result.message_id, "filing-failed", sent_copy="failed", error=exc.message
        )
        store.add_event(account.name, "filing", exc.reason, result.message_id, exc.message)


def file_copy(
    store: Store,
    account: cfg.Account,
    message_id: str,
    raw: bytes,
    password: str,
    mode: str,
    retry: bool = False,
) -> str:
    """Put one copy in Sent: never a duplicate; learn whether the server files its own."""
    if mode == "never":
        return "skipped"
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
    wait = 0.0
    if mode == "auto" and not retry:
        wait = FILING_WAIT_EXPECTED if expected else (FILING_WAIT_UNKNOWN if known is None else 0.0)
    client = imap.open_session(
        imap.ImapEndpoint(
            account.imap_host, account.imap_port, account.imap_security, account.cafile or None
        )
    )
    try:
        with imap.session_guard(account.imap_host, account.imap_port):
            imap.login(client, account.username, password, provider)
            try:
                present = imap.find_message_id(client, folder, message_id, wait)
            except IMAPClientAbortError:
                raise
            except IMAPClientError as exc:  # SELECT fails when the folder is gone
                raise imap.append_failure(folder, str(exc)) from None
            learning = mode == "auto" and not retry
            if present:
                if learning:
                    store.set_fact(account.name, FACT, "yes")
                return "already-present"
            if learning and known is None:
                store.set_fact(account.name, FACT, "no")
            imap.append_message(client, folder, raw, _datetime(parse.parse(raw, False).date))
            return "appended"
    finally:
        imap.close(client)


def retry_filing(store: Store, account: cfg.Account, password: str) -> list[dict]:
    """File the copies that are still owed (submitted or filing-failed); never resubmit."""
    done = []
    for item in store.outbox(account.name, ("submitted", "filing-failed")):
        raw = store.outbox_raw(item["message_id"])
        try:
            copy = file_copy(
                store, account, item["message_id"], raw, password, account.sent_copy, retry=True
            )
            store.outbox_update(item["message_id"], "filed", sent_copy=copy, error=None)
            done.append({"message_id": item["message_id"], "state": "filed", "sent_copy": copy})
        except HubsyncError as exc:
            store.outbox_update(item["message_id"], "filing-failed", error=exc.message)
            done.append(
                {"message_id": item["message_id"], "state": "filing-failed", "error": exc.message}
            )
    return done


def _datetime(iso: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(iso) if iso else None
    except ValueError:
        return None


def _fault_point(name: str) -> None:
    """Crash-safety tests set HUBSYNC_FAULT to kill the process at a named point, as a power
    cut would; nothing else reads it."""
    if os.environ.get("HUBSYNC_FAULT") == name:
        os._exit(137)
