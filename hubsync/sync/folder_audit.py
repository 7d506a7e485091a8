"""Reading a whole live folder's threading headers for an audit (`threads --folder`).

Read-only (EXAMINE and BODY.PEEK) through the same fast path as sync; nothing is stored.
"""

import email.utils
from collections.abc import Iterator

import imapclient

from hubsync.mail.parse import decoded_text, iso_date, message_ids
from hubsync.sync.fetch import AUDIT_FIELDS, fetch_headers, parse_fields, uid_ranges
from hubsync.sync.mailbox import ImapMailbox


def folder_headers(client: imapclient.IMAPClient, folder: str) -> Iterator[dict]:
    """Per message of ``folder``: uid, Message-ID (a stand-in when it has none),
    had_message_id, in_reply_to, references, subject, date and participants."""
    state = ImapMailbox(client).examine(folder)
    if state.exists == 0:
        return
    for first, end in uid_ranges(1, state.last_uid):
        for uid, header in fetch_headers(client, first, end, AUDIT_FIELDS):
            f = parse_fields(header)
            text = {k.decode("latin-1"): v.decode("utf-8", "replace") for k, v in f.items()}
            ids = message_ids(f.get(b"message-id"))
            people = email.utils.getaddresses([text.get(k, "") for k in ("from", "to", "cc")])
            yield {
                "uid": uid,
                "message_id": ids[0] if ids else f"<uid-{uid}@{folder}.hubsync.invalid>",
                "had_message_id": bool(ids),
                "in_reply_to": (message_ids(f.get(b"in-reply-to")) or [""])[0],
                "references": message_ids(f.get(b"references")),
                "subject": decoded_text(text.get("subject", "")),
                "date": iso_date(text.get("date", "")),
                "participants": [a.lower() for _, a in people if "@" in a],
            }
