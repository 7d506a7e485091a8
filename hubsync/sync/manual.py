"""`hubsync log`: log messages by hand, from files or from a folder on the server."""

import shutil
import tempfile
from dataclasses import asdict, dataclass
from typing import BinaryIO

from hubsync import attachment_policy
from hubsync import config as cfg
from hubsync.errors import MessageError, NotFound
from hubsync.logbook import LogOutcome, log_manual
from hubsync.mail import parse
from hubsync.mail.stream import read_text_only
from hubsync.sessions import Secret
from hubsync.store import Store
from hubsync.sync.bodies import text_of
from hubsync.sync.mailbox import ImapMailbox


@dataclass
class ManualLog:
    """What logging one message by hand did."""

    source: str  # the file name, "-", or "FOLDER UID n"
    message_id: str
    thread_id: int
    new: bool  # False: it was in the log already
    contacts_created: int
    attachments_logged: int

    def to_dict(self) -> dict:
        """JSON-ready data."""
        return asdict(self)


def log_raw(store: Store, account: cfg.Account, source: str, raw: bytes) -> ManualLog:
    """Log one message's bytes; a message that cannot be read raises MessageError naming
    ``source``."""
    try:
        outcome = log_manual(store, account.name, raw, (account.email,))
    except MessageError as exc:
        raise MessageError(f"{source}: {exc.message}", fix=exc.fix) from None
    return _result(source, raw, outcome)


def log_file(store: Store, account: cfg.Account, source: str, stream: BinaryIO) -> ManualLog:
    """Log the message in ``stream`` (a file, or standard input spooled to a temporary file)
    in bounded memory: under the attachment limit it is read whole; over it (or with
    attachment logging off) only its header and text are kept, as sync does."""
    with tempfile.TemporaryFile() as spool:
        if not stream.seekable():
            shutil.copyfileobj(stream, spool, 1024 * 1024)
            stream = spool
        size = stream.seek(0, 2)
        stream.seek(0)
        if attachment_policy.decide(account, size).keep:
            return log_raw(store, account, source, stream.read())
        big = read_text_only(stream)
    decision = attachment_policy.decide(account, size)
    note = decision.note
    body = text_of(big.text, big.subtype, big.encoding, big.charset) if big.subtype else ""
    try:
        outcome = log_manual(
            store, account.name, big.header + b"\r\n", (account.email,), body=body, note=note
        )
    except MessageError as exc:
        raise MessageError(f"{source}: {exc.message}", fix=exc.fix) from None
    result = _result(source, big.header + b"\r\n", outcome)
    if outcome.message_pk is not None and big.attachments:
        store.add_event(
            account.name,
            "attachments-skipped",
            decision.reason,
            result.message_id,
            f"{note}; {big.attachments} attachment(s); size {size} bytes",
        )
    return result


def log_from_folder(
    store: Store, account: cfg.Account, password: Secret, folder: str, uid: int
) -> ManualLog:
    """Fetch message ``uid`` of ``folder`` from the server (read-only) and log it."""
    from hubsync.sync.engine import session

    with session(account, password, store) as client:
        mailbox = ImapMailbox(client)
        mailbox.examine(folder)
        size = mailbox.sizes([uid]).get(uid)
        # Asked for by name: read it whole, as large as the server says it is (and no larger).
        raw = mailbox.messages([uid], size).get(uid, b"") if size is not None else b""
    if not raw:
        raise NotFound(f"No message with UID {uid} in {folder}.", reason="no-such-message")
    outcome = log_manual(store, account.name, raw, (account.email,), folder, uid)
    return _result(f"{folder} UID {uid}", raw, outcome)


def _result(source: str, raw: bytes, outcome: LogOutcome) -> ManualLog:
    return ManualLog(
        source=source,
        message_id=parse.parse(raw, with_body=False).message_id,
        thread_id=outcome.thread_id,
        new=outcome.message_pk is not None,
        contacts_created=outcome.contacts_created,
        attachments_logged=outcome.attachments_logged,
    )
