"""The sync engine driven by random arrivals in any folder, moves between folders (between and
during syncs), UIDVALIDITY changes, a server that misreports UIDNEXT, dropped connections at
any step and crashes (an in-memory mailbox; a real SQLite store, and PostgreSQL in the server
tier): every reply to a tracked thread is logged exactly once, no position passes what the
server returned, and nothing of any other message is kept."""

import dataclasses
import email.utils
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from memory_mailbox import ACCOUNT, MemoryMailbox

from hubsync import environment
from hubsync.errors import ConnectionDropped
from hubsync.logbook import Direction, Origin, log_message
from hubsync.mail import parse
from hubsync.store import open_store
from hubsync.sync import engine
from hubsync.sync.matching import MatchRule

ROOT = "<root@example.test>"
FOLDERS = ("INBOX", "INBOX", "Customers", "Archive")  # where mail lands (INBOX most often)
EVERY_FOLDER = dataclasses.replace(ACCOUNT, watched_folders=["*"])


class SimulatedCrash(BaseException):
    """A power cut: the process stops where it is (not an Exception: nothing handles it)."""


def message(mid: str, sender: str, irt: str | None, refs: list[str], subject: str) -> bytes:
    lines = [
        f"From: {sender}",
        "To: alice@example.test",
        f"Subject: {subject}",
        f"Date: {email.utils.formatdate(0)}",
        f"Message-ID: {mid}",
    ]
    if irt:
        lines.append(f"In-Reply-To: {irt}")
    if refs:
        lines.append("References: " + " ".join(refs))
    return ("\r\n".join(lines) + "\r\n\r\nbody of " + mid + "\r\n").encode()


# One step of the world: a reply (to which earlier message, threading style), an unrelated
# message, a sync, a sync that drops after k messages, a crash after n logged messages (-1:
# while fetching the bodies, before logging), or a UIDVALIDITY change.
STEPS = st.one_of(
    st.tuples(
        st.just("reply"),
        st.integers(0, 50),
        st.sampled_from(["irt", "refs", "both"]),
        st.sampled_from(FOLDERS),
    ),
    st.tuples(st.just("unrelated"), st.booleans(), st.sampled_from(FOLDERS)),
    st.tuples(st.just("sync")),
    st.tuples(st.just("drop"), st.integers(0, 6)),
    st.tuples(st.just("cut"), st.integers(0, 12)),  # the connection drops at any command
    st.tuples(st.just("crash"), st.integers(-1, 3)),
    st.tuples(st.just("renumber")),
    st.tuples(st.just("move"), st.integers(0, 50), st.sampled_from(FOLDERS)),
    st.tuples(st.just("move-during"), st.integers(0, 12), st.integers(0, 50)),
    # A server that misreports UIDNEXT once, far ahead (a lie of one or two, with a move that
    # keeps the message count and an arrival at exactly that UID, is seen one arrival late).
    st.tuples(st.just("lie"), st.sampled_from([5000, 3_000_000_000])),
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=st.lists(STEPS, max_size=30), batch=st.integers(1, 4))
def test_every_reply_is_logged_exactly_once_whatever_happens(steps, batch):
    with (
        tempfile.TemporaryDirectory() as home,
        environment.use(environment.Environment(home=Path(home))),
    ):
        play(steps, batch, open_store)


@pytest.mark.servers
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(steps=st.lists(STEPS, max_size=30), batch=st.integers(1, 4))
def test_the_same_on_postgresql(postgres, steps, batch):
    """Crashes between logging a message and moving its folder's position, on the team's
    database: the next sync neither skips nor duplicates."""
    postgres.reset()
    with (
        tempfile.TemporaryDirectory() as home,
        environment.use(environment.Environment(home=Path(home))),
    ):
        play(steps, batch, lambda: open_store(url=postgres.url))


def play(steps, batch, reopen) -> None:
    """The story ``steps`` against a fresh store from ``reopen`` (called again after each
    simulated crash), then the checks."""
    store = reopen()
    box = MemoryMailbox()
    box.add_folder("Customers")
    box.add_folder("Archive")
    box.add_folder("Trash", "\\Trash")
    raw_root = message(ROOT, "alice@example.test", None, [], "Quote")
    log_message(
        store,
        "alice",
        parse.parse(raw_root),
        raw_root,
        direction=Direction.SENT,
        origin=Origin.SENT,
        match_rule=MatchRule.SENT_BY_HUBSYNC,
    )
    box.deliver("Sent", raw_root)
    # Every message delivered: id -> (chain of ancestors, tracked?)
    world: list[tuple[str, list[str], bool]] = [(ROOT, [], True)]
    strangers: set[str] = set()

    def run_sync(crash_after: int | None = None) -> None:
        logged = [0]

        def point(name: str) -> None:
            if crash_after is not None and name == "mid-fetch":
                if logged[0] >= crash_after:
                    raise SimulatedCrash()
                logged[0] += 1

        with mock.patch.object(engine, "fault_point", point):
            engine.sync_mailbox(box, store, EVERY_FOLDER, batch=batch)

    def move_one(pick: int, target: str = "") -> None:
        """A user (or a rule) files a message elsewhere; never into Trash."""
        held = [(f, u) for f in FOLDERS[1:] for u in sorted(box.folders[f])]
        if held:
            folder, uid = held[pick % len(held)]
            box.move(uid, folder, target or ("INBOX" if folder != "INBOX" else "Archive"))

    for n, step in enumerate(steps):
        kind = step[0]
        if kind == "reply":
            parent_id, ancestors, tracked = world[step[1] % len(world)]
            chain = [*ancestors, parent_id]
            mid = f"<r{n}@customer.test>"
            style = step[2]
            irt = parent_id if style in ("irt", "both") else None
            refs = chain if style in ("refs", "both") else []
            raw = message(mid, "bob@customer.test", irt, refs, "Re: Quote")
            box.deliver(step[3], raw)
            world.append((mid, chain, tracked))
        elif kind == "unrelated":
            mid = f"<u{n}@elsewhere.test>"
            sender = f"stranger{n}@elsewhere.test"
            strangers.add(sender)
            # Sometimes it even shares the subject; only threading headers count.
            subject = "Re: Quote" if step[1] else "Lunch?"
            box.deliver(step[2], message(mid, sender, None, [], subject))
            world.append((mid, [], False))
        elif kind == "sync":
            run_sync()
        elif kind == "drop":
            box.drop_after = step[1]
            try:
                run_sync()
            except ConnectionDropped:
                pass
            box.drop_after = None
        elif kind == "crash":
            if step[1] < 0:
                box.fail_fetch = SimulatedCrash()
            try:
                run_sync(crash_after=step[1] if step[1] >= 0 else None)
            except SimulatedCrash:
                store.close()
                store = reopen()  # the next run starts from what was committed
            box.fail_fetch = None
        elif kind == "cut":
            box.drop_calls = step[1]
            try:
                run_sync()
            except ConnectionDropped:
                pass
            box.drop_calls = None
        elif kind == "renumber":
            box.renumber("INBOX")
        elif kind == "move":
            move_one(step[1], step[2])
        elif kind == "move-during":
            box.during = (step[1], lambda pick=step[2]: move_one(pick))
            run_sync()
            box.during = None
        elif kind == "lie":
            box.claim_ahead = step[1]
    run_sync()

    expected = {mid for mid, _, tracked in world if tracked and mid != ROOT}

    def column(sql: str) -> list:
        return [next(iter(row.values())) for row in store._all(sql)]

    logged = column("SELECT message_id FROM messages WHERE origin = 'reply'")
    assert sorted(logged) == sorted(expected)
    events = column("SELECT message_id FROM events WHERE kind = 'logged'")
    assert sorted(events) == sorted(expected), "each reply is logged exactly once"
    threads = set(column("SELECT DISTINCT thread_id FROM messages"))
    assert len(threads) == 1, "every reply joins the thread of the message it answers"
    contacts = set(column("SELECT address FROM contacts"))
    assert not contacts & strangers, "nothing of unrelated mail is kept"
    kept = b"".join(bytes(raw or b"") for raw in column("SELECT raw FROM messages"))
    assert b"elsewhere.test" not in kept
    positions = {
        r["folder"]: r["last_uid"] for r in store._all("SELECT folder, last_uid FROM sync_state")
    }
    for folder, last_uid in positions.items():
        assert last_uid <= box.uidnext[folder] - 1, f"{folder}: past what the server has"
    assert "Trash" not in positions
    store.close()
