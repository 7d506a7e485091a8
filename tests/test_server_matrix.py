"""The same user journey on every IMAP server in the sandbox: Dovecot, Cyrus and Courier.

Each server differs in ways RFC 3501 allows (Courier: no UIDNEXT in SELECT, quoted field names
in FETCH keys, APPEND refused to a folder selected read-only, no SPECIAL-USE; Cyrus: top-level
Sent, IDLE through idled). Replies "arrive" by IMAP APPEND into alice's INBOX on that server,
as delivery would put them there; sending goes through the sandbox's Postfix.
"""

import email.utils
import imaplib
import select
import ssl
import subprocess
import sys
import time
import tomllib
import uuid
from contextlib import contextmanager

import pytest
import tomli_w
from helpers import connect_args, wait_for

SERVERS = ("dovecot", "cyrus", "courier")
SENT = {"dovecot": "Sent", "cyrus": "Sent", "courier": "INBOX.Sent"}
ALICE = "alice@example.test"


def unique(tag: str) -> str:
    return f"<{tag}-{uuid.uuid4().hex[:12]}@customer.test>"


def message(mid: str, sender: str, subject: str, parent: str | None = None) -> bytes:
    lines = [
        f"From: {sender}",
        f"To: {ALICE}",
        f"Subject: {subject}",
        f"Date: {email.utils.formatdate()}",
        f"Message-ID: {mid}",
    ]
    if parent:
        lines += [f"In-Reply-To: {parent}", f"References: {parent}"]
    return ("\r\n".join(lines) + "\r\n\r\nThanks, see you.\r\n").encode()


def count_in(sandbox, server: str, folder: str, message_id: str) -> int:
    context = ssl.create_default_context(cafile=str(sandbox.ca.cert_path))
    conn = imaplib.IMAP4_SSL(
        "localhost", sandbox.imap_port(server), ssl_context=context, timeout=30
    )
    try:
        conn.login(ALICE, sandbox.users[ALICE].password)
        conn.select(f'"{folder}"', readonly=True)
        typ, data = conn.uid("SEARCH", "HEADER", "Message-ID", message_id)
        return len(data[0].split()) if typ == "OK" else 0
    finally:
        conn.logout()


@pytest.fixture(params=SERVERS)
def on_server(request, cli, sandbox):
    """alice connected with her IMAP on one of the servers (SMTP through Postfix)."""
    server = request.param
    imap_server = server if server != "dovecot" else "main"
    result = cli(
        *connect_args(sandbox, server, imap_server),
        "--json",
        input=sandbox.users[ALICE].password + "\n",
    )
    assert result.code == 0, result.stderr
    assert result.json()["sent_folder"] == SENT[server]
    return server, cli


def test_send_sync_why_audit_and_doctor(on_server, sandbox):
    server, cli = on_server
    sent = cli("send", "--to", "bob@customer.test", "--subject", "Quote", "--body", "Hi", "--json")
    assert sent.code == 0, sent.stderr  # Courier refused APPEND while Sent was EXAMINEd
    quote = sent.json()["message_id"]
    assert sent.json()["sent_copy"] == "appended"
    assert count_in(sandbox, server, SENT[server], quote) == 1

    reply, stranger = unique("reply"), unique("stranger")
    sandbox.append(server, ALICE, message(reply, "Bob <bob@customer.test>", "Re: Quote", quote))
    sandbox.append(server, ALICE, message(stranger, "x@elsewhere.test", f"Lunch {stranger}?"))

    synced = cli("sync", "--json")  # Courier sends no UIDNEXT in SELECT
    assert synced.code == 0, synced.stderr
    assert synced.json()["logged"] == 1
    contacts = {c["address"] for c in cli("contacts", "--json").json()["contacts"]}
    assert "bob@customer.test" in contacts and "x@elsewhere.test" not in contacts

    logged = cli("why", reply, "--json").json()
    assert (logged["logged"], logged["rule"], logged["ref"]) == (True, "in-reply-to", quote)
    unlogged = cli("why", stranger, "--json")  # Courier quotes the fields in the response key
    assert unlogged.code == 0, unlogged.stderr
    assert (unlogged.json()["rule"], unlogged.json()["found_in"]) == ("no-match", "INBOX")

    audit = cli("threads", "--folder", "INBOX", "--json")
    assert audit.code == 0, audit.stderr
    assert audit.json()["message_count"] >= 2
    assert [stranger] in audit.json()["thread_list"]

    second = cli("sync", "--json").json()  # every message is scanned by two syncs
    assert second["logged"] == 0
    again = cli("sync", "--json").json()
    assert again["logged"] == 0
    assert not any(f["uidvalidity_changed"] for f in again["folders"])
    # nothing new: every folder was skipped on STATUS alone, without selecting it
    assert [f["unchanged"] for f in again["folders"]] == [True] * len(again["folders"])
    later = unique("later")
    sandbox.append(server, ALICE, message(later, "Bob <bob@customer.test>", "Re: Quote", quote))
    third = cli("sync", "--json").json()
    assert third["logged"] == 1
    assert {f["folder"]: f["unchanged"] for f in third["folders"]}["INBOX"] is False

    doctor = cli("doctor", "--json")
    checks = {c["id"]: c for c in doctor.json()["accounts"][0]["checks"]}
    failed = [c for c in checks.values() if c["status"] == "fail"]
    assert not failed, failed
    assert checks["sent-folder"]["status"] == "pass"
    identity = checks["imap-server"]["evidence"]
    assert {"dovecot": "Dovecot", "cyrus": "Cyrus", "courier": "Courier"}[server] in identity
    if server == "cyrus":
        assert "under INBOX" not in identity


def set_sent_folder(cli, account: str, folder: str) -> None:
    path = cli.home / "config.toml"
    config = tomllib.loads(path.read_text())
    config["accounts"][account]["sent_folder"] = folder
    path.write_text(tomli_w.dumps(config))


def test_a_failed_sent_copy_is_retried_and_a_failed_retry_exits_1(on_server, sandbox):
    server, cli = on_server
    set_sent_folder(cli, server, "No such folder")
    sent = cli("send", "--to", "bob@customer.test", "--subject", "Retry", "--body", "x", "--json")
    assert sent.code == 0  # sent once: the copy is pending, never a reason to send again
    assert (sent.json()["state"], sent.json()["sent_copy"]) == ("filing-failed", "pending")
    message_id = sent.json()["message_id"]
    failed = cli("outbox", "--retry", "--json")
    assert failed.code == 1
    assert failed.json()["retried"][0]["state"] == "filing-failed"
    set_sent_folder(cli, server, SENT[server])
    retried = cli("outbox", "--retry", "--json")
    assert retried.code == 0, retried.stderr  # Courier: APPEND after the EXAMINE's UNSELECT
    assert retried.json()["retried"][0]["state"] == "filed"
    assert count_in(sandbox, server, SENT[server], message_id) == 1


def read_line(process: subprocess.Popen, timeout: float) -> str:
    """The next line the process prints, or "" when none comes within ``timeout`` seconds
    (a test that waits for output must fail, not hang)."""
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if ready else ""


@contextmanager
def watching(cli, env=None):
    watcher = subprocess.Popen(
        [sys.executable, "-m", "hubsync", "sync", "--watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        env={**cli.env, **(env or {})},
    )
    try:
        line = read_line(watcher, 60)
        assert "Watching INBOX" in line, line
        yield watcher
    finally:
        watcher.terminate()
        watcher.wait(timeout=20)


def test_watch_logs_a_reply_that_arrives_between_the_sync_and_idle(on_server, sandbox):
    server, cli = on_server
    quote = cli("send", "--to", "bob@customer.test", "--subject", "Race", "--body", "x", "--json")
    quote = quote.json()["message_id"]
    reply = unique("race")
    # The watcher pauses 3 s after its first sync, before it selects INBOX for IDLE: the
    # reply lands in that window, so it is already counted when IDLE starts.
    with watching(cli, {"HUBSYNC_PAUSE": "before-idle=3"}) as watcher:
        started = time.monotonic()
        sandbox.append(server, ALICE, message(reply, "bob@customer.test", "Re: Race", quote))
        line = read_line(watcher, 15)
        assert "logged 1" in line, f"not logged within 15 s: {line!r}"
        assert time.monotonic() - started < 15
    assert cli("why", reply, "--offline", "--json").json()["logged"] is True


def test_watch_logs_a_reply_while_idling(on_server, sandbox):
    server, cli = on_server
    quote = cli("send", "--to", "bob@customer.test", "--subject", "Idle", "--body", "x", "--json")
    quote = quote.json()["message_id"]
    reply = unique("idle")
    with watching(cli):
        time.sleep(1)  # IDLE has started
        sandbox.append(server, ALICE, message(reply, "bob@customer.test", "Re: Idle", quote))
        wait_for(
            lambda: cli("why", reply, "--offline", "--json").json()["logged"],
            timeout=20,
            interval=0.5,
        )


def uid_of(sandbox, server: str, message_id: str) -> int:
    context = ssl.create_default_context(cafile=str(sandbox.ca.cert_path))
    conn = imaplib.IMAP4_SSL("localhost", sandbox.imap_port(server), ssl_context=context)
    try:
        conn.login(ALICE, sandbox.users[ALICE].password)
        conn.select("INBOX", readonly=True)
        typ, data = conn.uid("SEARCH", "HEADER", "Message-ID", message_id)
        return int(data[0].split()[-1])
    finally:
        conn.logout()


def test_a_message_is_logged_by_hand_from_a_folder(on_server, sandbox):
    server, cli = on_server
    mid = unique("by-hand")
    sandbox.append(server, ALICE, message(mid, "Dana <dana@prospect.test>", "Pricing question"))
    uid = uid_of(sandbox, server, mid)
    logged = cli("log", "--folder", "INBOX", "--uid", str(uid), "--json")
    assert logged.code == 0, logged.stderr
    [entry] = logged.json()["logged"]
    assert (entry["message_id"], entry["new"], entry["source"]) == (mid, True, f"INBOX UID {uid}")
    missing = cli("log", "--folder", "INBOX", "--uid", "999999", "--json")
    assert missing.code != 0 and "999999" in missing.stdout + missing.stderr
    assert "dana@prospect.test" in {
        c["address"] for c in cli("contacts", "--json").json()["contacts"]
    }
