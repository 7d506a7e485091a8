"""`hubsync sync` and `hubsync log` against the real servers: what is logged, what is not."""

import contextlib
import email.policy
import os
import signal
import smtplib
import sqlite3
import ssl
import subprocess
import sys
import time
from email.message import EmailMessage

from helpers import imap_login, wait_delivered, wait_for


def db(cli) -> sqlite3.Connection:
    return sqlite3.connect(cli.home / "data" / "hubsync.sqlite3")


def reply(
    sender: str,
    to: str,
    parent_id: str,
    subject: str,
    body: str,
    message_id: str,
    attachment: bytes | None = None,
    refs: str | None = None,
):
    msg = EmailMessage(policy=email.policy.SMTP)
    name = {"bob@customer.test": "Bob Buyer", "carol@partner.test": "Carol Partner"}[sender]
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    if parent_id:
        msg["In-Reply-To"] = parent_id
    if refs or parent_id:
        msg["References"] = refs or parent_id
    msg["Date"] = email.utils.formatdate()
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="signed.pdf")
    return msg


def submit_as(sandbox, sender: str, msg: EmailMessage) -> None:
    """A real SMTP session through Postfix, as the contact's own mail client would."""
    ctx = ssl.create_default_context(cafile=str(sandbox.ca.cert_path))
    with smtplib.SMTP("localhost", sandbox.postfix.submission_port, timeout=30) as smtp:
        smtp.starttls(context=ctx)
        smtp.login(sender, sandbox.users[sender].password)
        smtp.send_message(msg)


def sent_id(cli, subject: str, to: str = "bob@customer.test") -> str:
    result = cli("send", "--to", to, "--subject", subject, "--body", "Hello", "--json")
    assert result.code == 0, result.stderr
    return result.json()["message_id"]


def unique(tag: str) -> str:
    return f"<{tag}-{time.time_ns()}@customer.test>"


def test_reply_over_smtp_is_logged_with_body_contact_and_attachment(alice, sandbox):
    parent = sent_id(alice, "Quote for Bob")
    rid = unique("reply")
    pdf = b"%PDF-1.4 signed " + os.urandom(2048)
    submit_as(
        sandbox,
        "bob@customer.test",
        reply(
            "bob@customer.test",
            "alice@example.test",
            parent,
            "Re: Quote for Bob",
            "Thanks Alice, signed copy attached.",
            rid,
            pdf,
        ),
    )
    wait_delivered(sandbox, "alice@example.test", rid)
    result = alice("sync", "--json")
    assert result.code == 0, result.stderr
    totals = result.json()
    assert totals["logged"] == 1 and totals["attachments_logged"] == 1
    con = db(alice)
    row = con.execute(
        "SELECT thread_id, from_name, body, direction, match_rule FROM messages "
        "WHERE message_id = ?",
        (rid,),
    ).fetchone()
    parent_thread = con.execute(
        "SELECT thread_id FROM messages WHERE message_id = ?", (parent,)
    ).fetchone()[0]
    assert row[0] == parent_thread
    assert row[1] == "Bob Buyer" and "signed copy attached" in row[2]
    assert row[3:] == ("received", "in-reply-to")
    assert (
        con.execute("SELECT name FROM contacts WHERE address = 'bob@customer.test'").fetchone()[0]
        == "Bob Buyer"
    )
    filename, size, digest = con.execute(
        "SELECT filename, size, sha256 FROM attachments"
    ).fetchone()
    assert (filename, size) == ("signed.pdf", len(pdf))
    stored = alice.home / "data" / "attachments" / digest[:2] / digest
    assert stored.read_bytes() == pdf
    # a second sync scans again what the first scanned (every message is scanned by two
    # syncs: a reply whose parent was logged later is found then) and logs nothing twice;
    # a third finds nothing new
    second = alice("sync", "--json").json()
    assert second["scanned"] > 0 and second["logged"] == 0
    assert alice("sync", "--json").json()["scanned"] == 0


def test_reply_to_a_hand_logged_message_is_logged(alice, sandbox, tmp_path):
    original = reply(
        "carol@partner.test",
        "alice@example.test",
        "",
        "Partnership idea",
        "Shall we talk?",
        unique("manual"),
    )
    eml = tmp_path / "idea.eml"
    eml.write_bytes(original.as_bytes())
    logged = alice("log", str(eml), "--json")
    assert logged.code == 0, logged.stderr
    assert logged.json()["logged"][0]["new"] is True
    rid = unique("carol-reply")
    submit_as(
        sandbox,
        "carol@partner.test",
        reply(
            "carol@partner.test",
            "alice@example.test",
            original["Message-ID"],
            "Re: Partnership idea",
            "Following up.",
            rid,
        ),
    )
    wait_delivered(sandbox, "alice@example.test", rid)
    assert alice("sync", "--json").json()["logged"] == 1
    threads = db(alice).execute(
        "SELECT COUNT(DISTINCT thread_id) FROM messages WHERE message_id IN (?, ?)",
        (original["Message-ID"], rid),
    )
    assert threads.fetchone()[0] == 1


def test_log_rejects_a_file_that_is_not_mail(alice, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("just some notes\nnothing else\n")
    result = alice("log", str(junk))
    assert result.code == 1
    assert "not a mail message" in result.stderr


def test_unrelated_message_leaves_no_trace(alice, sandbox):
    marker = f"zebra{time.time_ns()}"
    msg = reply(
        "carol@partner.test",
        "alice@example.test",
        "",
        f"Offer {marker}",
        f"body {marker}",
        f"<{marker}@partner.test>",
        attachment=f"%PDF- contract {marker}".encode(),
    )
    msg.replace_header("From", f"Stranger {marker} <{marker}@partner.test>")
    sandbox.deliver(msg.as_bytes(), "alice@example.test")
    assert alice("sync", "--json").json()["logged"] == 0
    con = db(alice)
    dump = "\n".join(con.iterdump())
    assert marker not in dump
    # its attachment was neither recorded nor written to disk
    assert con.execute("SELECT count(*) FROM attachments").fetchone()[0] == 0
    stored = alice.home / "data" / "attachments"
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))
    last_uid = con.execute("SELECT last_uid FROM sync_state WHERE folder='INBOX'").fetchone()
    assert last_uid[0] > 0  # only the sync position moved


def test_big_reply_is_logged_without_attachments_and_event_says_why(alice, sandbox):
    parent = sent_id(alice, "Big file please")
    rid = unique("big")
    big = reply(
        "bob@customer.test",
        "alice@example.test",
        parent,
        "Re: Big file please",
        "Here is the 60 MB file.",
        rid,
        os.urandom(45 * 1024 * 1024),
    )
    sandbox.deliver(big.as_bytes(), "alice@example.test")  # base64 makes it about 60 MB
    data = alice("sync", "--json").json()
    assert data["logged"] == 1 and data["attachments_skipped"] == 1
    con = db(alice)
    body, note = con.execute(
        "SELECT body, attachments_note FROM messages WHERE message_id=?", (rid,)
    ).fetchone()
    assert "60 MB file" in body
    assert "over the 50 MB limit" in note
    assert con.execute("SELECT COUNT(*) FROM attachments").fetchone()[0] == 0
    reason, detail = con.execute(
        "SELECT reason, detail FROM events WHERE kind = 'attachments-skipped' AND message_id = ?",
        (rid,),
    ).fetchone()
    assert reason == "over-limit" and "MB" in detail


def test_log_attachments_false_is_honoured(alice, sandbox):
    config = alice.home / "config.toml"
    text = config.read_text()
    assert "log_attachments = true" in text
    config.write_text(text.replace("log_attachments = true", "log_attachments = false"))
    parent = sent_id(alice, "No attachments please")
    rid = unique("noatt")
    sandbox.deliver(
        reply(
            "bob@customer.test",
            "alice@example.test",
            parent,
            "Re: x",
            "see pdf",
            rid,
            b"%PDF small",
        ).as_bytes(),
        "alice@example.test",
    )
    data = alice("sync", "--json").json()
    assert data["logged"] == 1 and data["attachments_logged"] == 0
    con = db(alice)
    assert con.execute("SELECT COUNT(*) FROM attachments").fetchone()[0] == 0
    assert (
        con.execute(
            "SELECT reason FROM events WHERE kind='attachments-skipped' AND message_id=?", (rid,)
        ).fetchone()[0]
        == "attachments-off"
    )


def test_changed_uidvalidity_rescans_without_duplicates(alice, sandbox):
    folder = f"Replies{time.time_ns()}"
    parent = sent_id(alice, "uidvalidity")
    msgs = [
        reply(
            "bob@customer.test", "alice@example.test", parent, "Re: u", f"n{i}", unique(f"uv{i}")
        ).as_bytes()
        for i in range(3)
    ]

    def fill():
        for raw in msgs:
            sandbox.deliver(raw, "alice@example.test", folder)

    sandbox.main.doveadm("mailbox", "create", "-u", "alice@example.test", folder)
    fill()
    assert alice("sync", "--folder", folder, "--json").json()["logged"] == 3
    sandbox.main.doveadm("mailbox", "delete", "-u", "alice@example.test", folder)
    sandbox.main.doveadm("mailbox", "create", "-u", "alice@example.test", folder)
    fill()
    again = alice("sync", "--folder", folder, "--json").json()
    assert again["folders"][0]["uidvalidity_changed"] is True
    assert again["scanned"] == 3 and again["logged"] == 0
    assert (
        db(alice).execute("SELECT COUNT(*) FROM messages WHERE folder = ?", (folder,)).fetchone()[0]
        == 3
    )


def test_sync_killed_mid_fetch_logs_every_match_exactly_once(alice, sandbox):
    parent = sent_id(alice, "crash during sync")
    ids = [unique(f"crash{i}") for i in range(3)]
    for i, mid in enumerate(ids):
        sandbox.deliver(
            reply(
                "bob@customer.test", "alice@example.test", parent, "Re: c", f"r{i}", mid
            ).as_bytes(),
            "alice@example.test",
        )
    killed = alice("sync", env={"HUBSYNC_FAULT": "mid-fetch"})
    assert killed.code == 137
    con = db(alice)
    # killed after logging the first of the range, before its position moved: the range is
    # one transaction, so neither the message nor the position is there (#25)
    assert (
        con.execute(
            f"SELECT COUNT(*) FROM messages WHERE message_id IN ({','.join('?' * 3)})", ids
        ).fetchone()[0]
        == 0
    )
    assert alice("sync", "--json").code == 0
    rows = con.execute(
        f"SELECT message_id FROM messages WHERE message_id IN ({','.join('?' * 3)})", ids
    ).fetchall()
    assert sorted(r[0] for r in rows) == sorted(ids)


@contextlib.contextmanager
def watching(cli, stop_signal: int = signal.SIGINT, *options: str, expect: str = "Watching INBOX"):
    """Run `hubsync sync --watch` (with ``options``) until the block ends, then stop it with
    Ctrl-C (SIGINT, or ``stop_signal``): it must exit cleanly, with 0."""
    watcher = subprocess.Popen(
        [sys.executable, "-m", "hubsync", "sync", "--watch", *options],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = watcher.stdout.readline()
        assert expect in line, line + watcher.stderr.read(2000)
        yield watcher
    finally:
        watcher.send_signal(stop_signal)
        assert watcher.wait(timeout=20) == 0  # a clean exit on Ctrl-C or SIGTERM


def reply_arrives_and_is_logged(cli, sandbox, parent: str, tag: str, timeout: float) -> None:
    rid = unique(tag)
    submit_as(
        sandbox,
        "bob@customer.test",
        reply("bob@customer.test", "alice@example.test", parent, "Re: watched", "hi", rid),
    )
    con = db(cli)
    wait_for(
        lambda: con.execute("SELECT 1 FROM messages WHERE message_id = ?", (rid,)).fetchone(),
        timeout=timeout,
    )


def test_watch_logs_a_reply_while_idling_and_a_second_sync_is_refused(alice, sandbox):
    parent = sent_id(alice, "watch me")
    with watching(alice) as watcher:
        second = alice("sync")
        assert second.code == 5  # busy
        assert "already running" in second.stderr
        reply_arrives_and_is_logged(alice, sandbox, parent, "watched", timeout=30)
    assert "Stopped watching" in watcher.stderr.read()


def test_watch_reconnects_after_the_server_drops_the_connection(alice, sandbox):
    parent = sent_id(alice, "watch reconnect")
    with watching(alice) as watcher:
        sandbox.main.doveadm("kick", "alice@example.test")  # the server drops every session
        reply_arrives_and_is_logged(alice, sandbox, parent, "after-kick", timeout=40)
        reconnects = (
            db(alice)
            .execute("SELECT COUNT(*) FROM events WHERE reason = 'watch-reconnect'")
            .fetchone()[0]
        )
        assert reconnects >= 1
    assert "reconnecting in" in watcher.stderr.read()


def test_sync_never_marks_mail_as_read(alice, sandbox):
    parent = sent_id(alice, "seen check")
    rid = unique("unseen")
    sandbox.deliver(
        reply("bob@customer.test", "alice@example.test", parent, "Re: seen", "x", rid).as_bytes(),
        "alice@example.test",
    )
    conn = imap_login(sandbox, "alice@example.test")
    conn.select("INBOX", readonly=True)
    _, before = conn.uid("SEARCH", "SEEN")
    assert alice("sync", "--json").json()["logged"] >= 1
    conn.noop()
    _, after = conn.uid("SEARCH", "SEEN")
    conn.logout()
    assert after == before


def test_reply_to_a_reply_in_the_same_scan_is_logged(alice, sandbox):
    parent = sent_id(alice, "chain")
    first, second = unique("chain1"), unique("chain2")
    sandbox.deliver(
        reply(
            "bob@customer.test", "alice@example.test", parent, "Re: chain", "1", first
        ).as_bytes(),
        "alice@example.test",
    )
    # this one names only its direct parent, which is not logged yet when the scan sees it
    sandbox.deliver(
        reply(
            "carol@partner.test", "alice@example.test", first, "Re: chain", "2", second
        ).as_bytes(),
        "alice@example.test",
    )
    assert alice("sync", "--json").json()["logged"] == 2
