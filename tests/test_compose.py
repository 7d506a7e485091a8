"""Composing outgoing mail: address lists, refused control characters, reply headers."""

import pytest
from mail_factory import make

from hubsync.errors import MessageError, UsageError
from hubsync.logbook import log_manual
from hubsync.mail import compose
from hubsync.sending import reply_headers


def draft(**changes):
    values = {
        "sender": "alice@example.test",
        "sender_name": "Alice",
        "to": ["bob@customer.test"],
        "subject": "Quote",
        "body": "Hello",
    }
    return compose.Draft(**{**values, **changes})


def test_a_comma_separated_list_is_every_recipient_in_headers_and_envelope():
    d = draft(to=["bob@customer.test, Carol Partner <carol@partner.test>"], cc=["d@x.test"])
    msg = compose.build(d, "example.test")
    assert d.recipients == ["bob@customer.test", "carol@partner.test", "d@x.test"]
    assert msg["To"] == "bob@customer.test, Carol Partner <carol@partner.test>"


def test_one_bad_address_in_a_list_refuses_the_send():
    with pytest.raises(UsageError) as caught:
        compose.build(draft(to=["bob@customer.test, not-an-address"]), "example.test")
    assert caught.value.reason == "bad-address"


@pytest.mark.parametrize("char", ["\r", "\n", "\0", "\x0b", "\x0c", "\x1b", "\u2028", "\x85"])
def test_control_characters_in_a_subject_are_refused_before_anything_is_sent(char):
    with pytest.raises(MessageError) as caught:
        compose.build(draft(subject=f"Quote{char}Bcc: evil@x.test"), "example.test")
    assert caught.value.reason == "header-injection"
    assert f"U+{ord(char):04X}" in caught.value.message


def test_a_tab_in_a_subject_is_fine():
    assert compose.build(draft(subject="Quote\tv2"), "example.test")["Subject"] == "Quote\tv2"


def test_reply_headers_accept_an_id_typed_without_brackets(store):
    log_manual(store, "alice", make("<q@x.test>", refs="<r0@x.test>"), ())
    assert reply_headers(store, "alice", " q@x.test ") == (
        "<q@x.test>",
        ["<r0@x.test>", "<q@x.test>"],
    )


def test_a_reply_to_a_message_not_in_the_log_is_refused(store):
    with pytest.raises(UsageError) as caught:
        reply_headers(store, "alice", "<unknown@x.test>")
    assert caught.value.reason == "no-such-message" and "hubsync log" in caught.value.fix
    with pytest.raises(UsageError) as caught:
        reply_headers(store, "alice", "two words@x")
    assert caught.value.reason == "bad-message-id"


def test_a_submitted_message_a_crash_left_untracked_is_tracked_by_the_retry(store):
    from hubsync import config as cfg
    from hubsync.sending import OutboxState, retry_filing

    raw = make("<s@example.test>", sender="alice@example.test", to="bob@customer.test")
    store.outbox_add("alice", "<s@example.test>", raw, "alice@example.test", ["b@x"], "Q", "Sent")
    store.outbox_update("<s@example.test>", OutboxState.SUBMITTED)
    store.outbox_add("alice", "<old@example.test>", raw, "alice@example.test", ["b"], "Q", None)
    store.db.execute(
        "UPDATE outbox SET updated = '2000-01-01' WHERE message_id = ?", ("<old@example.test>",)
    )
    account = cfg.Account(
        "alice", "alice@example.test", "alice", "127.0.0.1", 1, sent_folder="Sent"
    )
    retried = retry_filing(store, account, "pw")  # nothing listens on port 1: filing fails
    assert [r["state"] for r in retried] == ["filing-failed"]
    assert store.message("alice", "<s@example.test>")["origin"] == "sent", "now tracked"
    states = {i["message_id"]: i["state"] for i in store.outbox("alice")}
    assert states["<old@example.test>"] == "failed", "a queued entry of a dead run is settled"
    assert store.outbox("alice", (OutboxState.QUEUED,)) == []


@pytest.mark.parametrize("kind", ["device", "fifo", "folder", "huge"])
def test_an_attachment_that_is_not_a_bounded_regular_file_is_refused_unread(tmp_path, kind):
    """#23 item 10: `--attach /dev/zero` ended in MemoryError; a FIFO would block forever."""
    import os

    path = tmp_path / "thing"
    if kind == "device":
        path = compose.Path("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        with path.open("wb") as sparse:  # 600 MB that takes no disk
            sparse.truncate(compose.MAX_ATTACHMENT_BYTES + 1)
    with pytest.raises(UsageError) as refused:
        compose.build(draft(attachments=[path]), "example.test")
    expected = "attachment-too-large" if kind == "huge" else "attachment-unreadable"
    assert refused.value.reason == expected
    assert str(path) in refused.value.message


def test_a_regular_attachment_is_attached_whole(tmp_path):
    path = tmp_path / "quote.pdf"
    path.write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 40)
    msg = compose.build(draft(attachments=[path]), "example.test")
    (part,) = list(msg.iter_attachments())
    assert part.get_filename() == "quote.pdf" and part.get_content() == path.read_bytes()
