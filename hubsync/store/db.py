"""The store: one SQLite database in the data directory (WAL mode, versioned schema).

Every SQL statement of hubsync lives in this package. Methods return plain rows (dicts) or
values; JSON columns are decoded here.
"""

import contextlib
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from hubsync import paths
from hubsync.errors import StoreError
from hubsync.store.schema import MIGRATIONS

_JSON_COLUMNS = ("to_addrs", "cc_addrs", "refs", "recipients", "accepted", "refused")


def now() -> str:
    """The current UTC time as ISO 8601 (seconds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def db_path() -> Path:
    """Where the store lives."""
    return paths.data_dir() / "hubsync.sqlite3"


def open_store(path: Path | None = None) -> "Store":
    """The store at ``path`` (default: the data directory), created and migrated as needed;
    StoreError when it is damaged, busy or too new."""
    path = path or db_path()
    paths.ensure_private_dir(path.parent)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error as exc:
        raise _store_error(exc, path) from None
    store = Store(conn, path)
    store.migrate()
    return store


def _store_error(exc: sqlite3.Error, path: Path) -> StoreError:
    text = str(exc)
    if "full" in text.lower():
        return StoreError(
            f"The disk holding {path} is full; nothing was written.",
            fix="Free some space and run the command again.",
            reason="disk-full",
        )
    if "locked" in text.lower() or "busy" in text.lower():
        return StoreError(
            f"The store {path} is busy (another hubsync is writing).",
            fix="Try again in a moment.",
            reason="store-busy",
        )
    if "not a database" in text.lower() or "malformed" in text.lower():
        return StoreError(
            f"The store {path} is damaged: {text}.",
            fix="Run `hubsync doctor`; restore it from a backup.",
            reason="store-corrupt",
        )
    return StoreError(f"The store {path} failed: {text}.", reason="store-failed")


def _row(row: sqlite3.Row | None) -> dict | None:
    if row is None:
        return None
    data = dict(row)
    for key in _JSON_COLUMNS:
        if key in data and isinstance(data[key], str):
            data[key] = json.loads(data[key])
    return data


class Store:
    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database connection."""
        self.conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing; a full disk or a damaged file becomes a StoreError."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path) from None

    def _all(self, sql: str, *args) -> list[dict]:
        try:
            return [_row(r) for r in self.conn.execute(sql, args).fetchall()]
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path) from None

    def _one(self, sql: str, *args) -> dict | None:
        try:
            return _row(self.conn.execute(sql, args).fetchone())
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path) from None

    def _write(self, sql: str, *args) -> int:
        with self.transaction() as conn:
            return conn.execute(sql, args).lastrowid

    def _write_in(self, conn: sqlite3.Connection | None, sql: str, args: tuple) -> None:
        """Write inside the caller's transaction when given one, else in a transaction of its
        own."""
        if conn is not None:
            conn.execute(sql, args)
        else:
            self._write(sql, *args)

    @property
    def version(self) -> int:
        """The schema version of the file."""
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        """Bring the schema up to date, one version per transaction; refuse a newer one."""
        current = self.version
        if current > len(MIGRATIONS):
            raise StoreError(
                f"The store {self.path} was written by a newer hubsync (schema {current}).",
                fix="Upgrade hubsync.",
                reason="store-too-new",
            )
        for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
            with self.transaction() as conn:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    def integrity(self) -> str:
        """SQLite's integrity check: "ok", or what is damaged."""
        try:
            return self.conn.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.Error as exc:  # a damaged file says so here rather than on a query
            return str(exc)

    # -- threads and messages ---------------------------------------------------------------

    def new_thread(
        self,
        conn: sqlite3.Connection,
        account: str,
        subject: str,
        origin: str,
        split_from: int | None = None,
    ) -> int:
        """Create a thread inside ``conn``'s transaction; returns its id."""
        return conn.execute(
            "INSERT INTO threads (account, subject, origin, created, split_from) "
            "VALUES (?, ?, ?, ?, ?)",
            (account, subject, origin, now(), split_from),
        ).lastrowid

    def add_message(self, conn: sqlite3.Connection, **fields) -> int | None:
        """Insert a logged message; None when its Message-ID is already in the account."""
        fields.setdefault("logged_at", now())
        for key in ("to_addrs", "cc_addrs", "refs"):
            fields[key] = json.dumps(fields.get(key) or [])
        columns = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        cursor = conn.execute(
            f"INSERT OR IGNORE INTO messages ({columns}) VALUES ({marks})",  # noqa: S608
            tuple(fields.values()),
        )
        return cursor.lastrowid if cursor.rowcount else None

    def message(self, account: str, message_id: str) -> dict | None:
        """The logged message with this Message-ID, or None."""
        return self._one(
            "SELECT * FROM messages WHERE account = ? AND message_id = ?", account, message_id
        )

    def thread_of(self, account: str, message_id: str) -> int | None:
        """The thread of a logged Message-ID, or None."""
        row = self._one(
            "SELECT thread_id FROM messages WHERE account = ? AND message_id = ?",
            account,
            message_id,
        )
        return row["thread_id"] if row else None

    def tracked_ids(self, account: str) -> dict[str, int]:
        """Every logged Message-ID of the account, with its thread."""
        rows = self.conn.execute(
            "SELECT message_id, thread_id FROM messages WHERE account = ?", (account,)
        )
        return {r[0]: r[1] for r in rows}

    def add_contact(
        self, conn: sqlite3.Connection, account: str, address: str, name: str | None, seen: str
    ) -> bool:
        """Create or refresh a contact; return True when it is new."""
        address = address.lower()
        row = conn.execute(
            "SELECT name, first_seen, last_seen FROM contacts WHERE account = ? AND address = ?",
            (account, address),
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO contacts (account, address, name, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?)",
                (account, address, name or None, seen, seen),
            )
            return True
        conn.execute(
            "UPDATE contacts SET name = COALESCE(?, name), first_seen = MIN(first_seen, ?), "
            "last_seen = MAX(last_seen, ?) WHERE account = ? AND address = ?",
            (name or None, seen, seen, account, address),
        )
        return False

    def add_attachment(
        self,
        conn: sqlite3.Connection,
        message_pk: int,
        filename: str | None,
        mime_type: str,
        size: int,
        sha256: str,
    ) -> None:
        """Record an attachment of a logged message (its bytes are on disk by sha256)."""
        conn.execute(
            "INSERT INTO attachments (message_pk, filename, mime_type, size, sha256) "
            "VALUES (?, ?, ?, ?, ?)",
            (message_pk, filename, mime_type, size, sha256),
        )

    def add_event(
        self,
        account: str | None,
        kind: str,
        reason: str,
        message_id: str | None = None,
        detail: str | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> None:
        """Record an event (in ``conn``'s transaction when given)."""
        sql = (
            "INSERT INTO events (account, at, kind, reason, message_id, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )
        args = (account, now(), kind, reason, message_id, detail)
        self._write_in(conn, sql, args)

    def events(
        self, account: str | None = None, kinds: tuple[str, ...] = (), since: str | None = None
    ) -> list[dict]:
        """Events, oldest first, filtered by account, kinds and time."""
        sql, args = "SELECT * FROM events WHERE 1=1", []
        if account:
            sql += " AND account = ?"
            args.append(account)
        if kinds:
            sql += f" AND kind IN ({','.join('?' for _ in kinds)})"
            args.extend(kinds)
        if since:
            sql += " AND at >= ?"
            args.append(since)
        return self._all(sql + " ORDER BY id", *args)

    # -- outbox -----------------------------------------------------------------------------

    def outbox_add(
        self,
        account: str,
        message_id: str,
        raw: bytes,
        sender: str,
        recipients: list[str],
        subject: str,
        sent_folder: str | None,
        idempotency_key: str | None = None,
    ) -> bool:
        """Journal a message before submission (state queued). False when ``idempotency_key``
        is already taken by another message of the account (nothing is written then)."""
        stamp = now()
        with self.transaction() as conn:  # BEGIN IMMEDIATE: one writer at a time
            if (
                idempotency_key
                and conn.execute(
                    "SELECT 1 FROM outbox WHERE account = ? AND idempotency_key = ?",
                    (account, idempotency_key),
                ).fetchone()
            ):
                return False
            conn.execute(
                "INSERT INTO outbox (account, message_id, state, raw, sender, recipients, "
                "subject, sent_folder, created, updated, idempotency_key) "
                "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account,
                    message_id,
                    raw,
                    sender,
                    json.dumps(recipients),
                    subject,
                    sent_folder,
                    stamp,
                    stamp,
                    idempotency_key,
                ),
            )
        return True

    def outbox_by_key(self, account: str, key: str) -> dict | None:
        """The outbox entry sent with idempotency ``key``, or None."""
        return self._one(
            "SELECT id, account, message_id, state, sender, recipients, subject, sent_folder, "
            "sent_copy, accepted, refused, error, created, updated FROM outbox "
            "WHERE account = ? AND idempotency_key = ?",
            account,
            key,
        )

    def campaign_of(self, account: str, thread_id: int) -> str | None:
        """The campaign a thread was sent in, or None."""
        row = self._one(
            "SELECT campaign FROM threads WHERE account = ? AND id = ?", account, thread_id
        )
        return row["campaign"] if row else None

    def set_campaign(self, account: str, thread_id: int, campaign: str) -> None:
        """Tag a thread with the campaign it was sent in."""
        self._write(
            "UPDATE threads SET campaign = ? WHERE account = ? AND id = ?",
            campaign,
            account,
            thread_id,
        )

    def outbox_update(self, message_id: str, state: str, **fields) -> None:
        """Move an outbox entry to ``state``, with other fields."""
        for key in ("accepted", "refused"):
            if key in fields:
                fields[key] = json.dumps(fields[key])
        sets = ", ".join(f"{k} = ?" for k in fields)
        sql = f"UPDATE outbox SET state = ?, updated = ?{', ' if sets else ''}{sets} WHERE message_id = ?"  # noqa: E501, S608
        self._write(sql, state, now(), *fields.values(), message_id)

    def outbox(self, account: str | None = None, states: tuple[str, ...] = ()) -> list[dict]:
        """Outbox entries (without the raw message), oldest first."""
        sql, args = (
            (
                "SELECT id, account, message_id, state, sender, recipients, subject, "
                "sent_folder, sent_copy, accepted, refused, error, created, updated "
                "FROM outbox WHERE 1=1"
            ),
            [],
        )
        if account:
            sql += " AND account = ?"
            args.append(account)
        if states:
            sql += f" AND state IN ({','.join('?' for _ in states)})"
            args.extend(states)
        return self._all(sql + " ORDER BY id", *args)

    def outbox_raw(self, message_id: str) -> bytes:
        """The journalled bytes of a message, or b""."""
        row = self.conn.execute(
            "SELECT raw FROM outbox WHERE message_id = ?", (message_id,)
        ).fetchone()
        return bytes(row[0]) if row else b""

    # -- server facts and sync positions ------------------------------------------------------

    def fact(self, account: str, key: str) -> str | None:
        """A learned fact about the account's server, or None."""
        row = self._one(
            "SELECT value FROM server_facts WHERE account = ? AND key = ?", account, key
        )
        return row["value"] if row else None

    def set_fact(self, account: str, key: str, value: str) -> None:
        """Remember a fact about the account's server."""
        self._write(
            "INSERT INTO server_facts (account, key, value, updated) VALUES (?,?,?,?) "
            "ON CONFLICT (account, key) DO UPDATE SET value = excluded.value, "
            "updated = excluded.updated",
            account,
            key,
            value,
            now(),
        )

    def sync_state(self, account: str, folder: str) -> dict | None:
        """The folder's sync position (uidvalidity, last_uid, ...), or None."""
        return self._one(
            "SELECT * FROM sync_state WHERE account = ? AND folder = ?", account, folder
        )

    def set_sync_state(
        self,
        account: str,
        folder: str,
        uidvalidity: int,
        last_uid: int,
        highestmodseq: int | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> None:
        """Record the folder's sync position (in ``conn``'s transaction when given)."""
        sql = (
            "INSERT INTO sync_state (account, folder, uidvalidity, last_uid, highestmodseq, "
            "last_sync) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, folder) DO UPDATE SET "
            "uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid, "
            "highestmodseq = excluded.highestmodseq, last_sync = excluded.last_sync"
        )
        args = (account, folder, uidvalidity, last_uid, highestmodseq, now())
        self._write_in(conn, sql, args)
