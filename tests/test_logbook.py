"""Logging a message into the store: threads, contacts, attachments, direction, idempotence."""

from mail_factory import make

from hubsync.logbook import Direction, direction_of, log_manual
from hubsync.store import attachments as files
from hubsync.store import queries

OWN = ("alice@example.test",)


def test_a_message_logged_by_hand_starts_a_tracked_thread_with_its_people(store):
    raw = make(
        "<q@example.test>",
        sender="Alice <alice@example.test>",
        to="Bob Buyer <bob@customer.test>",
        cc="Carol <carol@p.test>",
    )
    outcome = log_manual(store, "alice", raw, OWN)
    assert outcome.message_pk is not None and outcome.contacts_created == 2
    assert store.tracked_ids("alice") == {"<q@example.test>": outcome.thread_id}
    row = store.message("alice", "<q@example.test>")
    assert (row["direction"], row["origin"], row["match_rule"]) == ("sent", "manual", "manual")
    people = {c["address"] for c in queries.contacts(store, "alice")}
    assert people == {"bob@customer.test", "carol@p.test"}, "never the account's own address"


def test_a_reply_logged_by_hand_joins_the_thread_it_answers(store):
    root = log_manual(store, "alice", make("<q@x>", sender="alice@example.test"), OWN)
    reply = log_manual(store, "alice", make("<r@x>", irt="<q@x>", refs="<q@x>"), OWN)
    assert reply.thread_id == root.thread_id
    row = store.message("alice", "<r@x>")
    assert (row["direction"], row["match_ref"]) == ("received", "<q@x>")


def test_logging_the_same_message_twice_changes_nothing(store):
    first = log_manual(store, "alice", make("<q@x>"), OWN)
    second = log_manual(store, "alice", make("<q@x>", body="edited"), OWN)
    assert second.message_pk is None and second.thread_id == first.thread_id
    assert queries.table_counts(store, "alice")["messages"] == 1
    logged = [e for e in store.events("alice") if e["kind"] == "logged"]
    assert len(logged) == 1


def test_attachments_are_stored_by_content_and_listed(store):
    data = b"%PDF-1.4 signed"
    outcome = log_manual(store, "alice", make("<a@x>", attachment=("signed.pdf", data)), OWN)
    assert outcome.attachments_logged == 1
    (row,) = queries.attachment_files(store)
    assert row["filename"] == "signed.pdf"
    assert store.attachment_bytes(row["sha256"]) == data
    assert store.verify_attachment(row["sha256"]) == "ok"
    # SQLite keeps the bytes in a file; a team store in the database (no shared disk needed)
    assert files.path_for(row["sha256"]).exists() == (store.kind == "sqlite")


def test_direction_compares_addresses_without_case():
    assert direction_of("Alice@Example.TEST", OWN) == Direction.SENT
    assert direction_of("bob@customer.test", OWN) == Direction.RECEIVED
    assert direction_of("", OWN) == Direction.RECEIVED
