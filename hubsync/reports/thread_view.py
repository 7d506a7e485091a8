"""Logged threads as trees with suspected unrelated emails flagged, `threads split`, and the
read-only audit of a live folder."""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from hubsync import collector
from hubsync import config as cfg
from hubsync import threads as jwz
from hubsync.errors import NotFound, UsageError
from hubsync.folder_threads import FolderThreader, FolderThreads
from hubsync.logbook import Direction
from hubsync.logged_messages import attachment_fields
from hubsync.mail.parse import normalize_message_id
from hubsync.reports.period import since_date
from hubsync.store import Store
from hubsync.store import queries as q

if TYPE_CHECKING:
    from hubsync.sessions import Secret


@dataclass
class ThreadMessage:
    """One message in a thread view, with its place in the tree."""

    message_id: str
    parent_id: str | None
    depth: int
    date: str | None
    logged_at: str
    id: int  # the store's id (`messages`, `attachments list --message`)
    direction: str
    origin: str
    sender: str  # "from" in JSON
    from_name: str | None
    to: list[str]
    cc: list[str]
    subject: str | None
    attachments: list[dict]  # filename, size, mime_type
    attachments_note: str | None
    suspected_unrelated: bool = False
    why_flagged: list[str] = field(default_factory=list)

    @property
    def sent(self) -> bool:
        """True when the account's owner wrote it."""
        return self.direction == Direction.SENT

    def to_dict(self) -> dict:
        """JSON-ready data (`threads --json`): the sender as one ``from`` object
        ``{address, name}``, as everywhere."""
        data = asdict(self)
        data["from"] = {"address": data.pop("sender"), "name": data.pop("from_name")}
        return data


@dataclass
class ThreadView:
    """A logged thread: its messages in tree order and which of them look unrelated."""

    thread_id: int
    subject: str | None
    origin: str | None
    split_from: int | None
    messages: list[ThreadMessage]
    suspected_unrelated: list[str]  # Message-IDs

    def to_dict(self) -> dict:
        """JSON-ready data (`threads --json`): messages by date (the tree is in each one's
        ``parent_id`` and ``depth``)."""
        dated = sorted(self.messages, key=lambda m: (m.date is None, m.date or ""))
        return {**asdict(self), "messages": [m.to_dict() for m in dated]}


def _participants(row: dict) -> frozenset[str]:
    return frozenset(a for a in (row["from_addr"], *row["to_addrs"], *row["cc_addrs"]) if a)


def _as_message(row: dict) -> jwz.Message:
    return jwz.Message(
        row["message_id"],
        row["in_reply_to"] or "",
        list(row["refs"] or []),
        row["subject"] or "",
        row["date"] or "",
        _participants(row),
        row,
    )


def _by_date(boxes: list[jwz.Container]) -> list[jwz.Container]:
    """Siblings oldest first (by Date header; undated ones last, in their found order)."""

    def key(box: jwz.Container) -> tuple[bool, str]:
        date = box.message.data["date"] if box.message is not None else None
        if date is None and box.children:  # a placeholder: as old as its oldest child
            dates = [c.message.data["date"] for c in box.children if c.message is not None]
            date = min((d for d in dates if d), default=None)
        return (date is None, date or "")

    return sorted(boxes, key=key)


def _flatten(roots: list[jwz.Container]) -> list[ThreadMessage]:
    """The messages under ``roots`` in tree order (depth first, siblings by date), each with
    its parent."""
    flat: list[ThreadMessage] = []
    stack = [(root, 0, None) for root in reversed(_by_date(roots))]
    while stack:  # iterative: a deep chain must not exhaust Python's recursion limit
        box, depth, parent_id = stack.pop()
        if box.message is not None:
            row = box.message.data
            flat.append(
                ThreadMessage(
                    message_id=row["message_id"],
                    parent_id=parent_id,
                    depth=depth,
                    date=row["date"],
                    logged_at=row["logged_at"],
                    id=row["id"],
                    direction=row["direction"],
                    origin=row["origin"],
                    sender=row["from_addr"],
                    from_name=row["from_name"],
                    to=row["to_addrs"],
                    cc=row["cc_addrs"],
                    subject=row["subject"],
                    attachments=[attachment_fields(a) for a in row["attachments"]],
                    attachments_note=row["attachments_note"],
                )
            )
            parent_id, depth = row["message_id"], depth + 1
        stack.extend((child, depth, parent_id) for child in reversed(_by_date(box.children)))
    return flat


def thread_report(
    store: Store,
    account: str,
    own: str,
    contact: str | None = None,
    since: str | None = None,
    subject_grouping: str = jwz.PARTICIPANTS,
) -> list[ThreadView]:
    """Logged threads as trees (JWZ within each stored thread) with suspected unrelated
    emails flagged; only threads with ``contact`` and messages from ``since`` on, if given
    (an ISO date; UsageError otherwise)."""
    since = since_date(since)
    by_thread: dict[int, list[dict]] = defaultdict(list)
    for row in q.messages(store, account, since=since):
        by_thread[row["thread_id"]].append(row)
    info = q.threads(store, account)
    report = []
    for thread_id, members in by_thread.items():
        if contact and not any(contact.lower() in _participants(r) for r in members):
            continue
        roots = jwz.thread((_as_message(r) for r in members), subject_grouping, [own])
        flat = _flatten(roots)
        suspects = {s.message_id: s for s in jwz.unrelated_suspects(roots, [own])}
        for item in flat:
            suspect = suspects.get(item.message_id)
            item.suspected_unrelated = suspect is not None
            item.why_flagged = suspect.reasons if suspect else []
        meta = info.get(thread_id, {})
        report.append(
            ThreadView(
                thread_id=thread_id,
                subject=meta.get("subject") or members[0]["subject"],
                origin=meta.get("origin"),
                split_from=meta.get("split_from"),
                messages=flat,
                suspected_unrelated=list(suspects),
            )
        )
    return report


@dataclass
class SplitResult:
    """What `threads split` moved, from which thread to which."""

    message_id: str
    from_thread: int
    new_thread: int
    moved: list[str]

    def to_dict(self) -> dict:
        """JSON-ready data."""
        return asdict(self)


def split(store: Store, account: str, message_id: str) -> SplitResult:
    """Detach a message (and the replies under it) into a thread of its own; later syncs
    keep it there, since replies join the thread of the message they answer."""
    message_id = normalize_message_id(message_id)
    row = store.message(account, message_id)
    if row is None:
        raise NotFound(f"{message_id} is not in the log.", reason="no-such-message")
    members = [r for r in q.messages(store, account) if r["thread_id"] == row["thread_id"]]
    roots = jwz.thread(_as_message(r) for r in members)
    box = next(c for root in roots for c in root.walk() if c.message_id == message_id)
    moving = [m.message_id for m in box.messages()]
    if len(moving) == len(members):
        raise UsageError(f"{message_id} already starts its own thread.", reason="nothing-to-split")
    new = q.move_to_new_thread(store, account, moving, row["subject"] or "", row["thread_id"])
    return SplitResult(message_id, row["thread_id"], new, moving)


@dataclass
class FolderAudit:
    """The threads of a live folder (`threads --folder`); nothing of it is stored."""

    folder: str
    messages: int
    threads: int
    largest_thread: dict  # messages, subject
    without_message_id: int
    suspect_count: int
    found: FolderThreads  # the threads and suspects, produced as they are read

    @classmethod
    def of(cls, folder: str, found: FolderThreads) -> "FolderAudit":
        """The audit of ``folder`` from its threads."""
        return cls(
            folder=folder,
            messages=found.messages,
            threads=found.threads,
            largest_thread={"messages": found.largest_messages, "subject": found.largest_subject},
            without_message_id=found.without_message_id,
            suspect_count=found.suspect_count,
            found=found,
        )

    def thread_lists(self) -> Iterator[list[str]]:
        """Each thread's Message-IDs in tree order (made one at a time: a list of lists
        would double the audit's memory on a large folder)."""
        return self.found.thread_lists()

    def suspected_unrelated(self) -> Iterator[dict]:
        """The suspected unrelated emails: message_id, parent_id, reasons."""
        return self.found.suspected_unrelated()

    def json_size_at_least(self) -> int:
        """A lower bound of the characters of the two lists' JSON (each Message-ID quoted,
        each suspect's fixed words): whether the document is large enough to be written as
        it is made (``render.emit_json_streamed``)."""
        return self.found.message_id_chars() + 4 * self.messages + 140 * self.suspect_count

    def to_dict(self, lists: bool = True) -> dict:
        """JSON-ready data; without ``lists`` the places of ``suspected_unrelated`` and
        ``thread_list`` hold None (for a caller that writes them as they are made). Counts
        are ``*_count`` (one vocabulary: a plural name is a list)."""
        return {
            "folder": self.folder,
            "largest_thread": {
                "message_count": self.largest_thread["messages"],
                "subject": self.largest_thread["subject"],
            },
            "without_message_id": self.without_message_id,
            "suspected_unrelated": list(self.suspected_unrelated()) if lists else None,
            "thread_list": list(self.thread_lists()) if lists else None,
            "message_count": self.messages,
            "thread_count": self.threads,
        }


def audit(
    messages: Iterable[tuple], own: str, folder: str = "", subject_grouping: str = jwz.PARTICIPANTS
) -> FolderAudit:
    """Threads of a folder from its messages' audit fields in UID order (see
    ``folder_audit.audit_fields``). ``messages`` is read once, so a generator's are freed as
    they are read."""
    threader = FolderThreader(own, subject_grouping)
    add = threader.add
    with collector.paused():  # a burst of short-lived tuples: nothing for it to find
        for fields in messages:
            add(*fields)
        return FolderAudit.of(folder, threader.finish())


def audit_folder(
    store: Store,
    account: cfg.Account,
    password: "Secret",
    folder: str,
    subject_grouping: str = jwz.PARTICIPANTS,
) -> FolderAudit:
    """Read ``folder`` on the server (read-only) and audit its threads."""
    from hubsync.sync.engine import session  # network code only for this report
    from hubsync.sync.folder_audit import folder_fields

    with session(account, password, store) as client:
        # each message is threaded as it arrives: nothing is kept of it but numbers
        return audit(folder_fields(client, folder), account.email, folder, subject_grouping)
