"""A team's shared log on a real PostgreSQL server: two machines (two hubsync homes) on one
store see the same threads, and a reply both of them sync at once is logged once."""

import subprocess
import sys

import psycopg
import pytest
from conftest import Cli, CliResult, base_env
from helpers import connect_args
from test_sync import reply, submit_as, unique

pytestmark = pytest.mark.servers


@pytest.fixture
def team(tmp_path, sandbox, postgres):
    """Two homes, each with alice's account, sharing one PostgreSQL store."""
    postgres.reset()
    machines = []
    for name in ("laptop", "desktop"):
        home = tmp_path / name
        env = {**base_env(home), **sandbox.keyring.env(), "HUBSYNC_STORE_URL": postgres.url}
        env["HUBSYNC_DNS"] = f"127.0.0.1:{sandbox.dns.port}"
        cli = Cli(home, env)
        result = cli(*connect_args(sandbox, "alice"), input="alice-sandbox-pw\n")
        assert result.code == 0, result.stderr
        machines.append(cli)
    return machines


def in_parallel(clis, *args: str) -> list[CliResult]:
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "hubsync", *args],
            env=c.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in clis
    ]
    results = []
    for process in running:
        out, err = process.communicate(timeout=120)
        results.append(CliResult(process.returncode, out, err))
    return results


def test_two_machines_share_one_log_and_log_a_reply_once(team, sandbox, postgres, tmp_path):
    laptop, desktop = team
    sent = laptop("send", "--to", "bob@customer.test", "--subject", "Team quote", "--body", "x",
                  "--json")  # fmt: skip
    assert sent.code == 0, sent.stderr
    quote = sent.json()["message_id"]
    # the desktop sees the thread the laptop started
    threads = desktop("threads", "--json").json()
    assert quote in {m["message_id"] for t in threads["threads"] for m in t["messages"]}

    rid = unique("team-reply")
    signed = b"%PDF-1.4 signed by bob " + rid.encode()
    submit_as(sandbox, "bob@customer.test",
              reply("bob@customer.test", "alice@example.test", quote, "Re: Team quote", "ok", rid,
                    attachment=signed))  # fmt: skip
    from helpers import wait_delivered

    wait_delivered(sandbox, "alice@example.test", rid)
    results = in_parallel(team, "sync", "--json")
    # One sync per account team-wide: the second waits its turn or is told who holds it
    assert sorted(r.code for r in results) in ([0, 0], [0, 5]), [r.stderr for r in results]
    busy = [r for r in results if r.code == 5]
    assert all("already-running" in r.stdout and "sync on " in r.stdout for r in busy)
    assert sum(r.json().get("logged", 0) for r in results) == 1
    with psycopg.connect(postgres.url) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM messages WHERE account = 'alice' AND message_id = %s", (rid,)
        ).fetchone()
        assert rows[0] == 1
        contacts = conn.execute(
            "SELECT count(*) FROM contacts WHERE account = 'alice' AND address = 'bob@customer.test'"
        ).fetchone()
        assert contacts[0] == 1
    assert laptop("why", rid, "--json").json()["logged"] is True
    assert desktop("why", rid, "--json").json()["logged"] is True
    # the attachment one machine logged is saved from the other: no shared disk needed
    contact = desktop("contacts", "bob@customer.test", "--json").json()
    [attachment] = [a for a in contact["attachments"] if a["message_id"] == rid]
    (tmp_path / "out").mkdir()
    saved = desktop("attachments", "save", attachment["sha256"], "--to", str(tmp_path / "out"),
                    "--json")  # fmt: skip
    assert saved.code == 0, saved.stderr
    assert (tmp_path / "out" / "signed.pdf").read_bytes() == signed
    # nothing of the team's log is kept on either machine
    for cli in team:
        assert not (cli.home / "data" / "hubsync.sqlite3").exists()
        assert not (cli.home / "data" / "attachments").exists()
