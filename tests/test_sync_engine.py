"""The sync engine in process, on an in-memory mailbox and a real store: bad messages never
block the ones after them."""

from pathlib import Path

from mail_factory import make
from memory_mailbox import ACCOUNT, MemoryMailbox

from hubsync import doctor, environment, reports
from hubsync.logbook import log_manual
from hubsync.sync import engine


def deeply_nested(levels: int) -> bytes:
    body = b"Content-Type: text/plain\r\n\r\nhello"
    for i in range(levels):
        b = b"b%d" % i
        body = (
            b"Content-Type: multipart/mixed; boundary="
            + b
            + b"\r\n\r\n--"
            + b
            + b"\r\n"
            + body
            + b"\r\n--"
            + b
            + b"--\r\n"
        )
    return (
        b"From: bob@customer.test\r\nTo: alice@example.test\r\nSubject: Re: Quote\r\n"
        b"Message-ID: <deep@customer.test>\r\nIn-Reply-To: <q@example.test>\r\n"
        b"MIME-Version: 1.0\r\n" + body
    )


def test_a_bad_reply_is_recorded_and_the_replies_after_it_are_logged(store, home):
    log_manual(store, "alice", make("<q@example.test>", sender="alice@example.test"), ())
    box = MemoryMailbox()
    # Matched through In-Reply-To, but not a mail message at all (no From, Subject, Date).
    box.deliver("INBOX", b"In-Reply-To: <q@example.test>\r\nX-Junk: 1\r\n\r\n\x00\x01")
    box.deliver("INBOX", deeply_nested(2000))
    box.deliver("INBOX", make("<ok@customer.test>", irt="<q@example.test>", subject="Re: Quote"))
    report = engine.sync_mailbox(box, store, ACCOUNT)
    inbox = report.folders[0]
    assert (inbox.logged, inbox.unreadable) == (2, 1)
    assert store.message("alice", "<ok@customer.test>") is not None
    deep = store.message("alice", "<deep@customer.test>")
    assert "nested" in deep["attachments_note"], "logged with its header, the body left alone"
    assert store.sync_state("alice", "INBOX")["last_uid"] == 3, "the position moved past it"

    errors = reports.logging_report(store, "alice").errors
    assert [e["reason"] for e in errors] == ["unreadable"]
    assert "INBOX UID 1" in errors[0]["detail"]
    with environment.use(environment.Environment(home=Path(home), password="x")):
        checks = {c.id: c for c in doctor.run(ACCOUNT, store, offline=True)}
    assert checks["unreadable-messages"].status == "warn"


def test_two_messages_without_a_message_id_are_two_messages(store):
    log_manual(store, "alice", make("<q@example.test>", sender="alice@example.test"), ())
    box = MemoryMailbox()
    for text in ("I accept.", "Actually, I cancel."):
        raw = make("<x@y>", irt="<q@example.test>", body=text).replace(
            b"Message-ID: <x@y>\r\n", b""
        )
        assert b"Message-ID" not in raw
        box.deliver("INBOX", raw)
    report = engine.sync_mailbox(box, store, ACCOUNT)
    assert report.folders[0].logged == 2
    bodies = {
        m["message_id"]: m["body"]
        for m in (store.message("alice", i) for i in store.tracked_ids("alice"))
        if m["origin"] == "reply"
    }
    assert sorted(bodies.values()) == ["Actually, I cancel.", "I accept."]


def sync_again(box: MemoryMailbox, store, folders: list[str], settle: bool = True):
    """A sync in a new session (nothing selected yet), as each `hubsync sync` run is, of
    every watched folder. Every message is scanned by two such syncs (a reply whose parent
    was logged only later is found by the second), so with ``settle`` the second one runs
    first and the result is the sync after it."""
    if settle:
        sync_again(box, store, folders, settle=False)
        box.examined.clear()
    box.selected = None
    return engine.sync_mailbox(box, store, ACCOUNT, folders, complete=True)


def test_folders_without_new_mail_are_skipped_on_status_alone(store):
    log_manual(store, "alice", make("<q@example.test>", sender="alice@example.test"), ())
    box = MemoryMailbox()
    for name in ("Projects", "Archive"):
        box.folders[name], box.uidvalidity[name], box.uidnext[name] = {}, 7, 1
        box.deliver(name, make(f"<{name}@x.test>", subject=name))
    folders = ["INBOX", "Projects", "Archive"]
    first = engine.sync_mailbox(box, store, ACCOUNT, folders, complete=True)
    assert [f.unchanged for f in first.folders] == [False, False, False]
    box.examined.clear()

    # nothing new: no folder is selected, the positions stay
    again = sync_again(box, store, folders)
    assert box.examined == [] and all(f.unchanged for f in again.folders)
    assert [f.last_uid for f in again.folders] == [0, 1, 1]

    # a reply in one folder: only that folder is selected, and the reply is logged
    box.deliver("Archive", make("<r@customer.test>", irt="<q@example.test>", subject="Re: x"))
    third = sync_again(box, store, folders, settle=False)
    assert box.examined == ["Archive"] and third.total("logged") == 1
    box.examined.clear()

    # a new UIDVALIDITY is a change too: rescanned (nothing logged twice)
    sync_again(box, store, folders, settle=False)  # the second scan of the reply
    box.examined.clear()
    box.renumber("Projects")
    fourth = sync_again(box, store, folders, settle=False)
    assert box.examined == ["Projects"] and fourth.folders[1].uidvalidity_changed
    assert fourth.total("logged") == 0
    box.examined.clear()

    # a server whose STATUS cannot say: every folder is examined, as before
    box.status_fields = False
    sync_again(box, store, folders, settle=False)
    assert box.examined == folders


class Crash(Exception):
    """The process dies here."""


def test_a_range_commits_its_messages_and_its_position_together(store, monkeypatch):
    """#25 item 3: a crash after a message of a range was logged, before the position moved
    past the range, leaves neither (one transaction): the next sync logs it, once."""
    log_manual(store, "alice", make("<q@example.test>", sender="alice@example.test"), ())
    box = MemoryMailbox()
    for n in range(3):
        box.deliver("INBOX", make(f"<r{n}@customer.test>", irt="<q@example.test>"))
    engine.sync_mailbox(box, store, ACCOUNT)  # the first three, logged and committed
    before = store.sync_state("alice", "INBOX")["last_uid"]
    box.deliver("INBOX", make("<late1@customer.test>", irt="<q@example.test>"))
    box.deliver("INBOX", make("<late2@customer.test>", irt="<q@example.test>"))
    logged = []

    def crash_after_first(name: str) -> None:
        logged.append(name)
        if len(logged) == 1:
            raise Crash

    monkeypatch.setattr(engine, "fault_point", crash_after_first)
    try:
        engine.sync_mailbox(box, store, ACCOUNT)
    except Crash:
        pass
    assert logged, "the crash came after a message was logged"
    assert store.message("alice", "<late1@customer.test>") is None  # rolled back with...
    assert store.message("alice", "<late2@customer.test>") is None
    assert store.sync_state("alice", "INBOX")["last_uid"] == before  # ...the position
    monkeypatch.setattr(engine, "fault_point", lambda name: None)
    report = engine.sync_mailbox(box, store, ACCOUNT)
    assert report.total("logged") == 2
    ids = [m.message_id for m in report.messages]
    assert sorted(ids) == ["<late1@customer.test>", "<late2@customer.test>"]
    assert store.sync_state("alice", "INBOX")["last_uid"] == before + 2


def test_a_watch_waits_out_a_busy_or_unreachable_store(store, monkeypatch):
    """A long writer holding SQLite's lock (StoreBusy), or a database away
    (StoreUnreachable): the watch says store-lost and tries again; it does not end."""
    import threading

    from hubsync.errors import StoreBusy, StoreUnreachable
    from hubsync.sync import watch

    stop = threading.Event()
    failures = [StoreBusy("busy"), StoreUnreachable("away")]
    attempts = []

    def session(*args, **kwargs):
        attempts.append(1)
        if failures:
            raise failures.pop(0)
        stop.set()  # the third attempt: enough seen
        raise StoreUnreachable("away")

    said = []
    monkeypatch.setattr(watch, "session", session)
    monkeypatch.setattr(watch.verdict, "store_backoff", lambda attempt, jitter: 0.01)
    watch.watch(
        store, ACCOUNT, "pw", None, lambda r: None, lambda m, d: None,
        stop=stop, on_store=lambda state, detail: said.append(state),
    )  # fmt: skip
    assert len(attempts) == 3 and said == ["store-lost"]
