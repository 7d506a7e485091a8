"""`hubsync log`: log messages by hand, from files or from a folder on the server."""

from dataclasses import asdict, dataclass

from hubsync import config as cfg
from hubsync.errors import MessageError, UsageError
from hubsync.logbook import LogOutcome, log_manual
from hubsync.mail import parse
from hubsync.store import Store
from hubsync.sync.mailbox import ImapMailbox


@dataclass
class ManualLog:
    """What logging one message by hand did."""

    source: str  # the file name, "-", or "FOLDER UID n"
    message_id: str
    thread_id: int
    new: bool  # False: it was in the log already
    contacts_created: int
    attachments_stored: int

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


def log_from_folder(
    store: Store, account: cfg.Account, password: str, folder: str, uid: int
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
        raise UsageError(f"No message with UID {uid} in {folder}.", reason="no-such-message")
    outcome = log_manual(store, account.name, raw, (account.email,), folder, uid)
    return _result(f"{folder} UID {uid}", raw, outcome)


def _result(source: str, raw: bytes, outcome: LogOutcome) -> ManualLog:
    return ManualLog(
        source=source,
        message_id=parse.parse(raw, with_body=False).message_id,
        thread_id=outcome.thread_id,
        new=outcome.message_pk is not None,
        contacts_created=outcome.contacts_created,
        attachments_stored=outcome.attachments_stored,
    )
