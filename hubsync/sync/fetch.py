"""The hot path: header-only UID FETCH over imapclient's own connection, parsed fast.

imapclient's response parser is pure Python and byte-at-a-time (about six times the server's
own time on 100,000 messages); this reader speaks the one command it needs directly on the
same socket, reads large chunks, and hands them to the sans-I/O ``FetchScanner``. Everything
else (login, SELECT, full fetches, IDLE) stays with imapclient.

Mail is only ever read with BODY.PEEK, so nothing is marked as read (RFC 3501 6.4.5).
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import imapclient

from hubsync.errors import ConnectionDropped, FetchRefused
from hubsync.mail.fetch_scanner import FetchScanner

MATCH_FIELDS = ("MESSAGE-ID", "IN-REPLY-TO", "REFERENCES")
AUDIT_FIELDS = ("MESSAGE-ID", "IN-REPLY-TO", "REFERENCES", "FROM", "TO", "CC", "SUBJECT", "DATE")
BATCH = 5000

_TAG = b"HSF"


@dataclass
class ScanTally:
    """What a header scan saw: every message counted, and the highest UID the server
    returned (the only UID a sync position may move to)."""

    seen: int = 0
    top_uid: int = 0


def uid_ranges(first: int, last: int, batch: int = BATCH) -> Iterator[tuple[int, int]]:
    """Bounded UID ranges (never one unbounded list: Dovecot refuses over-long commands)."""
    start = first
    while start <= last:
        end = min(start + batch - 1, last)
        yield start, end
        start = end + 1


def fetch_command(tag: bytes, first: int, last: int, fields: tuple[str, ...]) -> bytes:
    """The header FETCH of first..last, read without setting \\Seen (BODY.PEEK)."""
    return b"%s UID FETCH %d:%d (UID BODY.PEEK[HEADER.FIELDS (%s)])\r\n" % (
        tag, first, last, " ".join(fields).encode(),
    )  # fmt: skip


LEAD = 300  # UIDs before a range's end at which the next range's FETCH is sent
SLOW_LINK = 0.020  # seconds to a FETCH's first answer beyond which the next goes out at once


@dataclass
class RangeScan:
    """One UID range's header scan: the wanted (uid, header) pairs in UID order, and what
    was seen of the range."""

    first: int
    last: int
    want: Callable[[bytes], bool] | None
    tag: bytes = b""
    found: list[tuple[int, bytes]] = field(default_factory=list)
    tally: ScanTally = field(default_factory=ScanTally)
    done: bool = False

    def count(self, uid: int) -> None:
        self.tally.seen += 1
        self.tally.top_uid = max(self.tally.top_uid, uid)


class RangeScans:
    """Header scans of consecutive UID ranges on one connection, the next range's FETCH sent
    while the current answer ends (IMAP pipelining, RFC 3501 5.5), so the server is never
    idle between ranges: a round trip and a server start saved per range.

    The result is exactly that of scanning the ranges one after the other. ``want`` has side
    effects (a passing message's own Message-ID becomes known, so a reply to it passes too)
    and must see the messages in UID order; Dovecot interleaves the answers of pipelined
    FETCHes. So the next command goes out only near the end of the current answer (``lead``
    UIDs before it), and while both are in flight every message is collected unjudged; at
    the current tagged OK they are sorted by UID and judged in that order, each counted in
    its own range. Where the first answer took longer than ``SLOW_LINK`` (a long network
    path, or a busy server), the next command goes out as soon as the current answer
    starts, so each range's round trip is hidden behind the one before (at 150 ms: 0.30 s
    of a 1.2 s scan of 20,000 messages); that costs the collecting of every message
    (about 30% more client time), which a fast link would only lose.

    The next range's answer is read to its end before anything else is sent (``settle``;
    ``ImapMailbox`` settles before every other command) and kept for the ``scan`` that asks
    for it. ``send`` writes a command line, ``read`` returns the next bytes of the
    connection (raising ConnectionDropped at its end).
    """

    def __init__(
        self,
        send: Callable[[bytes], None],
        read: Callable[[], bytes],
        fields: tuple[str, ...] = MATCH_FIELDS,
        lead: int | None = LEAD,
        round_trip: float | None = None,
    ) -> None:
        self._send, self._read = send, read
        self.fields, self.lead = fields, lead
        # A slow link (``round_trip``: a command's seconds, when the caller timed one): the
        # next FETCH goes out when an answer starts. The first answer decides for the rest:
        # the caller's command may have been slow for the server's own reasons (EXAMINE of
        # a folder of 1,000,000 messages takes Dovecot 166 ms on loopback to open).
        self.eager = round_trip is not None and round_trip > SLOW_LINK
        self._first_sent: float | None = None  # when the first FETCH went out
        self._scanner: FetchScanner | None = None
        self._ahead: RangeScan | None = None  # the next range: in flight, or read and kept
        self._commands = 0
        self.pipelined = 0  # commands sent while another was in flight

    def scan(
        self,
        first: int,
        last: int,
        want: Callable[[bytes], bool],
        ahead: tuple[int, int] | None = None,
    ) -> RangeScan:
        """The scan of first..last (sending ``ahead``'s FETCH near its end, when given)."""
        current, self._ahead = self._ahead, None
        if current is not None and ((current.first, current.last) != (first, last)
                                    or current.want is not want):  # fmt: skip
            self._ahead = current
            self.settle()  # not the range asked for: read to its end and dropped
            current, self._ahead = None, None
        if current is not None and not current.done and not self._resume(current, ahead):
            current = None  # its pipelined FETCH was refused: asked again on its own
        if current is None:
            current = self._start(first, last, want)
            self._scanner.expect(current.tag, want)
            self._read_range(current, ahead)
        return current

    def settle(self) -> None:
        """Read the answer of the command still in flight to its end (kept for its scan), so
        the connection can carry another command."""
        ahead = self._ahead
        if ahead is not None and not ahead.done and not self._resume(ahead, None):
            self._ahead = None

    def _resume(self, pipelined: RangeScan, ahead: tuple[int, int] | None) -> bool:
        """Read a pipelined command's answer to its end; False when the server refused the
        command (RFC 3501 lets a server refuse what it cannot run now): then no more
        pipelining on this connection, and the range is to be asked for again on its own."""
        try:
            self._scanner.expect(pipelined.tag, pipelined.want)
            if not pipelined.done:
                self._read_range(pipelined, ahead)
        except FetchRefused:
            if self._scanner.tag != pipelined.tag:
                raise  # the refusal of another command
            self.lead = None
            self._drain()
            return False
        return True

    def _drain(self) -> None:
        """Read every other command still in flight to its tagged line, keeping nothing
        (its ranges are asked for again), so the next command goes out alone."""
        scanner = self._scanner
        scanner.done = True
        for tag in list(scanner.others):
            try:
                scanner.expect(tag, None)
                scanner.feed(b"")  # its answer may all be read already
                while not scanner.done:
                    scanner.feed(self._read())
            except FetchRefused:
                scanner.done = True
        scanner.completed.clear()

    def _start(self, first: int, last: int, want) -> RangeScan:
        if not self._commands:
            self._first_sent = time.monotonic()
        self._commands += 1
        scan = RangeScan(first, last, want, tag=b"%s%d" % (_TAG, self._commands))
        self._send(fetch_command(scan.tag, first, last, self.fields))
        if self._scanner is None:
            self._scanner = FetchScanner(scan.tag, want)
        self._scanner.others.add(scan.tag)
        return scan

    def _read_range(self, current: RangeScan, ahead: tuple[int, int] | None) -> None:
        scanner = self._scanner
        seen_before = scanner.seen
        collected: list[tuple[int, bytes]] | None = None  # while two commands are in flight
        following: RangeScan | None = None
        found = scanner.feed(b"")  # what the last command's reads brought of this one
        while True:
            if collected is None:
                # one command in flight: all of it is this range's (a stray answer of a
                # command refused and asked again is left to that range's own scan)
                current.found += [f for f in found if current.first <= f[0] <= current.last]
            else:
                collected += found
            if scanner.done:
                break
            if (ahead is not None and following is None and self.lead is not None
                    and (self.eager or scanner.top_uid >= current.last - self.lead)):  # fmt: skip
                current.tally.seen += scanner.seen - seen_before
                current.tally.top_uid = max(current.tally.top_uid, scanner.top_uid)
                following = self._start(ahead[0], ahead[1], current.want)
                self.pipelined += 1
                scanner.want, collected, seen_before = None, [], scanner.seen
            chunk = self._read()
            if self._first_sent is not None:  # the first answer's first bytes: how far away
                self.eager = time.monotonic() - self._first_sent > SLOW_LINK
                self._first_sent = None
            found = scanner.feed(chunk)
        if collected is None:
            current.tally.seen += scanner.seen - seen_before
            if scanner.seen > seen_before:
                current.tally.top_uid = max(current.tally.top_uid, scanner.top_uid)
        else:
            unnumbered = scanner.seen - seen_before - len(collected)
            current.tally.seen += unnumbered  # counted as before, never attributed
            collected.sort(key=lambda item: item[0])
            want = current.want
            for uid, header in collected:
                target = current if uid <= current.last else following
                target.count(uid)
                if want is None or want(header):
                    target.found.append((uid, header))
            self._ahead = following
        current.done = True


def reader(client: imapclient.IMAPClient) -> tuple[Callable[[bytes], None], Callable[[], bytes]]:
    """(send, read) over imapclient's own connection: large reads, each spent from the
    session's byte and time budget per command."""
    imap = client._imap  # imaplib.IMAP4: .send() writes, .file is its buffered reader
    read1 = imap.file.read1
    spend = getattr(imap, "spend", None)

    def read() -> bytes:
        chunk = read1(1 << 20)
        if not chunk:
            raise ConnectionDropped("The IMAP server closed the connection during a fetch.")
        if spend is not None:
            spend(len(chunk))
        return chunk

    return imap.send, read


# Field names as mail is usually written -> as parse_fields keys them (a dictionary hit
# instead of a strip and a lower-casing per line; any other spelling is lower-cased).
_NAMES = {
    form: name.lower().encode()
    for name in AUDIT_FIELDS
    for form in (name.lower().encode(), name.encode(), name.title().encode(), b"Message-ID", b"CC")
    if form.lower() == name.lower().encode()
}
_FOLDED = (32, 9)  # a line starting with a space or a tab continues the field before it


def parse_fields(header: bytes) -> dict[bytes, bytes]:
    """Unfold and split a header block into {lower-case name: value} (first one wins).
    Runs once per message of a scan: one loop, no regular expression."""
    fields: dict[bytes, bytes] = {}
    name = None
    for line in header.split(b"\r\n"):
        if not line:
            continue
        if line[0] in _FOLDED:
            if name is not None:
                fields[name] += b" " + line.strip()
            continue
        key, sep, value = line.partition(b":")
        if not sep:
            continue
        name = _NAMES.get(key)
        if name is None:
            name = key.strip().lower()
        if name in fields:
            name = None  # a repeated header: keep the first
            continue
        fields[name] = value.strip()
    return fields
