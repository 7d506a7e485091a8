"""A 270 MB message with a 200 MB attachment is logged by `hubsync log` and by `hubsync sync`
in bounded memory: its header and text are kept, the attachment is counted and skipped, and
an event says why."""

import base64
import json
import sqlite3

import pytest
from conftest import base_env
from helpers import hubsync_peak_rss

# Writes and reads hundreds of megabytes: not part of the in-process tier.
pytestmark = pytest.mark.servers


def write_big_message(path, attachment_mb: int, in_reply_to: str = "") -> int:
    chunk = base64.encodebytes(b"\x00\x01\x02" * 19_000)  # 76-character lines
    with open(path, "wb") as out:
        out.write(
            b"From: Bob <bob@customer.test>\r\nTo: me@b.test\r\nSubject: Signed contract\r\n"
            b"Message-ID: <big@customer.test>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
            + (f"In-Reply-To: {in_reply_to}\r\n".encode() if in_reply_to else b"")
            + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
            b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            b"Here is the signed contract.\r\n--b\r\nContent-Type: application/pdf\r\n"
            b'Content-Disposition: attachment; filename="contract.pdf"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n"
        )
        written = 0
        while written < attachment_mb * 1024 * 1024 * 4 // 3:
            out.write(chunk.replace(b"\n", b"\r\n"))
            written += len(chunk)
        out.write(b"--b--\r\n")
    return path.stat().st_size


def test_a_270_mb_message_is_logged_within_300_mb(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[accounts.a]\nemail = "me@b.test"\nusername = "me"\nimap_host = "h"\nimap_port = 993\n'
    )
    size = write_big_message(tmp_path / "big.eml", 200)
    assert size > 270 * 1024 * 1024
    done, peak_mb = hubsync_peak_rss(
        ["log", str(tmp_path / "big.eml"), "--json"], base_env(home), 300
    )
    assert done.returncode == 0, done.stderr
    print(f"peak RSS of `hubsync log` on {size / 1048576:.0f} MB: {peak_mb:.0f} MB")
    assert peak_mb < 300, f"peak RSS {peak_mb:.0f} MB"
    assert json.loads(done.stdout)["logged"][0]["message_id"] == "<big@customer.test>"
    with sqlite3.connect(home / "data" / "hubsync.sqlite3") as db:
        body, note, raw_size = db.execute(
            "SELECT body, attachments_note, length(raw) FROM messages"
        ).fetchone()
        skipped = db.execute(
            "SELECT detail FROM events WHERE kind = 'attachments-skipped'"
        ).fetchall()
    assert body == "Here is the signed contract."
    assert "over the 50 MB limit" in note and raw_size < 10_000
    assert "1 attachment(s)" in skipped[0][0]


def test_a_270_mb_reply_is_synced_within_300_mb(alice, sandbox, tmp_path):
    quote = alice("send", "--to", "bob@customer.test", "--subject", "Big", "--body", "x", "--json")
    quote_id = quote.json()["message_id"]
    path = tmp_path / "big.eml"
    write_big_message(path, 200, in_reply_to=quote_id)
    raw = path.read_bytes().replace(b"<big@customer.test>", b"<big-sync@customer.test>")
    sandbox.append("dovecot", "alice@example.test", raw)
    del raw
    done, peak_mb = hubsync_peak_rss(["sync", "--json"], alice.env, 300)
    assert done.returncode == 0, done.stderr
    print(f"peak RSS of `hubsync sync` with a 270 MB reply: {peak_mb:.0f} MB")
    assert peak_mb < 300, f"peak RSS {peak_mb:.0f} MB"
    report = json.loads(done.stdout)
    assert (report["logged"], report["attachments_skipped"]) == (1, 1)
    why = alice("why", "big-sync@customer.test", "--offline", "--json").json()
    assert why["logged"] and "over the 50 MB limit" in why["attachments"]
