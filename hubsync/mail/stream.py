"""Reading a message too large to hold in memory: its header, its text, and how many
attachments it has, from a stream, in bounded memory.

Used for files given to `hubsync log` that are over the attachment limit (the same rule as
sync's text-only path): the header (its first 1 MB) and the first text/plain part (else
text/html; its first 4 MB) are kept, attachments are counted and skipped, nothing else of the
message is held. Line by line, with a stack of multipart boundaries; a line longer than the
line budget is read in pieces.
"""

import email.parser
import email.policy
from dataclasses import dataclass
from typing import BinaryIO

HEADER_BYTES = 1024 * 1024
TEXT_BYTES = 4 * 1024 * 1024
LINE_BYTES = 64 * 1024


@dataclass
class TextOnly:
    """What a large message yields without its attachments."""

    header: bytes
    text: bytes  # the text part as sent (still transfer-encoded)
    subtype: str  # "plain" or "html" ("" when there is no text part)
    encoding: str  # Content-Transfer-Encoding of the text part
    charset: str
    attachments: int


class _Lines:
    """Lines of a stream (each at most LINE_BYTES), with one line of push-back."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.back: bytes | None = None

    def next(self) -> bytes:
        if self.back is not None:
            line, self.back = self.back, None
            return line
        return self.stream.readline(LINE_BYTES)


def _read_block(lines: _Lines, limit: int) -> bytes:
    """Header lines up to the blank line; only the first ``limit`` bytes are kept."""
    kept = bytearray()
    while True:
        line = lines.next()
        if not line or line in (b"\r\n", b"\n"):
            return bytes(kept)
        if len(kept) < limit:
            kept += line[: limit - len(kept)]


def _describe(header: bytes) -> tuple[str, str, str, str, str, bool]:
    """(maintype, subtype, boundary, encoding, charset, is_attachment) of a header block."""
    msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(header)
    maintype, subtype = msg.get_content_maintype(), msg.get_content_subtype()
    boundary = msg.get_param("boundary") or ""
    encoding = str(msg.get("content-transfer-encoding", "")).strip().lower()
    charset = str(msg.get_param("charset") or "utf-8")
    disposition = str(msg.get("content-disposition", "")).split(";")[0].strip().lower()
    return maintype, subtype, str(boundary), encoding, charset, disposition == "attachment"


def read_text_only(stream: BinaryIO) -> TextOnly:
    """The header, text part and attachment count of the message in ``stream``."""
    lines = _Lines(stream)
    header = _read_block(lines, HEADER_BYTES)
    maintype, subtype, boundary, encoding, charset, _ = _describe(header)
    result = TextOnly(header, b"", "", "", "utf-8", 0)
    if maintype != "multipart" or not boundary:
        if maintype == "text" and subtype in ("plain", "html"):
            result.text = _read_body(lines, [])
            result.subtype, result.encoding, result.charset = subtype, encoding, charset
        return result
    boundaries = [boundary.encode()]
    best = 0  # 2: text/plain kept; 1: text/html kept
    while boundaries:
        line = lines.next()
        if not line:
            break
        marker = _boundary_line(line, boundaries)
        if marker is None:
            continue
        depth, closing = marker
        del boundaries[depth + 1 :]  # a delimiter of an outer part ends the inner ones
        if closing:
            boundaries.pop()
            continue
        p_main, p_sub, p_boundary, p_encoding, p_charset, p_attachment = _describe(
            _read_block(lines, HEADER_BYTES)
        )
        if p_main == "multipart" and p_boundary:
            boundaries.append(p_boundary.encode())
            continue
        wanted = {"plain": 2, "html": 1}.get(p_sub, 0) if p_main == "text" else 0
        if wanted and not p_attachment:
            if wanted > best:
                best = wanted
                result.text = _read_body(lines, boundaries)
                result.subtype, result.encoding, result.charset = p_sub, p_encoding, p_charset
        else:
            result.attachments += 1
    return result


def _boundary_line(line: bytes, boundaries: list[bytes]) -> tuple[int, bool] | None:
    """(depth, closing) when ``line`` is a delimiter of one of the open multiparts."""
    if not line.startswith(b"--"):
        return None
    text = line.rstrip(b"\r\n")
    for depth in range(len(boundaries) - 1, -1, -1):
        b = boundaries[depth]
        if text == b"--" + b:
            return depth, False
        if text == b"--" + b + b"--":
            return depth, True
    return None


def _read_body(lines: _Lines, boundaries: list[bytes]) -> bytes:
    """A part's body up to the next delimiter (pushed back, not consumed); only TEXT_BYTES
    are kept."""
    kept = bytearray()
    while True:
        line = lines.next()
        if not line:
            return bytes(kept)
        if boundaries and _boundary_line(line, boundaries) is not None:
            lines.back = line
            return bytes(kept)
        if len(kept) < TEXT_BYTES:
            kept += line[: TEXT_BYTES - len(kept)]
