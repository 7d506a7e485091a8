"""The folder audit as it was before the compact threader (hubsync 2026-12-06): header
records as dicts, one ``threads.Message`` per message, ``threads.thread`` and
``threads.unrelated_suspects``. Kept as the oracle the compact threader is held to
(tests/test_folder_threads.py); not used by hubsync itself."""

from hubsync import threads as jwz
from hubsync.mail.parse import decoded_text, message_ids
from hubsync.sync.fetch import parse_fields


def header_record(uid: int, header: bytes, folder: str) -> dict:
    f = parse_fields(header)
    ids = message_ids(f.get(b"message-id"))
    subject = f.get(b"subject", b"").decode("utf-8", "replace")
    return {
        "uid": uid,
        "message_id": ids[0] if ids else f"<uid-{uid}@{folder}.hubsync.invalid>",
        "had_message_id": bool(ids),
        "in_reply_to": (message_ids(f.get(b"in-reply-to")) or [""])[0],
        "references": message_ids(f.get(b"references")),
        "subject": decoded_text(subject) if "=?" in subject else subject,
        "date": f.get(b"date", b"").decode("latin-1"),
        "people": b", ".join(f.get(k, b"") for k in (b"from", b"to", b"cc")).decode(
            "utf-8", "replace"
        ),
    }


def oracle_audit(
    blocks: list[tuple[int, bytes]], own: str, folder: str, subject_grouping: str
) -> dict:
    """``FolderAudit.to_dict()`` as the old code made it, from (uid, header block) pairs."""
    messages = []
    without_message_id = 0
    for uid, header in blocks:
        r = header_record(uid, header, folder)
        messages.append(
            jwz.Message(
                r["message_id"],
                r["in_reply_to"],
                r["references"],
                r["subject"],
                people=r["people"],
                raw_date=r["date"],
            )
        )
        without_message_id += not r["had_message_id"]
    roots = jwz.thread(messages, subject_grouping, [own])
    suspects = jwz.unrelated_suspects(roots, [own])
    members = [root.messages() for root in roots]
    largest = max(members, key=len, default=[])
    return {
        "folder": folder,
        "largest_thread": {
            "message_count": len(largest),
            "subject": largest[0].subject if largest else None,
        },
        "without_message_id": without_message_id,
        "suspected_unrelated": [
            {"message_id": s.message_id, "parent_id": s.parent_id, "reasons": s.reasons}
            for s in suspects
        ],
        "thread_list": [[m.message_id for m in thread] for thread in members],
        "message_count": len(messages),
        "thread_count": len(roots),
    }
