"""Reading a whole live folder's threading headers for an audit (`threads --folder`).

Read-only (EXAMINE and BODY.PEEK) through the same fast path as sync; nothing is stored.
"""

from collections.abc import Iterator

import imapclient

from hubsync.mail.parse import decoded_text, message_ids
from hubsync.sync.fetch import AUDIT_FIELDS, fetch_headers, parse_fields, uid_ranges
from hubsync.sync.mailbox import ImapMailbox


def folder_headers(client: imapclient.IMAPClient, folder: str) -> Iterator[dict]:
    """Per message of ``folder``, its audit record (see ``header_record``)."""
    state = ImapMailbox(client).examine(folder)
    if state.exists == 0:
        return
    for first, end in uid_ranges(1, state.last_uid):
        for uid, header in fetch_headers(client, first, end, AUDIT_FIELDS):
            yield header_record(uid, header, folder)


def header_record(uid: int, header: bytes, folder: str) -> dict:
    """uid, Message-ID (a stand-in when it has none), had_message_id, in_reply_to,
    references, subject, and the raw date and From/To/Cc text (read only where a check
    needs them: parsing every address and date of a large folder would cost most of the
    audit's time)."""
    f = parse_fields(header)
    ids = message_ids(f.get(b"message-id"))
    subject = f.get(b"subject", b"").decode("utf-8", "replace")
    return {
        "uid": uid,
        "message_id": ids[0] if ids else f"<uid-{uid}@{folder}.hubsync.invalid>",
        "had_message_id": bool(ids),
        "in_reply_to": (message_ids(f.get(b"in-reply-to")) or [""])[0],
        "references": message_ids(f.get(b"references")),
        # RFC 2047 decoding only where there are encoded words (most subjects have none)
        "subject": decoded_text(subject) if "=?" in subject else subject,
        "date": f.get(b"date", b"").decode("latin-1"),
        "people": b", ".join(f.get(k, b"") for k in (b"from", b"to", b"cc")).decode(
            "utf-8", "replace"
        ),
    }
