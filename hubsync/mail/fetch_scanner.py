"""A sans-I/O reader of UID FETCH responses that carry a BODY[HEADER.FIELDS (...)] item.

``FetchScanner.feed(bytes)`` takes whatever the socket gave (any chunking: a literal may be
split anywhere) and returns the complete messages found so far as ``(uid, header)`` pairs;
``done`` turns true at the tagged OK. No socket, no clock: the read loop around it owns the
time budget, this owns the byte budget (a line or a literal over its limit is a
ProtocolFailure that names the server's behaviour, never unbounded memory).

What servers differ in, and what it accepts (RFC 3501 7.4.2 allows all of it):
- the field names in the response key quoted or not (Courier: ``("MESSAGE-ID" ...)``),
  in any case;
- UID before or after the literal, or other items around it;
- ``NIL`` instead of a literal, and ``{0}``;
- unsolicited untagged responses (EXISTS, EXPUNGE, FETCH FLAGS) between the messages.

Pipelined commands (``sync/fetch.py``'s ``RangeScans``): the tags of other commands in flight
are named in ``others``; their tagged lines are kept, not taken for garbage, and ``expect``
turns the scanner to the next command, reading on from where the last one ended.
"""

import re
from collections.abc import Callable

from hubsync.errors import FetchRefused, ProtocolFailure

MAX_LINE = 64 * 1024  # one response line outside literals
MAX_LITERAL = 1024 * 1024  # the header fields of one message

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r?\n\Z")
_BAD_LITERAL = re.compile(rb"\{[^}\r\n]*\}\r?\n\Z")
_UID = re.compile(rb"\bUID (\d+)", re.IGNORECASE)
_HEADER_KEY = re.compile(rb"BODY\[HEADER\.FIELDS[^\]]*\]\s*\Z", re.IGNORECASE)
_HEADER_NIL = re.compile(rb"BODY\[HEADER\.FIELDS[^\]]*\]\s+NIL\b", re.IGNORECASE)
_FETCH = re.compile(rb"\* \d+ FETCH ", re.IGNORECASE)


class FetchScanner:
    """Feed it the bytes of one UID FETCH response; collect ``(uid, header)`` per message.

    ``want`` (optional) is asked about each header block before its UID is read, so the hot
    path can drop unrelated messages for the cost of a few byte operations; ``seen`` counts
    every message with a header item, wanted or not.
    """

    def __init__(
        self,
        tag: bytes,
        want: Callable[[bytes], bool] | None = None,
        max_line: int = MAX_LINE,
        max_literal: int = MAX_LITERAL,
    ) -> None:
        self.tag = tag
        self.want = want
        self.max_line = max_line
        self.max_literal = max_literal
        self.seen = 0
        self.top_uid = 0  # the highest UID the server returned (the honest sync position)
        self.done = False
        self._end: bytes | None = None  # our tagged line, when this feed brought it
        self.others: set[bytes] = set()  # tags of other commands in flight (pipelining)
        self.completed: dict[bytes, bytes] = {}  # their tagged lines, seen while reading ours
        self._last: tuple[int, int, int, int] | None = None  # the latest header's offsets
        self._rest = b""  # an incomplete response carried over to the next feed

    def expect(self, tag: bytes, want: Callable[[bytes], bool] | None) -> None:
        """Read on for the command tagged ``tag`` (one of ``others``), from where the last
        response ended; it is done at once if its tagged line came already."""
        self.tag, self.want, self.done = tag, want, False
        self.others.discard(tag)
        line = self.completed.pop(tag, None)
        if line is not None:
            self._tagged(line)

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Add ``data``; return the messages completed by it. Raises ProtocolFailure for a
        refused FETCH (tagged NO/BAD), a malformed literal, or a line or literal over budget.
        Once done, what comes after is kept for the next command (``expect``), unread."""
        if self.done:
            if self.others:
                self._rest += data
            return []
        buf = self._rest + data if self._rest else data
        found: list[tuple[int, bytes]] = []
        self._end = None
        pos = self._scan(buf, found)
        if self._last is not None:
            # Responses come in UID order: the UID of the buffer's last message is the
            # highest so far. Read once per buffer, not per message (the hot path skips it).
            start, brace, end, close = self._last
            self._last = None
            uid = _UID.search(buf, start, brace) or _UID.search(buf, end, close)
            if uid is not None:
                self.top_uid = max(self.top_uid, int(uid.group(1)))
        for uid, _ in found:
            self.top_uid = max(self.top_uid, uid)
        if self._end is not None:  # our tagged line: the response ended there
            self._rest = buf[pos:] if self.others else b""
            self._tagged(self._end)  # a refusal is raised with the line consumed
        else:
            self._rest = buf[pos:]
        return found

    def _scan(self, buf: bytes, found: list) -> int:
        """Consume complete responses from ``buf``; return where the unconsumed part starts.

        The hot path (one header literal per message, most messages unwanted) is inlined:
        a few finds and slices per message, no regex unless the header is wanted.
        """
        pos, size_of = 0, len(buf)
        tag = self.tag + b" "
        want, max_line, max_literal = self.want, self.max_line, self.max_literal
        find, rfind, startswith = buf.find, buf.rfind, buf.startswith
        while True:
            nl = find(b"\n", pos)
            if nl < 0:
                if size_of - pos > max_line:
                    raise _over("a line", max_line)
                return pos
            if nl - pos > max_line:
                raise _over("a line", max_line)
            if not startswith(b"* ", pos):
                if startswith(tag, pos):
                    self._end = buf[pos:nl]
                    return nl + 1
                if self.others:
                    space = buf.find(b" ", pos, nl)
                    other = buf[pos:space] if space > pos else b""
                    if other in self.others:  # a pipelined command ended first: kept
                        self.completed[other] = buf[pos:nl]
                        self.others.discard(other)
                pos = nl + 1  # not a response start: skip
                continue
            cr = 1 if buf[nl - 1] == 13 else 0
            if buf[nl - 1 - cr] != 125:  # no literal at the end of the line ("}")
                self._plain_response(buf[pos:nl], found)
                pos = nl + 1
                continue
            brace = rfind(b"{", pos, nl)
            if brace < 0:
                pos = nl + 1  # "* garbage}": not a literal, not ours
                continue
            digits = buf[brace + 1 : nl - 1 - cr]
            if not digits.isdigit():
                digits = digits.rstrip(b"+")  # the LITERAL+ form
                if not digits.isdigit():
                    raise ProtocolFailure(
                        "The IMAP server sent a malformed literal: "
                        f"{buf[brace:nl].decode('ascii', 'replace').strip()}",
                        reason="imap-malformed",
                    )
            size = int(digits)
            if size > max_literal:
                raise _over("a literal", max_literal, size)
            start = nl + 1
            end = start + size
            close = find(b"\n", end) if size_of >= end else -1
            if close < 0:
                if size_of - end > max_line:
                    raise _over("a line", max_line)
                return pos  # more data needed
            if buf[close - 1 - (buf[close - 1] == 13)] == 125:
                step = self._general_response(buf, pos, found)  # more literals: rare
                if step < 0:
                    return pos
                pos = step
                continue
            if find(b"HEADER.FIELDS", pos, brace) < 0 and not _HEADER_KEY.search(buf[pos:brace]):
                pos = close + 1  # some other literal item: not ours
                continue
            header = buf[start:end]
            self.seen += 1
            self._last = (pos, brace, end, close)
            if want is None or want(header):
                uid = _UID.search(buf, pos, brace) or _UID.search(buf, end, close)
                if uid is not None:
                    found.append((int(uid.group(1)), header))
            pos = close + 1

    def _tagged(self, line: bytes) -> None:
        """The tagged status line: OK ends the response, NO or BAD is the server's refusal
        (the response ends too: what follows is the next command's)."""
        self.done = True
        status = (line[len(self.tag) + 1 :].split(None, 1) or [b""])[0].upper()
        if status != b"OK":
            text = line.decode("utf-8", "replace").strip()
            raise FetchRefused(f"UID FETCH failed: {text}")

    def _plain_response(self, line: bytes, found: list) -> None:
        """An untagged response without a literal: a NIL header item counts as an empty
        header; EXISTS, EXPUNGE or a FETCH of flags alone are not ours."""
        if not (_FETCH.match(line) and _HEADER_NIL.search(line)):
            return
        self.seen += 1
        uid = _UID.search(line)
        if uid is not None:
            self.top_uid = max(self.top_uid, int(uid.group(1)))
            if self.want is None or self.want(b""):
                found.append((int(uid.group(1)), b""))

    def _general_response(self, buf: bytes, pos: int, found: list) -> int:
        """A response with several literals: collect its text and literals in order, take
        the literal that follows the header key. Returns the position after it, or -1."""
        texts: list[bytes] = []
        literals: list[bytes] = []
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                return -1
            segment = buf[pos : nl + 1]
            literal = _LITERAL.search(segment)
            if literal is None:
                if _BAD_LITERAL.search(segment):
                    raise ProtocolFailure(
                        "The IMAP server sent a malformed literal.", reason="imap-malformed"
                    )
                texts.append(segment)
                break
            size = int(literal.group(1))
            if size > self.max_literal:
                raise _over("a literal", self.max_literal, size)
            start = nl + 1
            if len(buf) < start + size:
                return -1
            texts.append(segment[: literal.start()])
            literals.append(buf[start : start + size])
            pos = start + size
        pairs = zip(texts, literals, strict=False)  # the last text has no literal after it
        header = next((lit for text, lit in pairs if _HEADER_KEY.search(text)), None)
        if header is not None:
            self.seen += 1
            uid = next((u for t in texts if (u := _UID.search(t))), None)
            if uid is not None:
                self.top_uid = max(self.top_uid, int(uid.group(1)))
                if self.want is None or self.want(header):
                    found.append((int(uid.group(1)), header))
        return nl + 1


def _over(what: str, limit: int, size: int | None = None) -> ProtocolFailure:
    told = f" ({size:,} bytes announced)" if size is not None else ""
    return ProtocolFailure(
        f"The IMAP server sent {what} longer than {limit:,} bytes{told} while hubsync read "
        "header fields; it was not read into memory.",
        fix="Tell the server's administrator; `hubsync doctor` shows which server it is.",
        reason="imap-response-too-large",
    )


def header_fields_value(item: dict) -> bytes:
    """The BODY[HEADER.FIELDS (...)] value of one message in imapclient's FETCH result,
    whatever the server's spelling of the key (the same rule as the scanner's: quoted or
    unquoted field names, any case)."""
    for key, value in item.items():
        if isinstance(key, bytes) and _HEADER_KEY.search(key):
            return value or b""
    return b""
