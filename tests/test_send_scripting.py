"""What a campaign script needs, against the real servers: a re-run sends nothing twice
(idempotency key), the campaign report says who replied, and send honours the account's
attachment settings."""

import json
import time

from helpers import count_by_message_id, queue_empty, wait_delivered, wait_for
from test_sync import reply, submit_as


def test_same_idempotency_key_delivers_once_and_campaign_report_lists_replies(alice, sandbox):
    args = [
        "send",
        "--to",
        "bob@customer.test",
        "--to",
        "carol@partner.test",
        "--subject",
        "Spring offer",
        "--body",
        "10% off",
        "--campaign",
        "spring",
        "--json",
    ]
    key = f"row-{time.time_ns()}"
    first = alice(*args, "--idempotency-key", key)
    assert first.code == 0, first.stderr
    again = alice(*args, "--idempotency-key", key)  # the script ran twice
    assert again.code == 0, again.stderr
    first, again = first.json(), again.json()
    assert again["replayed"] is True and again["message_id"] == first["message_id"]
    assert first["thread_id"] == again["thread_id"] and first["account"] == "alice"
    wait_delivered(sandbox, "bob@customer.test", first["message_id"])
    wait_for(lambda: queue_empty(sandbox), timeout=30)  # nothing more on its way
    assert count_by_message_id(sandbox, "bob@customer.test", "INBOX", first["message_id"]) == 1
    assert len(alice("outbox", "--all", "--json").json()["items"]) >= 1

    rid = f"<spring-{time.time_ns()}@customer.test>"
    submit_as(
        sandbox,
        "bob@customer.test",
        reply(
            "bob@customer.test", "alice@example.test", first["message_id"], "Re: Spring", "Yes", rid
        ),
    )
    deadline = time.monotonic() + 30
    while alice("why", rid, "--offline", "--json").json().get("logged") is not True:
        assert time.monotonic() < deadline, "the reply was not logged"
        alice("sync")
        time.sleep(0.5)
    report = alice("report", "--campaign", "spring", "--json").json()
    replied = {r["address"]: r["replied"] for r in report["recipients"]}
    assert replied == {"bob@customer.test": True, "carol@partner.test": False}
    assert report["replied"] == 1
    assert alice("report", "--campaign", "autumn").code == 1  # no such campaign: not a usage error


def test_send_honours_the_attachment_limit(alice, sandbox, tmp_path):
    assert alice("accounts", "set", "alice", "--attachment-limit-mb", "0.001").code == 0
    pdf = tmp_path / "plan.pdf"
    pdf.write_bytes(b"%PDF" + b"x" * 5000)
    sent = alice(
        "send",
        "--to",
        "bob@customer.test",
        "--subject",
        "Plan",
        "--body",
        "see",
        "--attach",
        str(pdf),
        "--json",
    )
    assert sent.code == 0, sent.stderr
    wait_delivered(sandbox, "bob@customer.test", sent.json()["message_id"])  # it went out whole
    threads = alice("threads", "--json").json()["threads"]
    message = next(
        m for t in threads for m in t["messages"] if m["message_id"] == sent.json()["message_id"]
    )
    assert message["attachments"] == [] and "over the 1 KB limit" in message["attachments_note"]
    report = alice("report", "--json").json()
    assert any(s["message_id"] == sent.json()["message_id"] for s in report["skipped_attachments"])
    assert (
        json.loads(alice("accounts", "show", "alice", "--json").stdout)["settings"][
            "attachment_limit_mb"
        ]
        == 0.001
    )
