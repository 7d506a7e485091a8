"""Every reply, wherever it lands and whatever the network does (real servers): a Gmail-like
Dovecot whose replies land in a label, and a proxy in front of the main Dovecot that makes
IDLE silent, holds connections, cuts reconnects during TLS and LOGIN, and misreports UIDNEXT."""

import contextlib
import email.policy
import email.utils
import os
import signal
import socket
import sqlite3
import threading
import time
from email.message import EmailMessage

import pytest
from helpers import connect_args, count_by_message_id, wait_delivered, wait_for
from test_sync import watching as watch_until_stopped

from sandbox.imap_proxy import ImapProxy

ALICE = "alice@example.test"


def db(cli) -> sqlite3.Connection:
    return sqlite3.connect(cli.home / "data" / "hubsync.sqlite3")


def message(mid: str, sender: str, to: str, subject: str, parent: str = "") -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = mid
    msg["Date"] = email.utils.formatdate()
    if parent:
        msg["In-Reply-To"] = msg["References"] = parent
    msg.set_content("Hello")
    return msg.as_bytes()


def unique(tag: str) -> str:
    return f"<{tag}-{time.time_ns()}@example.test>"


def tracked(cli, tmp_path, tag: str) -> str:
    """A message alice wrote in her own mail client and logged: replies to it are tracked."""
    mid = unique(tag)
    eml = tmp_path / f"{tag}.eml"
    eml.write_bytes(message(mid, ALICE, "bob@customer.test", f"Quote {tag}"))
    result = cli("log", str(eml), "--json")
    assert result.code == 0, result.stderr
    return mid


def deliver_reply(sandbox, parent: str, tag: str, folder: str = "INBOX", server="main") -> str:
    rid = unique(f"re-{tag}")
    raw = message(rid, "bob@customer.test", ALICE, f"Re: Quote {tag}", parent)
    sandbox.deliver(raw, ALICE, folder, server=server)
    return rid


def is_logged(cli, mid: str) -> bool:
    return db(cli).execute("SELECT 1 FROM messages WHERE message_id = ?", (mid,)).fetchone()


def events(cli, reason: str) -> list[str]:
    rows = db(cli).execute("SELECT detail FROM events WHERE reason = ?", (reason,)).fetchall()
    return [r[0] for r in rows]


def watching(cli, *options: str, expect: str = "Watching INBOX"):
    """`hubsync sync --watch` with ``options`` until the block ends (then Ctrl-C)."""
    return watch_until_stopped(cli, signal.SIGINT, *options, expect=expect)


@pytest.fixture
def gmail(cli, sandbox):
    """alice connected to the Gmail-like Dovecot (Swedish folder names, a virtual \\All)."""
    result = cli(
        *connect_args(sandbox, "gmail", server="gmail"), "--json", input="alice-sandbox-pw\n"
    )
    assert result.code == 0, result.stderr
    return cli, result.json()


def test_a_reply_filed_under_a_label_is_logged_by_sync_and_by_the_watch(gmail, sandbox, tmp_path):
    cli, connected = gmail
    assert connected["watched_folders"] == ["[Gmail]/Alla mail", "Skickat"]
    assert "Kunder" in connected["folders_not_watched"]
    quote = tracked(cli, tmp_path, "label")
    first = deliver_reply(sandbox, quote, "label-1", folder="Kunder", server="gmail")
    synced = cli("sync", "--json")
    assert synced.code == 0, synced.stderr
    assert synced.json()["logged"] == 1 and is_logged(cli, first)
    with watching(cli, "--poll", "2", expect="Watching [Gmail]/Alla mail"):
        second = deliver_reply(sandbox, quote, "label-2", folder="Kunder", server="gmail")
        wait_for(lambda: is_logged(cli, second), timeout=15)
    # Filed again by the user (out of the label, into the inbox): never logged twice.
    sandbox.gmail.doveadm("move", "-u", ALICE, "INBOX", "mailbox", "Kunder", "all")
    again = cli("sync", "--json").json()
    assert again["logged"] == 0
    replies = "SELECT COUNT(*) FROM events WHERE kind = 'logged' AND message_id LIKE '<re-%'"
    assert db(cli).execute(replies).fetchone()[0] == 2


def test_an_inbox_only_account_is_told_where_the_reply_waits_and_how_to_read_it(
    gmail, sandbox, tmp_path
):
    cli, _ = gmail
    assert cli("accounts", "set", "gmail", "--folders", "inbox").code == 0
    quote = tracked(cli, tmp_path, "unwatched")
    rid = deliver_reply(sandbox, quote, "unwatched", folder="Kunder", server="gmail")
    assert cli("sync", "--json").json()["logged"] == 0
    why = cli("why", rid, "--json").json()
    assert (why["rule"], why["found_in"], why["ref"]) == ("folder-not-watched", "Kunder", quote)
    set_all = cli("accounts", "set", "gmail", "--folders", "all")
    assert set_all.code == 0 and "every folder" in set_all.stdout
    assert cli("sync", "--json").json()["logged"] == 1
    assert cli("why", rid, "--json").json()["rule"] == "in-reply-to"


def test_a_reply_that_arrives_before_the_message_it_answers_is_logged(gmail, sandbox, tmp_path):
    cli, _ = gmail
    assert cli("accounts", "set", "gmail", "--folders", "INBOX,Kunder").code == 0
    quote = tracked(cli, tmp_path, "order")
    # Bob's second reply names only his first (In-Reply-To and References) and sits in
    # INBOX; the first was filed under a label, which sync reads after INBOX: the scan
    # meets the answer before the message that makes it a tracked reply.
    first, second = unique("re-order-1"), unique("re-order-2")
    bob = "bob@customer.test"
    later = message(second, bob, ALICE, "Re: Quote order", first)
    sandbox.deliver(later, ALICE, "INBOX", server="gmail")
    sandbox.deliver(
        message(first, bob, ALICE, "Re: Quote order", quote), ALICE, "Kunder", server="gmail"
    )
    synced = cli("sync", "--json").json()
    assert synced["logged"] == 2 and is_logged(cli, second)
    assert synced["folders"][0]["caught_up"], "INBOX was scanned again in the same sync"


def checks(cli, *options: str) -> dict:
    result = cli("doctor", "--json", *options)
    return {c["id"]: c for c in result.json()["accounts"][0]["checks"]}


def test_doctor_finds_replies_where_sync_does_not_look(gmail, sandbox, tmp_path):
    cli, _ = gmail
    assert cli("accounts", "set", "gmail", "--folders", "inbox").code == 0
    quote = tracked(cli, tmp_path, "doctor")
    deliver_reply(sandbox, quote, "doctor-label", folder="Kunder", server="gmail")
    deliver_reply(sandbox, quote, "doctor-spam", folder="Skräppost", server="gmail")
    found = checks(cli)
    assert found["watched-folders"]["reason"] == "folders-not-watched"
    assert "accounts set --folders all" in found["watched-folders"]["fix"]
    elsewhere = found["replies-elsewhere"]
    assert elsewhere["reason"] == "replies-not-watched"
    assert "Kunder (1)" in elsewhere["evidence"] and "Skräppost (1)" in elsewhere["evidence"]
    assert cli("accounts", "set", "gmail", "--folders", "all").code == 0
    found = checks(cli)
    assert found["watched-folders"]["status"] == "pass"
    # All Mail holds the label's reply; only the one in spam is still out of sight.
    assert "Skräppost (1)" in found["replies-elsewhere"]["evidence"]
    assert "Kunder" not in found["replies-elsewhere"]["evidence"]


def test_why_says_a_reply_waits_for_the_next_sync(gmail, sandbox, tmp_path):
    cli, _ = gmail
    quote = tracked(cli, tmp_path, "pending")
    rid = deliver_reply(sandbox, quote, "pending", folder="Kunder", server="gmail")
    why = cli("why", rid, "--json").json()
    assert (why["rule"], why["logged"], why["ref"]) == ("pending", False, quote)
    assert "next sync" in why["explanation"]


@pytest.fixture
def proxy(sandbox):
    main = sandbox.main
    running = ImapProxy(main.ports.imaps, main.cert, main.key, sandbox.ca.cert_path)
    yield running
    running.close()


@pytest.fixture
def proxied(cli, sandbox, proxy):
    """alice on the main Dovecot through the proxy."""
    args = connect_args(sandbox, "alice")
    args[args.index("--imap-port") + 1] = str(proxy.port)
    result = cli(*args, input="alice-sandbox-pw\n")
    assert result.code == 0, result.stderr
    return cli


def test_behind_a_silent_idle_the_watch_logs_a_reply_within_the_poll(
    proxied, proxy, sandbox, tmp_path
):
    quote = tracked(proxied, tmp_path, "silent")
    proxy.silent_idle = True
    with watching(proxied, "--poll", "2"):
        started = time.monotonic()
        rid = deliver_reply(sandbox, quote, "silent")
        wait_for(lambda: is_logged(proxied, rid), timeout=15)
        took = time.monotonic() - started
    assert proxy.swallowed >= 1, "IDLE's announcement never reached hubsync"
    assert took < 10, f"logged {took:.1f} s after delivery"
    assert any("did not announce" in e for e in events(proxied, "idle-silent"))
    idle = checks(proxied, "--offline")["idle"]
    assert (idle["status"], idle["reason"]) == ("warn", "idle-silent")


def test_a_silently_dead_connection_is_replaced_and_the_reply_logged(
    proxied, proxy, sandbox, tmp_path
):
    quote = tracked(proxied, tmp_path, "dead")
    with watching(proxied, "--poll", "2") as watcher:
        time.sleep(1)  # idling now
        before = proxy.connections
        proxy.hold_open_connections()  # the path dies without a reset
        started = time.monotonic()
        rid = deliver_reply(sandbox, quote, "dead")
        wait_for(lambda: is_logged(proxied, rid), timeout=30)
        took = time.monotonic() - started
        assert proxy.connections > before, "a new connection replaced the dead one"
    # IDLE for one poll (2 s), DONE unanswered for 5 s, LOGOUT abandoned after 5 s.
    assert took < 20, f"logged {took:.1f} s after the path died"
    assert "Connection trouble" in watcher.stderr.read()


def test_a_reconnect_cut_during_tls_and_login_keeps_the_watch_running(
    proxied, proxy, sandbox, tmp_path
):
    quote = tracked(proxied, tmp_path, "flap")
    with watching(proxied, "--poll", "2") as watcher:
        proxy.cut_tls, proxy.cut_login = 1, 1
        proxy.reset_open_connections()  # a flap; the next two reconnects are cut too
        rid = deliver_reply(sandbox, quote, "flap")
        wait_for(lambda: is_logged(proxied, rid), timeout=40)
        assert watcher.poll() is None, "the watch kept running"
        assert (proxy.cut_tls, proxy.cut_login) == (0, 0)
    reasons = {r[0] for r in db(proxied).execute("SELECT reason FROM events")}
    assert "connection-dropped" in reasons
    assert not reasons & {"auth-failed", "tls-failed"}, reasons
    doctor = proxied("doctor", "--offline", "--json")
    assert "auth-failed" not in doctor.stdout


def test_a_far_ahead_uidnext_leaves_the_position_sane(proxied, proxy, sandbox, tmp_path):
    quote = tracked(proxied, tmp_path, "ahead")
    assert proxied("sync", "--json").code == 0
    proxy.uidnext_claim = 3_000_000_000  # once, in the next STATUS or SELECT
    started = time.monotonic()
    assert proxied("sync", "--json").code == 0
    assert time.monotonic() - started < 20, "empty UID ranges were walked"
    positions = dict(db(proxied).execute("SELECT folder, last_uid FROM sync_state"))
    assert max(positions.values()) < 1_000_000, positions
    rid = deliver_reply(sandbox, quote, "ahead")
    synced = proxied("sync", "--json")
    assert synced.json()["logged"] == 1 and is_logged(proxied, rid)


class AnswerCuttingProxy:
    """TCP to the submission port that lets the whole message through but cuts the
    connection before the server's answer to it reaches the client: the server has the
    message, the client cannot know (an "uncertain" send that was in fact delivered)."""

    def __init__(self, target_port: int, after_client_bytes: int) -> None:
        self.target_port, self.after = target_port, after_client_bytes
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.from_client = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            client, _ = self.listener.accept()
            server = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._up, args=(client, server), daemon=True).start()
            with contextlib.suppress(OSError):
                while data := server.recv(4096):
                    if self.from_client >= self.after:
                        break  # the answer to DATA: never passed on
                    client.sendall(data)
            client.close()  # the client sees EOF while waiting for "250 queued"
            time.sleep(2)  # the server has answered; then it may go
            server.close()

    def _up(self, client, server) -> None:
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                server.sendall(data)
                self.from_client += len(data)

    def close(self) -> None:
        self.listener.close()


def test_an_uncertain_send_that_was_delivered_is_tracked_and_proven_by_the_reply(
    alice, sandbox, tmp_path
):
    proxy = AnswerCuttingProxy(sandbox.postfix.submissions_port, after_client_bytes=900_000)
    config = alice.home / "config.toml"
    original = config.read_text()
    config.write_text(
        original.replace(
            f"smtp_port = {sandbox.postfix.submission_port}", f"smtp_port = {proxy.port}"
        ).replace('smtp_security = "starttls"', 'smtp_security = "ssl"')
    )
    (tmp_path / "big.bin").write_bytes(os.urandom(1 << 20))  # 1 MiB: the answer comes after it
    try:
        sent = alice(
            "send",
            "--to",
            "bob@customer.test",
            "--subject",
            "cut answer",
            "--body",
            "x",
            "--attach",
            str(tmp_path / "big.bin"),
            "--json",
        )
    finally:
        proxy.close()
        config.write_text(original)
    assert sent.code == 1, sent.stderr
    [item] = [i for i in alice("outbox", "--json").json()["items"] if i["subject"] == "cut answer"]
    assert item["state"] == "uncertain"
    mid = item["message_id"]
    wait_delivered(sandbox, "bob@customer.test", mid)  # it did reach Bob
    assert is_logged(alice, mid), "an uncertain send is tracked"
    rid = deliver_reply(sandbox, mid, "proof")
    synced = alice("sync", "--json")
    assert synced.code == 0 and is_logged(alice, rid)
    assert synced.json()["folders"][0]["deliveries_proven"] == 1
    [item] = [
        i for i in alice("outbox", "--all", "--json").json()["items"] if i["message_id"] == mid
    ]
    assert item["state"] == "filed", item
    assert count_by_message_id(sandbox, ALICE, "Sent", mid) == 1
    assert count_by_message_id(sandbox, "bob@customer.test", "INBOX", mid) == 1, "never resent"
