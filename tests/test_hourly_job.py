"""The job an admin writes first: every hour, sync and append each new reply as a CSV row
(date, contact, subject). With `sync --json` naming what it logged, it is a few lines of
shell and jq with no state file, and a late reply (an old Date header) is not missed."""

import csv
import email.utils
import io
import os
import subprocess
import sys
import time

from helpers import wait_delivered
from test_sync import reply, sent_id, submit_as

HOURLY = """#!/bin/sh
# hourly.sh CSV: sync, then append one row per reply this sync logged
hubsync sync --json | jq -r '.messages[] | select(.direction == "received")
  | [.date, .contact.address, .subject] | @csv' >> "$1"
"""


def run_job(alice, tmp_path, csv_file) -> list[list[str]]:
    script = tmp_path / "hourly.sh"
    script.write_text(HOURLY)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "hubsync"  # `hubsync` on PATH, as an installed one would be
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m hubsync "$@"\n')
    shim.chmod(0o755)
    env = {**alice.env, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["sh", str(script), str(csv_file)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return list(csv.reader(io.StringIO(csv_file.read_text()))) if csv_file.exists() else []


def test_the_hourly_csv_job_appends_exactly_the_new_replies(alice, sandbox, tmp_path):
    rows_file = tmp_path / "replies.csv"
    quote = sent_id(alice, "Hourly quote")
    run_job(alice, tmp_path, rows_file)  # the first run: the sent mail only, no reply yet
    assert not rows_file.exists() or rows_file.read_text() == ""

    first = f"<hourly-1-{time.time_ns()}@customer.test>"
    submit_as(
        sandbox,
        "bob@customer.test",
        reply("bob@customer.test", "alice@example.test", quote, "Re: Hourly quote", "Yes", first),
    )
    wait_delivered(sandbox, "alice@example.test", first)
    rows = run_job(alice, tmp_path, rows_file)
    assert [r[1:] for r in rows] == [["bob@customer.test", "Re: Hourly quote"]]

    late = f"<hourly-2-{time.time_ns()}@customer.test>"
    old = reply("bob@customer.test", "alice@example.test", quote, "Re: Hourly (late)", "x", late)
    old.replace_header(
        "Date",
        email.utils.format_datetime(
            email.utils.parsedate_to_datetime("Mon, 02 Mar 2026 09:00:00 +0000")
        ),
    )
    submit_as(sandbox, "bob@customer.test", old)
    wait_delivered(sandbox, "alice@example.test", late)
    rows = run_job(alice, tmp_path, rows_file)
    assert [r[1:] for r in rows] == [
        ["bob@customer.test", "Re: Hourly quote"],
        ["bob@customer.test", "Re: Hourly (late)"],
    ]
    assert rows[1][0].startswith("2026-03-02T09:00")  # its own (old) date, logged all the same

    assert run_job(alice, tmp_path, rows_file) == rows  # nothing new: no row added

    listed = alice("messages", "--logged-since", "2026-03-03", "--json").json()["messages"]
    assert [m["message_id"] for m in listed if m["direction"] == "received"] == [first, late]
    by_date = alice("messages", "--since", "2026-03-03", "--json").json()["messages"]
    assert late not in [m["message_id"] for m in by_date]
