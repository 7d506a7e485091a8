"""Build outgoing messages with the standard library's email package.

Refuses header injection (CR, LF or NUL in any header value or address) and malformed
addresses before anything is sent.
"""

import email.policy
import email.utils
import mimetypes
import os
import re
import stat
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from hubsync.errors import MessageError, UsageError

_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]{2,}$")
# Line breaks and NUL could inject headers; other control characters (and the Unicode line
# and paragraph separators, which Python's email package treats as line breaks) have no
# place in a header either.
_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


@dataclass
class Draft:
    sender: str
    sender_name: str
    to: list[str]
    subject: str
    body: str
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    attachments: list[Path] = field(default_factory=list)
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # "--to 'bob@x, carol@y'" is two recipients (an RFC 5322 address list), in the
        # headers and in the envelope alike.
        self.to, self.cc, self.bcc = (split_addresses(v) for v in (self.to, self.cc, self.bcc))

    @property
    def recipients(self) -> list[str]:
        """Every envelope recipient: To, Cc and Bcc."""
        return [email.utils.parseaddr(a)[1] for a in (*self.to, *self.cc, *self.bcc)]


def split_addresses(values: list[str]) -> list[str]:
    """Each value read as an address list: "a@x, B <b@y>" gives two entries."""
    found = []
    for value in values:
        if _FORBIDDEN.search(value):
            found.append(value)  # refused with a clear message by check_address
            continue
        pairs = email.utils.getaddresses([value])
        if len(pairs) <= 1:
            found.append(value)
            continue
        found.extend(email.utils.formataddr(pair) if pair[0] else pair[1] for pair in pairs)
    return found


def check_header(name: str, value: str) -> None:
    """Refuse header text with line breaks (they could inject headers), NUL or other
    control characters."""
    bad = _FORBIDDEN.search(value)
    if bad:
        raise MessageError(
            f"The {name} value contains a line break or control character "
            f"(U+{ord(bad.group()):04X}); that could inject headers, so nothing was sent.",
            fix=f"Remove line breaks and control characters from {name}.",
            reason="header-injection",
        )


def check_address(value: str, role: str) -> str:
    """Refuse anything that is not one plain address."""
    check_header(role, value)
    name, address = email.utils.parseaddr(value)
    if not address or not _ADDRESS.match(address):
        raise UsageError(
            f"{role} address {value!r} is not a valid email address.", reason="bad-address"
        )
    return address


def build(draft: Draft, domain: str) -> EmailMessage:
    """The message with its own Message-ID on ``domain``; Bcc stays in (strip it to submit)."""
    check_address(draft.sender, "From")
    check_header("From name", draft.sender_name)
    check_header("Subject", draft.subject)
    if not draft.to and not draft.cc and not draft.bcc:
        raise UsageError("Give at least one recipient with --to.", reason="no-recipient")
    for role, values in (("To", draft.to), ("Cc", draft.cc), ("Bcc", draft.bcc)):
        for value in values:
            check_address(value, role)
    for ref in [draft.in_reply_to or "", *draft.references]:
        check_header("In-Reply-To", ref)
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = (
        email.utils.formataddr((draft.sender_name, draft.sender))
        if draft.sender_name
        else draft.sender
    )
    if draft.to:
        msg["To"] = ", ".join(draft.to)
    if draft.cc:
        msg["Cc"] = ", ".join(draft.cc)
    if draft.bcc:
        msg["Bcc"] = ", ".join(draft.bcc)
    msg["Subject"] = draft.subject
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(idstring="hubsync", domain=domain)
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
        msg["References"] = " ".join(draft.references or [draft.in_reply_to])
    msg["User-Agent"] = "hubsync"
    msg.set_content(draft.body)
    for path in draft.attachments:
        _attach(msg, path)
    return msg


MAX_ATTACHMENT_BYTES = 512 * 1024 * 1024  # no mail server takes more; memory stays bounded


def _attach(msg: EmailMessage, path: Path) -> None:
    """Attach a regular file, its size checked before a byte is read (a device such as
    /dev/zero, a FIFO or a huge file is refused, never read into memory)."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer before it is refused.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(descriptor, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise UsageError(
                    f"Cannot attach {path}: it is not a regular file (a device, a pipe or a "
                    "folder).",
                    fix="Attach a file; save a stream to a file first.",
                    reason="attachment-unreadable",
                )
            if info.st_size > MAX_ATTACHMENT_BYTES:
                raise UsageError(
                    f"Cannot attach {path}: it is {info.st_size:,} bytes, over the "
                    f"{MAX_ATTACHMENT_BYTES:,}-byte limit (no mail server accepts more).",
                    fix="Share it as a link instead.",
                    reason="attachment-too-large",
                )
            data = handle.read(info.st_size + 1)
    except OSError as exc:
        raise UsageError(
            f"Cannot read attachment {path}: {exc.strerror}.", reason="attachment-unreadable"
        ) from None
    if len(data) > info.st_size:
        raise UsageError(
            f"Cannot attach {path}: it grew while it was read.", reason="attachment-unreadable"
        )
    mime, _ = mimetypes.guess_type(path.name)
    maintype, subtype = (mime or "application/octet-stream").split("/", 1)
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)


def to_bytes(msg: EmailMessage) -> bytes:
    """The message with CRLF line ends, Bcc included (the Sent copy)."""
    return msg.as_bytes(policy=email.policy.SMTP)


def wire_bytes(msg: EmailMessage) -> bytes:
    """What goes to the SMTP server: the same message without its Bcc header."""
    clone = email.message_from_bytes(to_bytes(msg), policy=email.policy.SMTP)
    del clone["Bcc"]
    return clone.as_bytes(policy=email.policy.SMTP)


def describe(msg: EmailMessage) -> dict:
    """Headers and MIME structure, for --dry-run."""

    def tree(part, depth=0):
        """The MIME structure of ``msg`` as a list of parts with depth, type, name and size."""
        rows = [
            {
                "depth": depth,
                "type": part.get_content_type(),
                "filename": part.get_filename(),
                "size": len(part.as_bytes()),
            }
        ]
        if part.is_multipart():
            for sub in part.iter_parts():
                rows.extend(tree(sub, depth + 1))
        return rows

    return {"headers": {k: str(v) for k, v in msg.items()}, "structure": tree(msg)}
