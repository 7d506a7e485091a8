"""Schema versions. Each migration moves the database one version up, inside a transaction.

The same migrations run on SQLite and PostgreSQL: ``{pk}``, ``{bigint}`` and ``{blob}`` are
filled in per database (hubsync/store/database.py). Integers are 64-bit on both (UIDVALIDITY
and UIDs reach 2^32 - 1, MODSEQ 2^63)."""

MIGRATIONS = [
    # version 1
    """
    CREATE TABLE sync_state (
        account TEXT NOT NULL, folder TEXT NOT NULL,
        uidvalidity {bigint}, last_uid {bigint} NOT NULL DEFAULT 0, highestmodseq {bigint},
        last_sync TEXT, PRIMARY KEY (account, folder));
    CREATE TABLE threads (
        id {pk}, account TEXT NOT NULL, subject TEXT, origin TEXT NOT NULL,
        created TEXT NOT NULL, split_from {bigint});
    CREATE TABLE messages (
        id {pk}, account TEXT NOT NULL, message_id TEXT NOT NULL,
        thread_id {bigint} NOT NULL REFERENCES threads(id), direction TEXT NOT NULL,
        origin TEXT NOT NULL, match_rule TEXT, match_ref TEXT,
        folder TEXT, uid {bigint}, date TEXT, from_addr TEXT, from_name TEXT,
        to_addrs TEXT NOT NULL DEFAULT '[]', cc_addrs TEXT NOT NULL DEFAULT '[]',
        subject TEXT, body TEXT, raw {blob}, size {bigint},
        in_reply_to TEXT, refs TEXT NOT NULL DEFAULT '[]', logged_at TEXT NOT NULL,
        attachments_note TEXT,
        UNIQUE (account, message_id));
    CREATE INDEX messages_thread ON messages(thread_id);
    CREATE TABLE contacts (
        id {pk}, account TEXT NOT NULL, address TEXT NOT NULL, name TEXT,
        first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, UNIQUE (account, address));
    CREATE TABLE attachments (
        id {pk}, message_pk {bigint} NOT NULL REFERENCES messages(id),
        filename TEXT, mime_type TEXT, size {bigint} NOT NULL, sha256 TEXT NOT NULL);
    CREATE INDEX attachments_message ON attachments(message_pk);
    CREATE TABLE events (
        id {pk}, account TEXT, at TEXT NOT NULL, kind TEXT NOT NULL,
        reason TEXT NOT NULL, message_id TEXT, detail TEXT);
    CREATE INDEX events_account ON events(account, at);
    CREATE TABLE outbox (
        id {pk}, account TEXT NOT NULL, message_id TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL, raw {blob} NOT NULL, sender TEXT NOT NULL, recipients TEXT NOT NULL,
        subject TEXT, sent_folder TEXT, sent_copy TEXT, accepted TEXT, refused TEXT,
        error TEXT, created TEXT NOT NULL, updated TEXT NOT NULL);
    CREATE TABLE server_facts (
        account TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated TEXT NOT NULL,
        PRIMARY KEY (account, key));
    """,
    # 2: a send's idempotency key (a second send with the same key sends nothing) and the
    # campaign a sent thread belongs to (`send --campaign`, `report --campaign`).
    """
    ALTER TABLE outbox ADD COLUMN idempotency_key TEXT;
    CREATE UNIQUE INDEX outbox_idempotency ON outbox(account, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    ALTER TABLE threads ADD COLUMN campaign TEXT;
    CREATE INDEX threads_campaign ON threads(account, campaign) WHERE campaign IS NOT NULL;
    """,
    # 3: leases for `hubsync worker`: which worker watches which account, until when
    # (milliseconds since the epoch by the worker's clock; a lease not renewed is taken over).
    """
    CREATE TABLE leases (
        account TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_ms {bigint} NOT NULL,
        claimed TEXT NOT NULL);
    """,
    # 4: attachment bytes in the database, content-addressed (a team store needs no shared
    # file system; the 50 MB email limit keeps each well within PostgreSQL's limits). The
    # SQLite store keeps its attachment files in the data directory and leaves this empty.
    """
    CREATE TABLE attachment_blobs (sha256 TEXT PRIMARY KEY, data {blob} NOT NULL);
    """,
    # 5: an account's secret for `hubsync worker`, encrypted (Fernet) with a key file that
    # only the workers hold (HUBSYNC_SECRET_KEY_FILE); the database never sees it in clear.
    """
    CREATE TABLE secrets (account TEXT PRIMARY KEY, ciphertext {blob} NOT NULL,
        updated TEXT NOT NULL);
    """,
    # 6: what the server claimed when a folder's position was saved (UIDNEXT - 1 and the
    # message count). The position itself is the highest UID the server returned, so a
    # folder whose newest messages were moved away is still "unchanged" while the server
    # claims the same again; a claim it never backed with a message moves no position.
    """
    ALTER TABLE sync_state ADD COLUMN claimed_last_uid {bigint};
    ALTER TABLE sync_state ADD COLUMN claimed_exists {bigint};
    """,
    # 7: every message is scanned by two complete syncs (syncs that covered every watched
    # folder and finished): ``new_from`` is where the new territory of the syncs since the
    # last complete one begins, ``rescan_from`` where the last complete one's began. A reply
    # passed over because the message it answers was logged only later (from another folder,
    # or moved in after it) is found by the second scan; an interrupted sync loses nothing.
    """
    ALTER TABLE sync_state ADD COLUMN rescan_from {bigint};
    ALTER TABLE sync_state ADD COLUMN new_from {bigint};
    """,
    # 8: live workers (a heartbeat each round, by the database's clock): each worker aims at
    # its fair share of the accounts, ceil(accounts / live workers). Lease times are the
    # database's clock from now on too (migration 3 spoke of the worker's).
    """
    CREATE TABLE workers (owner TEXT PRIMARY KEY, heartbeat_ms {bigint} NOT NULL);
    """,
]
