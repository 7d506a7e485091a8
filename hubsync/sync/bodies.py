"""Fetching what a matched message's log entry needs: all of it, or only its text.

The choice is made from RFC822.SIZE before anything large is downloaded: a message over the
attachment limit (or with attachment logging off) gets its header and text part only.
"""

import base64
import binascii
import quopri

import imapclient

HEADER_BYTES = 1024 * 1024  # at most this much of a header block is read
TEXT_BYTES = 4 * 1024 * 1024  # and of the text part of a message too big to fetch whole


def fetch_header(client: imapclient.IMAPClient, uid: int) -> bytes:
    """The header block of message ``uid`` (its first HEADER_BYTES), or b""."""
    data = client.fetch([uid], [f"BODY.PEEK[HEADER]<0.{HEADER_BYTES}>"]).get(uid, {})
    return _item(data, b"BODY[HEADER]")


def _item(data: dict, prefix: bytes) -> bytes:
    """The value of the FETCH item whose key starts with ``prefix`` (a partial fetch comes
    back as e.g. ``BODY[1]<0>``)."""
    for key, value in data.items():
        if isinstance(key, bytes) and key.upper().startswith(prefix):
            return value or b""
    return b""


def fetch_text_only(client: imapclient.IMAPClient, uid: int) -> tuple[bytes, str, int]:
    """(header, body text, number of attachment parts) without downloading attachments."""
    header = fetch_header(client, uid)
    structure = client.fetch([uid], ["BODYSTRUCTURE"]).get(uid, {}).get(b"BODYSTRUCTURE")
    if structure is None:
        return header, "", 0
    parts = list(_walk(structure, ""))
    texts = [p for p in parts if p[1] == "text" and p[2] in ("plain", "html") and not p[5]]
    attachments = len(parts) - (1 if texts else 0)
    if not texts:
        return header, "", attachments
    texts.sort(key=lambda p: p[2] != "plain")  # text/plain preferred
    number, _, subtype, encoding, charset, _ = texts[0]
    # A text part can be as large as the message: read its first TEXT_BYTES only.
    item = client.fetch([uid], [f"BODY.PEEK[{number}]<0.{TEXT_BYTES}>"]).get(uid, {})
    data = _item(item, f"BODY[{number}]".encode())
    return header, text_of(data, subtype, encoding, charset), attachments


def text_of(data: bytes, subtype: str, encoding: str, charset: str) -> str:
    """A text part's readable text: transfer encoding and charset undone, HTML turned into
    text."""
    text = _decode(data, encoding, charset)
    if subtype == "html":
        import html2text  # only HTML-only replies need it

        converter = html2text.HTML2Text()
        converter.body_width = 0
        text = converter.handle(text)
    return text.strip()


def _walk(body, prefix: str):
    """(part number, type, subtype, encoding, charset, is_attachment) for each leaf part."""
    if body.is_multipart:
        for i, part in enumerate(body[0], start=1):
            yield from _walk(part, f"{prefix}.{i}" if prefix else str(i))
        return
    kind = _s(body[0]).lower()
    subtype = _s(body[1]).lower()
    params = body[2] or ()
    charset = "utf-8"
    for key, value in zip(params[::2], params[1::2], strict=False):
        if _s(key).lower() == "charset":
            charset = _s(value)
    encoding = _s(body[5]).lower()
    disposition = _disposition(body)
    number = prefix or "1"
    yield number, kind, subtype, encoding, charset, disposition == "attachment"


def _disposition(body) -> str:
    for item in body[7:] if len(body) > 7 else ():
        if isinstance(item, tuple) and item and isinstance(item[0], bytes):
            return _s(item[0]).lower()
    return ""


def _decode(data: bytes, encoding: str, charset: str) -> str:
    try:
        if encoding == "base64":
            data = base64.b64decode(data)
        elif encoding == "quoted-printable":
            data = quopri.decodestring(data)
    except (binascii.Error, ValueError):
        pass
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _s(value) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return "" if value is None else str(value)
