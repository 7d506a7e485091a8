"""Reading a whole live folder's threading headers for an audit (`threads --folder`).

Read-only (EXAMINE and BODY.PEEK) through the same fast path as sync, the ranges pipelined;
each message's fields go straight to the compact threader (``folder_threads``): nothing
is stored, and no record is kept per message.
"""

from collections.abc import Iterator

import imapclient

from hubsync.mail.parse import decoded_text, message_ids
from hubsync.sync.fetch import AUDIT_FIELDS, parse_fields
from hubsync.sync.mailbox import ImapMailbox


def folder_fields(client: imapclient.IMAPClient, folder: str) -> Iterator[tuple]:
    """Per message of ``folder`` in UID order, its audit fields (see ``audit_fields``)."""
    mailbox = ImapMailbox(client)
    state = mailbox.examine(folder)
    if state.exists:
        for uid, header in mailbox.every_header(state.last_uid, AUDIT_FIELDS):
            yield audit_fields(uid, header, folder)


def audit_fields(
    uid: int, header: bytes, folder: str
) -> tuple[str, bool, str, list[str], str, bytes, str]:
    """What the threader takes of a message (``FolderThreader.add``): its Message-ID (a
    stand-in when it has none), whether it had one, In-Reply-To, References, the subject,
    and the raw Date and From/To/Cc text (read only where a check needs them: parsing every
    address and date of a large folder would cost most of the audit's time)."""
    f = parse_fields(header)
    ids = message_ids(f.get(b"message-id"))
    subject = f.get(b"subject", b"").decode("utf-8", "replace")
    return (
        ids[0] if ids else f"<uid-{uid}@{folder}.hubsync.invalid>",
        bool(ids),
        (message_ids(f.get(b"in-reply-to")) or [""])[0],
        message_ids(f.get(b"references")),
        # RFC 2047 decoding only where there are encoded words (most subjects have none)
        decoded_text(subject) if "=?" in subject else subject,
        f.get(b"date", b""),
        b", ".join(f.get(k, b"") for k in (b"from", b"to", b"cc")).decode("utf-8", "replace"),
    )
