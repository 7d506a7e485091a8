"""Reading a whole live folder's threading headers for an audit (`threads --folder`).

Read-only (EXAMINE and BODY.PEEK) through the same fast path as sync, the ranges pipelined;
each message's fields go straight to the compact threader (``folder_threads``): nothing
is stored, and no record is kept per message.
"""

from collections.abc import Iterator

import imapclient

from hubsync.mail.parse import MSG_ID
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
) -> tuple[str, bool, str, list[str], bytes, bytes, bytes]:
    """What the threader takes of a message (``FolderThreader.add``): its Message-ID (a
    stand-in when it has none), whether it had one, In-Reply-To, References, and the raw
    Subject, Date and From/To/Cc (read per distinct text, and only where a step needs
    them)."""
    get = parse_fields(header).get
    own = MSG_ID.search(get(b"message-id", b""))
    parent = MSG_ID.search(get(b"in-reply-to", b""))
    refs = get(b"references")
    return (
        own.group().decode("utf-8", "replace") if own else f"<uid-{uid}@{folder}.hubsync.invalid>",
        own is not None,
        parent.group().decode("utf-8", "replace") if parent else "",
        [r.decode("utf-8", "replace") for r in MSG_ID.findall(refs)] if refs else [],
        get(b"subject", b""),
        get(b"date", b""),
        b", ".join((get(b"from", b""), get(b"to", b""), get(b"cc", b""))),
    )
