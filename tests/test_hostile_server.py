"""hubsync against a hostile IMAP server: every misbehaviour ends in a clear error, within
bounded time and memory, and nothing is logged or lost."""

import json
import subprocess
import sys
import time

import pytest
from conftest import base_env
from helpers import hubsync_peak_rss
from hostile_server import TRACKED, HostileServer

from sandbox.ca import CertAuthority

# A server on loopback, and slow by design (it streams tens of megabytes): not part of the
# in-process tier.
pytestmark = pytest.mark.servers

ROOT = (
    "From: alice@example.test\r\nTo: bob@customer.test\r\nSubject: Quote\r\n"
    f"Message-ID: {TRACKED}\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n\r\nHi\r\n"
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    ca = CertAuthority(tmp_path_factory.mktemp("hostile-ca"))
    cert, key = ca.issue("server")
    return ca.cert_path, cert, key


def run_sync(
    tmp_path, port: int, cafile, extra: str = ""
) -> tuple[subprocess.CompletedProcess, float, float]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[accounts.a]\nemail = "alice@example.test"\nusername = "alice"\n'
        f'imap_host = "localhost"\nimap_port = {port}\ncafile = "{cafile}"\n'
        'sent_folder = "Sent"\nwatched_folders = ["INBOX"]\ncredential_source = "none"\n' + extra
    )
    env = {**base_env(home), "HUBSYNC_PASSWORD": "pw"}
    log = subprocess.run(
        [sys.executable, "-m", "hubsync", "log", "-"],
        input=ROOT,
        text=True,
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert log.returncode == 0, log.stderr
    started = time.monotonic()
    done, peak_mb = hubsync_peak_rss(["sync", "--folder", "INBOX", "--json"], env, 200)
    return done, time.monotonic() - started, peak_mb


@pytest.mark.parametrize(
    "behaviour, reason",
    [
        ("endless-greeting", "imap-response-too-large"),
        ("endless-login", "imap-response-too-large"),
        ("endless-fetch", "imap-response-too-large"),
        ("lying-size", "imap-response-too-large"),
        ("close-mid-literal", "connection-dropped"),
    ],
)
def test_misbehaviour_ends_in_a_clear_error_quickly(tmp_path, certificate, behaviour, reason):
    cafile, cert, key = certificate
    server = HostileServer(behaviour, cert, key)
    try:
        done, seconds, peak_mb = run_sync(tmp_path, server.port, cafile)
    finally:
        server.close()
    assert done.returncode == (4 if reason == "connection-dropped" else 1), done.stderr
    assert json.loads(done.stdout)["error"] == reason, done.stdout
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert "password" not in done.stderr.lower() or behaviour != "endless-login"
    assert seconds < 60
    assert peak_mb < 400, f"peak RSS {peak_mb:.0f} MB"
    db = tmp_path / "home" / "data" / "hubsync.sqlite3"
    import sqlite3

    with sqlite3.connect(db) as conn:
        replies = conn.execute("SELECT COUNT(*) FROM messages WHERE origin = 'reply'").fetchone()
        position = conn.execute("SELECT last_uid FROM sync_state").fetchall()
    assert replies == (0,), "nothing half-read is logged"
    assert position in ([], [(0,)]), "the position does not move past an unread message"


@pytest.mark.parametrize("behaviour", ["trickle-greeting", "trickle-select"])
def test_a_trickling_server_is_cut_at_the_command_deadline(tmp_path, certificate, behaviour):
    """#23 item 2: a byte a second held `sync` (and its account lock) forever: the timeout
    was per read. With `timeout = 2` a command may take 4 steps: 8 s."""
    cafile, cert, key = certificate
    server = HostileServer(behaviour, cert, key)
    try:
        done, seconds, _ = run_sync(tmp_path, server.port, cafile, "timeout = 2\n")
    finally:
        server.close()
    assert done.returncode == 4, done.stderr
    assert json.loads(done.stdout)["error"] == "imap-too-slow", done.stdout
    assert "more than 8 s" in done.stderr and "Traceback" not in done.stderr
    assert seconds < 20, f"{seconds:.0f} s"
