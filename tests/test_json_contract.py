"""Every command's real `--json` output, validated against its JSON Schema in docs/schema/
(one object at the top level; shared names for shared things)."""

import json
import os
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import jsonschema
import pytest
from helpers import connect_args
from test_sync import reply, submit_as

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "schema"
RECORD = os.environ.get("HUBSYNC_RECORD_JSON")  # developers: write outputs here to review


def check(name: str, document) -> None:
    if RECORD:
        Path(RECORD).mkdir(parents=True, exist_ok=True)
        with (Path(RECORD) / f"{name}.jsonl").open("a") as recorded:
            recorded.write(json.dumps(document) + "\n")
        if not (SCHEMAS / f"{name}.json").exists():
            return
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)


def output(result, allowed=(0,)):
    assert result.code in allowed, result.stderr
    return json.loads(result.stdout)


def test_every_schema_is_used_and_valid():
    names = {p.stem for p in SCHEMAS.glob("*.json")}
    source = Path(__file__).read_text()
    unused = sorted(n for n in names if f'"{n}"' not in source)
    assert unused == []
    for path in SCHEMAS.glob("*.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_every_command_output_matches_its_schema(alice, sandbox, tmp_path):
    cli = alice
    connected = cli(*connect_args(sandbox, "alice"), "--json", input="alice-sandbox-pw\n")
    check("connect", output(connected))
    check(
        "probe",
        output(
            cli(
                "probe",
                "localhost",
                "--port",
                str(sandbox.main.ports.imaps),
                "--cafile",
                str(sandbox.ca.cert_path),
                "--json",
            )
        ),
    )
    check(
        "discover",
        output(
            cli("discover", "alice@example.test", "--cafile", str(sandbox.ca.cert_path), "--json")
        ),
    )
    check("accounts-list", output(cli("accounts", "list", "--json")))
    check("accounts-show", output(cli("accounts", "show", "alice", "--json")))

    (tmp_path / "t.txt").write_text("Subject: Offer for {company}\n\nHello {name}\n")
    check(
        "templates-add",
        output(cli("templates", "add", "offer", "--file", str(tmp_path / "t.txt"), "--json")),
    )
    check("templates-list", output(cli("templates", "list", "--json")))
    check("templates-show", output(cli("templates", "show", "offer", "--json")))

    common = [
        "--to",
        "bob@customer.test",
        "--template",
        "offer",
        "--var",
        "company=ACME",
        "--var",
        "name=Bob",
        "--campaign",
        "spring",
        "--json",
    ]
    check("send-dry-run", output(cli("send", *common, "--dry-run")))
    sent = output(cli("send", *common, "--idempotency-key", "row-1"))
    check("send", sent)
    check("send", output(cli("send", *common, "--idempotency-key", "row-1")))  # replayed
    check("outbox", output(cli("outbox", "--all", "--json")))

    rid = f"<contract-{time.time_ns()}@customer.test>"
    submit_as(
        sandbox,
        "bob@customer.test",
        reply(
            "bob@customer.test", "alice@example.test", sent["message_id"], "Re: Offer", "Yes", rid
        ),
    )
    deadline = time.monotonic() + 30
    while True:
        synced = output(cli("sync", "--json"))
        if synced["logged"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    check("sync", synced)
    assert [m["message_id"] for m in synced["messages"]] == [rid]  # it names what it logged
    check("sync-all", output(cli("sync", "--all", "--json")))
    check("messages", output(cli("messages", "--json")))

    eml = tmp_path / "note.eml"
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "carol@partner.test", "alice@example.test", "Note"
    msg["Message-ID"], msg["Date"] = (
        f"<note-{time.time_ns()}@partner.test>",
        "Mon, 2 Nov 2026 10:00:00 +0000",
    )
    msg.set_content("A note")
    eml.write_bytes(bytes(msg))
    check("log", output(cli("log", str(eml), "--json")))

    check("threads", output(cli("threads", "--json")))
    check("threads-folder", output(cli("threads", "--folder", "INBOX", "--json")))
    check("report", output(cli("report", "--json")))
    check("report-campaign", output(cli("report", "--campaign", "spring", "--json")))
    check("contacts", output(cli("contacts", "--json")))
    check("attachments-list", output(cli("attachments", "list", "--json")))
    check("contact", output(cli("contacts", "bob@customer.test", "--json")))
    check("why", output(cli("why", rid, "--offline", "--json")))
    check("doctor", output(cli("doctor", "--json"), allowed=(0, 1)))
    check("team-status", output(cli("team", "status", "--json")))
    check("error", output(cli("contacts", "nobody@nowhere.test", "--json"), allowed=(1,)))
    check("error", output(cli("send", "--bogus-option", "--json"), allowed=(2,)))

    watcher = subprocess.Popen(
        [sys.executable, "-m", "hubsync", "sync", "--watch", "--json"],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(watcher.stdout.readline())  # JSON Lines: each line a whole object
        line = watcher.stdout.readline()
    finally:
        watcher.terminate()
        watcher.wait(timeout=20)
    assert first["event"] == "start" and first["schema"] == 2
    check("sync", json.loads(line))


@pytest.mark.parametrize("args", [["templates", "list"], ["accounts", "list"]])
def test_offline_outputs_are_objects(offline_cli, args):
    result = offline_cli(*args, "--json")
    assert isinstance(json.loads(result.stdout), dict)
