"""Read-only queries behind the reports (threads, logging report, contacts, why)."""

from hubsync.store.db import Store

_MESSAGE_COLUMNS = (
    "id, message_id, thread_id, direction, origin, match_rule, match_ref, folder, "
    "uid, date, from_addr, from_name, to_addrs, cc_addrs, subject, size, "
    "in_reply_to, refs, logged_at, attachments_note"
)


def messages(
    store: Store,
    account: str,
    contact: str | None = None,
    since: str | None = None,
    with_body: bool = False,
) -> list[dict]:
    """Logged messages (no raw source), with their attachments, oldest first."""
    columns = _MESSAGE_COLUMNS + (", body" if with_body else "")
    sql, args = f"SELECT {columns} FROM messages WHERE account = ?", [account]  # noqa: S608
    if since:
        sql += " AND COALESCE(date, logged_at) >= ?"
        args.append(since)
    rows = store._all(sql + " ORDER BY COALESCE(date, logged_at), id", *args)
    if contact:
        contact = contact.lower()
        rows = [r for r in rows if contact in {r["from_addr"], *r["to_addrs"], *r["cc_addrs"]}]
    return _with_attachments(store, rows)


def _with_attachments(store: Store, rows: list[dict]) -> list[dict]:
    """``rows`` (messages), each given its attachment rows as ``attachments``."""
    by_message = attachments_by_message(store, [r["id"] for r in rows])
    for row in rows:
        row["attachments"] = by_message.get(row["id"], [])
    return rows


def logged_in_order(
    store: Store,
    account: str,
    *,
    since: str | None = None,
    logged_since: str | None = None,
    after_id: int | None = None,
) -> list[dict]:
    """Logged messages in the order they were logged, with their attachments."""
    sql = f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE account = ?"  # noqa: S608
    args: list = [account]
    if since:
        sql += " AND COALESCE(date, logged_at) >= ?"
        args.append(since)
    if logged_since:
        sql += " AND logged_at >= ?"
        args.append(logged_since)
    if after_id is not None:
        sql += " AND id > ?"
        args.append(after_id)
    return _with_attachments(store, store._all(sql + " ORDER BY logged_at, id", *args))


def attachment_list(
    store: Store,
    account: str,
    contact: str | None = None,
    thread_id: int | None = None,
    message_pk: int | None = None,
) -> list[dict]:
    """Stored attachments with their message's id, Message-ID, thread, sender and date,
    oldest first; only those of messages with ``contact``, in ``thread_id`` or of
    ``message_pk`` when given."""
    sql = (
        "SELECT a.id, a.filename, a.mime_type, a.size, a.sha256, m.id AS message, "
        "m.message_id, m.thread_id, m.date, m.logged_at, m.from_addr, m.to_addrs, m.cc_addrs "
        "FROM attachments a JOIN messages m ON m.id = a.message_pk WHERE m.account = ?"
    )
    args: list = [account]
    if thread_id is not None:
        sql += " AND m.thread_id = ?"
        args.append(thread_id)
    if message_pk is not None:
        sql += " AND m.id = ?"
        args.append(message_pk)
    rows = store._all(sql + " ORDER BY m.logged_at, a.id", *args)
    if contact:
        contact = contact.lower()
        rows = [r for r in rows if contact in {r["from_addr"], *r["to_addrs"], *r["cc_addrs"]}]
    for row in rows:
        for key in ("to_addrs", "cc_addrs"):
            row.pop(key)
    return rows


def last_message_pk(store: Store, account: str) -> int:
    """The highest message row id of the account (0 when none)."""
    row = store._one("SELECT MAX(id) AS last FROM messages WHERE account = ?", account)
    return int(row["last"] or 0) if row else 0


def attachments_by_message(store: Store, message_pks: list[int]) -> dict[int, list[dict]]:
    """Attachment rows grouped by message row id."""
    found: dict[int, list[dict]] = {}
    for start in range(0, len(message_pks), 500):
        chunk = message_pks[start : start + 500]
        marks = ",".join("?" for _ in chunk)
        for row in store._all(
            f"SELECT * FROM attachments WHERE message_pk IN ({marks})",  # noqa: S608
            *chunk,
        ):
            found.setdefault(row["message_pk"], []).append(row)
    return found


def threads(store: Store, account: str) -> dict[int, dict]:
    """Thread rows of the account by id."""
    return {r["id"]: r for r in store._all("SELECT * FROM threads WHERE account = ?", account)}


def move_to_new_thread(
    store: Store, account: str, message_ids: list[str], subject: str, old_thread: int
) -> int:
    """Move messages into a new thread split from ``old_thread``; returns the new thread's id."""
    with store.transaction() as conn:
        new = store.new_thread(conn, account, subject, "split", split_from=old_thread)
        for mid in message_ids:
            conn.execute(
                "UPDATE messages SET thread_id = ? WHERE account = ? AND message_id = ?",
                (new, account, mid),
            )
        store.add_event(
            account,
            "split",
            "manual-split",
            message_ids[0],
            f"moved {len(message_ids)} message(s) from thread {old_thread} to thread {new}",
            conn=conn,
        )
    return new


def contacts(store: Store, account: str) -> list[dict]:
    """Contacts with their message count and last activity, most recent first."""
    rows = store._all(
        "SELECT address, name, first_seen, last_seen FROM contacts "
        "WHERE account = ? ORDER BY last_seen DESC",
        account,
    )
    counts: dict[str, int] = {}
    last: dict[str, str] = {}
    for m in messages(store, account):
        when = m["date"] or m["logged_at"]
        for address in {m["from_addr"], *m["to_addrs"], *m["cc_addrs"]}:
            counts[address] = counts.get(address, 0) + 1
            last[address] = max(last.get(address, ""), when or "")
    for row in rows:
        row["messages"] = counts.get(row["address"], 0)
        row["last_seen"] = last.get(row["address"]) or row["last_seen"]  # latest message
    return rows


def contact(store: Store, account: str, address: str) -> dict | None:
    """One contact's row, or None."""
    return store._one(
        "SELECT address, name, first_seen, last_seen FROM contacts "
        "WHERE account = ? AND address = ?",
        account,
        address.lower(),
    )


def accounts(store: Store) -> list[str]:
    """Every account the store holds anything of, by name (a team store: every teammate)."""
    rows = store._all(
        "SELECT account FROM messages UNION SELECT account FROM events "
        "WHERE account IS NOT NULL ORDER BY account"
    )
    return [r["account"] for r in rows]


def contact_inboxes(store: Store, address: str) -> list[dict]:
    """Every account (inbox) of the store the contact appears in: on a team's shared store,
    which teammates the contact wrote to or was written to by."""
    return store._all(
        "SELECT account, first_seen, last_seen FROM contacts WHERE address = ? "
        "ORDER BY last_seen DESC, account",
        address.lower(),
    )


def contacts_created(store: Store, account: str, since: str | None) -> int:
    """How many contacts were first seen from ``since`` on."""
    row = store._one(
        "SELECT COUNT(*) AS n FROM contacts WHERE account = ? AND first_seen >= ?",
        account,
        since or "",
    )
    return row["n"]


def events_for(store: Store, account: str, message_id: str) -> list[dict]:
    """The events that name ``message_id``, oldest first."""
    return store._all(
        "SELECT * FROM events WHERE account = ? AND message_id = ? ORDER BY id", account, message_id
    )


def table_counts(store: Store, account: str) -> dict:
    """Raw counts straight from the tables (used to check the report against the store)."""
    one = lambda sql: store._one(sql, account)["n"]  # noqa: E731
    return {
        "messages": one("SELECT COUNT(*) AS n FROM messages WHERE account = ?"),
        "threads": one("SELECT COUNT(*) AS n FROM threads WHERE account = ?"),
        "contacts": one("SELECT COUNT(*) AS n FROM contacts WHERE account = ?"),
        "attachments": one(
            "SELECT COUNT(*) AS n FROM attachments a JOIN messages m "
            "ON a.message_pk = m.id WHERE m.account = ?"
        ),
    }


def attachment_files(store: Store) -> list[dict]:
    """Every stored attachment with the message it belongs to (for the store check)."""
    return store._all(
        "SELECT a.sha256, a.filename, m.message_id FROM attachments a "
        "JOIN messages m ON a.message_pk = m.id"
    )
