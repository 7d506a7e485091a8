"""Arbitrary and hostile input: parsing and threading never raise anything but hubsync's own
errors, and every corpus message goes through `log` (a bad one never stops the rest)."""

from pathlib import Path

import pytest
from helpers import corpus_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubsync import threads as jwz
from hubsync.errors import HubsyncError
from hubsync.logbook import log_manual
from hubsync.mail import parse

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_CORPUS = Path(__file__).parents[2] / "shared" / "corpus"

HEADER_NAMES = st.sampled_from(
    [
        "From",
        "To",
        "Cc",
        "Subject",
        "Date",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Content-Type",
        "Content-Transfer-Encoding",
        "MIME-Version",
        "X-Junk",
    ]
)
HEADER_VALUES = st.text(max_size=80) | st.binary(max_size=80).map(lambda b: b.decode("latin-1"))


@st.composite
def messages(draw) -> bytes:
    """Header-shaped bytes with arbitrary values, sometimes nested multiparts, sometimes junk."""
    headers = draw(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=12))
    text = "".join(f"{name}: {value}\r\n" for name, value in headers)
    depth = draw(st.integers(0, 60))
    body = draw(st.binary(max_size=200))
    for level in range(depth):
        b = f"b{level}"
        body = (
            f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n--{b}\r\n'.encode()
            + body
            + f"\r\n--{b}--\r\n".encode()
        )
    prefix = draw(st.sampled_from([b"", b"\xef\xbb\xbf", b"\r\n", b"From x@y Thu\n", b"junk\n"]))
    return prefix + text.encode("utf-8", "surrogateescape") + b"\r\n" + body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=messages() | st.binary(max_size=400))
def test_parsing_anything_gives_a_message_or_our_own_error(raw):
    try:
        parsed = parse.parse(raw)
    except HubsyncError:
        return
    assert parsed.message_id.startswith("<") and parsed.message_id.endswith(">")
    assert isinstance(parsed.body, str) and isinstance(parsed.subject, str)


IDS = st.sampled_from([f"<m{i}@x>" for i in range(30)] + ["<yes>", "", "junk"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(IDS, IDS, st.lists(IDS, max_size=40), st.sampled_from(["Deal", "Re: Deal", ""])),
        max_size=60,
    )
)
def test_threading_anything_places_every_message_once_without_loops(items):
    msgs = [
        jwz.Message(mid, irt, refs, subject, "", frozenset({"a@x"}))
        for mid, irt, refs, subject in items
    ]
    roots = jwz.thread(msgs)
    placed = [m for root in roots for m in root.messages()]
    assert sorted(map(id, placed)) == sorted(map(id, msgs))
    for root in roots:
        seen = set()
        for box in root.walk():
            assert id(box) not in seen, "a loop"
            seen.add(id(box))
    jwz.unrelated_suspects(roots, ["a@x"])


def log_all(store, files: list[Path]) -> tuple[int, int]:
    logged = refused = 0
    for path in files:
        try:
            log_manual(store, "a", path.read_bytes(), ("me@b.test",))
            logged += 1
        except HubsyncError:
            refused += 1
    return logged, refused


def test_the_copied_corpus_goes_through_log(store):
    files = corpus_files(FIXTURES)
    logged, refused = log_all(store, files)
    assert logged + refused == len(files) and logged > 100


@pytest.mark.skipif(not SHARED_CORPUS.exists(), reason="the shared corpus is not beside this clone")
def test_the_whole_shared_corpus_goes_through_log(store):
    files = corpus_files(SHARED_CORPUS)
    logged, refused = log_all(store, files)
    assert logged + refused == len(files) and logged > 300
    assert store.integrity() == "ok"


def sync_corpus_as_replies(store, files: list[Path]) -> None:
    """Every corpus message arrives as a reply to a tracked message; one sync takes them all."""
    from memory_mailbox import MemoryMailbox

    from hubsync import config as cfg
    from hubsync.sync import engine

    root = b"From: me@b.test\r\nTo: x@y.test\r\nSubject: root\r\nMessage-ID: <root@b.test>\r\n\r\nx"
    log_manual(store, "a", root, ("me@b.test",))
    box = MemoryMailbox()
    for path in files:
        box.deliver("INBOX", b"In-Reply-To: <root@b.test>\r\n" + path.read_bytes())
    account = cfg.Account("a", "me@b.test", "me", "memory", 143, sent_folder="Sent")
    report = engine.sync_mailbox(box, store, account, ["INBOX"], batch=50)
    inbox = report.folders[0]
    assert inbox.scanned == len(files)
    assert inbox.logged + inbox.already_logged + inbox.unreadable == len(files)
    assert inbox.unreadable == len(store.events("a", ("message-error",)))
    assert store.sync_state("a", "INBOX")["last_uid"] == len(files), "nothing blocked the rest"
    assert store.integrity() == "ok"


def test_the_copied_corpus_synced_as_replies(store):
    sync_corpus_as_replies(store, corpus_files(FIXTURES))


@pytest.mark.skipif(not SHARED_CORPUS.exists(), reason="the shared corpus is not beside this clone")
def test_the_whole_shared_corpus_synced_as_replies(store):
    sync_corpus_as_replies(store, corpus_files(SHARED_CORPUS))
