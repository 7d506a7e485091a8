"""Threading on real-world mail (notmuch corpus fixtures) and on constructed cases."""

import re
from pathlib import Path

import pytest
from helpers import imap_login

from hubsync import threads as jwz
from hubsync.mail import parse
from hubsync.threads import OFF, RFC5256, Message, base_subject, thread, unrelated_suspects

FIXTURES = Path(__file__).parent / "fixtures" / "notmuch"


def load(folder: str) -> list[tuple[bytes, Message]]:
    found = []
    for path in sorted((FIXTURES / folder).rglob("*")):
        if path.is_file():
            raw = path.read_bytes()
            p = parse.parse(raw, with_body=False)
            found.append(
                (raw, Message(p.message_id, p.in_reply_to, p.references, p.subject, p.date))
            )
    return found


def groups(roots) -> list[frozenset[str]]:
    return [frozenset(m.message_id for m in root.messages()) for root in roots]


def assert_loop_free(roots) -> None:
    seen = set()
    for root in roots:
        for box in root.walk():
            assert id(box) not in seen, "a container appears twice: loop"
            seen.add(id(box))


@pytest.mark.parametrize(
    "subject,expected",
    [
        ("Re: Quote", "quote"),
        ("AW: Angebot", "angebot"),
        ("SV: Re: Offert", "offert"),
        ("VS: tarjous", "tarjous"),
        ("RV: propuesta", "propuesta"),
        ("Antw: offerte", "offerte"),
        ("Odp: oferta", "oferta"),
        ("Fwd: Re[2]: Plan", "plan"),
        ("[team] Re: Launch", "launch"),
        ("Re:   Spaces   inside", "spaces inside"),
        ("Regarding the plan", "regarding the plan"),
    ],
)
def test_base_subject(subject, expected):
    assert base_subject(subject) == expected


def test_lkml_threads_are_loop_free_and_every_message_is_placed():
    messages = [m for _, m in load("lkml")]
    roots = thread(messages)
    assert_loop_free(roots)
    placed = [m.message_id for root in roots for m in root.messages()]
    assert sorted(placed) == sorted(m.message_id for m in messages)
    assert len(roots) < len(messages) / 3  # real threads were found


def test_reference_loops_are_refused():
    roots = thread([m for _, m in load("broken")])
    assert_loop_free(roots)


def test_ghost_root_gets_a_placeholder_and_children_stay_together():
    messages = [m for _, m in load("threading/ghost-root")]
    roots = thread(messages)
    assert_loop_free(roots)
    sizes = sorted(len(g) for g in groups(roots))
    assert sum(sizes) == len(messages)
    assert max(sizes) >= 5


def test_subject_grouping_only_without_threading_headers():
    a = Message("<a@x>", subject="Pricing")
    b = Message("<b@x>", subject="Re: Pricing")  # no headers: joins by subject
    c = Message(
        "<c@x>", in_reply_to="<missing@x>", references=["<missing@x>"], subject="Re: Pricing"
    )  # has headers: stays in its own chain
    roots = thread([a, b, c], subject_grouping=RFC5256)
    assert {frozenset({"<a@x>", "<b@x>"}), frozenset({"<c@x>"})} == set(groups(roots))


def test_subject_grouping_by_default_needs_a_shared_participant():
    """Two customers' "Quote" emails stay two conversations; the same customer's join."""
    own = ["alice@example.test"]
    bob_1 = Message("<b1@x>", subject="Quote", people="Bob <bob@customer.test>, alice@example.test")
    bob_2 = Message("<b2@x>", subject="RE: Quote", people="alice@example.test, BOB@customer.test")
    carol = Message("<c1@x>", subject="Quote", people="carol@partner.test, alice@example.test")
    mine = Message("<m1@x>", subject="Quote", people="alice@example.test")  # only me: no join
    roots = thread([bob_1, carol, bob_2, mine], own=own)
    assert set(groups(roots)) == {
        frozenset({"<b1@x>", "<b2@x>"}),
        frozenset({"<c1@x>"}),
        frozenset({"<m1@x>"}),
    }
    assert len(thread([bob_1, carol, bob_2, mine], subject_grouping=RFC5256)) == 1
    assert len(thread([bob_1, carol, bob_2, mine], subject_grouping=OFF, own=own)) == 4


def test_unrelated_reply_is_flagged_with_reasons():
    own = ["alice@example.test"]
    root = Message(
        "<1@x>",
        subject="Quote",
        date="2026-01-01T10:00:00+00:00",
        participants=frozenset({"alice@example.test", "bob@customer.test"}),
    )
    answer = Message(
        "<2@x>",
        "<1@x>",
        ["<1@x>"],
        "Re: Quote",
        "2026-01-02T10:00:00+00:00",
        frozenset({"alice@example.test", "bob@customer.test"}),
    )
    hijack = Message(
        "<3@x>",
        "<2@x>",
        ["<1@x>", "<2@x>"],
        "Partnership",
        "2026-05-01T10:00:00+00:00",
        frozenset({"alice@example.test", "carol@partner.test"}),
    )
    suspects = unrelated_suspects(thread([root, answer, hijack]), own)
    assert [s.message_id for s in suspects] == ["<3@x>"]
    assert suspects[0].parent_id == "<2@x>"
    assert any("days after" in r for r in suspects[0].reasons)


def test_malformed_corpus_messages_parse_without_errors():
    folder = Path(__file__).parent / "fixtures" / "mikel-mail"
    read = 0
    for path in sorted(folder.glob("*.eml")):
        raw = path.read_bytes()
        if not parse.looks_like_mail(raw):
            continue
        parsed = parse.parse(raw)
        read += 1
        if parsed.synthetic_id:  # no usable Message-ID: the stand-in made from the bytes
            assert parsed.message_id == parse.stand_in_id(raw), path.name
        else:  # the id as the message carries it
            assert parsed.message_id.encode() in raw, path.name
    assert read >= 20  # the corpus was there and read


def _dovecot_threads(sandbox, folder: str) -> list[frozenset[str]]:
    conn = imap_login(sandbox, "alice@example.test")
    try:
        conn.select(f'"{folder}"', readonly=True)
        typ, data = conn.uid("THREAD", "REFERENCES", "UTF-8", "ALL")
        assert typ == "OK"
        typ, fetched = conn.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    finally:
        conn.logout()
    ids = {}
    for item in fetched:
        if isinstance(item, tuple):
            uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
            ids[uid] = parse.message_ids(item[1].decode(errors="replace"))[0]
    result, depth, current = [], 0, set()
    for token in re.findall(rb"\(|\)|\d+", data[0]):
        if token == b"(":
            depth += 1
        elif token == b")":
            depth -= 1
            if depth == 0:
                result.append(frozenset(current))
                current = set()
        else:
            current.add(ids[int(token)])
    return result


def test_grouping_matches_dovecot_thread_references(sandbox):
    folder = "LkmlThreads"
    sandbox.main.doveadm("mailbox", "create", "-u", "alice@example.test", folder)
    loaded = load("lkml")
    for raw, _ in loaded:
        sandbox.deliver(raw, "alice@example.test", folder)
    ours = groups(thread([m for _, m in loaded], subject_grouping=RFC5256))  # as Dovecot does
    theirs = _dovecot_threads(sandbox, folder)
    with_refs = {m.message_id for _, m in loaded if m.references}

    def partition(gs):
        return {frozenset(g & with_refs) for g in gs if g & with_refs}

    assert partition(ours) == partition(theirs)


def test_a_chain_of_thousands_of_replies_threads_without_recursion():
    chain = [
        jwz.Message(
            f"<m{i}@x>",
            f"<m{i - 1}@x>" if i else "",
            [f"<m{j}@x>" for j in range(max(0, i - 1000), i)],
            "Deal",
            "",
            frozenset({"bob@x"}),
        )
        for i in range(3000)
    ]
    (root,) = jwz.thread(chain)
    assert [m.message_id for m in root.messages()] == [f"<m{i}@x>" for i in range(3000)]
    assert jwz.unrelated_suspects([root]) == []


def shape(roots) -> list:
    """Each root as (id, [children...]); a placeholder's id is marked with a leading '?'."""

    def one(box):
        name = box.message_id if box.message is not None else "?" + box.message_id
        return (name, [one(c) for c in box.children])

    return [one(r) for r in roots]


def test_a_references_chain_links_through_a_missing_parent():
    a = Message("<a@x>", subject="Quote")
    c = Message("<c@x>", "<b@x>", ["<a@x>", "<b@x>"], "Re: Quote")  # <b@x> never arrived
    assert shape(thread([a, c], subject_grouping=OFF)) == [("<a@x>", [("<c@x>", [])])]


def test_references_that_are_not_message_ids_glue_nothing():
    one = Message("<1@x>", references=["<yes>"], subject="Invoice")
    two = Message("<2@x>", references=["<yes>"], subject="Holiday")
    assert len(thread([one, two], subject_grouping=OFF)) == 2


def test_references_win_over_in_reply_to():
    # In-Reply-To names the grandparent, References the real parent: References decides
    a = Message("<a@x>")
    b = Message("<b@x>", "<a@x>", ["<a@x>"])
    c = Message("<c@x>", "<a@x>", ["<a@x>", "<b@x>"])
    assert shape(thread([a, b, c], subject_grouping=OFF)) == [
        ("<a@x>", [("<b@x>", [("<c@x>", [])])])
    ]
    # without References, In-Reply-To is used
    d = Message("<d@x>", "<a@x>")
    assert shape(thread([a, d], subject_grouping=OFF)) == [("<a@x>", [("<d@x>", [])])]


def test_placeholders_are_kept_only_where_they_hold_siblings_together():
    # missing root with one child: the child becomes the root
    one = Message("<c1@x>", references=["<gone@x>"])
    assert shape(thread([one], subject_grouping=OFF)) == [("<c1@x>", [])]
    # missing root with two children: a placeholder named after the missing message
    two = Message("<c2@x>", references=["<gone@x>"])
    assert shape(thread([one, two], subject_grouping=OFF)) == [
        ("?<gone@x>", [("<c1@x>", []), ("<c2@x>", [])])
    ]
    # missing middle message: its children move up to the grandparent
    a = Message("<a@x>")
    d1 = Message("<d1@x>", references=["<a@x>", "<mid@x>"])
    d2 = Message("<d2@x>", references=["<a@x>", "<mid@x>"])
    roots = thread([a, d1, d2], subject_grouping=OFF)
    assert shape(roots) == [("<a@x>", [("<d1@x>", []), ("<d2@x>", [])])]
    assert all(child.parent is roots[0] for child in roots[0].children)


def test_a_duplicate_copy_stays_beside_the_first_under_the_same_id():
    first = Message("<a@x>", subject="Quote")
    copy = Message("<a@x>", subject="Quote")
    [root] = thread([first, copy], subject_grouping=OFF)
    assert [c.message_id for c in root.walk()] == ["<a@x>", "<a@x>"]
    assert root.messages() == [first, copy]


def test_a_subject_group_grows_with_the_people_of_each_message_that_joins():
    own = ["alice@example.test"]
    root = Message("<r@x>", subject="Quote", people="bob@customer.test, x@customer.test")
    bob_and_carol = Message("<b@x>", subject="Quote", people="bob@customer.test, carol@c.test")
    carol = Message("<c@x>", subject="Quote", people="carol@c.test")  # knows only the joiner
    x_only = Message("<x@x>", subject="Quote", people="x@customer.test")  # knows only the root
    stranger = Message("<s@x>", subject="Quote", people="dave@d.test")
    roots = thread([root, bob_and_carol, carol, x_only, stranger], own=own)
    assert set(groups(roots)) == {
        frozenset({"<r@x>", "<b@x>", "<c@x>", "<x@x>"}),
        frozenset({"<s@x>"}),
    }


def answer_to(parent: Message, mid: str, subject: str, people: str, date: str = "") -> Message:
    return Message(mid, parent.message_id, [parent.message_id], subject, date, people=people)


def test_flags_need_both_a_new_subject_and_no_shared_participant():
    own = ["alice@example.test"]
    root = Message("<r@x>", subject="Quote", people="alice@example.test, bob@customer.test")
    same_subject = answer_to(root, "<1@x>", "Re: Quote", "carol@partner.test")
    shared_person = answer_to(root, "<2@x>", "Lunch?", "bob@customer.test")
    only_me = answer_to(root, "<3@x>", "Partnership", "alice@example.test, carol@partner.test")
    roots = thread([root, same_subject, shared_person, only_me], own=own)
    [suspect] = unrelated_suspects(roots, own)
    assert (suspect.message_id, suspect.parent_id) == ("<3@x>", "<r@x>")
    assert suspect.reasons == [
        "subject changed from 'Quote' to 'Partnership'",
        "no participant in common with the message it replies to",
    ]
    assert suspect.gap_days is None  # no dates: no gap, and no crash


@pytest.mark.parametrize("days, flagged_gap", [(29, False), (30, True), (31, True)])
def test_a_gap_of_thirty_days_or_more_is_named(days, flagged_gap):
    root = Message(
        "<r@x>", subject="Quote", people="bob@customer.test", date="2026-01-01T10:00:00+00:00"
    )
    later = f"2026-{1 + (days // 31):02d}-{1 + days % 31:02d}T10:00:00+00:00"
    hijack = answer_to(root, "<h@x>", "Other", "carol@partner.test", later)
    [suspect] = unrelated_suspects(thread([root, hijack]))
    assert suspect.gap_days == days
    assert (f"written {days} days after it" in suspect.reasons) is flagged_gap


def test_message_reads_raw_dates_and_people_only_when_it_has_none():
    parsed = Message("<a@x>", raw_date="Mon, 02 Nov 2026 10:00:00 +0000")
    assert parsed.when() == "2026-11-02T10:00:00+00:00"
    given = Message(
        "<b@x>", date="2026-01-01T00:00:00+00:00", raw_date="Tue, 03 Nov 2026 10:00:00 +0000"
    )
    assert given.when() == "2026-01-01T00:00:00+00:00"
    assert Message("<c@x>").when() == ""
    known = Message("<d@x>", participants=frozenset({"a@x.test"}), people="b@y.test")
    assert known.who() == frozenset({"a@x.test"})
    assert Message("<e@x>", people="Bob <BOB@y.test>, c@z.test").who() == {"bob@y.test", "c@z.test"}
