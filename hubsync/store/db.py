"""The store: one SQLite database in the data directory (WAL mode, versioned schema), or a
team's PostgreSQL database named by ``store_url`` / HUBSYNC_STORE_URL.

Every SQL statement of hubsync lives in this package. Methods return plain rows (dicts) or
values; JSON columns are decoded here.
"""

import contextlib
import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from hubsync import paths
from hubsync.errors import OutboxKeyTaken, StoreConflict, StoreError, UsageError
from hubsync.store import attachments as files
from hubsync.store.database import (
    Database,
    PooledPostgresDatabase,
    PostgresDatabase,
    SqliteDatabase,
)
from hubsync.store.schema import MIGRATIONS
from hubsync.urls import redact_url

_JSON_COLUMNS = ("to_addrs", "cc_addrs", "refs", "recipients", "accepted", "refused")


def now() -> str:
    """The current UTC time as ISO 8601 (seconds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def db_path() -> Path:
    """Where the store lives."""
    return paths.data_dir() / "hubsync.sqlite3"


def open_store(path: Path | None = None, url: str | None = None, pool: int = 0) -> "Store":
    """The store at ``url`` (``postgresql://...`` or ``sqlite:///path``), else the SQLite file
    at ``path`` (default: the data directory), created and migrated as needed; StoreError
    when it is damaged, busy, unreachable or too new. ``pool``: for PostgreSQL, share at most
    that many connections between this process's threads (0: one connection, one thread)."""
    if url:
        if url.startswith(("postgresql://", "postgres://")):
            database = PooledPostgresDatabase(url, pool) if pool else PostgresDatabase(url)
            store = Store(database)
            store.migrate()
            return store
        if not url.startswith("sqlite:///"):
            raise UsageError(
                f"store_url {redact_url(url)!r} is neither postgresql://... nor sqlite:///PATH.",
                reason="config-invalid",
            )
        path = Path(url.removeprefix("sqlite://"))
    path = path or db_path()
    if path.parent == db_path().parent:
        paths.ensure_private_dir(path.parent)  # hubsync's own folder: private
    elif not path.parent.exists():  # a folder the user named keeps its mode if it exists
        path.parent.mkdir(parents=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.close(fd)
    _refuse_if_others_can_write(path)
    store = Store(SqliteDatabase(path))
    store.migrate()
    return store


def _refuse_if_others_can_write(path: Path) -> None:
    """The log is what reports and `why` trust: a store file another user can change (or
    owns) is refused, with the exact fix."""
    problem = paths.others_can_change(path)
    if problem is not None:
        what, fix = problem
        raise StoreError(
            f"The store {path} {what}; hubsync does not use it.",
            fix=fix if fix.startswith("chmod") else f"{fix} (or use your own store).",
            reason="store-unsafe",
        )


def open_configured(pool: int = 0) -> "Store":
    """The store this run uses: HUBSYNC_STORE_URL, else config.toml's ``store_url``, else the
    local SQLite file (``pool``: see ``open_store``)."""
    from hubsync import config as cfg
    from hubsync import environment

    url = environment.current().store_url or cfg.load().store_url
    return open_store(url=url or None, pool=pool)


def _row(row: dict | None) -> dict | None:
    if row is None:
        return None
    data = dict(row)
    for key in _JSON_COLUMNS:
        if key in data and isinstance(data[key], str):
            data[key] = json.loads(data[key])
    return data


class Store:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.path = getattr(db, "path", None)  # the SQLite file; None for PostgreSQL
        self.location = db.location

    @property
    def kind(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self.db.kind

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        """All or nothing; a full disk or a damaged file becomes a StoreError."""
        with self.db.transaction() as conn:
            yield conn

    def _all(self, sql: str, *args) -> list[dict]:
        return [_row(r) for r in self.db.execute(sql, args).fetchall()]

    def _one(self, sql: str, *args) -> dict | None:
        return _row(self.db.execute(sql, args).fetchone())

    def _write(self, sql: str, *args) -> None:
        with self.transaction() as conn:
            conn.execute(sql, args)

    def _write_in(self, conn: Database | None, sql: str, args: tuple) -> None:
        """Write inside the caller's transaction when given one, else in a transaction of its
        own."""
        if conn is not None:
            conn.execute(sql, args)
        else:
            self._write(sql, *args)

    @property
    def version(self) -> int:
        """The schema version of the database."""
        return self.db.version

    def migrate(self) -> None:
        """Bring the schema up to date, one version per transaction; refuse a newer one. Safe
        when several processes open a new team store at once: each step runs under the
        database's schema lock and re-reads the version first."""
        while True:
            with self.transaction() as conn:
                self.db.lock_schema()
                current = self.version
                if current > len(MIGRATIONS):
                    raise StoreError(
                        f"The store {self.location} was written by a newer hubsync (schema "
                        f"{current}).",
                        fix="Upgrade hubsync.",
                        reason="store-too-new",
                    )
                if current == len(MIGRATIONS):
                    return
                for statement in self.db.ddl(MIGRATIONS[current]):
                    conn.execute(statement)
                self.db.set_version(current + 1)

    def integrity(self) -> str:
        """The database's own consistency check: "ok", or what is damaged."""
        return self.db.integrity()

    # -- threads and messages ---------------------------------------------------------------

    def new_thread(
        self,
        conn: Database,
        account: str,
        subject: str,
        origin: str,
        split_from: int | None = None,
    ) -> int:
        """Create a thread inside ``conn``'s transaction; returns its id."""
        return conn.execute(
            "INSERT INTO threads (account, subject, origin, created, split_from) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            (account, subject, origin, now(), split_from),
        ).fetchone()["id"]

    def add_message(self, conn: Database, **fields) -> int | None:
        """Insert a logged message; None when its Message-ID is already in the account."""
        fields.setdefault("logged_at", now())
        for key in ("to_addrs", "cc_addrs", "refs"):
            fields[key] = json.dumps(fields.get(key) or [])
        columns = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        row = conn.execute(
            f"INSERT INTO messages ({columns}) VALUES ({marks}) "  # noqa: S608
            "ON CONFLICT (account, message_id) DO NOTHING RETURNING id",
            tuple(fields.values()),
        ).fetchone()
        return row["id"] if row else None

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
        rows = self.db.execute(
            "SELECT message_id, thread_id FROM messages WHERE account = ?", (account,)
        ).fetchall()
        return {r["message_id"]: r["thread_id"] for r in rows}

    def recent_tracked_ids(self, account: str, limit: int) -> list[str]:
        """The account's most recently logged Message-IDs (newest first), at most ``limit``."""
        rows = self._all(
            "SELECT message_id FROM messages WHERE account = ? ORDER BY id DESC LIMIT ?",
            account,
            limit,
        )
        return [r["message_id"] for r in rows]

    def add_contact(
        self, conn: Database, account: str, address: str, name: str | None, seen: str
    ) -> bool:
        """Create or refresh a contact; return True when it is new. Safe when two processes
        add the same contact at once (the insert that loses becomes an update)."""
        address = address.lower()
        created = conn.execute(
            "INSERT INTO contacts (account, address, name, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, address) DO NOTHING RETURNING id",
            (account, address, name or None, seen, seen),
        ).fetchone()
        if created is not None:
            return True
        row = conn.execute(
            "SELECT first_seen, last_seen FROM contacts WHERE account = ? AND address = ?",
            (account, address),
        ).fetchone()
        conn.execute(
            "UPDATE contacts SET name = COALESCE(?, name), first_seen = ?, last_seen = ? "
            "WHERE account = ? AND address = ?",
            (
                name or None,
                min(row["first_seen"], seen),
                max(row["last_seen"], seen),
                account,
                address,
            ),
        )
        return False

    def add_attachment(
        self,
        conn: Database,
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
        conn: Database | None = None,
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
        try:
            self._outbox_insert_row(
                (account, message_id, raw, sender, json.dumps(recipients), subject, sent_folder,
                 stamp, stamp, idempotency_key),
            )  # fmt: skip
        except StoreConflict:  # OutboxKeyTaken, or (PostgreSQL) another send took the key
            return False  # between the check and the insert
        return True

    def _outbox_insert_row(self, row: tuple) -> None:
        account, idempotency_key = row[0], row[-1]
        with self.transaction() as conn:  # SQLite: BEGIN IMMEDIATE, one writer at a time
            if (
                idempotency_key
                and conn.execute(
                    "SELECT 1 FROM outbox WHERE account = ? AND idempotency_key = ?",
                    (account, idempotency_key),
                ).fetchone()
            ):
                raise OutboxKeyTaken("The idempotency key is taken.")
            conn.execute(
                "INSERT INTO outbox (account, message_id, state, raw, sender, recipients, "
                "subject, sent_folder, created, updated, idempotency_key) "
                "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

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

    def uncertain_sends(self, account: str) -> set[str]:
        """Message-IDs of the account's sends whose outcome is unknown (state uncertain)."""
        rows = self._all(
            "SELECT message_id FROM outbox WHERE account = ? AND state = 'uncertain'", account
        )
        return {r["message_id"] for r in rows}

    def prove_delivered(self, message_id: str, proof: str) -> bool:
        """An uncertain send that a reply answers did reach its recipient: it becomes
        submitted (its Sent copy is owed). False when it was not uncertain (any more)."""
        with self.transaction() as conn:
            changed = conn.execute(
                "UPDATE outbox SET state = 'submitted', updated = ?, error = ? "
                "WHERE message_id = ? AND state = 'uncertain'",
                (
                    now(),
                    f"delivery proven: {proof} replies to it; its Sent copy is owed",
                    message_id,
                ),
            ).rowcount
        return bool(changed)

    def outbox_raw(self, message_id: str) -> bytes:
        """The journalled bytes of a message, or b""."""
        row = self.db.execute(
            "SELECT raw FROM outbox WHERE message_id = ?", (message_id,)
        ).fetchone()
        return bytes(row["raw"]) if row else b""

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
        conn: Database | None = None,
        claimed: tuple[int, int] | None = None,
    ) -> None:
        """Record the folder's sync position (in ``conn``'s transaction when given) and,
        with ``claimed``, the server's (last UID, message count) it was measured against."""
        sql = (
            "INSERT INTO sync_state (account, folder, uidvalidity, last_uid, highestmodseq, "
            "last_sync, claimed_last_uid, claimed_exists) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (account, folder) DO UPDATE SET "
            "uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid, "
            "highestmodseq = excluded.highestmodseq, last_sync = excluded.last_sync, "
            "claimed_last_uid = excluded.claimed_last_uid, "
            "claimed_exists = excluded.claimed_exists"
        )
        claimed_uid, claimed_exists = claimed or (None, None)
        args = (
            account,
            folder,
            uidvalidity,
            last_uid,
            highestmodseq,
            now(),
            claimed_uid,
            claimed_exists,
        )
        self._write_in(conn, sql, args)

    def mark_rescan_floor(self, account: str, folder: str, uidvalidity: int, first: int) -> None:
        """Note that a sync scans the folder's new territory from ``first`` (or lower, as
        noted already): the next complete sync scans it again (``clear_rescan_floors``)."""
        self._write(
            "INSERT INTO sync_state (account, folder, uidvalidity, last_uid, new_from, "
            "last_sync) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, folder) DO UPDATE SET "
            "new_from = CASE WHEN sync_state.new_from IS NULL "
            "OR sync_state.new_from > excluded.new_from "
            "THEN excluded.new_from ELSE sync_state.new_from END",
            account,
            folder,
            uidvalidity,
            first - 1,
            first,
            now(),
        )

    def clear_rescan_floors(self, account: str, folders: list[str]) -> None:
        """A complete sync finished: what it scanned again is done; what it scanned for the
        first time is scanned once more by the next complete sync."""
        with self.transaction() as conn:
            for folder in folders:
                conn.execute(
                    "UPDATE sync_state SET rescan_from = CASE WHEN new_from <= last_uid "
                    "THEN new_from ELSE NULL END, new_from = NULL "
                    "WHERE account = ? AND folder = ?",
                    (account, folder),
                )

    # -- leases (hubsync worker) -------------------------------------------------------------

    # Lease times are the database's clock, never a worker's: two machines whose clocks
    # differ by minutes still agree on when a lease ran out. ``now_ms`` is for tests only.

    def _clock(self, now_ms: int | None) -> tuple[str, tuple]:
        """The SQL for "now" in epoch milliseconds, and its arguments."""
        if now_ms is not None:
            return "CAST(? AS BIGINT)", (now_ms,)
        if self.kind == "sqlite":
            return "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)", ()
        return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)", ()

    def clock_ms(self) -> int:
        """The database's time in epoch milliseconds (what leases are measured against)."""
        clock, args = self._clock(None)
        return int(self._one(f"SELECT {clock} AS now", *args)["now"])  # noqa: S608

    def claim_lease(
        self, account: str, owner: str, now_ms: int | None = None, lease_ms: int = 60_000
    ) -> bool:
        """Take the account's lease for ``owner`` when nobody holds it, or its holder let it
        expire (or ``owner`` holds it already). One atomic upsert: two workers claiming at
        once cannot both win."""
        clock, at = self._clock(now_ms)
        row = self.db.execute(
            "INSERT INTO leases (account, owner, expires_ms, claimed) "  # noqa: S608
            f"VALUES (?, ?, {clock} + ?, ?) "
            "ON CONFLICT (account) DO UPDATE SET owner = excluded.owner, "
            "expires_ms = excluded.expires_ms, claimed = excluded.claimed "
            f"WHERE leases.expires_ms < {clock} OR leases.owner = excluded.owner "
            "RETURNING owner",
            (account, owner, *at, lease_ms, now(), *at),
        ).fetchone()
        return row is not None and row["owner"] == owner

    def renew_lease(
        self, account: str, owner: str, now_ms: int | None = None, lease_ms: int = 60_000
    ) -> bool:
        """Extend ``owner``'s lease; False when it has been lost (taken over after expiry)."""
        return bool(self.renew_leases([account], owner, now_ms, lease_ms))

    def renew_leases(
        self, accounts: list[str], owner: str, now_ms: int | None = None, lease_ms: int = 60_000
    ) -> set[str]:
        """Extend ``owner``'s leases on ``accounts`` in one statement; the accounts whose
        lease it still held (the others were taken over after expiry)."""
        if not accounts:
            return set()
        marks = ",".join("?" for _ in accounts)
        clock, at = self._clock(now_ms)
        with self.transaction() as conn:
            rows = conn.execute(
                f"UPDATE leases SET expires_ms = {clock} + ? "  # noqa: S608
                f"WHERE owner = ? AND account IN ({marks}) RETURNING account",
                (*at, lease_ms, owner, *accounts),
            ).fetchall()
        return {r["account"] for r in rows}

    def heartbeat(self, owner: str, lease_ms: int, now_ms: int | None = None) -> dict[str, int]:
        """Say that worker ``owner`` is alive; returns every live worker (one that renewed
        its heartbeat within one lease period, by the database's clock) with how many
        accounts it holds now."""
        clock, at = self._clock(now_ms)
        with self.transaction() as conn:
            conn.execute(
                f"INSERT INTO workers (owner, heartbeat_ms) VALUES (?, {clock}) "  # noqa: S608
                "ON CONFLICT (owner) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms",
                (owner, *at),
            )
            conn.execute(
                f"DELETE FROM workers WHERE heartbeat_ms < {clock} - ?",  # noqa: S608
                (*at, 10 * lease_ms),
            )
            rows = conn.execute(
                "SELECT w.owner, COUNT(l.account) AS held FROM workers w "  # noqa: S608
                f"LEFT JOIN leases l ON l.owner = w.owner AND l.expires_ms >= {clock} "
                f"WHERE w.heartbeat_ms >= {clock} - ? GROUP BY w.owner",
                (*at, *at, lease_ms),
            ).fetchall()
        return {r["owner"]: int(r["held"]) for r in rows}

    def workers(self) -> list[dict]:
        """Every worker that sent a heartbeat lately (owner, heartbeat_ms), newest first."""
        return self._all("SELECT owner, heartbeat_ms FROM workers ORDER BY heartbeat_ms DESC")

    def leave(self, owner: str) -> None:
        """A worker stopping cleanly: no longer counted as alive."""
        self._write("DELETE FROM workers WHERE owner = ?", owner)

    def release_lease(self, account: str, owner: str) -> None:
        """Give the lease up (a clean shutdown): another worker may claim it at once."""
        self._write("DELETE FROM leases WHERE account = ? AND owner = ?", account, owner)

    def leases(self) -> list[dict]:
        """Every lease: account, owner, expires_ms, claimed."""
        return self._all("SELECT * FROM leases ORDER BY account")

    # -- attachment bytes ---------------------------------------------------------------------

    def save_attachment_bytes(self, data: bytes) -> str:
        """Keep ``data`` once per content and return its sha256: a file in the data directory
        (SQLite), or a row of the shared database (PostgreSQL: no shared file system)."""
        if self.kind == "sqlite":
            return files.save(data)
        digest = hashlib.sha256(data).hexdigest()
        self._write(
            "INSERT INTO attachment_blobs (sha256, data) VALUES (?, ?) "
            "ON CONFLICT (sha256) DO NOTHING",
            digest,
            data,
        )
        return digest

    def attachment_bytes(self, sha256: str) -> bytes | None:
        """The bytes of the attachment with this sha256, or None when they are missing."""
        if self.kind == "sqlite":
            path = files.path_for(sha256)
            return path.read_bytes() if path.exists() else None
        row = self._one("SELECT data FROM attachment_blobs WHERE sha256 = ?", sha256)
        return bytes(row["data"]) if row else None

    def verify_attachment(self, sha256: str) -> str:
        """'ok', 'missing' or 'corrupt' for the bytes of ``sha256``."""
        data = self.attachment_bytes(sha256)
        if data is None:
            return "missing"
        return "ok" if hashlib.sha256(data).hexdigest() == sha256 else "corrupt"

    # -- encrypted secrets (hubsync worker) -----------------------------------------------------

    def set_secret(self, account: str, ciphertext: bytes) -> None:
        """Keep an account's encrypted secret (replacing an earlier one)."""
        self._write(
            "INSERT INTO secrets (account, ciphertext, updated) VALUES (?, ?, ?) "
            "ON CONFLICT (account) DO UPDATE SET ciphertext = excluded.ciphertext, "
            "updated = excluded.updated",
            account,
            ciphertext,
            now(),
        )

    def secret(self, account: str) -> bytes | None:
        """An account's encrypted secret, or None."""
        row = self._one("SELECT ciphertext FROM secrets WHERE account = ?", account)
        return bytes(row["ciphertext"]) if row else None
