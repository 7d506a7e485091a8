"""Shared helpers for tests that talk to the sandbox servers."""

import contextlib
import imaplib
import json
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# A fresh parent for the measured command, so RUSAGE_CHILDREN is that command's alone.
_MEASURE = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(r.returncode)"
)


def hubsync_peak_rss(
    args: list[str], env: dict, timeout: float
) -> tuple[subprocess.CompletedProcess, float]:
    """Run `hubsync ARGS`; return its result and its own peak RSS in MB."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "hubsync", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    return done, int(done.stderr.strip().splitlines()[-1]) / 1024


def connect_args(sandbox, account: str, server: str = "main", security: str = "ssl") -> list[str]:
    """`hubsync connect` arguments for alice on the main, localized or "gmail" Dovecot, or on the
    "cyrus" or "courier" server (implicit TLS)."""
    if server in ("cyrus", "courier"):
        imap_port = sandbox.imap_port(server)
    else:
        dovecot = _dovecot(sandbox, server)
        imap_port = dovecot.ports.imaps if security == "ssl" else dovecot.ports.imap
    return [
        "connect",
        "alice@example.test",
        "--account",
        account,
        "--imap-host",
        "localhost",
        "--imap-port",
        str(imap_port),
        "--imap-security",
        security,
        "--smtp-host",
        "localhost",
        "--smtp-port",
        str(sandbox.postfix.submission_port),
        "--smtp-security",
        "starttls",
        "--name",
        "Alice Seller",
        "--cafile",
        str(sandbox.ca.cert_path),
        "--password-stdin",
    ]


def _dovecot(sandbox, server: str):
    return {"main": sandbox.main, "gmail": sandbox.gmail}.get(server, sandbox.localized)


def imap_login(sandbox, address: str, server: str = "main") -> imaplib.IMAP4_SSL:
    dovecot = _dovecot(sandbox, server)
    ctx = ssl.create_default_context(cafile=str(sandbox.ca.cert_path))
    conn = imaplib.IMAP4_SSL("localhost", dovecot.ports.imaps, ssl_context=ctx, timeout=30)
    conn.login(address, sandbox.users[address].password)
    return conn


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy, within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def queue_empty(sandbox) -> bool:
    """Postfix holds nothing more to deliver (so a second copy cannot still be coming)."""
    done = subprocess.run(
        ["postqueue", "-c", str(sandbox.postfix.directory), "-p"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return "Mail queue is empty" in done.stdout


def settled_count(sandbox, address: str, folder: str, message_id: str) -> int:
    """Copies of ``message_id`` once Postfix's queue is empty: a wrong extra delivery that was
    submitted has arrived by then, so counting cannot miss it by being early."""
    wait_for(lambda: queue_empty(sandbox), timeout=30)
    return count_by_message_id(sandbox, address, folder, message_id)


def count_by_message_id(
    sandbox, address: str, folder: str, message_id: str, server: str = "main"
) -> int:
    conn = imap_login(sandbox, address, server)
    try:
        typ, _ = conn.select(f'"{folder}"', readonly=True)
        if typ != "OK":
            return 0
        typ, data = conn.uid("SEARCH", "HEADER", "Message-ID", message_id)
        return len(data[0].split()) if typ == "OK" else 0
    finally:
        conn.logout()


def fetch_by_message_id(
    sandbox, address: str, folder: str, message_id: str, server: str = "main"
) -> list[bytes]:
    conn = imap_login(sandbox, address, server)
    try:
        conn.select(f'"{folder}"', readonly=True)
        typ, data = conn.uid("SEARCH", "HEADER", "Message-ID", message_id)
        found = []
        for uid in data[0].split():
            typ, parts = conn.uid("FETCH", uid, "(BODY.PEEK[])")
            found.append(parts[0][1])
        return found
    finally:
        conn.logout()


def wait_delivered(
    sandbox, address: str, message_id: str, folder: str = "INBOX", timeout: float = 30
) -> int:
    return wait_for(lambda: count_by_message_id(sandbox, address, folder, message_id), timeout)


class JsonEndpoint(BaseHTTPRequestHandler):
    """A tiny OAuth-style HTTP endpoint for in-process tests: subclasses define
    ``answer(path, form) -> (status, body)``; every request's form is kept in ``seen``."""

    seen: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        length = int(self.headers["Content-Length"])
        form = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()}
        self.seen.append(form)
        status, body = self.answer(self.path, form)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def answer(self, path: str, form: dict) -> tuple[int, dict]:
        raise NotImplementedError

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]):
    """``handler`` served on loopback in a thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def redetect_keyring() -> None:
    """Forget which keyring backends keyring found viable (it decides once per process):
    a test that ran without a session bus must not leave the plaintext one chosen."""
    import contextlib

    import keyring.backend

    with contextlib.suppress(KeyError):  # nothing detected yet
        keyring.backend.get_all_keyring.reset()


def corpus_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix not in (".md", ".txt", ".py", ".json")
        and "LICENSE" not in p.name
        and p.stat().st_size < 5_000_000
    )
