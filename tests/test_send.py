"""`hubsync send` against the real Postfix and Dovecot."""

import email
import email.policy
import sqlite3
import time

import pytest
from helpers import (
    connect_args,
    count_by_message_id,
    fetch_by_message_id,
    imap_login,
    settled_count,
    wait_delivered,
)

ALICE = "alice-sandbox-pw\n"


def send(cli, *args):
    result = cli("send", *args, "--json")
    assert result.code in (0, 1), result.stderr
    return result


def test_message_arrives_with_headers_and_intact_attachment(alice, sandbox, tmp_path):
    payload = bytes(range(256)) * 400  # binary, 100 KiB
    (tmp_path / "quote.pdf").write_bytes(payload)
    result = send(
        alice,
        "--to",
        "Bob Buyer <bob@customer.test>",
        "--subject",
        "Angebot für Bob",
        "--body",
        "Hi Bob,\nhere is the quote.",
        "--attach",
        str(tmp_path / "quote.pdf"),
    )
    data = result.json()
    assert result.code == 0 and data["state"] == "filed"
    assert data["accepted"] == ["bob@customer.test"]
    wait_delivered(sandbox, "bob@customer.test", data["message_id"])
    [raw] = fetch_by_message_id(sandbox, "bob@customer.test", "INBOX", data["message_id"])
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "Angebot für Bob"
    assert msg["From"].addresses[0].display_name == "Alice Seller"
    assert msg["Message-ID"] == data["message_id"]
    assert data["message_id"].endswith("@example.test>")
    assert msg["Date"]
    [part] = list(msg.iter_attachments())
    assert part.get_filename() == "quote.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_payload(decode=True) == payload
    assert b"\r\n" in raw and b"Hi Bob," in raw


@pytest.mark.parametrize("server,folder", [("main", "Sent"), ("localized", "Gesendete Elemente")])
def test_exactly_one_copy_in_sent(cli, sandbox, server, folder):
    security = "ssl" if server == "main" else "starttls"
    assert cli(*connect_args(sandbox, f"acct-{server}", server, security), input=ALICE).code == 0
    data = send(
        cli, "--to", "bob@customer.test", "--subject", f"one copy {server}", "--body", "x"
    ).json()
    assert data["sent_copy"] == "appended" and data["sent_folder"] == folder
    assert (
        count_by_message_id(sandbox, "alice@example.test", folder, data["message_id"], server) == 1
    )
    wait_delivered(sandbox, "bob@customer.test", data["message_id"])


def test_provider_that_files_its_own_copy_gets_no_second_one(cli, sandbox):
    args = connect_args(sandbox, "filing")
    args[args.index("--smtp-port") + 1] = str(sandbox.postfix.filing_port)
    args[args.index("--smtp-security") + 1] = "ssl"
    assert cli(*args, input=ALICE).code == 0
    first = send(
        cli, "--to", "bob@customer.test", "--subject", "filed by server 1", "--body", "x"
    ).json()
    assert first["sent_copy"] == "already-present"
    assert count_by_message_id(sandbox, "alice@example.test", "Sent", first["message_id"]) == 1
    second = send(
        cli, "--to", "bob@customer.test", "--subject", "filed by server 2", "--body", "x"
    ).json()
    # Learned: the send does not wait for the server's copy; if it is not there yet the entry
    # awaits it and the next sync checks.
    assert second["sent_copy"] in ("already-present", "awaiting"), second
    assert cli("sync", "--json").code == 0
    assert count_by_message_id(sandbox, "alice@example.test", "Sent", second["message_id"]) == 1
    [entry] = [
        i
        for i in cli("outbox", "--all", "--json").json()["items"]
        if i["message_id"] == second["message_id"]
    ]
    assert entry["state"] == "filed"


def _learned_filing_account(cli, sandbox, grace_minutes: float) -> None:
    """An account that learned its provider files Sent copies, on a port that files none:
    a provider whose copy comes late, or never."""
    assert cli(*connect_args(sandbox, "late"), input=ALICE).code == 0
    assert cli("report", "--json").code == 0  # the store exists from here on
    db = sqlite3.connect(cli.home / "data" / "hubsync.sqlite3")
    db.execute(
        "INSERT INTO server_facts (account, key, value, updated) "
        "VALUES ('late', 'server_files_sent_copy', 'yes', '2026-01-01T00:00:00')"
    )
    db.commit()
    db.close()
    assert cli("accounts", "set", "late", "--sent-copy-grace-minutes", str(grace_minutes)).code == 0


def test_a_provider_copy_that_comes_late_is_never_doubled(cli, sandbox):
    _learned_filing_account(cli, sandbox, grace_minutes=15)
    started = time.monotonic()
    data = send(cli, "--to", "bob@customer.test", "--subject", "late copy", "--body", "x").json()
    assert time.monotonic() - started < 10, "the send does not wait for the provider's copy"
    assert (data["sent_copy"], data["state"]) == ("awaiting", "awaiting-copy")
    mid = data["message_id"]
    assert cli("sync", "--json").code == 0  # within the grace: nothing is filed
    assert count_by_message_id(sandbox, "alice@example.test", "Sent", mid) == 0
    # The provider's copy arrives, 12 s or 60 s late (here: when the test puts it there).
    wait_delivered(sandbox, "bob@customer.test", mid)
    [raw] = fetch_by_message_id(sandbox, "bob@customer.test", "INBOX", mid)
    sandbox.deliver(raw, "alice@example.test", "Sent")
    assert cli("sync", "--json").code == 0
    assert count_by_message_id(sandbox, "alice@example.test", "Sent", mid) == 1
    [entry] = [
        i for i in cli("outbox", "--all", "--json").json()["items"] if i["message_id"] == mid
    ]
    assert (entry["state"], entry["sent_copy"]) == ("filed", "already-present")
    found = cli("doctor", "--json").json()["accounts"][0]["checks"]
    [copies] = [c for c in found if c["id"] == "sent-copies"]
    assert copies["status"] == "pass" and "one each" in copies["evidence"], copies


def test_a_provider_copy_that_never_comes_is_filed_after_the_grace_and_relearned(cli, sandbox):
    _learned_filing_account(cli, sandbox, grace_minutes=0.02)  # 1.2 s
    data = send(cli, "--to", "bob@customer.test", "--subject", "no copy", "--body", "x").json()
    assert data["state"] == "awaiting-copy"
    time.sleep(2.5)
    assert cli("sync", "--json").code == 0
    assert count_by_message_id(sandbox, "alice@example.test", "Sent", data["message_id"]) == 1
    checks = cli("doctor", "--offline", "--json").json()["accounts"][0]["checks"]
    [copies] = [c for c in checks if c["id"] == "sent-copies"]
    assert "files no copy" in copies["evidence"]


def test_bcc_is_delivered_but_only_the_sent_copy_shows_it(alice, sandbox):
    data = send(
        alice,
        "--to",
        "bob@customer.test",
        "--bcc",
        "carol@partner.test",
        "--subject",
        "bcc check",
        "--body",
        "x",
    ).json()
    mid = data["message_id"]
    wait_delivered(sandbox, "carol@partner.test", mid)
    wait_delivered(sandbox, "bob@customer.test", mid)
    for address in ("bob@customer.test", "carol@partner.test"):
        [raw] = fetch_by_message_id(sandbox, address, "INBOX", mid)
        assert b"\nBcc:" not in raw and not raw.startswith(b"Bcc:")
        assert b"carol@partner.test" not in raw.split(b"\r\n\r\n")[0] or address == "carol"
    [sent] = fetch_by_message_id(sandbox, "alice@example.test", "Sent", mid)
    assert b"Bcc: carol@partner.test" in sent


@pytest.mark.parametrize(
    "field,value",
    [
        ("--subject", "Hello\r\nBcc: victim@partner.test"),
        ("--to", "bob@customer.test\nBcc: victim@partner.test"),
        ("--cc", "Carol <carol@partner.test>\r\nX-Evil: 1"),
    ],
)
def test_header_injection_is_rejected_and_nothing_sent(alice, sandbox, field, value):
    args = {"--to": "bob@customer.test", "--subject": "inject", "--cc": None}
    args[field] = value
    argv = [x for k, v in args.items() if v is not None for x in (k, v)]
    result = alice("send", *argv, "--body", "x", "--json")
    assert result.code in (1, 2)
    assert "could inject headers" in result.stderr or "not a valid email" in result.stderr
    assert alice("outbox", "--all", "--json").json()["items"] == []


def test_injection_through_a_template_variable_is_rejected(alice):
    alice("templates", "add", "inj", "--subject", "About {topic}", "--body-file", "/dev/null")
    result = alice(
        "send",
        "--to",
        "bob@customer.test",
        "--template",
        "inj",
        "--var",
        "topic=x\r\nBcc: victim@partner.test",
    )
    assert result.code == 1
    assert "could inject headers" in result.stderr
    assert alice("outbox", "--all", "--json").json()["items"] == []


def test_failed_append_is_recorded_never_resent_and_retried(cli, sandbox):
    carol_pw = sandbox.users["carol@partner.test"].password + "\n"
    args = connect_args(sandbox, "carol")
    args[1] = "carol@partner.test"
    assert cli(*args, input=carol_pw).code == 0
    conn = imap_login(sandbox, "carol@partner.test")
    conn.delete("Sent")
    conn.logout()
    result = cli(
        "send", "--to", "bob@customer.test", "--subject", "append fails", "--body", "x", "--json"
    )
    assert result.code == 0, "it was sent: a script retrying on the exit code would send twice"
    data = result.json()
    assert data["state"] == "filing-failed" and data["error_reason"] == "sent-folder-missing"
    assert data["sent_copy"] == "pending"
    mid = data["message_id"]
    wait_delivered(sandbox, "bob@customer.test", mid)
    listed = cli("outbox", "--json").json()["items"]
    assert [i["message_id"] for i in listed] == [mid]
    assert listed[0]["state"] == "filing-failed"

    conn = imap_login(sandbox, "carol@partner.test")
    conn.create("Sent")
    conn.logout()
    retried = cli("outbox", "--retry", "--json").json()
    assert retried["retried"] == [{"message_id": mid, "state": "filed", "sent_copy": "appended"}]
    assert retried["items"] == []
    assert count_by_message_id(sandbox, "carol@partner.test", "Sent", mid) == 1
    assert settled_count(sandbox, "bob@customer.test", "INBOX", mid) == 1


def test_killed_between_submission_and_filing_never_sends_twice(alice, sandbox):
    killed = alice(
        "send",
        "--to",
        "bob@customer.test",
        "--subject",
        "crash test",
        "--body",
        "x",
        env={"HUBSYNC_FAULT": "after-submit"},
    )
    assert killed.code == 137
    [item] = alice("outbox", "--json").json()["items"]
    assert item["state"] == "submitted"
    mid = item["message_id"]
    wait_delivered(sandbox, "bob@customer.test", mid)
    again = send(
        alice, "--to", "bob@customer.test", "--subject", "after crash", "--body", "y"
    ).json()
    assert again["retried"] == [{"message_id": mid, "state": "filed", "sent_copy": "appended"}]
    assert count_by_message_id(sandbox, "alice@example.test", "Sent", mid) == 1
    wait_delivered(sandbox, "bob@customer.test", again["message_id"])
    assert count_by_message_id(sandbox, "bob@customer.test", "INBOX", mid) == 1


def test_template_with_missing_variable_sends_nothing(alice, tmp_path):
    (tmp_path / "intro.txt").write_text(
        "Subject: Hello {first_name}\n\nHi {first_name},\nabout {product} ...\n"
    )
    assert alice("templates", "add", "intro", "--file", str(tmp_path / "intro.txt")).code == 0
    result = alice(
        "send", "--to", "bob@customer.test", "--template", "intro", "--var", "first_name=Bob"
    )
    assert result.code == 2
    assert "product" in result.stderr
    assert alice("outbox", "--all", "--json").json()["items"] == []
    listed = alice("templates", "list", "--json").json()
    assert listed == {
        "schema": 2,
        "templates": [
            {
                "name": "intro",
                "subject": "Hello {first_name}",
                "variables": ["first_name", "product"],
            }
        ],
    }


def test_template_renders_and_dry_run_sends_nothing(alice):
    alice("templates", "add", "t2", "--subject", "Hi {name}", "--body-file", "/dev/null")
    dry = alice(
        "send",
        "--to",
        "bob@customer.test",
        "--template",
        "t2",
        "--var",
        "name=Bob",
        "--dry-run",
        "--json",
    )
    assert dry.code == 0, dry.stderr
    data = dry.json()
    assert data["headers"]["Subject"] == "Hi Bob"
    assert data["structure"][0]["type"] == "text/plain"
    assert alice("outbox", "--all", "--json").json()["items"] == []


def test_reply_carries_in_reply_to_and_references(alice, sandbox):
    first = send(
        alice, "--to", "bob@customer.test", "--subject", "thread start", "--body", "x"
    ).json()
    reply = send(
        alice,
        "--to",
        "bob@customer.test",
        "--subject",
        "Re: thread start",
        "--body",
        "y",
        "--in-reply-to",
        first["message_id"],
    ).json()
    wait_delivered(sandbox, "bob@customer.test", reply["message_id"])
    [raw] = fetch_by_message_id(sandbox, "bob@customer.test", "INBOX", reply["message_id"])
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["In-Reply-To"] == first["message_id"]
    assert msg["References"] == first["message_id"]


@pytest.mark.parametrize(
    "point, state, delivered, filed",
    [
        ("after-queued", "queued", 0, 0),
        ("before-submit", "submitting", 0, 0),
        ("after-submit", "filed", 1, 1),  # state after the retry below
        ("after-filed", "filed", 1, 1),
    ],
)
def test_a_send_killed_at_every_journal_step_never_delivers_twice(
    alice, sandbox, point, state, delivered, filed
):
    subject = f"killed {point}"
    killed = alice(
        "send",
        "--to",
        "bob@customer.test",
        "--subject",
        subject,
        "--body",
        "x",
        env={"HUBSYNC_FAULT": point},
    )
    assert killed.code == 137
    items = [
        i for i in alice("outbox", "--all", "--json").json()["items"] if i["subject"] == subject
    ]
    assert len(items) == 1
    mid = items[0]["message_id"]
    for _ in range(2):  # retrying twice changes nothing more than retrying once
        alice("outbox", "--retry", "--json")
    [after] = [
        i for i in alice("outbox", "--all", "--json").json()["items"] if i["message_id"] == mid
    ]
    assert after["state"] == state
    assert settled_count(sandbox, "bob@customer.test", "INBOX", mid) == delivered
    assert count_by_message_id(sandbox, "alice@example.test", "Sent", mid) == filed
