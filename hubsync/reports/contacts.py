"""Contacts: the list with message counts, and one contact's timeline and attachments."""

from dataclasses import asdict, dataclass

from hubsync.errors import NotFound
from hubsync.logbook import display
from hubsync.logged_messages import attachment_fields
from hubsync.store import Store
from hubsync.store import queries as q


@dataclass
class ContactSummary:
    """A row of `hubsync contacts`."""

    address: str
    name: str | None
    first_seen: str
    last_seen: str
    message_count: int

    def to_dict(self) -> dict:
        """JSON-ready data."""
        return asdict(self)


def contact_list(store: Store, account: str) -> list[ContactSummary]:
    """Every contact of ``account``, most recently seen first."""
    return [
        ContactSummary(
            **{k: v for k, v in row.items() if k != "messages"}, message_count=row["messages"]
        )
        for row in q.contacts(store, account)
    ]


@dataclass
class ContactRecord:
    """One contact: who, how many messages, the timeline and the attachments."""

    address: str
    name: str | None
    first_seen: str
    last_seen: str
    message_count: int
    timeline: list[dict]  # id, date, logged_at, direction, subject, message_id, from, to (, body)
    attachments: list[dict]  # id, filename, size, mime_type, sha256, message_id
    inboxes: list[dict]  # account, first_seen, last_seen: every inbox of the store they are in

    @property
    def display(self) -> str:
        """ "Name <address>", or the address alone."""
        return display(self.name or "", self.address)

    def to_dict(self) -> dict:
        """JSON-ready data (`contacts ADDRESS --json`)."""
        return asdict(self)


def contact_record(store: Store, account: str, address: str, full: bool = False) -> ContactRecord:
    """The contact's record; with ``full`` the timeline carries message bodies. Raises
    UsageError when ``address`` is not a contact."""
    person = q.contact(store, account, address)
    if person is None:
        raise NotFound(f"{address} is not a contact of {account}.", reason="no-such-contact")
    rows = q.messages(store, account, contact=address, with_body=full)
    timeline = [
        {
            "id": r["id"],
            "date": r["date"] or r["logged_at"],
            "logged_at": r["logged_at"],
            "direction": r["direction"],
            "subject": r["subject"],
            "message_id": r["message_id"],
            "from": {"address": r["from_addr"], "name": r["from_name"]},
            "to": r["to_addrs"],
            "attachments_note": r["attachments_note"],
            **({"body": r["body"]} if full else {}),
        }
        for r in rows
    ]
    attachments = [
        {**attachment_fields(a), "message_id": r["message_id"]}
        for r in rows
        for a in r["attachments"]
    ]
    return ContactRecord(
        **person,
        message_count=len(rows),
        timeline=timeline,
        attachments=attachments,
        inboxes=q.contact_inboxes(store, address),
    )
