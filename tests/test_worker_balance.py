"""#25: workers share the load, wait out the database, and keep one sync per account
team-wide; on a real PostgreSQL store (the IMAP side is the real Dovecot where it matters)."""

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time

import pytest
import tomli_w
from conftest import base_env
from helpers import wait_for
from test_sync import reply, submit_as, unique
from test_worker import LEASE as WORKER_LEASE
from test_worker import leases, logged_count, team_config, workers  # noqa: F401 (a fixture)

from hubsync import config as cfg
from hubsync.store import open_store
from hubsync.team.worker import Worker

pytestmark = pytest.mark.servers

LEASE = 3.0


def account(name: str) -> cfg.Account:
    return cfg.Account(name, f"{name}@example.test", name, "imap.example.test", 993)


class Team:
    """In-process workers over one PostgreSQL store, each account "watched" by a thread that
    waits to be stopped: this is about who holds what, not about IMAP."""

    def __init__(self, url: str, names: list[str]) -> None:
        self.url, self.accounts = url, [account(n) for n in names]
        self.workers: dict[str, Worker] = {}
        self.threads: dict[str, threading.Thread] = {}
        self.overlaps: list[set[str]] = []
        self.watching = True
        self.monitor = threading.Thread(target=self._watch_overlap, daemon=True)
        self.monitor.start()

    def join(self, label: str) -> Worker:
        worker = Worker(
            lambda: open_store(url=self.url),
            self.accounts,
            lambda event: None,
            lease_seconds=LEASE,
            owner=label,
            watch_one=lambda name, stop: stop.wait(),
        )
        self.workers[label] = worker
        self.threads[label] = threading.Thread(target=worker.run, daemon=True)
        self.threads[label].start()
        return worker

    def leave(self, label: str) -> None:
        self.workers.pop(label).stop()
        self.threads.pop(label).join(timeout=30)

    def held(self) -> dict[str, int]:
        return {label: len(list(w.watched)) for label, w in self.workers.items()}

    def _watch_overlap(self) -> None:
        while self.watching:
            seen: dict[str, str] = {}
            for label, worker in list(self.workers.items()):
                for name in list(worker.watched):
                    if name in seen:
                        self.overlaps.append({name, seen[name], label})
                    seen[name] = label
            time.sleep(0.05)

    def close(self) -> None:
        for label in list(self.workers):
            self.leave(label)
        self.watching = False


@pytest.fixture
def team(postgres):
    postgres.reset()
    open_store(url=postgres.url).close()  # migrated once
    made = Team(postgres.url, [f"acct{n:02d}" for n in range(30)])
    yield made
    made.close()


def test_workers_share_the_accounts_and_rebalance_when_one_joins_or_leaves(team):
    for label in ("w1", "w2", "w3"):
        team.join(label)
    everyone_started = time.monotonic()
    wait_for(lambda: sorted(team.held().values()) == [10, 10, 10], timeout=LEASE * 3)
    assert time.monotonic() - everyone_started <= LEASE + 1.5  # one lease period (+ a round)

    team.join("w4")
    joined = time.monotonic()
    wait_for(lambda: sorted(team.held().values()) == [7, 7, 8, 8], timeout=LEASE * 3)
    assert time.monotonic() - joined <= LEASE + 1.5

    team.leave("w2")  # cleanly: its heartbeat and leases go at once
    left = time.monotonic()
    wait_for(lambda: sorted(team.held().values()) == [10, 10, 10], timeout=LEASE * 3)
    assert time.monotonic() - left <= LEASE + 1.5
    assert team.overlaps == [], f"held by two workers at once: {team.overlaps[:3]}"


@pytest.fixture
def skewed(tmp_path):
    """A sitecustomize that moves a process's wall clock by HUBSYNC_TEST_SKEW seconds: a
    worker on a machine whose clock is off."""
    directory = tmp_path / "skew"
    directory.mkdir()
    (directory / "sitecustomize.py").write_text(
        "import os, time\n"
        "_skew = float(os.environ.get('HUBSYNC_TEST_SKEW', '0'))\n"
        "_real = time.time\n"
        "time.time = lambda: _real() + _skew\n"
    )
    return directory


def test_workers_with_clocks_five_minutes_apart_never_hold_one_account(
    workers,  # noqa: F811 - the fixture imported from test_worker
    postgres,
    sandbox,
    skewed,
):
    config = team_config(sandbox, names=[f"a{n:02d}" for n in range(6)])
    path = f"{skewed}:{base_env(skewed)['PYTHONPATH']}"
    fast = workers("fast", config, PYTHONPATH=path, HUBSYNC_TEST_SKEW="300")
    slow = workers("slow", config, PYTHONPATH=path, HUBSYNC_TEST_SKEW="-300")
    wait_for(lambda: fast.started() and slow.started(), timeout=60)
    deadline = time.monotonic() + 4 * WORKER_LEASE
    while time.monotonic() < deadline:  # checked continuously, over several lease periods
        assert not (fast.held() & slow.held()), "an account held by both workers"
        time.sleep(0.1)
    assert len(fast.held() | slow.held()) == 6
    assert (len(fast.held()), len(slow.held())) == (3, 3)


def test_a_worker_survives_dropped_connections_and_a_database_restart(
    workers,  # noqa: F811 - the fixture imported from test_worker
    postgres,
    sandbox,
    tmp_path,
):
    """Every worker connection cut, then the server restarted, in the middle of a stream of
    replies: no worker exits, every reply is logged exactly once."""
    config = team_config(sandbox, names=["a00", "a01"])
    root = unique("outage-root")
    raw = reply("bob@customer.test", "alice@example.test", "", "Outage thread", "root", root)
    raw.replace_header("From", "Alice <alice@example.test>")
    home = tmp_path / "logger"
    home.mkdir()
    (home / "config.toml").write_text(tomli_w.dumps(config))
    logged = subprocess.run(
        [sys.executable, "-m", "hubsync", "log", "-a", "a00", "-"],
        input=raw.as_bytes(),
        env={**base_env(home), "HUBSYNC_STORE_URL": postgres.url},
        capture_output=True,
        timeout=60,
    )
    assert logged.returncode == 0, logged.stderr
    worker = workers("w1", config)
    wait_for(lambda: len(worker.held()) == 2, timeout=60)

    def bob_replies(tag: str) -> str:
        rid = unique(tag)
        submit_as(
            sandbox,
            "bob@customer.test",
            reply("bob@customer.test", "alice@example.test", root, "Re: Outage thread", tag, rid),
        )
        return rid

    sent = [bob_replies("before")]
    wait_for(lambda: logged_count(postgres, sent[0]) == 1, timeout=30)
    assert postgres.terminate_sessions() >= 1
    sent.append(bob_replies("after-cut"))
    time.sleep(2)
    postgres.restart(down_for=8.0)  # several lease rounds (every 2 s) find it down
    sent.append(bob_replies("after-restart"))
    for rid in sent:
        wait_for(lambda rid=rid: logged_count(postgres, rid) >= 1, timeout=90)
    assert [logged_count(postgres, rid) for rid in sent] == [1, 1, 1]
    assert worker.process.poll() is None, "the worker stopped"
    said = wait_for(
        lambda: {"store-lost", "store-back"} <= {e["event"] for e in worker.drain()}, timeout=30
    )
    assert said, [e["event"] for e in worker.drain()]
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(timeout=40) == 0


def test_a_second_machine_syncing_the_same_account_is_told_who_holds_it(
    postgres, sandbox, tmp_path
):
    postgres.reset()
    config = team_config(sandbox, names=["shared"])
    homes = []
    for name in ("laptop", "desktop"):
        home = tmp_path / name
        home.mkdir()
        (home / "config.toml").write_text(tomli_w.dumps(config))
        homes.append({
            **base_env(home),
            "HUBSYNC_STORE_URL": postgres.url,
            "HUBSYNC_PASSWORD": sandbox.users["alice@example.test"].password,
        })  # fmt: skip
    watch = subprocess.Popen(
        [sys.executable, "-m", "hubsync", "sync", "--watch", "--json"],
        env=homes[0], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first = json.loads(watch.stdout.readline())
        assert first["event"] == "start"
        wait_for(lambda: "shared" in leases(postgres), timeout=30)
        other = subprocess.run(
            [sys.executable, "-m", "hubsync", "sync", "--json"],
            env=homes[1], capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert other.returncode == 5, other.stderr
        error = json.loads(other.stdout)
        assert error["error"] == "already-running"
        assert f"(process {watch.pid})" in error["message"] and "sync on " in error["message"]
    finally:
        watch.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            watch.wait(timeout=30)
        if watch.poll() is None:
            watch.kill()
    wait_for(lambda: "shared" not in leases(postgres), timeout=10)  # given back on exit
    again = subprocess.run(
        [sys.executable, "-m", "hubsync", "sync", "--json"],
        env=homes[1], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr


def test_a_holder_whose_lease_was_taken_over_is_told_to_give_way(postgres, monkeypatch):
    """The database was away longer than the lease and a worker took the account: the
    `sync --watch` that held it learns so at its next renewal (and stops, exit 5)."""
    from hubsync import locking

    postgres.reset()
    store = open_store(url=postgres.url)
    monkeypatch.setattr(locking, "TEAM_LEASE_MS", 600)  # renewed every 0.2 s
    try:
        with locking.team_account_lock(store, "acct", "sync") as lost:
            assert not lost.wait(0.5)  # renewed and kept
            store._write("UPDATE leases SET owner = ? WHERE account = ?", "h:1:w", "acct")
            assert lost.wait(5)
    finally:
        store.close()
