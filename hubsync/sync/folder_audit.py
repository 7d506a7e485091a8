"""Reading a whole live folder's threading headers for an audit (`threads --folder`).

Read-only (EXAMINE and BODY.PEEK) through the same fast path as sync, the ranges pipelined;
each message's fields go straight to the compact threader (``folder_threads``): nothing
is stored, and no record is kept per message.
"""

from collections.abc import Iterator

import imapclient

from hubsync.mail.parse import MSG_ID
from hubsync.sync.fetch import AUDIT_FIELDS
from hubsync.sync.mailbox import ImapMailbox


def folder_fields(client: imapclient.IMAPClient, folder: str) -> Iterator[tuple]:
    """Per message of ``folder`` in UID order, its audit fields (see ``audit_fields``)."""
    mailbox = ImapMailbox(client)
    state = mailbox.examine(folder)
    if state.exists:
        for uid, header in mailbox.every_header(state.last_uid, AUDIT_FIELDS):
            yield audit_fields(uid, header, folder)


# The audit's field names as mail is usually written -> as ``parse_fields`` keys them (a
# dictionary hit instead of a strip and a lower-casing per line); any other spelling is
# lower-cased as there.
_NAMES = {
    form: name
    for name in (
        b"message-id",
        b"in-reply-to",
        b"references",
        b"subject",
        b"date",
        b"from",
        b"to",
        b"cc",
    )  # fmt: skip
    for form in (name, name.upper(), name.title(), b"Message-ID", b"CC")
    if form.lower() == name
}
_FOLDED = (32, 9)  # a line starting with a space or a tab continues the field before it


def audit_fields(
    uid: int, header: bytes, folder: str
) -> tuple[str, bool, str, list[str], bytes, bytes, bytes]:
    """What the threader takes of a message (``FolderThreader.add``): its Message-ID (a
    stand-in when it has none), whether it had one, In-Reply-To, References, and the raw
    Subject, Date and From/To/Cc (read per distinct text, and only where a step needs
    them). The fields are read as ``fetch.parse_fields`` reads them (unfolded, the first of
    a repeated field), in one loop: this runs once per message of a whole folder."""
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
            name = None  # a repeated field: the first counts
            continue
        fields[name] = value.strip()
    get = fields.get
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
