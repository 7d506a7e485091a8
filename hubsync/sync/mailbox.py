"""What the sync engine needs from a mail server, and its IMAP implementation.

The engine talks to a ``Mailbox``: examine a folder, scan header fields of a UID range, and
fetch sizes, whole messages or text only. ``ImapMailbox`` does it over a logged-in imapclient
session with the fast header reader; tests drive the same engine with an in-memory mailbox.
"""

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import imapclient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from hubsync.mail.imap import list_folders, response_budget
from hubsync.mail.sent_folder import Folder
from hubsync.sync import bodies
from hubsync.sync.fetch import RangeScans, ScanTally, reader, uid_ranges


@dataclass(frozen=True)
class FolderState:
    """What examining a folder (SELECT read-only) said about it."""

    uidvalidity: int
    last_uid: int  # the highest UID that exists now (UIDNEXT - 1, or asked for)
    exists: int  # number of messages
    highestmodseq: int | None = None
    uidnext_known: bool = True  # False: the server left UIDNEXT out (last_uid was searched)


class Mailbox(Protocol):
    """The server side of a sync. Every method may raise ConnectionDropped."""

    def examine(self, folder: str) -> FolderState:
        """Select ``folder`` read-only and say what it holds."""

    def status(self, folder: str) -> FolderState | None:
        """UIDVALIDITY and the last UID of ``folder`` without selecting it (IMAP STATUS), or
        None when the server cannot say so cheaply (then the caller examines the folder)."""

    def list_folders(self) -> list[Folder]:
        """Every folder with its attributes (IMAP LIST)."""

    def scan(
        self,
        first: int,
        last: int,
        candidate: Callable[[bytes], bool],
        ahead: tuple[int, int] | None = None,
    ) -> tuple[list[tuple[int, bytes]], ScanTally]:
        """The (uid, header block) of every message in first..last whose Message-ID,
        In-Reply-To and References block passes ``candidate`` (asked in UID order), and what
        the scan saw (how many messages, the highest UID returned). ``ahead``: the range the
        caller will most likely ask for next, with the same ``candidate`` (a server may be
        asked for it already)."""

    def settle(self) -> None:
        """Finish whatever the server was asked ahead of time (before the connection is used
        for anything else outside this mailbox)."""

    def next_uid(self, first: int) -> int | None:
        """The lowest UID from ``first`` on that exists in the selected folder, or None (one
        UID SEARCH: empty UID ranges are never walked)."""

    def sizes(self, uids: Iterable[int]) -> dict[int, int]:
        """RFC822.SIZE per UID (from the server's index: nothing is downloaded)."""

    def messages(self, uids: list[int], announced: int) -> dict[int, bytes]:
        """Whole messages by UID, read without setting \\Seen; ``announced`` is the sum of
        their RFC822.SIZE, beyond which the server is not believed."""

    def text_only(self, uid: int) -> tuple[bytes, str, int]:
        """(header, body text, number of attachment parts), attachments not downloaded."""

    def search(self, criteria: list[str]) -> list[int]:
        """The UIDs of the selected folder's messages matching IMAP SEARCH ``criteria``."""

    def headers(self, uids: list[int], fields: tuple[str, ...]) -> dict[int, bytes]:
        """The ``fields`` header block of each of ``uids`` (read-only; gone: left out)."""


class ImapMailbox:
    """A ``Mailbox`` over a logged-in imapclient session."""

    def __init__(self, client: imapclient.IMAPClient) -> None:
        self.client = client
        # Which folder this session has selected; "" while unknown (a client handed over
        # already selected, as the IDLE watch does). STATUS is never used on it: RFC 3501
        # 6.3.10 rules out STATUS as a new-mail check on the selected mailbox.
        self.selected: str | None = "" if _state(client) == "SELECTED" else None
        self._scans: RangeScans | None = None  # the header scans of the selected folder
        self._round_trip: float | None = None  # the last EXAMINE's seconds

    def settle(self) -> None:
        if self._scans is not None:
            self._scans.settle()

    def examine(self, folder: str) -> FolderState:
        self.settle()
        self._scans = None  # a new folder: nothing asked ahead carries over
        self.selected = ""  # unknown until the SELECT answers
        started = time.monotonic()
        info = self.client.select_folder(folder, readonly=True)
        self._round_trip = time.monotonic() - started  # how far away the server is
        self.selected = folder
        exists = int(info.get(b"EXISTS", 0))
        modseq = info.get(b"HIGHESTMODSEQ")
        last_uid, known = self._last_uid(folder, info.get(b"UIDNEXT"), exists)
        return FolderState(
            uidvalidity=int(info[b"UIDVALIDITY"]),
            last_uid=last_uid,
            exists=exists,
            highestmodseq=int(modseq) if modseq else None,
            uidnext_known=known,
        )

    def list_folders(self) -> list[Folder]:
        self.settle()
        return list_folders(self.client)

    def status(self, folder: str) -> FolderState | None:
        self.settle()
        if self.selected is not None and (self.selected == "" or self.selected == folder):
            return None
        asked = ["UIDVALIDITY", "UIDNEXT", "MESSAGES"]
        if self.client.has_capability("CONDSTORE"):
            asked.append("HIGHESTMODSEQ")  # RFC 7162: whether any flag changed (keywords)
        try:
            info = self.client.folder_status(folder, asked)
        except IMAPClientAbortError:
            raise
        except IMAPClientError:  # no such folder, or STATUS refused: EXAMINE will say why
            return None
        try:
            uidvalidity, uidnext = int(info[b"UIDVALIDITY"]), int(info[b"UIDNEXT"])
            exists = int(info.get(b"MESSAGES", 0))
            modseq = int(info[b"HIGHESTMODSEQ"]) if info.get(b"HIGHESTMODSEQ") else None
        except (KeyError, TypeError, ValueError):  # a server that leaves a field out
            return None
        return FolderState(uidvalidity, uidnext - 1, exists, highestmodseq=modseq)

    def _last_uid(self, folder: str, uidnext, exists: int) -> tuple[int, bool]:
        """UIDNEXT - 1 from SELECT, and whether the server stated UIDNEXT; servers that leave
        it out (Courier) are asked with STATUS, and failing that with UID SEARCH (never
        ``FETCH *``, whose answer imapclient cannot always read)."""
        if exists == 0:
            return (int(uidnext) - 1, True) if uidnext else (0, False)
        if not uidnext:
            try:
                uidnext = self.client.folder_status(folder, ["UIDNEXT"]).get(b"UIDNEXT")
            except IMAPClientAbortError:
                raise
            except IMAPClientError:
                uidnext = None
        if uidnext:
            return int(uidnext) - 1, True
        return max(self.client.search(["ALL"]), default=0), False

    def scan(
        self,
        first: int,
        last: int,
        candidate: Callable[[bytes], bool],
        ahead: tuple[int, int] | None = None,
    ) -> tuple[list[tuple[int, bytes]], ScanTally]:
        if self._scans is None:
            self._scans = RangeScans(*reader(self.client), round_trip=self._round_trip)
        done = self._scans.scan(first, last, candidate, ahead)
        return done.found, done.tally

    def every_header(self, last: int, fields: tuple[str, ...]) -> Iterator[tuple[int, bytes]]:
        """(uid, header-fields block) of every message in 1..last of the folder examined,
        in UID order, the ranges pipelined as the sync's (`threads --folder`)."""
        scans = RangeScans(*reader(self.client), fields, round_trip=self._round_trip)
        self._scans = scans  # settled before any other command
        ranges = list(uid_ranges(1, last))
        for n, (first, end) in enumerate(ranges):
            ahead = ranges[n + 1] if n + 1 < len(ranges) else None
            yield from scans.scan(first, end, None, ahead).found

    def next_uid(self, first: int) -> int | None:
        self.settle()
        # "UID n:*" always matches the last message, even below n (RFC 3501 6.4.8): filter.
        uids = [u for u in self.client.search(["UID", f"{first}:*"]) if u >= first]
        return min(uids, default=None)

    def sizes(self, uids: Iterable[int]) -> dict[int, int]:
        self.settle()
        data = self.client.fetch(list(uids), ["RFC822.SIZE"])
        return {uid: _size(item.get(b"RFC822.SIZE")) for uid, item in data.items()}

    def messages(self, uids: list[int], announced: int) -> dict[int, bytes]:
        self.settle()
        # The sizes came from the server: allow them, plus the response's own overhead.
        budget = min(announced, MAX_MESSAGE_BYTES) + 65536 + 1024 * len(uids)
        with response_budget(self.client, budget):
            data = self.client.fetch(uids, ["BODY.PEEK[]"])
        return {uid: item.get(b"BODY[]") or b"" for uid, item in data.items()}

    def text_only(self, uid: int) -> tuple[bytes, str, int]:
        self.settle()
        return bodies.fetch_text_only(self.client, uid)

    def search(self, criteria: list[str]) -> list[int]:
        self.settle()
        return list(self.client.search(criteria))

    def headers(self, uids: list[int], fields: tuple[str, ...]) -> dict[int, bytes]:
        self.settle()
        found: dict[int, bytes] = {}
        item = f"BODY.PEEK[HEADER.FIELDS ({' '.join(fields)})]"
        for start in range(0, len(uids), HEADER_CHUNK):
            chunk = uids[start : start + HEADER_CHUNK]
            with response_budget(self.client, HEADER_BYTES * len(chunk)):
                data = self.client.fetch(chunk, [item])
            for uid, answer in data.items():
                # The key as the server wrote it (Courier quotes the field names).
                block = next((v for k, v in answer.items() if k.startswith(b"BODY[")), None)
                if block is not None:
                    found[uid] = bytes(block)
        return found


def _state(client: imapclient.IMAPClient) -> str:
    """The session's protocol state (imaplib's: "AUTH", "SELECTED", ...)."""
    return getattr(getattr(client, "_imap", None), "state", "")


HEADER_CHUNK = 200  # messages per header FETCH (a bounded command line and answer)
HEADER_BYTES = 256 * 1024  # the most one message's header fields may take in that answer
MAX_MESSAGE_BYTES = 1 << 31  # no server is believed beyond this, whatever it announces
UNKNOWN_SIZE = 1 << 62  # a size the server would not state: treated as over every limit


def _size(value) -> int:
    """RFC822.SIZE as a number; anything else counts as too big to download whole."""
    try:
        size = int(value)
    except (TypeError, ValueError):
        return UNKNOWN_SIZE
    return size if size >= 0 else UNKNOWN_SIZE
