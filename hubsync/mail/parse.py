"""Read a raw message into what the log needs, without ever failing on malformed mail.

Missing or broken headers become empty values; HTML bodies become readable text.
"""

import email
import email.errors
import email.header
import email.parser
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage

from hubsync.errors import MessageError, UsageError

MSG_ID = re.compile(rb"<[^<>\s]+>")  # RFC 5322 msg-id, tolerant of junk around it


@dataclass
class Attachment:
    filename: str | None
    mime_type: str
    data: bytes


@dataclass
class ParsedMessage:
    message_id: str
    in_reply_to: str
    references: list[str]
    from_addr: str
    from_name: str
    to: list[tuple[str, str]]  # (name, address)
    cc: list[tuple[str, str]]
    subject: str
    date: str  # ISO 8601, or "" when missing/unparseable
    body: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    synthetic_id: bool = False
    body_note: str = ""  # why the body was not read, when it was not


def message_ids(value: str | bytes | None) -> list[str]:
    """All ``<id>`` tokens of a header value, in order (tolerates junk between them)."""
    if not value:
        return []
    data = value.encode("utf-8", "replace") if isinstance(value, str) else value
    return [m.decode("utf-8", "replace") for m in MSG_ID.findall(data)]


def normalize_message_id(text: str) -> str:
    """A Message-ID as a person typed it (with or without <>, spaces around) as it is stored:
    ``<id@host>``. UsageError for text that cannot be one."""
    inner = text.strip()
    if inner.startswith("<") and inner.endswith(">"):
        inner = inner[1:-1].strip()
    if not inner or any(c.isspace() or c in "<>" for c in inner):
        raise UsageError(
            f"{text.strip()!r} is not a Message-ID.",
            fix="Give it as shown by `hubsync threads` or your mail client, e.g. "
            "<1234.5678@example.com> (the angle brackets may be left out).",
            reason="bad-message-id",
        )
    return f"<{inner}>"


def stand_in_id(raw: bytes) -> str:
    """A stable stand-in Message-ID for a message that has none: a hash of its bytes, so two
    different messages never share one (and the same message always gets the same)."""
    return f"<sha256-{hashlib.sha256(raw).hexdigest()[:32]}@hubsync.invalid>"


MAX_MIME_PARTS = 200  # multipart boundaries per message; beyond, the body is not taken apart
_BOUNDARY = re.compile(rb"boundary\s*=", re.IGNORECASE)


def strip_preamble(raw: bytes) -> bytes:
    """The message without what some tools put before its header: a UTF-8 byte-order mark,
    blank lines and stray spaces, or an mbox "From " separator line."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    raw = raw.lstrip(b" \t\r\n")
    if raw.startswith(b"From "):  # "From:" is a header; "From " an mbox separator
        raw = raw.partition(b"\n")[2]
    return raw


def looks_like_mail(raw: bytes) -> bool:
    """Whether ``raw`` starts with a header block a mail message would have."""
    head = raw[:8192].split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    names = {
        line.split(b":", 1)[0].strip().lower()
        for line in head.splitlines()
        if b":" in line and not line[:1].isspace()
    }
    return bool(names & {b"from", b"message-id", b"date", b"subject"}) and bool(
        names & {b"from", b"to", b"received", b"message-id"}
    )


def parse(raw: bytes, with_body: bool = True) -> ParsedMessage:
    """What the log needs of ``raw`` (headers, addresses, text body, attachments); never fails on
    malformed mail, raises MessageError for input that is not mail."""
    original = raw
    raw = strip_preamble(raw)
    if not looks_like_mail(raw):
        raise MessageError(
            "This is not a mail message (no From, Date, Subject or Message-ID header found).",
            fix="Give an .eml file (RFC 5322 message).",
        )
    # Headers through the compat32 parser (an order of magnitude faster than policy.default,
    # and lenient with malformed input); RFC 2047 words are decoded explicitly.
    head = email.parser.BytesHeaderParser().parsebytes(raw)
    get = lambda name: _header(head, name)  # noqa: E731
    ids = message_ids(get("message-id"))
    from_name, from_addr = _first_address(get("from"))
    parsed = ParsedMessage(
        message_id=ids[0] if ids else "",
        in_reply_to=(message_ids(get("in-reply-to")) or [""])[0],
        references=message_ids(get("references")),
        from_addr=from_addr,
        from_name=from_name,
        to=_addresses(get("to")),
        cc=_addresses(get("cc")),
        subject=decoded_text(get("subject")),
        date=iso_date(get("date")),
    )
    if not parsed.message_id:
        parsed.message_id = stand_in_id(original)
        parsed.synthetic_id = True
    if with_body:
        _read_body(parsed, raw)
    return parsed


def _read_body(parsed: ParsedMessage, raw: bytes) -> None:
    """Body text and attachments; a MIME structure too deep or too wide to take apart is left
    whole (its header is still logged, and the note says why)."""
    if len(_BOUNDARY.findall(raw)) > MAX_MIME_PARTS:
        parsed.body_note = f"not read: more than {MAX_MIME_PARTS} nested MIME parts"
        return
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parsed.body = body_text(msg)
        parsed.attachments = attachments(msg)
    except RecursionError:  # the email package recurses per MIME level
        parsed.body, parsed.attachments = "", []
        parsed.body_note = "not read: the MIME structure is nested too deeply"


def _header(msg, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    return " ".join(str(value).split())  # unfold


def decoded_text(value: str) -> str:
    """RFC 2047 encoded words to text; undecodable input is kept as it came."""
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (email.errors.HeaderParseError, LookupError, UnicodeDecodeError, ValueError):
        return value


def _addresses(value: str) -> list[tuple[str, str]]:
    pairs = email.utils.getaddresses([value]) if value else []
    return [
        (decoded_text(name).strip(), addr.strip().lower()) for name, addr in pairs if "@" in addr
    ]


def _first_address(value: str) -> tuple[str, str]:
    found = _addresses(value)
    return found[0] if found else ("", "")


def iso_date(value: str) -> str:
    """A Date header as ISO 8601, or "" when missing or unreadable."""
    if not value:
        return ""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return ""
    return parsed.isoformat() if parsed else ""


def body_text(msg: EmailMessage) -> str:
    """text/plain preferred; otherwise the HTML part turned into readable text."""
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except (KeyError, AttributeError):
        part = None
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", "replace")
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        import html2text  # only HTML-only mail needs it

        converter = html2text.HTML2Text()
        converter.body_width = 0
        converter.ignore_images = True
        return converter.handle(content).strip()
    return content.strip()


def attachments(msg: EmailMessage) -> list[Attachment]:
    """The attachment parts of ``msg`` with their names, types and bytes."""
    found = []
    try:
        parts = list(msg.iter_attachments())
    except (KeyError, AttributeError, TypeError):
        return []
    for part in parts:
        data = part.get_payload(decode=True)
        if data is None:
            continue
        found.append(Attachment(part.get_filename(), part.get_content_type(), data))
    return found
