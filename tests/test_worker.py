"""`hubsync worker` on a real PostgreSQL store and the real Dovecot: every account watched by
exactly one worker, a killed worker's accounts taken over within the lease, replies logged
exactly once before, during and after the failover."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest
import tomli_w
from conftest import base_env
from helpers import wait_for
from test_sync import reply, submit_as, unique

pytestmark = pytest.mark.servers

ACCOUNTS = [f"a{n:02d}" for n in range(20)]
LEASE = 6.0


def team_config(sandbox, names=ACCOUNTS, credential_source="none") -> dict:
    """20 accounts (all on alice's mailbox, as 20 colleagues' inboxes would be)."""
    account = {
        "email": "alice@example.test",
        "username": "alice@example.test",
        "imap_host": "localhost",
        "imap_port": sandbox.main.ports.imaps,
        "imap_security": "ssl",
        "smtp_host": "localhost",
        "smtp_port": sandbox.postfix.submissions_port,
        "smtp_security": "ssl",
        "cafile": str(sandbox.ca.cert_path),
        "sent_folder": "Sent",
        "credential_source": credential_source,
    }
    return {"default_account": names[0], "accounts": {name: dict(account) for name in names}}


class WorkerProcess:
    def __init__(self, home, env) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hubsync", "worker", "--json", "--lease", str(LEASE)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def drain(self) -> list[dict]:
        while True:
            try:
                self.seen.append(self.events.get_nowait())
            except queue.Empty:
                return self.seen

    def started(self) -> bool:
        return any(e["event"] == "start" for e in self.drain())

    def held(self) -> set[str]:
        holding: set[str] = set()
        for e in self.drain():
            if e["account"] is None:
                continue
            if e["event"] == "claim":
                holding.add(e["account"])
            elif e["event"] == "release":
                holding.discard(e["account"])
        return holding


@pytest.fixture
def workers(tmp_path, sandbox, postgres):
    postgres.reset()
    started = []

    def start(name: str, config: dict | None = None, **env_changes: str) -> WorkerProcess:
        home = tmp_path / name
        home.mkdir()
        (home / "config.toml").write_text(tomli_w.dumps(config or team_config(sandbox)))
        env = {
            **base_env(home),
            "HUBSYNC_STORE_URL": postgres.url,
            "HUBSYNC_PASSWORD": sandbox.users["alice@example.test"].password,
            **env_changes,
        }
        env = {k: v for k, v in env.items() if v}
        worker = WorkerProcess(home, env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(timeout=10)


def leases(postgres) -> dict[str, str]:
    with psycopg.connect(postgres.url) as conn:
        return dict(conn.execute("SELECT account, owner FROM leases").fetchall())


def logged_count(postgres, message_id: str) -> int:
    with psycopg.connect(postgres.url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM messages WHERE account = 'a00' AND message_id = %s",
            (message_id,),
        ).fetchone()
    return row[0]


def test_two_workers_share_twenty_accounts_and_release_them_on_sigterm(workers, postgres):
    first, second = workers("w1"), workers("w2")
    wait_for(lambda: first.started() and second.started(), timeout=60)
    wait_for(lambda: len(first.held() | second.held()) == 20, timeout=60)
    assert not (first.held() & second.held()), "an account claimed by both workers"
    held = leases(postgres)
    assert sorted(held) == ACCOUNTS and len(set(held.values())) <= 2
    for worker in (first, second):
        worker.process.send_signal(signal.SIGTERM)
    assert [w.process.wait(timeout=40) for w in (first, second)] == [0, 0]
    assert leases(postgres) == {}
    releases = [e for w in (first, second) for e in w.drain() if e["event"] == "release"]
    assert [e["event"] for w in (first, second) for e in w.drain()].count("stop") == 2
    assert sorted(e["account"] for e in releases) == ACCOUNTS


def test_a_killed_workers_accounts_are_taken_over_and_no_reply_is_lost(
    workers, postgres, sandbox, tmp_path
):
    root = unique("team-root")
    raw = reply("bob@customer.test", "alice@example.test", "", "Team thread", "root", root)
    raw.replace_header("From", "Alice <alice@example.test>")
    home = tmp_path / "logger"
    home.mkdir()
    (home / "config.toml").write_text(tomli_w.dumps(team_config(sandbox)))
    env = {**base_env(home), "HUBSYNC_STORE_URL": postgres.url}
    postgres.reset()
    logged = subprocess.run(
        [sys.executable, "-m", "hubsync", "log", "-a", "a00", "-"],
        input=raw.as_bytes(),
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert logged.returncode == 0, logged.stderr

    def bob_replies(tag: str) -> str:
        rid = unique(tag)
        submit_as(
            sandbox,
            "bob@customer.test",
            reply("bob@customer.test", "alice@example.test", root, "Re: Team thread", tag, rid),
        )
        return rid

    first = workers("w1")
    wait_for(lambda: len(first.held()) == 20, timeout=60)
    second = workers("w2")  # starts with nothing to claim: every lease is held
    wait_for(second.started, timeout=60)
    before = bob_replies("before")
    wait_for(lambda: logged_count(postgres, before) == 1, timeout=30)

    os.kill(first.process.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    during = bob_replies("during")
    wait_for(lambda: len(second.held()) == 20, timeout=LEASE + 30)
    takeover = time.monotonic() - killed_at
    assert takeover <= LEASE + 5, f"took {takeover:.1f} s"
    after = bob_replies("after")
    for rid in (before, during, after):
        wait_for(lambda rid=rid: logged_count(postgres, rid) >= 1, timeout=30)
    assert [logged_count(postgres, rid) for rid in (before, during, after)] == [1, 1, 1]
    assert set(leases(postgres).values()) == {second.drain()[-1]["worker"]}


def test_secrets_come_encrypted_from_the_store_and_a_missing_one_is_reported_once(
    workers, postgres, sandbox, tmp_path
):
    from hubsync import environment
    from hubsync.store import open_store
    from hubsync.team import secrets

    postgres.reset()
    key = secrets.new_key_file(tmp_path / "team.key")
    store = open_store(url=postgres.url)
    with environment.use(environment.Environment(secret_key_file=str(key))):
        secrets.put(store, "a00", sandbox.users["alice@example.test"].password)
    store.close()
    config = team_config(sandbox, ["a00", "a01"], credential_source="store")
    worker = workers("w1", config, HUBSYNC_PASSWORD="", HUBSYNC_SECRET_KEY_FILE=str(key))
    wait_for(lambda: any(e["event"] == "sync" for e in worker.drain()), timeout=60)
    wait_for(
        lambda: any(e["event"] == "failure" and e["account"] == "a01" for e in worker.drain()),
        timeout=30,
    )
    time.sleep(LEASE)  # two more rounds: the account without a secret is not claimed again
    events = worker.drain()
    [failure] = [e for e in events if e["event"] == "failure"]
    assert (failure["account"], failure["reason"], failure["retried"]) == (
        "a01",
        "secret-missing",
        False,
    )
    assert [e["account"] for e in events if e["event"] == "claim"] == ["a00", "a01"]
    assert sandbox.users["alice@example.test"].password not in json.dumps(events)
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(timeout=40) == 0
