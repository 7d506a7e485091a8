"""`threads --folder` on compact arrays (hubsync/folder_threads.py) against the audit it
replaced (tests/audit_oracle.py: one object per message, threads.thread and
threads.unrelated_suspects): the same JSON on random folders, on real mail, on generated
folders, on deep chains and loops; and the streamed JSON equal to the whole document."""

import io
import json
import random
from pathlib import Path

import pytest
from audit_oracle import oracle_audit
from helpers import corpus_files
from hypothesis import given, settings
from hypothesis import strategies as st

from hubsync import render
from hubsync import threads as jwz
from hubsync.reports.thread_view import audit
from hubsync.sync.folder_audit import audit_fields

OWN = "me@own.test"
GROUPINGS = (jwz.PARTICIPANTS, jwz.RFC5256, jwz.OFF)
FIXTURES = Path(__file__).parent / "fixtures"
SHARED_CORPUS = Path(__file__).parents[2] / "shared" / "corpus"


def compact(blocks: list[tuple[int, bytes]], grouping: str, folder: str = "INBOX") -> dict:
    fields = (audit_fields(uid, header, folder) for uid, header in blocks)
    return audit(fields, OWN, folder, grouping).to_dict()


def assert_same(blocks: list[tuple[int, bytes]], folder: str = "INBOX") -> dict:
    for grouping in GROUPINGS:
        got = compact(blocks, grouping, folder)
        assert got == oracle_audit(blocks, OWN, folder, grouping), grouping
    return got


# Small pools, so random folders are full of what threading must survive: the same
# Message-ID twice, parents missing or arriving late, references in loops, ids without "@",
# a real id that looks like the key of a duplicate, subjects that differ only in Re:/Fwd:
# and list tags, people shared or not, the account's own address, dates far apart, naive
# and unreadable.
IDS = [f"<m{i}@x.test>" for i in range(12)] + ["<nohost>", "<duplicate-3-m1@x.test>"]
SUBJECTS = [
    "Quote",
    "Re: Quote",
    "RE: [team] quote",
    "Fwd: Quote (fwd)",
    "Invoice 7",
    "AW: Invoice 7",
    "",
    "=?utf-8?q?Caf=C3=A9?=",
    "Re:   Café",
    "Sentinel",
]
PEOPLE = [
    "Bob <bob@customer.test>",
    "carol@partner.test",
    f"Me <{OWN}>",
    "BOB@Customer.test, dave@x.test",
    "undisclosed-recipients:;",
]
DATES = [
    "Thu, 26 Nov 2026 10:00:00 +0000",
    "Mon, 01 Feb 2027 09:00:00 +0100",
    "Mon, 01 Feb 2027 09:00:00 -0000",
    "yesterday",
    "",
]


@st.composite
def folders(draw) -> list[tuple[int, bytes]]:
    blocks = []
    for uid in range(1, draw(st.integers(0, 40)) + 1):
        lines = []
        if draw(st.integers(0, 9)):
            lines.append(f"Message-ID: {draw(st.sampled_from(IDS))}")
        if draw(st.booleans()):
            lines.append(f"In-Reply-To: {draw(st.sampled_from(IDS + ['junk']))}")
        if draw(st.booleans()):
            refs = draw(st.lists(st.sampled_from(IDS), max_size=4))
            lines.append("References: " + "\r\n ".join(refs))
        if draw(st.integers(0, 5)):
            lines.append(f"Subject: {draw(st.sampled_from(SUBJECTS))}")
        lines.append(f"From: {draw(st.sampled_from(PEOPLE))}")
        if draw(st.booleans()):
            lines.append(f"To: {draw(st.sampled_from(PEOPLE))}")
        if draw(st.booleans()):
            lines.append(f"Date: {draw(st.sampled_from(DATES))}")
        draw(st.randoms()).shuffle(lines)
        blocks.append((uid, ("\r\n".join(lines) + "\r\n\r\n").encode()))
    return blocks


@settings(max_examples=300, deadline=None)
@given(folders())
def test_random_folders_thread_as_the_object_per_message_audit_did(blocks):
    assert_same(blocks)


def header_of(path: Path) -> bytes:
    raw = path.read_bytes().replace(b"\r\n", b"\n")
    head = raw.split(b"\n\n", 1)[0]
    return head.replace(b"\n", b"\r\n") + b"\r\n\r\n"


def test_real_mail_threads_as_before():
    """The notmuch and mikel-mail fixtures (lkml threads, ghost roots, reference loops,
    broken headers) as one folder, in file order and shuffled."""
    headers = [header_of(p) for p in corpus_files(FIXTURES)]
    assert len(headers) > 100
    got = assert_same(list(enumerate(headers, 1)))
    assert got["thread_count"] < got["message_count"]  # lkml's threads really are threads
    random.Random(5).shuffle(headers)
    assert_same(list(enumerate(headers, 1)))


@pytest.mark.skipif(not SHARED_CORPUS.exists(), reason="the shared corpus is not beside this clone")
def test_the_whole_shared_corpus_threads_as_before():
    headers = [header_of(p) for p in corpus_files(SHARED_CORPUS)]
    assert_same(list(enumerate(headers, 1)))


def generated_folder(count: int, seed: int) -> list[tuple[int, bytes]]:
    """A folder shaped like a mailbox: threads with replies to earlier messages (some of
    them not in the folder), new conversations started by replying to an old email, mail
    without a Message-ID, subjects and people reused."""
    rng = random.Random(seed)
    blocks = []
    for i in range(count):
        lines = [
            f"Subject: {rng.choice(['Re: ', '', 'Fwd: '])}Topic {rng.randrange(count // 4 + 1)}"
        ]
        lines.append(f"From: p{rng.randrange(50)}@c.test")
        lines.append(f"To: {OWN}, p{rng.randrange(50)}@c.test")
        lines.append(f"Date: {rng.randrange(1, 28)} Nov 2026 10:00:00 +0000")
        if rng.random() < 0.97:
            lines.append(f"Message-ID: <g{i}@c.test>")
        if i and rng.random() < 0.6:
            parent = rng.randrange(i + count // 10)  # past the end: a parent not here
            lines.append(f"In-Reply-To: <g{parent}@c.test>")
            if rng.random() < 0.7:
                ancestors = " ".join(f"<g{rng.randrange(i)}@c.test>" for _ in range(3))
                lines.append(f"References: {ancestors}\r\n\t<g{parent}@c.test>")
        blocks.append((i + 1, ("\r\n".join(lines) + "\r\n\r\n").encode()))
    return blocks


def test_generated_folders_thread_as_before():
    for seed in range(3):
        got = assert_same(generated_folder(3000, seed))
        assert got["suspected_unrelated"] and got["without_message_id"]


def test_a_chain_of_thousands_and_a_loop_thread_as_before():
    chain = [(1, b"Message-ID: <c0@x>\r\nSubject: Long\r\n\r\n")]
    for i in range(1, 3000):
        chain.append((i + 1, f"Message-ID: <c{i}@x>\r\nIn-Reply-To: <c{i - 1}@x>\r\n\r\n".encode()))
    refs = " ".join(f"<ghost{i}@x>" for i in range(3000))  # a chain of placeholders
    chain.append((3001, f"Message-ID: <end@x>\r\nReferences: {refs}\r\n\r\n".encode()))
    chain.append((3002, b"Message-ID: <ghost5@x>\r\nReferences: <end@x>\r\n\r\n"))  # a loop
    got = assert_same(chain)
    assert got["largest_thread"]["message_count"] == 3000


def test_a_chain_of_150000_replies_is_one_thread_threaded_in_linear_time():
    """Each reply hangs under the one before: the old audit walked up the whole chain for
    every message (quadratic: hours at this length) and cut chains deeper than 100,000."""
    fields = [("<c0@x>", True, "", [], b"Long", b"", b"bob@c.test")]
    fields += [
        (f"<c{i}@x>", True, f"<c{i - 1}@x>", [], b"Re: Long", b"", b"bob@c.test")
        for i in range(1, 150_000)
    ]
    result = audit(fields, OWN, "F")
    assert (result.threads, result.largest_thread["messages"]) == (1, 150_000)
    assert next(result.thread_lists())[-1] == "<c149999@x>"


@pytest.mark.parametrize("count", [40, 60_000])
def test_streamed_json_is_the_whole_document(count, capsys):
    """Large folders' thread lists are written as they are made: the same text as
    emit_json of the whole document (compact over 1 MB, indented below)."""
    blocks = generated_folder(count, 1)
    result = audit((audit_fields(u, h, "F") for u, h in blocks), OWN, "F")
    render.emit_json(result.to_dict())
    whole = capsys.readouterr().out
    size = result.json_size_at_least()
    streams = {
        "suspected_unrelated": result.suspected_unrelated(),
        "thread_list": result.thread_lists(),
    }
    render.emit_json_streamed(result.to_dict(lists=False), streams, size)
    assert capsys.readouterr().out == whole
    assert json.load(io.StringIO(whole))["message_count"] == count
    assert (size >= render.COMPACT_JSON_FROM) == (count > 1000)
