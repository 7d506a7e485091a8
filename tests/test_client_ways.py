"""Logging from the user's own mail client (sync/client_ways.py, sync/client_log.py): the
decisions as pure functions, and the sync engine in process over an in-memory mailbox."""

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mail_factory import make
from memory_mailbox import ACCOUNT, MemoryMailbox

from hubsync import reports
from hubsync.mail.sent_folder import Folder
from hubsync.sync import engine
from hubsync.sync.client_ways import (
    ClientWays,
    address_search,
    candidate,
    choose,
    keyword_allowed,
    keyword_search,
    keyword_variants,
    log_folder_among,
    resolve_log_folder,
    ways_of,
)
from hubsync.sync.matching import MatchRule

ALICE = "alice@example.test"
PLUS = "alice+crm@example.test"
WAYS = dataclasses.replace(ACCOUNT, log_address=PLUS)


def box_with_crm() -> MemoryMailbox:
    box = MemoryMailbox()
    box.add_folder("CRM")
    return box


def rows(store) -> dict[str, dict]:
    found = store.db.execute("SELECT message_id, match_rule, direction, folder FROM messages")
    return {r["message_id"]: dict(r) for r in found.fetchall()}


def contacts(store) -> set[str]:
    return {r["address"] for r in store.db.execute("SELECT address FROM contacts").fetchall()}


# -- the engine over an in-memory mailbox ---------------------------------------------------


def test_a_message_moved_into_the_crm_folder_is_logged_and_its_reply_too(store):
    box = box_with_crm()
    uid = box.deliver("INBOX", make("<lead@customer.test>", subject="Interested"))
    engine.sync_mailbox(box, store, ACCOUNT)
    assert rows(store) == {}  # unrelated mail leaves no trace
    box.move(uid, "INBOX", "CRM")  # the user drags it into the CRM folder
    report = engine.sync_mailbox(box, store, ACCOUNT)
    logged = rows(store)["<lead@customer.test>"]
    assert (logged["match_rule"], logged["folder"], logged["direction"]) == (
        "log-folder",
        "CRM",
        "received",
    )
    assert report.by_way() == {"log-folder": 1} and "CRM" in [f.folder for f in report.folders]
    assert contacts(store) == {"bob@customer.test"}
    # the user answers it in their client; the customer's reply lands in INBOX
    box.deliver("INBOX", make("<re@customer.test>", irt="<lead@customer.test>"))
    engine.sync_mailbox(box, store, ACCOUNT)
    assert rows(store)["<re@customer.test>"]["match_rule"] == "in-reply-to"
    again = engine.sync_mailbox(box, store, ACCOUNT)
    assert again.total("logged") == 0  # logged once, whatever the syncs after


def test_an_outgoing_message_in_the_crm_folder_starts_a_tracked_thread(store):
    box = box_with_crm()
    box.deliver("CRM", make("<offer@example.test>", sender=ALICE, to="carol@buyer.test"))
    box.deliver(
        "INBOX", make("<ans@buyer.test>", sender="carol@buyer.test", irt="<offer@example.test>")
    )
    engine.sync_mailbox(box, store, ACCOUNT)
    found = rows(store)
    assert found["<offer@example.test>"]["direction"] == "sent"
    # the reply sat in INBOX, synced before CRM: the catch-up logs it in the same sync
    assert found["<ans@buyer.test>"]["match_rule"] == "in-reply-to"


def test_a_keyword_set_on_an_old_message_is_logged_by_the_next_sync(store):
    box = MemoryMailbox()
    old = box.deliver("INBOX", make("<old@customer.test>"))
    sent = box.deliver("Sent", make("<mine@example.test>", sender=ALICE, to="dan@d.test"))
    engine.sync_mailbox(box, store, ACCOUNT)
    engine.sync_mailbox(box, store, ACCOUNT)
    assert rows(store) == {}
    box.tag("INBOX", old, "$CRM")  # Thunderbird's tag, long after the message came
    box.tag("Sent", sent, "$crm")  # any case
    report = engine.sync_mailbox(box, store, ACCOUNT)
    assert {k: v["match_rule"] for k, v in rows(store).items()} == {
        "<old@customer.test>": "keyword",
        "<mine@example.test>": "keyword",
    }
    assert report.by_way() == {"keyword": 2}
    # nothing changed since: no folder is searched again where HIGHESTMODSEQ says so
    box.client_searches = 0
    engine.sync_mailbox(box, store, ACCOUNT)
    assert box.client_searches == 0


def test_without_condstore_the_keyword_is_searched_on_every_sync(store):
    box = MemoryMailbox()
    box.condstore = False
    old = box.deliver("INBOX", make("<old@customer.test>"))
    engine.sync_mailbox(box, store, ACCOUNT)
    engine.sync_mailbox(box, store, ACCOUNT)
    box.tag("INBOX", old, "$CRM")
    engine.sync_mailbox(box, store, ACCOUNT)
    assert rows(store)["<old@customer.test>"]["match_rule"] == "keyword"


def test_a_message_bcc_to_the_plus_address_is_logged_once_as_outgoing(store):
    box = MemoryMailbox()
    raw = make("<bcc@example.test>", sender=ALICE, to="erin@e.test", subject="Proposal")
    box.deliver("Sent", raw)  # the client's own Sent copy
    box.deliver("INBOX", b"Delivered-To: " + PLUS.encode() + b"\r\n" + raw)  # the Bcc copy
    box.deliver("INBOX", make("<nope@x.test>", to="malice+crm@example.test"))  # substring only
    report = engine.sync_mailbox(box, store, WAYS)
    found = rows(store)
    assert set(found) == {"<bcc@example.test>"}
    assert found["<bcc@example.test>"]["direction"] == "sent"
    assert report.total("logged") == 1
    assert contacts(store) == {"erin@e.test"}  # never the plus-address itself


def test_track_sent_contacts_logs_only_mail_to_known_contacts(store):
    box = MemoryMailbox()
    known = make("<k@customer.test>")  # bob becomes a contact
    box.deliver("INBOX", known)
    engine.sync_mailbox(box, store, ACCOUNT)
    from hubsync.logbook import log_manual

    log_manual(store, "alice", known, (ALICE,))
    account = dataclasses.replace(ACCOUNT, track_sent="contacts")
    box.deliver("Sent", make("<to-bob@example.test>", sender=ALICE, to="bob@customer.test"))
    box.deliver("Sent", make("<to-zed@example.test>", sender=ALICE, to="zed@z.test"))
    engine.sync_mailbox(box, store, account)
    found = rows(store)
    assert found["<to-bob@example.test>"]["match_rule"] == "tracked-sent"
    assert "<to-zed@example.test>" not in found and "zed@z.test" not in contacts(store)
    everyone = dataclasses.replace(account, track_sent="all")
    box.deliver("Sent", make("<to-yan@example.test>", sender=ALICE, to="yan@y.test"))
    engine.sync_mailbox(box, store, everyone)
    assert "<to-yan@example.test>" in rows(store)


def test_track_sent_leaves_mail_older_than_its_start_alone(store):
    box = MemoryMailbox()
    box.deliver("Sent", make("<old@example.test>", sender=ALICE, to="x@x.test"))
    box.deliver(
        "Sent",
        make(
            "<new@example.test>",
            sender=ALICE,
            to="x@x.test",
            date="Mon, 07 Dec 2026 09:00:00 +0000",
        ),
    )
    account = dataclasses.replace(
        ACCOUNT, track_sent="all", track_sent_since="2026-12-06T00:00:00+00:00"
    )
    engine.sync_mailbox(box, store, account)
    assert set(rows(store)) == {"<new@example.test>"}


@pytest.mark.parametrize("way", ["log-folder", "keyword", "log-address", "tracked-sent"])
def test_each_way_respects_never_log_and_why_says_so(store, way):
    box = box_with_crm()
    raw = make("<secret@hr.test>", sender=ALICE, to="boss@hr.test")
    marked = {
        "log-folder": lambda: box.deliver("CRM", raw),
        "keyword": lambda: box.tag("INBOX", box.deliver("INBOX", raw), "$CRM"),
        "log-address": lambda: box.deliver(
            "INBOX", b"X-Original-To: " + PLUS.encode() + b"\r\n" + raw
        ),
        "tracked-sent": lambda: box.deliver("Sent", raw),
    }
    marked[way]()
    account = dataclasses.replace(WAYS, never_log=["hr.test"], track_sent="all")
    report = engine.sync_mailbox(box, store, account)
    engine.sync_mailbox(box, store, account)
    assert rows(store) == {} and report.total("never_log_hits") == 1
    verdict = reports.why(store, "alice", "<secret@hr.test>")
    assert verdict.rule == "never-log" and not verdict.logged
    assert "hr.test" in verdict.explanation and "replies into" not in verdict.explanation
    said = store.db.execute("SELECT count(*) AS n FROM events WHERE reason = 'never-log'")
    assert said.fetchone()["n"] == 1  # said once, not on every sync


def test_a_message_named_by_three_ways_is_logged_once_by_the_first(store):
    box = box_with_crm()
    raw = (
        b"Delivered-To: "
        + PLUS.encode()
        + b"\r\n"
        + make("<all3@example.test>", sender=ALICE, to="f@f.test")
    )
    box.tag("CRM", box.deliver("CRM", raw), "$CRM")
    box.tag("INBOX", box.deliver("INBOX", raw), "$CRM")
    box.deliver("Sent", raw)
    account = dataclasses.replace(WAYS, track_sent="all")
    report = engine.sync_mailbox(box, store, account)
    assert report.total("logged") == 1
    assert len(rows(store)) == 1
    verdict = reports.why(store, "alice", "<all3@example.test>")
    assert verdict.logged and verdict.rule in ("keyword", "log-address", "log-folder")
    assert "mail client" in verdict.explanation


def test_each_way_can_be_switched_off(store):
    box = box_with_crm()
    box.deliver("CRM", make("<c@customer.test>"))
    box.tag("INBOX", box.deliver("INBOX", make("<k@customer.test>")), "$CRM")
    off = dataclasses.replace(ACCOUNT, log_folder="", log_keyword="")
    report = engine.sync_mailbox(box, store, off)
    assert rows(store) == {} and "CRM" not in [f.folder for f in report.folders]
    assert box.client_searches == 0


# -- pure decisions ------------------------------------------------------------------------


def test_the_crm_folder_is_found_as_the_server_spells_it():
    listing = [
        Folder("INBOX", (), "."),
        Folder("INBOX.Crm", (), "."),
        Folder("INBOX.Sent", (), "."),
    ]
    assert resolve_log_folder(listing, "CRM") == "INBOX.Crm"
    assert resolve_log_folder([Folder("CRM"), Folder("Work/CRM")], "CRM") == "CRM"
    assert resolve_log_folder([Folder("CRM", ("\\Noselect",))], "CRM") == ""
    assert resolve_log_folder([Folder("CRMs")], "CRM") == ""
    assert resolve_log_folder([Folder("CRM")], "") == ""
    assert log_folder_among(["INBOX", "INBOX.crm"], "CRM") == "INBOX.crm"
    assert log_folder_among(["INBOX", "NotCRM"], "CRM") == ""


def test_keywords_are_searched_in_their_usual_spellings_and_permanentflags_decide():
    assert keyword_variants("$CRM") == ["$CRM", "$crm"]
    assert keyword_search("Crm") == [
        "OR",
        "KEYWORD",
        "Crm",
        "OR",
        "KEYWORD",
        "crm",
        "KEYWORD",
        "CRM",
    ]
    assert keyword_allowed(["\\Seen", "\\*"], "$CRM")
    assert keyword_allowed(["\\Seen", "$crm"], "$CRM")
    assert not keyword_allowed(["\\Seen", "\\Flagged"], "$CRM")
    assert not keyword_allowed([], "$CRM")
    criteria = address_search(PLUS)
    assert criteria.count("OR") == 5 and criteria.count(PLUS) == 6


def ways(**kw) -> ClientWays:
    base = dict(keyword="$CRM", log_address=PLUS, sent_folder="Sent", own=(ALICE, PLUS))
    return ClientWays(**{**base, **kw})


def header(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_choose_takes_the_first_way_that_holds_and_never_what_is_logged():
    message = candidate(
        7, header("Message-ID: <m@x>", f"From: {ALICE}", f"Bcc: {PLUS}", "To: g@g.test")
    )
    both = frozenset({MatchRule.KEYWORD, MatchRule.LOG_ADDRESS})
    assert choose(message, both, ways(), {}, lambda a: False) == MatchRule.KEYWORD
    assert choose(message, frozenset({MatchRule.LOG_ADDRESS}), ways(), {}, lambda a: False) == (
        MatchRule.LOG_ADDRESS
    )
    assert choose(message, both, ways(), {"<m@x>": 1}, lambda a: True) is None
    stranger = candidate(8, header("Message-ID: <s@x>", "From: h@h.test", "To: i@i.test"))
    assert choose(stranger, frozenset({MatchRule.LOG_ADDRESS}), ways(), {}, lambda a: True) is None


def test_tracked_sent_needs_the_users_own_mail_a_contact_and_a_date_after_the_start():
    since = datetime(2026, 12, 6, tzinfo=UTC)
    sent = frozenset({MatchRule.TRACKED_SENT})
    mine = candidate(
        1,
        header(
            "Message-ID: <a@x>",
            f"From: {ALICE}",
            "To: Bob <BOB@b.test>",
            "Date: Mon, 07 Dec 2026 09:00:00 +0000",
        ),
    )
    contacts = ways(track_sent="contacts", track_sent_since=since)
    assert choose(mine, sent, contacts, {}, lambda a: a == "bob@b.test") == MatchRule.TRACKED_SENT
    assert choose(mine, sent, contacts, {}, lambda a: False) is None
    assert choose(mine, sent, ways(track_sent="all"), {}, lambda a: False) == MatchRule.TRACKED_SENT
    late = ways(track_sent="all", track_sent_since=datetime(2026, 12, 8, tzinfo=UTC))
    assert choose(mine, sent, late, {}, lambda a: True) is None
    undated = candidate(2, header("Message-ID: <b@x>", f"From: {ALICE}", "To: bob@b.test"))
    assert choose(undated, sent, late, {}, lambda a: True) is None
    theirs = candidate(3, header("Message-ID: <c@x>", "From: bob@b.test", f"To: {ALICE}"))
    assert choose(theirs, sent, ways(track_sent="all"), {}, lambda a: True) is None
    to_self = candidate(4, header("Message-ID: <d@x>", f"From: {ALICE}", f"To: {ALICE}"))
    assert choose(to_self, sent, ways(track_sent="all"), {}, lambda a: True) is None


def test_the_range_ways_follow_the_settings():
    w = ways(log_folder="INBOX.CRM", track_sent="contacts")
    assert w.range_ways("INBOX.CRM") == {MatchRule.LOG_FOLDER, MatchRule.LOG_ADDRESS}
    assert w.range_ways("Sent") == {MatchRule.TRACKED_SENT, MatchRule.LOG_ADDRESS}
    assert w.range_ways("INBOX") == {MatchRule.LOG_ADDRESS}
    assert not w.reads_whole_range("INBOX") and w.reads_whole_range("Sent")
    assert not ClientWays().any and ClientWays().range_ways("INBOX") == frozenset()
    account = dataclasses.replace(
        ACCOUNT, log_address="Alice+CRM@Example.test", track_sent_since="2026-12-01"
    )
    resolved = ways_of(account, "CRM")
    assert resolved.log_address == PLUS and PLUS in resolved.own
    assert resolved.track_sent_since == datetime(2026, 12, 1, tzinfo=UTC)
    assert ways_of(dataclasses.replace(ACCOUNT, log_folder=""), "CRM").log_folder == ""


@given(
    st.lists(
        st.sampled_from(["to", "cc", "bcc", "delivered-to", "x-original-to", "envelope-to"]),
        max_size=3,
    ),
    st.booleans(),
)
def test_the_plus_address_is_found_in_any_field_and_only_exactly(fields, exact):
    address = PLUS if exact else "xalice+crm@example.test"
    lines = ["Message-ID: <p@x>", "From: j@j.test"] + [
        f"{f}: Someone <{address.upper()}>" for f in fields
    ]
    found = choose(
        candidate(1, header(*lines)),
        frozenset({MatchRule.LOG_ADDRESS}),
        ways(),
        {},
        lambda a: False,
    )
    assert (found == MatchRule.LOG_ADDRESS) == (exact and bool(fields))


def test_header_fields_are_read_leniently_and_completely():
    found = candidate(
        7,
        header(
            "From: =?x?q?bad?= \xff <ME@Example.test>".encode("latin-1").decode("latin-1"),
            "To: a@a.test, B <b@b.test>",
            "Cc: c@c.test",
            "Bcc: d@d.test",
            "Date: Mon, 07 Dec 2026 09:00:00 -0000",  # no zone: UTC
        ).replace(b"\xc3\xbf", b"\xff"),
    )
    assert found.uid == 7 and found.message_id == "" and found.sender == "me@example.test"
    assert found.recipients == ("a@a.test", "b@b.test", "c@c.test", "d@d.test")
    assert found.date == datetime(2026, 12, 7, 9, tzinfo=UTC)
    nobody = candidate(8, header("Subject: hi"))
    assert (nobody.sender, nobody.recipients, nobody.date) == ("", (), None)
    since = ways(track_sent="all", track_sent_since=datetime(2026, 12, 7, 9, tzinfo=UTC))
    mine = candidate(
        9, header(f"From: {ALICE}", "To: x@x.test", "Date: Mon, 07 Dec 2026 09:00:00 -0000")
    )
    assert choose(mine, frozenset({MatchRule.TRACKED_SENT}), since, {}, lambda a: False) == (
        MatchRule.TRACKED_SENT  # sent at the very second tracking began: tracked
    )


def test_the_search_criteria_are_exact():
    assert address_search(PLUS) == [
        "OR", "TO", PLUS, "OR", "CC", PLUS, "OR", "BCC", PLUS,
        "OR", "HEADER", "DELIVERED-TO", PLUS, "OR", "HEADER", "X-ORIGINAL-TO", PLUS,
        "HEADER", "ENVELOPE-TO", PLUS,
    ]  # fmt: skip


def test_the_crm_folder_prefers_the_exact_name_then_the_whole_name_then_the_shortest_label():
    assert resolve_log_folder([Folder("crm"), Folder("CRM")], "CRM") == "CRM"
    whole = [Folder("x.crm", (), "."), Folder("X.CRM", (), "/")]
    assert resolve_log_folder(whole, "x.CRM") == "x.crm"
    labels = [Folder("aa/bb/CRM"), Folder("b/CRM")]
    assert resolve_log_folder(labels, "CRM") == "b/CRM"
    assert log_folder_among(["CRM"], "") == ""
    assert ways_of(ACCOUNT).log_folder == ""  # not resolved on the server: none
