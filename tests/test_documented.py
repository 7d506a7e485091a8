"""Documented behaviours (docs/commands.md) that no other test reached, on the real servers."""

import datetime as dt
import email
import email.policy
import signal

import pytest
from helpers import (
    count_by_message_id,
    fetch_by_message_id,
    imap_login,
    settled_count,
    wait_delivered,
)
from test_doctor import checks, connected, edit_account
from test_sync import reply, submit_as, unique, watching

from sandbox.postfix import REFUSED_RECIPIENT

pytestmark = pytest.mark.servers


def send(cli, *args, input=None):
    result = cli("send", *args, "--json", input=input)
    assert result.code in (0, 1), result.stderr
    return result.code, result.json()


def test_sent_copy_never_files_nothing_and_always_files_exactly_one(alice, sandbox):
    code, never = send(
        alice,
        "--to",
        "bob@customer.test",
        "--subject",
        "no copy",
        "--body",
        "x",
        "--sent-copy",
        "never",
    )
    assert code == 0 and never["sent_copy"] == "skipped"
    wait_delivered(sandbox, "bob@customer.test", never["message_id"])
    assert count_by_message_id(sandbox, "alice@example.test", "Sent", never["message_id"]) == 0
    code, always = send(
        alice,
        "--to",
        "bob@customer.test",
        "--subject",
        "copy",
        "--body",
        "x",
        "--sent-copy",
        "always",
    )
    assert code == 0 and always["sent_copy"] == "appended"
    assert count_by_message_id(sandbox, "alice@example.test", "Sent", always["message_id"]) == 1


def test_body_file_dash_reads_the_body_from_stdin(alice, sandbox):
    text = "Hi Bob,\n\nprices below.\n-- \nAlice\n"
    code, data = send(
        alice,
        "--to",
        "bob@customer.test",
        "--subject",
        "stdin body",
        "--body-file",
        "-",
        input=text,
    )
    assert code == 0
    wait_delivered(sandbox, "bob@customer.test", data["message_id"])
    [raw] = fetch_by_message_id(sandbox, "bob@customer.test", "INBOX", data["message_id"])
    body = email.message_from_bytes(raw, policy=email.policy.default).get_content()
    assert body.replace("\r\n", "\n") == text


def test_a_refused_recipient_is_reported_and_the_others_get_the_message(alice, sandbox):
    code, data = send(
        alice,
        "--to",
        f"bob@customer.test, {REFUSED_RECIPIENT}",
        "--subject",
        "partly refused",
        "--body",
        "x",
    )
    assert code == 0 and data["state"] == "filed"
    assert data["accepted"] == ["bob@customer.test"]
    assert list(data["refused"]) == [REFUSED_RECIPIENT]
    assert "5.1.1" in data["refused"][REFUSED_RECIPIENT]
    assert settled_count(sandbox, "bob@customer.test", "INBOX", data["message_id"]) == 1
    listed = alice("outbox", "--all", "--json").json()["items"]
    [item] = [i for i in listed if i["message_id"] == data["message_id"]]
    assert list(item["refused"]) == [REFUSED_RECIPIENT]


def test_every_recipient_refused_sends_nothing_and_files_nothing(alice, sandbox):
    code, data = send(alice, "--to", REFUSED_RECIPIENT, "--subject", "all refused", "--body", "x")
    assert code == 1
    assert "5.1.1" in data["message"] or "5.1.1" in str(data.get("refused"))
    conn = imap_login(sandbox, "alice@example.test")
    conn.select("Sent", readonly=True)
    typ, found = conn.search(None, "SUBJECT", '"all refused"')
    conn.logout()
    assert found == [b""]


def test_connect_with_store_none_keeps_no_password(cli, sandbox):
    from helpers import connect_args

    # connected once with the password kept, then again with --store none
    assert cli(*connect_args(sandbox, "alice"), input="alice-sandbox-pw\n").code == 0
    result = cli(*connect_args(sandbox, "alice"), "--store", "none", input="alice-sandbox-pw\n")
    assert result.code == 0, result.stderr
    without = cli("sync", "--json")
    assert without.code != 0 and without.json()["error"] == "secret-missing"
    assert "--store none" in without.json()["message"]  # the earlier password is not used
    with_env = cli("sync", "--json", env={"HUBSYNC_PASSWORD": "alice-sandbox-pw"})
    assert with_env.code == 0, with_env.stderr
    assert "alice-sandbox-pw" not in (cli.home / "config.toml").read_text()


def test_doctor_all_checks_every_account(cli, sandbox):
    connected(cli, sandbox, "alice@example.test", "alice")
    connected(cli, sandbox, "carol@partner.test", "carol")
    result = cli("doctor", "--all", "--offline", "--json")
    assert [a["account"] for a in result.json()["accounts"]] == ["alice", "carol"]
    only = cli("doctor", "--account", "carol", "--offline", "--json")
    assert [a["account"] for a in only.json()["accounts"]] == ["carol"]


def test_doctor_says_when_no_sent_folder_can_be_found(cli, sandbox):
    connected(cli, sandbox, "bob@customer.test", "bob")
    edit_account(cli, "bob", sent_folder=None, sent_folder_rule=None)
    conn = imap_login(sandbox, "bob@customer.test")
    conn.delete("Sent")
    conn.logout()
    try:
        code, found = checks(cli)
    finally:
        conn = imap_login(sandbox, "bob@customer.test")
        conn.create("Sent")
        conn.logout()
    assert code == 1
    assert found["sent-folder"]["reason"] == "sent-folder-not-found"
    assert "Set sent_folder in config.toml." == found["sent-folder"]["fix"]


def test_why_offline_does_not_ask_the_server(alice, sandbox):
    rid = unique("stranger")
    submit_as(
        sandbox,
        "carol@partner.test",
        reply("carol@partner.test", "alice@example.test", "", "Hello", "hi", rid),
    )
    wait_delivered(sandbox, "alice@example.test", rid)
    online = alice("why", rid, "--json").json()
    assert (online["logged"], online["rule"], online["found_in"]) == (False, "no-match", "INBOX")
    offline = alice("why", rid, "--offline", "--json").json()
    assert (offline["logged"], offline["rule"]) == (False, "unknown")
    assert not offline.get("found_in")


def test_report_lists_errors_and_since_limits_the_period(alice, sandbox):
    sent = alice("send", "--to", "bob@customer.test", "--subject", "counted", "--body", "x")
    assert sent.code == 0
    failed = alice("sync", "--json", env={"HUBSYNC_PASSWORD": "wrong-password"})
    assert failed.code == 3
    report = alice("report", "--json").json()
    assert report["emails_sent"] == 1
    assert [e["reason"] for e in report["errors"]] == ["auth-failed"]
    today = dt.date.today().isoformat()
    assert report["by_day"][today]["sent"] == 1
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    later = alice("report", "--since", tomorrow, "--json").json()
    assert (later["emails_sent"], later["errors"], later["since"]) == (0, [], tomorrow)


def test_watch_stops_cleanly_on_sigterm(alice):
    with watching(alice, signal.SIGTERM) as watcher:
        assert watcher.poll() is None  # watching until the signal
    stderr = watcher.stderr.read()
    assert "Stopped watching" in stderr and "Traceback" not in stderr


def test_a_connection_lost_during_submission_is_uncertain_and_never_resent(
    alice, sandbox, tmp_path
):
    from test_dropped import CuttingProxy

    proxy = CuttingProxy(sandbox.postfix.submissions_port, 10**9, upstream_limit=300_000)
    edit_account(alice, "alice", smtp_port=proxy.port, smtp_security="ssl")
    (tmp_path / "big.bin").write_bytes(bytes(range(256)) * 4096)  # 1 MiB: cut mid-DATA
    try:
        code, data = send(
            alice,
            "--to",
            "bob@customer.test",
            "--subject",
            "cut off",
            "--body",
            "x",
            "--attach",
            str(tmp_path / "big.bin"),
        )
    finally:
        proxy.close()
    assert code == 1
    [item] = [i for i in alice("outbox", "--json").json()["items"] if i["subject"] == "cut off"]
    assert item["state"] == "uncertain"
    edit_account(alice, "alice", smtp_port=sandbox.postfix.submissions_port)
    retried = alice("outbox", "--retry", "--json").json()
    assert [i["state"] for i in retried["items"] if i["subject"] == "cut off"] == ["uncertain"]
    assert settled_count(sandbox, "bob@customer.test", "INBOX", item["message_id"]) == 0


def test_doctor_says_when_the_imap_port_answers_as_another_protocol(cli, sandbox):
    connected(cli, sandbox, "alice@example.test", "alice")
    edit_account(cli, "alice", imap_port=sandbox.postfix.submissions_port)
    code, found = checks(cli)
    assert code == 1
    assert found["imap-protocol"]["reason"] == "wrong-protocol"
    assert "answers as smtp" in found["imap-protocol"]["evidence"].lower()
    assert found["imap-protocol"]["fix"] == "Check the IMAP port."
