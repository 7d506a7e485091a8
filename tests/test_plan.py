"""Sync planning: where a folder's scan starts, and what happens to each scanned message."""

from hubsync.sync.mailbox import FolderState
from hubsync.sync.matching import MatchRule
from hubsync.sync.plan import (
    AlreadyLogged,
    LogReply,
    header_record,
    plan_folder,
    plan_range,
)


def state(uidvalidity=7, last_uid=10, exists=10):
    return FolderState(uidvalidity, last_uid, exists)


def test_first_sync_scans_the_whole_folder():
    plan = plan_folder(state(), None)
    assert (plan.start, plan.last, plan.rescan) == (1, 10, False)
    assert plan.position == 10


def test_next_sync_starts_after_the_position():
    plan = plan_folder(state(last_uid=15), {"uidvalidity": 7, "last_uid": 10})
    assert (plan.start, plan.last, plan.empty) == (11, 15, False)


def test_nothing_new_is_an_empty_plan_that_keeps_the_position():
    plan = plan_folder(state(last_uid=10), {"uidvalidity": 7, "last_uid": 10})
    assert plan.empty and plan.position == 10


def test_expunged_mail_never_moves_the_position_back_where_uidnext_is_unknown():
    # A server without UIDNEXT: the last UID was searched, and the newest mail was expunged.
    searched = FolderState(7, 8, 3, uidnext_known=False)
    plan = plan_folder(searched, {"uidvalidity": 7, "last_uid": 10})
    assert plan.empty and plan.position == 10 and plan.position_ahead is None


def test_uidnext_below_the_position_means_the_position_is_wrong_and_rescans():
    # UIDNEXT never goes down with the same UIDVALIDITY (RFC 3501 2.3.1.1): a position past
    # it came from a server that once claimed too much. Rescan rather than miss replies.
    plan = plan_folder(state(last_uid=8, exists=3), {"uidvalidity": 7, "last_uid": 60_690_004})
    assert (plan.start, plan.last, plan.position_ahead) == (1, 8, 60_690_004)
    assert not plan.rescan  # not a UIDVALIDITY change


def test_changed_uidvalidity_rescans_from_one_and_says_so():
    plan = plan_folder(state(uidvalidity=9), {"uidvalidity": 7, "last_uid": 10})
    assert (plan.start, plan.last, plan.rescan, plan.previous_uidvalidity) == (1, 10, True, 7)


def test_empty_folder_has_nothing_to_scan():
    plan = plan_folder(state(last_uid=41, exists=0), None)
    assert plan.empty and plan.position == 0


def record(uid, mid, irt="", refs=""):
    header = f"Message-ID: {mid}\r\n"
    if irt:
        header += f"In-Reply-To: {irt}\r\n"
    if refs:
        header += f"References: {refs}\r\n"
    return header_record(uid, header.encode() + b"\r\n")


def test_header_record_reads_the_three_fields_folded_and_in_any_case():
    raw = b"message-id: <a@x>\r\nREFERENCES: <r1@x>\r\n <r2@x>\r\nIn-Reply-To: junk <p@x>\r\n\r\n"
    got = header_record(4, raw)
    assert (got.uid, got.message_id, got.in_reply_to, got.references) == (
        4,
        "<a@x>",
        ["<p@x>"],
        ["<r1@x>", "<r2@x>"],
    )


def test_replies_are_planned_with_their_thread_rule_and_reference():
    tracked = {"<root@x>": 3, "<mid@x>": 3}
    actions = plan_range(
        [
            record(5, "<b@x>", refs="<root@x> <mid@x>"),
            record(2, "<a@x>", irt="<root@x>"),
            record(9, "<c@x>", irt="<other@y>"),
        ],
        tracked,
    )
    assert actions == [
        LogReply(2, "<a@x>", actions[0].match),
        LogReply(5, "<b@x>", actions[1].match),
    ]
    assert (actions[0].match.rule, actions[0].match.ref, actions[0].match.thread_id) == (
        MatchRule.IN_REPLY_TO,
        "<root@x>",
        3,
    )
    assert (actions[1].match.rule, actions[1].match.ref) == (MatchRule.REFERENCES, "<mid@x>")
    assert tracked == {"<root@x>": 3, "<mid@x>": 3}, "planning changes nothing"


def test_a_reply_to_a_reply_in_the_same_range_joins_the_thread():
    actions = plan_range(
        [record(1, "<a@x>", irt="<root@x>"), record(2, "<b@x>", irt="<a@x>")], {"<root@x>": 8}
    )
    assert [(a.uid, a.match.thread_id, a.match.ref) for a in actions] == [
        (1, 8, "<root@x>"),
        (2, 8, "<a@x>"),
    ]


def test_messages_already_in_the_log_are_counted_not_logged_again():
    actions = plan_range(
        [record(1, "<root@x>"), record(2, "<a@x>", irt="<root@x>"), record(3, "<a@x>")],
        {"<root@x>": 1},
    )
    assert actions[0] == AlreadyLogged(1, "<root@x>")
    assert isinstance(actions[1], LogReply)
    assert actions[2] == AlreadyLogged(3, "<a@x>"), "a second copy of a planned message"


def test_unrelated_messages_get_no_action():
    assert plan_range([record(1, "<z@y>"), record(2, "<q@y>", irt="<z@y>")], {"<r@x>": 1}) == []
