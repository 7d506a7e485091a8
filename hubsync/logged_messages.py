"""What was logged, as a script reads it: one record per logged message, in logged order.

`sync --json` lists the messages its run logged, `sync --watch --json` emits one per line, and
`hubsync messages` lists them by when they were logged (``--logged-since``), so an hourly job
needs no state file of its own: a late reply with an old Date header is still new by
``logged_at``.
"""

from dataclasses import dataclass, field

from hubsync.store import Store, queries


@dataclass
class LoggedMessage:
    id: int  # the store's id: `attachments list --message ID`
    account: str
    message_id: str
    thread_id: int
    folder: str | None
    direction: str  # sent | received
    origin: str  # sent | reply | manual (and the mail-client ways)
    contact: dict  # {"address", "name"}: the sender of what was received, else the first recipient
    subject: str | None
    date: str | None  # the Date header, as the sender's clock had it
    logged_at: str  # when hubsync logged it
    attachments: list[dict] = field(default_factory=list)  # id, filename, size, sha256, ...
    attachments_skipped: str | None = None  # why attachments were not stored (size, policy)

    def to_dict(self) -> dict:
        """JSON-ready data (one entry of `messages --json`, `sync --json`'s `messages`)."""
        return {
            "id": self.id,
            "account": self.account,
            "message_id": self.message_id,
            "thread_id": self.thread_id,
            "folder": self.folder,
            "direction": self.direction,
            "origin": self.origin,
            "contact": self.contact,
            "subject": self.subject,
            "date": self.date,
            "logged_at": self.logged_at,
            "attachments": self.attachments,
            "attachments_skipped": self.attachments_skipped,
        }


def attachment_fields(row: dict) -> dict:
    """A stored attachment as every report shows it: the id `attachments save` takes."""
    return {
        "id": row["id"],
        "filename": row["filename"],
        "mime_type": row["mime_type"],
        "size": row["size"],
        "sha256": row["sha256"],
    }


def _from_row(account: str, row: dict) -> LoggedMessage:
    received = row["direction"] == "received"
    if received:
        contact = {"address": row["from_addr"], "name": row["from_name"]}
    else:
        recipients = [*row["to_addrs"], *row["cc_addrs"]]
        contact = {"address": recipients[0] if recipients else None, "name": None}
    return LoggedMessage(
        id=row["id"],
        account=account,
        message_id=row["message_id"],
        thread_id=row["thread_id"],
        folder=row["folder"],
        direction=row["direction"],
        origin=row["origin"],
        contact=contact,
        subject=row["subject"],
        date=row["date"],
        logged_at=row["logged_at"],
        attachments=[{**attachment_fields(a), "stored": True} for a in row["attachments"]],
        attachments_skipped=row["attachments_note"],
    )


def logged(
    store: Store,
    account: str,
    *,
    since: str | None = None,
    logged_since: str | None = None,
    after_id: int | None = None,
) -> list[LoggedMessage]:
    """The account's logged messages in the order they were logged (``logged_at``, then id):
    those dated from ``since``, logged from ``logged_since``, or stored after ``after_id``."""
    rows = queries.logged_in_order(
        store, account, since=since, logged_since=logged_since, after_id=after_id
    )
    return [_from_row(account, row) for row in rows]


def mark(store: Store, account: str) -> int:
    """The highest message id of the account now: what a run logs afterwards lies above."""
    return queries.last_message_pk(store, account)
