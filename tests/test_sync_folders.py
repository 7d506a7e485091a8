"""Every folder a reply can land in, and a sync position that only moves to what the server
returned (the sync engine in process: an in-memory mailbox and a real store)."""

import dataclasses
from pathlib import Path

from mail_factory import make
from memory_mailbox import ACCOUNT, MemoryMailbox

from hubsync import doctor, environment, reports
from hubsync.logbook import log_manual
from hubsync.sync import engine

ALL_FOLDERS = dataclasses.replace(ACCOUNT, watched_folders=["*"])
QUOTE = "<quote@example.test>"


def tracked_box(store) -> MemoryMailbox:
    log_manual(store, "alice", make(QUOTE, sender="alice@example.test"), ())
    box = MemoryMailbox()
    box.add_folder("Customers")
    box.add_folder("Trash", "\\Trash")
    return box


def reply(n: int) -> bytes:
    return make(f"<r{n}@customer.test>", irt=QUOTE, subject="Re: Quote")


def logged(store) -> list[str]:
    return sorted(
        r["message_id"] for r in store.db.execute("SELECT message_id FROM messages").fetchall()
    )


def test_a_reply_filed_straight_into_a_label_folder_is_logged(store):
    box = tracked_box(store)
    box.deliver("Customers", reply(1))  # a "skip the inbox" filter
    report = engine.sync_mailbox(box, store, ALL_FOLDERS)
    assert store.message("alice", "<r1@customer.test>")["folder"] == "Customers"
    assert [f.folder for f in report.folders] == ["INBOX", "Sent", "Customers"]


def test_an_account_that_reads_only_inbox_misses_it_and_why_says_where_it_waits(store):
    box = tracked_box(store)
    box.deliver("Customers", reply(1))
    engine.sync_mailbox(box, store, ACCOUNT)  # watched_folders = ["INBOX"], as accounts had
    assert store.message("alice", "<r1@customer.test>") is None
    live = {"in_reply_to": QUOTE, "references": [], "folder": "Customers", "watched": False}
    verdict = reports.why(store, "alice", "<r1@customer.test>", live)
    assert (verdict.rule, verdict.found_in, verdict.ref) == (
        "folder-not-watched",
        "Customers",
        QUOTE,
    )
    assert "accounts set --folders all" in verdict.explanation
    assert not verdict.logged


def test_why_tells_a_reply_waiting_for_the_next_sync_from_unrelated_mail(store):
    tracked_box(store)
    waiting = {"in_reply_to": "", "references": ["<x@a.test>", QUOTE], "folder": "INBOX"}
    verdict = reports.why(store, "alice", "<r1@customer.test>", waiting)
    assert (verdict.rule, verdict.ref, verdict.found_in) == ("pending", QUOTE, "INBOX")
    assert "References" in verdict.explanation and "next sync" in verdict.explanation
    unrelated = {"in_reply_to": "<other@a.test>", "references": [], "folder": "INBOX"}
    assert reports.why(store, "alice", "<u@a.test>", unrelated).rule == "no-match"
    elsewhere = {**unrelated, "folder": "Customers", "watched": False}
    verdict = reports.why(store, "alice", "<u@a.test>", elsewhere)
    assert verdict.rule == "no-match" and "sync does not read" in verdict.explanation


def test_a_reply_moved_before_the_sync_is_logged_once_and_moving_it_again_logs_nothing(store):
    box = tracked_box(store)
    uid = box.deliver("INBOX", reply(1))
    box.move(uid, "INBOX", "Customers")  # the laptop was off; the user filed it
    first = engine.sync_mailbox(box, store, ALL_FOLDERS)
    assert first.total("logged") == 1
    box.move(1, "Customers", "INBOX")  # filed back: already in the log
    again = engine.sync_mailbox(box, store, ALL_FOLDERS)
    assert again.total("logged") == 0 and again.total("already_logged") == 1
    assert logged(store) == ["<quote@example.test>", "<r1@customer.test>"]


def test_the_same_reply_in_two_watched_folders_is_logged_once(store):
    box = tracked_box(store)
    box.deliver("INBOX", reply(1))
    box.deliver("Customers", reply(1))  # a copy, or a label
    report = engine.sync_mailbox(box, store, ALL_FOLDERS)
    assert report.total("logged") == 1 and report.total("already_logged") == 1


def test_a_reply_whose_parent_is_logged_later_in_the_same_sync_is_logged(store):
    box = tracked_box(store)
    # Bob answers (In-Reply-To only) a message that sits in a folder synced after INBOX.
    box.deliver("Customers", make("<p@customer.test>", irt=QUOTE, subject="Re: Quote"))
    box.deliver("INBOX", make("<c@customer.test>", irt="<p@customer.test>", subject="Re: Quote"))
    report = engine.sync_mailbox(box, store, ALL_FOLDERS)
    assert report.total("logged") == 2 and report.folders[0].caught_up


def test_a_reply_whose_parent_appears_only_in_a_later_sync_is_logged(store):
    box = tracked_box(store)
    # The parent is out of sight (being moved) while its In-Reply-To-only reply is scanned.
    hidden = make("<p@customer.test>", irt=QUOTE, subject="Re: Quote")
    box.deliver("INBOX", make("<c@customer.test>", irt="<p@customer.test>", subject="Re: Quote"))
    engine.sync_mailbox(box, store, ALL_FOLDERS)
    assert store.message("alice", "<c@customer.test>") is None
    box.deliver("Customers", hidden)  # the move ends
    engine.sync_mailbox(box, store, ALL_FOLDERS)
    assert store.message("alice", "<c@customer.test>") is not None, "the second scan finds it"


def test_trash_is_not_read(store):
    box = tracked_box(store)
    box.deliver("Trash", reply(1))
    report = engine.sync_mailbox(box, store, ALL_FOLDERS)
    assert "Trash" not in [f.folder for f in report.folders]
    assert store.message("alice", "<r1@customer.test>") is None


def test_a_far_ahead_uidnext_never_becomes_the_position(store):
    box = tracked_box(store)
    for n in range(3):
        box.deliver("INBOX", reply(n))
    box.claim_ahead = 3_000_000_000  # the server misreports UIDNEXT once
    engine.sync_mailbox(box, store, ACCOUNT, batch=5)
    assert box.searches <= 2, "empty UID ranges are skipped with one search, not walked"
    assert store.sync_state("alice", "INBOX")["last_uid"] == 3, "only UIDs it returned"
    box.deliver("INBOX", reply(9))  # the server is honest again
    report = engine.sync_mailbox(box, store, ACCOUNT, batch=5)
    assert store.message("alice", "<r9@customer.test>") is not None
    assert report.total("logged") == 1


def test_a_position_past_the_servers_uidnext_is_wrong_rescans_and_says_so(store, home):
    box = tracked_box(store)
    box.deliver("INBOX", reply(1))
    box.deliver("INBOX", reply(2))
    # What an older hubsync saved after a server claimed UIDNEXT 3,000,000,000.
    store.set_sync_state("alice", "INBOX", 1, 60_690_004)
    report = engine.sync_mailbox(box, store, ACCOUNT)
    inbox = report.folders[0]
    assert inbox.position_reset and inbox.logged == 2
    assert store.sync_state("alice", "INBOX")["last_uid"] == 2
    events = store.db.execute("SELECT reason, detail FROM events WHERE reason = 'position-ahead'")
    assert "60690004" in events.fetchall()[0]["detail"].replace(",", "")
    with environment.use(environment.Environment(home=Path(home), password="x")):
        found = {c.id: c for c in doctor.run(ACCOUNT, store, offline=True)}
    assert found["sync-position"].reason == "position-ahead"
    assert found["idle"].status == "pass" and "within seconds" in found["idle"].evidence


def test_a_folder_whose_newest_mail_was_moved_away_stays_unchanged_on_status_alone(store):
    box = tracked_box(store)
    box.deliver("INBOX", reply(1))
    top = box.deliver("INBOX", make("<x@elsewhere.test>", subject="Lunch?"))
    engine.sync_mailbox(box, store, ACCOUNT)
    engine.sync_mailbox(box, store, ACCOUNT)  # every message is scanned by two syncs
    box.move(top, "INBOX", "Customers")  # UIDNEXT stays; the highest UID is gone
    box.examined.clear()
    box.selected = None
    # (the keyword way would look again: the move changed the folder's HIGHESTMODSEQ)
    report = engine.sync_mailbox(box, store, dataclasses.replace(ACCOUNT, log_keyword=""))
    assert report.folders[0].unchanged and "INBOX" not in box.examined


def test_a_large_folder_passed_over_is_rescanned_only_from_where_a_late_parent_is_named():
    """The first sync of a large folder notes every id its passed-over replies name; a
    parent logged later must send the catch-up back to the range that named it, not to
    wherever the notes ran out (they stopped at 200,000 ids: a 1,000,000-message folder was
    scanned again from UID 400,001 for nothing)."""
    skipped = engine.Skipped("INBOX", 0)
    for uid in range(1, 600_001):  # 600,000 replies to messages hubsync does not track
        first = uid - (uid - 1) % 5000
        skipped.note([b"<m%d@x>" % uid, b"<p%d@x>" % (uid // 2)], first)
    assert skipped.overflow_from is None
    assert skipped.rescan_from(["<p250000@x>"]) == 495_001  # named at UIDs 500,000-500,001
    assert skipped.rescan_from(["<nobody@x>"]) is None
    held = sum(len(a) * a.itemsize for a in (skipped.hashes, skipped.firsts))
    assert held <= 12 * 1_200_000  # 12 bytes per id noted
