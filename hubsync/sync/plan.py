"""Sync decisions as pure functions: where to start in a folder, and what to do with each
scanned message. The engine executes the plan; these functions only read their inputs.

Per folder: a changed UIDVALIDITY means a rescan from UID 1 (harmless: messages are keyed by
Message-ID, so nothing is logged twice), and so does a stored position past the server's
UIDNEXT with the same UIDVALIDITY (the position is wrong: a server once claimed more than it
had, or an older hubsync believed it). Per scanned range: a message already in the log is
counted; a message whose In-Reply-To or References names a tracked message is logged into
that thread; anything else leaves no trace.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from hubsync.sync.fetch import parse_fields
from hubsync.sync.mailbox import FolderState
from hubsync.sync.matching import ReplyMatch, ids_in, match_reply


@dataclass(frozen=True)
class FolderPlan:
    """Which UIDs of a folder to scan, and whether its position was lost."""

    start: int  # first UID to scan
    last: int  # last UID to scan; nothing to scan when start > last
    rescan: bool = False  # UIDVALIDITY changed: scanning from 1 again
    previous_uidvalidity: int | None = None
    position_ahead: int | None = None  # a stored position past the server's last UID

    @property
    def empty(self) -> bool:
        """True when there is nothing new to scan."""
        return self.start > self.last

    @property
    def position(self) -> int:
        """The position to record when the scan is done (the highest UID seen)."""
        return max(self.last, self.start - 1)


def plan_folder(state: FolderState, position: Mapping | None) -> FolderPlan:
    """Where to scan ``state``'s folder given the stored ``position`` (a sync_state row with
    ``uidvalidity`` and ``last_uid``, or None before the first sync)."""
    last = state.last_uid if state.exists else 0
    if position is None:
        return FolderPlan(1, last)
    if position["uidvalidity"] != state.uidvalidity:
        return FolderPlan(1, last, rescan=True, previous_uidvalidity=position["uidvalidity"])
    if state.uidnext_known and position["last_uid"] > state.last_uid:
        return FolderPlan(1, last, position_ahead=position["last_uid"])
    start = position["last_uid"] + 1
    floors = [f for f in (position.get("rescan_from"), position.get("new_from")) if f]
    start = min([start, *floors])  # scanned by fewer than two complete syncs: again
    return FolderPlan(start, max(last, start - 1))


@dataclass(frozen=True)
class HeaderRecord:
    """The threading fields of one scanned message."""

    uid: int
    message_id: str  # "" when it has none
    in_reply_to: list[str]
    references: list[str]


def header_record(uid: int, header: bytes) -> HeaderRecord:
    """Read the Message-ID, In-Reply-To and References of a scanned header block."""
    fields = parse_fields(header)
    return HeaderRecord(
        uid,
        (ids_in(fields.get(b"message-id")) or [""])[0],
        ids_in(fields.get(b"in-reply-to")),
        ids_in(fields.get(b"references")),
    )


@dataclass(frozen=True)
class AlreadyLogged:
    """The message is in the log already (sent by hubsync, or logged before a crash)."""

    uid: int
    message_id: str


@dataclass(frozen=True)
class LogReply:
    """Log the message into ``match.thread_id``."""

    uid: int
    message_id: str
    match: ReplyMatch


Action = AlreadyLogged | LogReply


def plan_range(records: list[HeaderRecord], tracked: Mapping[str, int]) -> list[Action]:
    """What to do with each scanned message of one UID range, in UID order.

    A reply to a message planned for logging earlier in the same range is planned too (it
    joins the same thread). ``tracked`` (Message-ID -> thread of everything in the log) is
    not changed.
    """
    planned: dict[str, int] = {}  # Message-IDs this plan will log, with their thread
    actions: list[Action] = []
    for record in sorted(records, key=lambda r: r.uid):
        if record.message_id and (record.message_id in tracked or record.message_id in planned):
            actions.append(AlreadyLogged(record.uid, record.message_id))
            continue
        found = match_reply(record.in_reply_to, record.references, _Overlay(tracked, planned))
        if found is None:
            continue
        actions.append(LogReply(record.uid, record.message_id, found))
        if record.message_id:
            planned[record.message_id] = found.thread_id
    return actions


class _Overlay(Mapping):
    """``tracked`` with the range's planned messages on top, without copying ``tracked``."""

    def __init__(self, base: Mapping[str, int], extra: Mapping[str, int]) -> None:
        self.base, self.extra = base, extra

    def __getitem__(self, key: str) -> int:
        return self.extra[key] if key in self.extra else self.base[key]

    def __contains__(self, key: object) -> bool:
        return key in self.extra or key in self.base

    def __iter__(self):
        yield from self.extra
        yield from (k for k in self.base if k not in self.extra)

    def __len__(self) -> int:
        return len(self.base) + sum(1 for k in self.extra if k not in self.base)
