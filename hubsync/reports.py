"""The audit half: thread reports, the logging report, contact records and `why`.

Every function returns plain data (dicts and lists) for the CLI to render or print as JSON.
"""

import email.utils
from collections import Counter, defaultdict

from hubsync import threads as jwz
from hubsync.errors import UsageError
from hubsync.store import Store
from hubsync.store import queries as q


def _participants(row: dict) -> frozenset[str]:
    return frozenset(a for a in (row["from_addr"], *row["to_addrs"], *row["cc_addrs"]) if a)


def _as_message(row: dict) -> jwz.Message:
    return jwz.Message(
        row["message_id"],
        row["in_reply_to"] or "",
        list(row["refs"] or []),
        row["subject"] or "",
        row["date"] or "",
        _participants(row),
        row,
    )


def _flatten(box: jwz.Container, depth: int, parent_id: str | None, out: list[dict]) -> None:
    if box.message is not None:
        row = box.message.data
        out.append(
            {
                "message_id": row["message_id"],
                "parent_id": parent_id,
                "depth": depth,
                "date": row["date"],
                "direction": row["direction"],
                "origin": row["origin"],
                "from": row["from_addr"],
                "from_name": row["from_name"],
                "to": row["to_addrs"],
                "cc": row["cc_addrs"],
                "subject": row["subject"],
                "attachments": [
                    {"filename": a["filename"], "size": a["size"], "mime_type": a["mime_type"]}
                    for a in row["attachments"]
                ],
                "attachments_note": row["attachments_note"],
            }
        )
        parent_id, depth = row["message_id"], depth + 1
    for child in box.children:
        _flatten(child, depth, parent_id, out)


def thread_report(
    store: Store, account: str, own: str, contact: str | None = None, since: str | None = None
) -> list[dict]:
    """Logged threads as trees (JWZ within each stored thread) with suspected unrelated
    emails flagged."""
    rows = q.messages(store, account, since=since)
    by_thread: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_thread[row["thread_id"]].append(row)
    info = q.threads(store, account)
    report = []
    for thread_id, members in by_thread.items():
        if contact and not any(contact.lower() in _participants(r) for r in members):
            continue
        roots = jwz.thread(_as_message(r) for r in members)
        flat: list[dict] = []
        for root in roots:
            _flatten(root, 0, None, flat)
        suspects = jwz.unrelated_suspects(roots, [own])
        flagged = {s.message_id: s for s in suspects}
        for item in flat:
            suspect = flagged.get(item["message_id"])
            item["suspected_unrelated"] = bool(suspect)
            item["why_flagged"] = suspect.reasons if suspect else []
        meta = info.get(thread_id, {})
        report.append(
            {
                "thread_id": thread_id,
                "subject": meta.get("subject") or members[0]["subject"],
                "origin": meta.get("origin"),
                "split_from": meta.get("split_from"),
                "messages": flat,
                "suspected_unrelated": [s.message_id for s in suspects],
            }
        )
    return report


def split(store: Store, account: str, message_id: str) -> dict:
    """Detach a message (and the replies under it) into a thread of its own; later syncs
    keep it there, since replies join the thread of the message they answer."""
    row = store.message(account, message_id)
    if row is None:
        raise UsageError(f"{message_id} is not in the log.", reason="no-such-message")
    members = [r for r in q.messages(store, account) if r["thread_id"] == row["thread_id"]]
    roots = jwz.thread(_as_message(r) for r in members)
    box = next(c for root in roots for c in root.walk() if c.message_id == message_id)
    moving = [m.message_id for m in box.messages()]
    if len(moving) == len(members):
        raise UsageError(f"{message_id} already starts its own thread.", reason="nothing-to-split")
    new = q.move_to_new_thread(store, account, moving, row["subject"] or "", row["thread_id"])
    return {
        "message_id": message_id,
        "from_thread": row["thread_id"],
        "new_thread": new,
        "moved": moving,
    }


def audit(records: list[dict], own: str) -> dict:
    """Threads of a live folder from header records (nothing is stored)."""
    messages = [
        jwz.Message(
            r["message_id"],
            r["in_reply_to"],
            r["references"],
            r["subject"],
            r["date"],
            frozenset(r["participants"]),
        )
        for r in records
    ]
    roots = jwz.thread(messages)
    suspects = jwz.unrelated_suspects(roots, [own])
    sizes = [(len(root.messages()), root) for root in roots]
    largest = max(sizes, key=lambda s: s[0], default=(0, None))
    return {
        "messages": len(records),
        "threads": len(roots),
        "largest_thread": {
            "messages": largest[0],
            "subject": largest[1].messages()[0].subject if largest[1] else None,
        },
        "without_message_id": sum(1 for r in records if not r["had_message_id"]),
        "suspected_unrelated": [
            {"message_id": s.message_id, "parent_id": s.parent_id, "reasons": s.reasons}
            for s in suspects
        ],
        "thread_list": [[m.message_id for m in root.messages()] for root in roots],
    }


def logging_report(store: Store, account: str, since: str | None = None) -> dict:
    rows = q.messages(store, account, since=since)
    events = store.events(account, since=since)
    origin = Counter(r["origin"] for r in rows)
    stored_attachments = [a for r in rows for a in r["attachments"]]
    skipped = [e for e in events if e["kind"] == "attachments-skipped"]
    never_log = [e for e in events if e["reason"] == "never-log"]
    errors = [
        e
        for e in events
        if e["kind"] in ("connection", "filing") or e["reason"] in ("folder-failed", "partial")
    ]
    by_contact: dict[str, Counter] = defaultdict(Counter)
    by_day: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        day = (r["date"] or r["logged_at"] or "")[:10]
        by_day[day][r["origin"]] += 1
        people = (
            [r["from_addr"]] if r["direction"] == "received" else [*r["to_addrs"], *r["cc_addrs"]]
        )
        for person in people:
            by_contact[person][r["origin"]] += 1
    return {
        "account": account,
        "since": since,
        "emails_sent": origin.get("sent", 0),
        "replies_logged": origin.get("reply", 0),
        "logged_by_hand": origin.get("manual", 0),
        "messages_logged": len(rows),
        "attachments_logged": len(stored_attachments),
        "attachment_bytes": sum(a["size"] for a in stored_attachments),
        "attachments_skipped": [
            {"message_id": e["message_id"], "reason": e["reason"], "detail": e["detail"]}
            for e in skipped
        ],
        "never_log_hits": len(never_log),
        "contacts_created": q.contacts_created(store, account, since),
        "errors": [
            {"at": e["at"], "kind": e["kind"], "reason": e["reason"], "detail": e["detail"]}
            for e in errors
        ],
        "by_contact": {k: dict(v) for k, v in sorted(by_contact.items())},
        "by_day": {k: dict(v) for k, v in sorted(by_day.items())},
        "statement": (
            "Stored: the emails hubsync sent, the replies to them and to messages logged by "
            "hand (headers, body text, raw source), their participants as contacts, and their "
            "attachments within the size limit. Not stored: any other email — not its "
            "headers, not its addresses — only the sync position in each folder moved."
        ),
    }


def contact_record(store: Store, account: str, address: str, full: bool = False) -> dict:
    person = q.contact(store, account, address)
    if person is None:
        raise UsageError(f"{address} is not a contact of {account}.", reason="no-such-contact")
    rows = q.messages(store, account, contact=address, with_body=full)
    timeline = [
        {
            "date": r["date"] or r["logged_at"],
            "direction": r["direction"],
            "subject": r["subject"],
            "message_id": r["message_id"],
            "from": r["from_addr"],
            "to": r["to_addrs"],
            **({"body": r["body"]} if full else {}),
        }
        for r in rows
    ]
    attachments = [
        {
            "filename": a["filename"],
            "size": a["size"],
            "mime_type": a["mime_type"],
            "sha256": a["sha256"],
            "message_id": r["message_id"],
        }
        for r in rows
        for a in r["attachments"]
    ]
    return {**person, "messages": len(rows), "timeline": timeline, "attachments": attachments}


def why(store: Store, account: str, message_id: str, live: dict | None = None) -> dict:
    """Whether and why a message was logged; ``live`` holds its headers read from the server
    when it is not in the log (nothing of it is stored)."""
    message_id = message_id.strip()
    if not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    row = store.message(account, message_id)
    events = q.events_for(store, account, message_id)
    skipped = [e for e in events if e["kind"] == "attachments-skipped"]
    if row is not None:
        rule = row["match_rule"]
        explanation = {
            "sent-by-hubsync": "It was sent by hubsync, which tracks every message it sends.",
            "manual": "It was logged by hand (`hubsync log`).",
            "in-reply-to": f"Its In-Reply-To header names {row['match_ref']}, a message "
            "already in the log.",
            "references": f"Its References header lists {row['match_ref']}, a message "
            "already in the log (In-Reply-To did not match).",
        }.get(rule, f"Matched by rule {rule}.")
        if rule == "manual" and row["match_ref"]:
            explanation += f" It also replies into a tracked thread through {row['match_ref']}."
        return {
            "message_id": message_id,
            "logged": True,
            "rule": rule,
            "ref": row["match_ref"],
            "thread_id": row["thread_id"],
            "explanation": explanation,
            "attachments": "skipped: " + "; ".join(e["detail"] for e in skipped)
            if skipped
            else ("stored" if row["origin"] != "sent" else "as sent"),
        }
    never = [e for e in events if e["reason"] == "never-log"]
    if never:
        return {
            "message_id": message_id,
            "logged": False,
            "rule": "never-log",
            "explanation": f"It replies into a tracked thread, but {never[-1]['detail']}; "
            "never_log overrides matching, so nothing of it was kept.",
        }
    if live is not None:
        refs = [*([live["in_reply_to"]] if live["in_reply_to"] else []), *live["references"]]
        return {
            "message_id": message_id,
            "logged": False,
            "rule": "no-match",
            "explanation": (
                "None of its threading headers names a message in the log "
                f"(In-Reply-To/References: {', '.join(refs) or 'none'}), so it "
                "is not part of a tracked thread and nothing of it was kept."
                if refs
                else "It carries no In-Reply-To or References header, "
                "so it starts no tracked thread; nothing of it was kept."
            ),
            "found_in": live["folder"],
        }
    return {
        "message_id": message_id,
        "logged": False,
        "rule": "unknown",
        "explanation": "It is not in the log and was not found in the watched folders. "
        "Unrelated mail leaves no trace, so hubsync cannot say more; if it is a reply, "
        "run `hubsync sync` and ask again.",
    }


def display(name: str, address: str) -> str:
    return email.utils.formataddr((name, address)) if name else address
