"""The store on a real SQLite file: schema, uniqueness, outbox journal, positions, damage."""

import sqlite3

import pytest

from hubsync.errors import StoreError
from hubsync.sending import OutboxState, SentCopy
from hubsync.store import open_store
from hubsync.store.schema import MIGRATIONS


def test_a_new_store_is_private_and_at_the_latest_schema(store, home):
    assert store.version == len(MIGRATIONS)
    assert (home / "data" / "hubsync.sqlite3").stat().st_mode & 0o077 == 0
    assert store.integrity() == "ok"


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
