"""threads, threads split, report, contacts and why, end to end against the real servers."""

import imaplib
import sqlite3
import time

from helpers import imap_login, wait_delivered
from test_sync import reply, sent_id, submit_as, unique


def file_in_sent(sandbox, raw: bytes) -> None:
    """What alice's own mail client does after sending: a copy in her Sent folder."""
    conn = imap_login(sandbox, "alice@example.test")
    conn.append("Sent", "(\\Seen)", imaplib.Time2Internaldate(time.time()), raw)
    conn.logout()


def test_unrelated_email_chained_by_reply_is_flagged_and_split_fixes_it(alice, sandbox):
    quote = sent_id(alice, "Quote for Bob")
    bob_reply = unique("bob")
    submit_as(
        sandbox,
        "bob@customer.test",
        reply(
            "bob@customer.test",
            "alice@example.test",
            quote,
            "Re: Quote for Bob",
            "Looks good.",
            bob_reply,
        ),
    )
    wait_delivered(sandbox, "alice@example.test", bob_reply)
    assert alice("sync", "--json").json()["logged"] == 1

    # Alice clicks Reply on Bob's email in her own client, deletes everything, and writes
    # to Carol about something else. The headers still chain it to the quote thread.
    hijack = unique("hijack")
    msg = reply(
        "carol@partner.test",
        "carol@partner.test",
        bob_reply,
        "Partnership dinner",
        "Carol, dinner next week?",
        hijack,
        refs=f"{quote} {bob_reply}",
    )
    msg.replace_header("From", "Alice Seller <alice@example.test>")
    raw = msg.as_bytes()
    file_in_sent(sandbox, raw)
    assert alice("sync", "--json").json()["logged"] == 1

    threads = alice("threads", "--json").json()["threads"]
    flagged = [m["message_id"] for t in threads for m in t["messages"] if m["suspected_unrelated"]]
    assert flagged == [hijack]
    text = alice("threads").stdout
    assert "suspected unrelated email" in text and "template" in text

    split = alice("threads", "split", hijack, "--json").json()
    assert split["moved"] == [hijack]
    after = alice("threads", "--json").json()["threads"]
    assert not [m for t in after for m in t["messages"] if m["suspected_unrelated"]]
    own_thread = next(t for t in after if t["thread_id"] == split["new_thread"])
    assert [m["message_id"] for m in own_thread["messages"]] == [hijack]

    # Carol answers the dinner email: it joins the split thread, and the split survives.
    carol_answer = unique("carol")
    submit_as(
        sandbox,
        "carol@partner.test",
        reply(
            "carol@partner.test",
            "alice@example.test",
            hijack,
            "Re: Partnership dinner",
            "Yes!",
            carol_answer,
            refs=f"{quote} {bob_reply} {hijack}",
        ),
    )
    wait_delivered(sandbox, "alice@example.test", carol_answer)
    assert alice("sync", "--json").json()["logged"] == 1
    final = alice("threads", "--json").json()["threads"]
    own_thread = next(t for t in final if t["thread_id"] == split["new_thread"])
    assert {m["message_id"] for m in own_thread["messages"]} == {hijack, carol_answer}
    assert not [m for t in final for m in t["messages"] if m["suspected_unrelated"]]


def test_report_numbers_equal_the_database(alice, sandbox, tmp_path):
    first = sent_id(alice, "report one")
    sent_id(alice, "report two", to="carol@partner.test")
    rid = unique("rep")
    sandbox.deliver(
        reply(
            "bob@customer.test",
            "alice@example.test",
            first,
            "Re: report one",
            "ok",
            rid,
            b"%PDF report",
        ).as_bytes(),
        "alice@example.test",
    )
    eml = tmp_path / "hand.eml"
    eml.write_bytes(
        reply(
            "carol@partner.test", "alice@example.test", "", "By hand", "x", unique("hand")
        ).as_bytes()
    )
    assert alice("log", str(eml)).code == 0
    assert alice("sync").code == 0
    data = alice("report", "--json").json()
    con = sqlite3.connect(alice.home / "data" / "hubsync.sqlite3")
    count = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    assert data["emails_sent"] == count("SELECT COUNT(*) FROM messages WHERE origin='sent'") == 2
    assert data["replies_logged"] == count("SELECT COUNT(*) FROM messages WHERE origin='reply'")
    assert data["replies_logged"] == 1
    assert data["logged_by_hand"] == count("SELECT COUNT(*) FROM messages WHERE origin='manual'")
    assert data["messages_logged"] == count("SELECT COUNT(*) FROM messages")
    assert data["attachments_logged"] == count("SELECT COUNT(*) FROM attachments") == 1
    assert data["attachment_bytes"] == count("SELECT SUM(size) FROM attachments")
    assert data["contacts_created"] == count("SELECT COUNT(*) FROM contacts")
    assert data["by_contact"]["bob@customer.test"] == {"sent": 1, "replies": 1, "logged_by_hand": 0}
    assert "Not stored" in data["statement"]
    human = alice("report")
    assert human.code == 0 and "Replies logged" in human.stdout


def test_contact_record_has_timeline_and_attachments(alice, sandbox):
    first = sent_id(alice, "contact record")
    rid = unique("crec")
    sandbox.deliver(
        reply(
            "bob@customer.test",
            "alice@example.test",
            first,
            "Re: contact record",
            "Signed.",
            rid,
            b"%PDF contract",
        ).as_bytes(),
        "alice@example.test",
    )
    alice("sync")
    listing = alice("contacts", "--json").json()["contacts"]
    bob = next(c for c in listing if c["address"] == "bob@customer.test")
    assert bob["message_count"] == 2 and bob["name"] == "Bob Buyer"
    record = alice("contacts", "bob@customer.test", "--full", "--json").json()
    assert [t["direction"] for t in record["timeline"]] == ["sent", "received"]
    assert record["timeline"][1]["body"] == "Signed."
    assert record["attachments"][0]["filename"] == "signed.pdf"
    assert "Attachments" in alice("contacts", "bob@customer.test").stdout


def test_why_gives_the_rule(alice, sandbox):
    config = alice.home / "config.toml"
    text = config.read_text()
    assert "never_log = []" in text
    config.write_text(text.replace("never_log = []", 'never_log = ["partner.test"]'))
    root = sent_id(alice, "why root")
    by_irt, by_refs, blocked, unrelated = (unique(x) for x in ("irt", "refs", "nl", "unrel"))
    deliveries = [
        reply("bob@customer.test", "alice@example.test", root, "Re: why root", "a", by_irt),
        reply(
            "bob@customer.test",
            "alice@example.test",
            "<not-tracked@elsewhere>",
            "Re: why root",
            "b",
            by_refs,
            refs=f"{root} <not-tracked@elsewhere>",
        ),
        reply("carol@partner.test", "alice@example.test", root, "Re: why root", "c", blocked),
        reply(
            "bob@customer.test", "alice@example.test", "<other@elsewhere>", "Lunch?", "d", unrelated
        ),
    ]
    for msg in deliveries:
        sandbox.deliver(msg.as_bytes(), "alice@example.test")
    data = alice("sync", "--json").json()
    assert data["logged"] == 2 and data["never_log_hits"] == 1

    irt = alice("why", by_irt, "--json").json()
    assert (irt["logged"], irt["rule"], irt["ref"]) == (True, "in-reply-to", root)
    refs = alice("why", by_refs.strip("<>"), "--json").json()
    assert (refs["logged"], refs["rule"], refs["ref"]) == (True, "references", root)
    nl = alice("why", blocked, "--json").json()
    assert (nl["logged"], nl["rule"]) == (False, "never-log")
    assert "partner.test" in nl["explanation"]
    un = alice("why", unrelated, "--json").json()
    assert (un["logged"], un["rule"], un["found_in"]) == (False, "no-match", "INBOX")
    sent = alice("why", root, "--json").json()
    assert sent["rule"] == "sent-by-hubsync"
    dump = "\n".join(sqlite3.connect(alice.home / "data" / "hubsync.sqlite3").iterdump())
    assert unrelated not in dump  # an unmatched message leaves no trace, even after `why`


def test_live_folder_audit_stores_nothing(alice, sandbox):
    folder = f"Audit{time.time_ns()}"
    sandbox.main.doveadm("mailbox", "create", "-u", "alice@example.test", folder)
    a, b, c = unique("a"), unique("b"), unique("c")
    for msg in (
        reply("bob@customer.test", "alice@example.test", "", "Plan", "1", a),
        reply("bob@customer.test", "alice@example.test", a, "Re: Plan", "2", b),
        reply("carol@partner.test", "alice@example.test", b, "Invoice 7", "3", c),
    ):
        sandbox.deliver(msg.as_bytes(), "alice@example.test", folder)
    data = alice("threads", "--folder", folder, "--json").json()
    assert data["message_count"] == 3 and data["thread_count"] == 1
    assert data["thread_list"] == [[a, b, c]]
    assert [s["message_id"] for s in data["suspected_unrelated"]] == [c]
    db_file = alice.home / "data" / "hubsync.sqlite3"
    stored = sqlite3.connect(db_file).execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    assert stored == 0
