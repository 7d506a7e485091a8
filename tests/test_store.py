"""The store on a real SQLite file and on PostgreSQL: schema, uniqueness, outbox journal,
positions, damage, an unreachable server."""

import sqlite3

import pytest

from hubsync.errors import StoreConflict, StoreError, UsageError
from hubsync.sending import OutboxState, SentCopy
from hubsync.store import open_store
from hubsync.store.schema import MIGRATIONS


def test_a_new_store_is_private_and_at_the_latest_schema(store, home):
    assert store.version == len(MIGRATIONS)
    assert store.integrity() == "ok"
    if store.kind == "sqlite":
        assert (home / "data" / "hubsync.sqlite3").stat().st_mode & 0o077 == 0
    else:  # nothing of a team store is written locally
        assert not (home / "data" / "hubsync.sqlite3").exists()


def test_two_stores_racing_for_one_idempotency_key_journal_one_message(store, home, request):
    if store.kind == "sqlite":
        second = open_store()
    else:
        second = open_store(url=request.getfixturevalue("postgres").url)
    try:
        assert store.outbox_add("a", "<1@y>", b"raw", "a@y", ["b@z"], "Hi", "Sent", "row-7")
        assert not second.outbox_add("a", "<2@y>", b"raw", "a@y", ["b@z"], "Hi", "Sent", "row-7")
        assert second.outbox_add("b", "<3@y>", b"raw", "b@y", ["b@z"], "Hi", "Sent", "row-7")
    finally:
        second.close()
    assert [e["message_id"] for e in store.outbox("a")] == ["<1@y>"]


@pytest.mark.servers
def test_an_unreachable_team_store_is_a_clear_error_without_the_password(home):
    from sandbox.ports import free_port

    url = f"postgresql://team:s3cret-pw@127.0.0.1:{free_port()}/hubsync"
    with pytest.raises(StoreError) as failed:
        open_store(url=url)
    assert failed.value.reason == "store-unreachable"
    assert "s3cret-pw" not in failed.value.message
    assert "postgresql://team@127.0.0.1" in failed.value.message
    assert "store_url" in failed.value.fix


def test_a_store_url_of_another_kind_is_refused(home):
    with pytest.raises(UsageError):
        open_store(url="mysql://x@y/z")
    sqlite_url = open_store(url=f"sqlite:///{home / 'elsewhere.sqlite3'}")
    assert sqlite_url.kind == "sqlite" and (home / "elsewhere.sqlite3").exists()
    sqlite_url.close()


def test_a_message_id_is_stored_once_per_account(store):
    with store.transaction() as conn:
        thread = store.new_thread(conn, "a", "Quote", "sent")
        first = store.add_message(
            conn, account="a", message_id="<x@y>", thread_id=thread, direction="sent", origin="sent"
        )
        again = store.add_message(
            conn, account="a", message_id="<x@y>", thread_id=thread, direction="sent", origin="sent"
        )
        other = store.new_thread(conn, "b", "Quote", "sent")
        elsewhere = store.add_message(
            conn, account="b", message_id="<x@y>", thread_id=other, direction="sent", origin="sent"
        )
    assert first and elsewhere and again is None
    assert store.tracked_ids("a") == {"<x@y>": thread}
    assert store.thread_of("b", "<x@y>") == other


def test_outbox_keeps_the_journal_states_and_json_fields(store):
    store.outbox_add("a", "<m@y>", b"raw", "a@y", ["b@z", "c@z"], "Hi", "Sent")
    store.outbox_update("<m@y>", OutboxState.SUBMITTING)
    store.outbox_update("<m@y>", OutboxState.SUBMITTED, accepted=["b@z"], refused={"c@z": "550"})
    (item,) = store.outbox("a", (OutboxState.SUBMITTED,))
    assert item["state"] == "submitted"
    assert (item["recipients"], item["accepted"], item["refused"]) == (
        ["b@z", "c@z"],
        ["b@z"],
        {"c@z": "550"},
    )
    store.outbox_update("<m@y>", OutboxState.FILED, sent_copy=SentCopy.APPENDED)
    assert store.outbox("a", (OutboxState.SUBMITTED,)) == []
    assert store.outbox("a")[0]["sent_copy"] == "appended"
    assert store.outbox_raw("<m@y>") == b"raw"


def test_sync_position_is_replaced_not_duplicated(store):
    store.set_sync_state("a", "INBOX", 5, 10, 99)
    store.set_sync_state("a", "INBOX", 6, 3, None)
    row = store.sync_state("a", "INBOX")
    assert (row["uidvalidity"], row["last_uid"], row["highestmodseq"]) == (6, 3, None)
    assert store.sync_state("a", "Sent") is None


def test_events_filter_by_account_kind_and_time(store):
    store.add_event("a", "sync", "ok")
    store.add_event("a", "connection", "auth-failed", detail="no")
    store.add_event("b", "sync", "ok")
    assert [e["reason"] for e in store.events("a")] == ["ok", "auth-failed"]
    assert [e["reason"] for e in store.events("a", ("connection",))] == ["auth-failed"]
    assert store.events("a", since="9999") == []


def test_facts_are_remembered_per_account(store):
    store.set_fact("a", "server_files_sent_copy", "no")
    store.set_fact("a", "server_files_sent_copy", "yes")
    assert store.fact("a", "server_files_sent_copy") == "yes"
    assert store.fact("b", "server_files_sent_copy") is None


def test_a_store_written_by_a_newer_hubsync_is_refused_untouched(home):
    path = home / "data" / "hubsync.sqlite3"
    open_store().close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError) as caught:
        open_store()
    assert caught.value.reason == "store-too-new"
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_database_is_a_clear_error(home):
    path = home / "data" / "hubsync.sqlite3"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StoreError) as caught:
        open_store()
    assert caught.value.reason == "store-corrupt"
    assert "doctor" in caught.value.fix


@pytest.mark.servers
def test_a_pooled_team_store_serves_many_threads_with_few_connections(home, postgres):
    import threading

    import psycopg
    from mail_factory import make

    from hubsync.logbook import log_manual

    postgres.reset()
    shared = open_store(url=postgres.url, pool=3)
    failures = []

    def log_many(n: int) -> None:
        try:
            for i in range(15):
                log_manual(shared, f"acct{n}", make(f"<m{n}-{i}@x>"), ())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=log_many, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    with psycopg.connect(postgres.url) as conn:
        logged = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        connections = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'hubsync' AND pid <> "
            "pg_backend_pid()"
        ).fetchone()[0]
    shared.close()
    assert failures == []
    assert logged == 8 * 15
    assert connections <= 3


@pytest.mark.servers
def test_many_processes_opening_a_new_team_store_at_once_migrate_it_once(home, postgres):
    import threading

    postgres.reset()
    opened, failures = [], []

    def open_one() -> None:
        try:
            opened.append(open_store(url=postgres.url))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert failures == []
    assert [s.version for s in opened] == [len(MIGRATIONS)] * 6
    for s in opened:
        s.close()


def test_a_store_others_can_write_is_refused_with_the_fix(tmp_path):
    """#23: config, store and key files with group/other write bits are refused."""
    import os

    from hubsync.errors import StoreError
    from hubsync.store import open_store

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # noqa: S103 (a shared folder such as /tmp, on purpose)
    path = shared / "log.sqlite3"
    open_store(url=f"sqlite:///{path}").close()
    assert os.stat(shared).st_mode & 0o7777 == 0o1777  # the user's folder keeps its mode
    assert os.stat(path).st_mode & 0o777 == 0o600
    os.chmod(path, 0o666)  # noqa: S103 (the attack: anyone may rewrite the log)
    with pytest.raises(StoreError) as refused:
        open_store(path)
    assert refused.value.reason == "store-unsafe"
    assert refused.value.fix == f"chmod go-w '{path.resolve()}'"


def test_a_duplicate_row_is_a_store_conflict_on_both_databases(store):
    """Decided on the class, never on the text (SQLite said "store-failed" before)."""
    store._write("INSERT INTO workers (owner, heartbeat_ms) VALUES (?, ?)", "w", 1)
    with pytest.raises(StoreConflict):
        store._write("INSERT INTO workers (owner, heartbeat_ms) VALUES (?, ?)", "w", 2)


def test_tls_contexts_are_shared_per_ca_file_and_rebuilt_when_it_changes(tmp_path):
    """#25 item 5: a worker watching many inboxes builds one verifying context per CA file,
    not one per session (each holds the system's CA store)."""
    import os

    from hubsync.mail.tls import client_context

    assert client_context() is client_context()
    ca = tmp_path / "ca.pem"
    from sandbox.ca import CertAuthority

    authority = CertAuthority(tmp_path / "ca")
    ca.write_bytes(authority.cert_path.read_bytes())
    first = client_context(str(ca))
    assert client_context(str(ca)) is first and first is not client_context()
    stat = ca.stat()
    os.utime(ca, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert client_context(str(ca)) is not first  # the file changed: read again
