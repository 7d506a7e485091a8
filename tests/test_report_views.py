"""Reports on a real store, in process: thread views, split, the logging report, contacts
and why."""

import hashlib

import pytest
from mail_factory import make

from hubsync import config as cfg
from hubsync import reports
from hubsync.errors import NotFound, UsageError
from hubsync.logbook import Direction, Origin, log_message
from hubsync.mail import parse
from hubsync.reports.why import NEVER_LOG, NO_MATCH, UNKNOWN
from hubsync.sync.folder_audit import audit_fields
from hubsync.sync.matching import MatchRule, ReplyMatch

ALICE = "alice@example.test"


def log(store, raw, origin, rule, thread=None, ref=None, direction=Direction.RECEIVED):
    return log_message(
        store,
        "alice",
        parse.parse(raw),
        raw,
        direction=direction,
        origin=origin,
        thread_id=thread,
        match_rule=rule,
        match_ref=ref,
        own_addresses=(ALICE,),
    )


@pytest.fixture
def quote_thread(store):
    """Alice's quote to Bob, Bob's reply, and Alice's "reply" that is really a new email to
    Carol about something else."""
    root = log(
        store,
        make("<q@x>", sender=ALICE, to="bob@customer.test", subject="Quote for Bob"),
        Origin.SENT,
        MatchRule.SENT_BY_HUBSYNC,
        direction=Direction.SENT,
    )
    log(
        store,
        make(
            "<b@x>",
            subject="Re: Quote for Bob",
            irt="<q@x>",
            refs="<q@x>",
            date="Tue, 03 Nov 2026 10:00:00 +0000",
            attachment=("signed.pdf", b"%PDF"),
        ),
        Origin.REPLY,
        MatchRule.IN_REPLY_TO,
        root.thread_id,
        "<q@x>",
    )
    log(
        store,
        make(
            "<h@x>",
            sender=ALICE,
            to="carol@partner.test",
            subject="Partnership dinner",
            irt="<b@x>",
            refs="<q@x> <b@x>",
            date="Mon, 21 Dec 2026 10:00:00 +0000",
        ),
        Origin.REPLY,
        MatchRule.REFERENCES,
        root.thread_id,
        "<b@x>",
        direction=Direction.SENT,
    )
    return root.thread_id


def test_thread_view_is_a_tree_with_the_unrelated_email_flagged(store, quote_thread):
    (view,) = reports.thread_report(store, "alice", ALICE)
    assert view.thread_id == quote_thread and view.subject == "Quote for Bob"
    assert [(m.message_id, m.parent_id, m.depth) for m in view.messages] == [
        ("<q@x>", None, 0),
        ("<b@x>", "<q@x>", 1),
        ("<h@x>", "<b@x>", 2),
    ]
    assert view.suspected_unrelated == ["<h@x>"]
    flagged = view.messages[2]
    assert flagged.suspected_unrelated and flagged.sent
    assert any("subject" in reason for reason in flagged.why_flagged)
    [attachment] = view.messages[1].attachments
    assert {k: attachment[k] for k in ("filename", "size", "mime_type")} == {
        "filename": "signed.pdf",
        "size": 4,
        "mime_type": "application/pdf",
    }
    assert attachment["sha256"] == hashlib.sha256(b"%PDF").hexdigest()  # for `attachments save`
    data = view.to_dict()
    assert data["messages"][0]["from"]["address"] == ALICE and "sender" not in data["messages"][0]


def test_thread_filters_by_contact_and_date(store, quote_thread):
    assert reports.thread_report(store, "alice", ALICE, contact="nobody@x.test") == []
    (view,) = reports.thread_report(store, "alice", ALICE, contact="Carol@Partner.test")
    assert view.thread_id == quote_thread
    (late,) = reports.thread_report(store, "alice", ALICE, since="2026-12-01")
    assert [m.message_id for m in late.messages] == ["<h@x>"]


def test_split_moves_the_unrelated_email_into_a_thread_of_its_own(store, quote_thread):
    result = reports.split(store, "alice", "<h@x>")
    assert (result.from_thread, result.moved) == (quote_thread, ["<h@x>"])
    views = {v.thread_id: v for v in reports.thread_report(store, "alice", ALICE)}
    assert [m.message_id for m in views[result.new_thread].messages] == ["<h@x>"]
    assert views[result.new_thread].split_from == quote_thread
    assert not any(v.suspected_unrelated for v in views.values())
    with pytest.raises(UsageError) as caught:
        reports.split(store, "alice", "<h@x>")
    assert caught.value.reason == "nothing-to-split"
    with pytest.raises(NotFound) as caught:  # exit 1: the command was used correctly
        reports.split(store, "alice", "<nope@x>")
    assert caught.value.reason == "no-such-message"


def test_logging_report_counts_match_what_was_logged(store, quote_thread):
    store.add_event("alice", "attachments-skipped", "over-limit", "<z@x>", "too big")
    store.add_event("alice", "skip", "never-log", "<n@x>", "never_log entry hr.test")
    store.add_event("alice", "connection", "auth-failed", detail="refused")
    store.add_event("alice", "sync", "folder-failed", detail="Archive: gone")
    store.add_event("alice", "sync", "ok")
    report = reports.logging_report(store, "alice")
    assert (report.emails_sent, report.replies_logged, report.logged_by_hand) == (1, 2, 0)
    assert (report.messages_logged, report.attachments_logged, report.attachment_bytes) == (
        3,
        1,
        4,
    )
    assert report.skipped_attachments == [
        {"message_id": "<z@x>", "reason": "over-limit", "detail": "too big"}
    ]
    assert report.never_log_hits == 1
    assert [e["reason"] for e in report.errors] == ["auth-failed", "folder-failed"]
    assert report.contacts_created == 2
    assert report.by_contact == {
        "bob@customer.test": {"sent": 1, "replies": 1, "logged_by_hand": 0},
        "carol@partner.test": {"sent": 0, "replies": 1, "logged_by_hand": 0},
    }
    assert report.by_day == {
        "2026-11-02": {"sent": 1, "replies": 0, "logged_by_hand": 0},
        "2026-11-03": {"sent": 0, "replies": 1, "logged_by_hand": 0},
        "2026-12-21": {"sent": 0, "replies": 1, "logged_by_hand": 0},
    }
    assert "Not stored" in report.statement
    later = reports.logging_report(store, "alice", since="2026-11-03")
    assert (later.emails_sent, later.replies_logged) == (0, 2)


def test_contact_record_has_the_timeline_and_attachments(store, quote_thread):
    bob = reports.contact_record(store, "alice", "BOB@customer.test", full=True)
    assert bob.message_count == 2
    assert [t["message_id"] for t in bob.timeline] == ["<q@x>", "<b@x>"]
    assert bob.timeline[1]["body"].strip() == "Hello"
    assert [a["filename"] for a in bob.attachments] == ["signed.pdf"]
    assert bob.display == "Bob Buyer <bob@customer.test>"
    brief = reports.contact_record(store, "alice", "bob@customer.test")
    assert "body" not in brief.timeline[0]
    with pytest.raises(NotFound):
        reports.contact_record(store, "alice", "stranger@x.test")
    listed = {c.address: c.message_count for c in reports.contact_list(store, "alice")}
    assert listed == {"bob@customer.test": 2, "carol@partner.test": 1}


def test_why_names_the_rule_and_the_reference(store, quote_thread):
    sent = reports.why(store, "alice", "q@x")
    assert (sent.message_id, sent.logged, sent.rule, sent.attachments) == (
        "<q@x>",
        True,
        MatchRule.SENT_BY_HUBSYNC,
        "as sent",
    )
    reply = reports.why(store, "alice", " <b@x> ")
    assert (reply.rule, reply.ref, reply.thread_id) == ("in-reply-to", "<q@x>", quote_thread)
    assert "<q@x>" in reply.explanation and reply.attachments == "stored"
    by_refs = reports.why(store, "alice", "<h@x>")
    assert by_refs.rule == "references" and "In-Reply-To did not match" in by_refs.explanation
    assert "found_in" not in reply.to_dict()


def test_why_for_messages_not_in_the_log(store):
    store.add_event("alice", "skip", NEVER_LOG, "<n@x>", "never_log entry hr.test")
    assert reports.why(store, "alice", "<n@x>").rule == NEVER_LOG
    unknown = reports.why(store, "alice", "<u@x>")
    assert (unknown.rule, unknown.logged) == (UNKNOWN, False)
    live = {"in_reply_to": "<p@y>", "references": ["<o@y>"], "folder": "INBOX"}
    no_match = reports.why(store, "alice", "<u@x>", live)
    assert (no_match.rule, no_match.found_in) == (NO_MATCH, "INBOX")
    assert "<p@y>, <o@y>" in no_match.explanation
    bare = reports.why(store, "alice", "<u@x>", {**live, "in_reply_to": "", "references": []})
    assert "no In-Reply-To or References" in bare.explanation


def test_why_with_server_asks_for_no_password_when_the_log_knows(store, quote_thread):
    def no_password():
        raise AssertionError("the server must not be asked")

    account = cfg.Account("alice", ALICE, ALICE, "imap.invalid", 993)
    verdict = reports.why_with_server(store, account, no_password, "<b@x>")
    assert verdict.logged


def test_audit_of_header_fields_counts_threads_and_flags():
    blocks = [
        b"Message-ID: <0@x>\r\nSubject: Quote\r\nFrom: Bob <bob@customer.test>\r\n\r\n",
        b"Message-ID: <1@x>\r\nIn-Reply-To: <0@x>\r\nSubject: Re: Quote\r\n"
        b"From: Bob <bob@customer.test>\r\n\r\n",
        b"In-Reply-To: <1@x>\r\nSubject: Other\r\nFrom: carol@p.test\r\n\r\n",
    ]
    fields = [audit_fields(uid, block, "INBOX") for uid, block in enumerate(blocks, 1)]
    audit = reports.audit(fields, ALICE, "INBOX")
    assert (audit.folder, audit.messages, audit.threads, audit.without_message_id) == (
        "INBOX",
        3,
        1,
        1,
    )
    assert audit.largest_thread == {"messages": 3, "subject": "Quote"}
    assert [s["message_id"] for s in audit.suspected_unrelated()] == [
        "<uid-3@INBOX.hubsync.invalid>"
    ]
    assert list(audit.thread_lists()) == [["<0@x>", "<1@x>", "<uid-3@INBOX.hubsync.invalid>"]]


def test_reply_match_rule_values_are_what_the_store_keeps():
    match = ReplyMatch(1, MatchRule.IN_REPLY_TO, "<q@x>")
    assert f"{match.rule}" == "in-reply-to" and MatchRule("references") is MatchRule.REFERENCES


@pytest.mark.parametrize("since", ["zzz", "2026-13-01", "yesterday", "01.11.2026"])
def test_a_since_that_is_not_a_date_is_refused_with_an_example(store, since):
    for report in (
        lambda: reports.logging_report(store, "alice", since),
        lambda: reports.thread_report(store, "alice", ALICE, since=since),
    ):
        with pytest.raises(UsageError) as caught:
            report()
        assert caught.value.reason == "bad-date" and "2026-11-01" in caught.value.fix


def test_split_accepts_an_id_typed_without_brackets(store, quote_thread):
    assert reports.split(store, "alice", "h@x").moved == ["<h@x>"]


def test_a_campaign_reply_from_another_address_counts_for_the_only_recipient(store):
    """Bob was written to; his colleague answered for him from another address."""
    sent = log(
        store,
        make("<c1@x>", sender=ALICE, to="bob@customer.test", subject="Offer"),
        Origin.SENT,
        MatchRule.SENT_BY_HUBSYNC,
        direction=Direction.SENT,
    )
    store.set_campaign("alice", sent.thread_id, "q4")
    log(
        store,
        make("<c2@x>", sender="dana@customer.test", subject="Re: Offer", irt="<c1@x>"),
        Origin.REPLY,
        MatchRule.IN_REPLY_TO,
        sent.thread_id,
        "<c1@x>",
    )
    report = reports.campaign_report(store, "alice", "q4")
    [bob] = report.recipients
    assert (bob.address, bob.replied, bob.replies) == ("bob@customer.test", True, 1)
    assert bob.replied_from == ["dana@customer.test"] and report.replied == 1
