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
"""

import re
from collections.abc import Callable

from hubsync.errors import ProtocolFailure

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
        self.done = False
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Add ``data``; return the messages completed by it. Raises ProtocolFailure for a
        refused FETCH (tagged NO/BAD), a malformed literal, or a line or literal over budget."""
        if self.done:
            return []
        self._buf += data
        found: list[tuple[int, bytes]] = []
        while not self.done:
            response = self._next_response()
            if response is None:
                break
            self._handle(response, found)
        if self._pos > 65536 and self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]  # compact: amortised, never a copy per chunk
            self._pos = 0
        return found

    def _next_response(self) -> tuple[list[bytes], list[bytes]] | None:
        """The next complete response as (text segments, literals), or None for more data."""
        buf, pos = self._buf, self._pos
        texts: list[bytes] = []
        literals: list[bytes] = []
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                if len(buf) - pos > self.max_line:
                    raise _over("a line", self.max_line)
                return None
            if nl - pos > self.max_line:
                raise _over("a line", self.max_line)
            segment = bytes(buf[pos : nl + 1])
            literal = _LITERAL.search(segment)
            if literal is None:
                if _BAD_LITERAL.search(segment):
                    raise ProtocolFailure(
                        "The IMAP server sent a malformed literal: "
                        f"{segment[-40:].decode('ascii', 'replace').strip()}",
                        reason="imap-malformed",
                    )
                texts.append(segment)
                self._pos = nl + 1
                return texts, literals
            size = int(literal.group(1))
            if size > self.max_literal:
                raise _over("a literal", self.max_literal, size)
            start = nl + 1
            if len(buf) < start + size:
                return None
            texts.append(segment[: literal.start()])
            literals.append(bytes(buf[start : start + size]))
            pos = start + size

    def _handle(self, response: tuple[list[bytes], list[bytes]], found: list) -> None:
        texts, literals = response
        first = texts[0]
        if first.startswith(self.tag + b" "):
            status = (first[len(self.tag) + 1 :].split(None, 1) or [b""])[0].upper()
            if status != b"OK":
                text = first.decode("utf-8", "replace").strip()
                raise ProtocolFailure(f"UID FETCH failed: {text}", reason="fetch-failed")
            self.done = True
            return
        if not _FETCH.match(first):
            return  # EXISTS, EXPUNGE, OK [ALERT] ...: not ours to handle here
        header = None
        for i, literal in enumerate(literals):
            if _HEADER_KEY.search(texts[i]):
                header = literal
                break
        if header is None:
            if not any(_HEADER_NIL.search(t) for t in texts):
                return  # an unsolicited FETCH (FLAGS changed): no header item
            header = b""
        self.seen += 1
        if self.want is not None and not self.want(header):
            return
        for text in texts:
            uid = _UID.search(text)
            if uid is not None:
                found.append((int(uid.group(1)), header))
                return


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
