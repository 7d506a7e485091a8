"""Sync performance on large folders, against a real sandbox server (over TLS): Dovecot (the
default), Cyrus or Courier (``--server``).

Fills a folder (Dovecot and Courier: Maildir files written directly; Cyrus: MULTIAPPEND with
LITERAL+), about a third of the messages replying to earlier ones and a few hundred into
threads hubsync tracks, then measures in one run:

1. the server-side limit: a minimal socket reader timing
   UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO
   REFERENCES FROM TO CC SUBJECT DATE)]) until the tagged OK;
2. `hubsync sync`, first run on that folder (whole command, and the scan inside it);
3. `hubsync sync` again with nothing new (wall time including interpreter start);
4. peak memory (max RSS) of 2;
5. side by side: imapclient (batched) and imap_tools (if installed) reading the same messages,
   `hubsync threads --folder` and Dovecot's own THREAD REFERENCES.

Usage: python -m benchmarks.sync_large [--sizes 100000,300000] [--server dovecot|cyrus|courier]
Prints each figure and the ratios; record results in docs/performance.md.
"""

import argparse
import imaplib
import json
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sandbox import Sandbox

USER = "alice@example.test"
FIELDS = "MESSAGE-ID IN-REPLY-TO REFERENCES FROM TO CC SUBJECT DATE"
TRACKED_ROOTS = 20


def messages(folder: str, count: int) -> tuple[list[bytes], list[bytes]]:
    """``count`` messages for ``folder``, and the tracked roots among them (for `hubsync log`)."""
    rng = random.Random(7)
    roots, out = [], []
    for i in range(count):
        mid = f"<bench-{folder}-{i}@bench.test>"
        headers = [
            f"From: Person {i % 997} <p{i % 997}@customers.test>",
            f"To: {USER}",
            f"Subject: Topic {i // 3}",
            "Date: Thu, 26 Nov 2026 10:00:00 +0000",
            f"Message-ID: {mid}",
        ]
        if i < TRACKED_ROOTS:
            roots.append(("\r\n".join(headers) + "\r\n\r\nroot\r\n").encode())
        elif i % 3 == 2:
            parent = rng.randrange(TRACKED_ROOTS) if i % 500 == 2 else rng.randrange(i)
            pid = f"<bench-{folder}-{parent}@bench.test>"
            headers += [f"In-Reply-To: {pid}", f"References: {pid}"]
        out.append(("\r\n".join(headers) + f"\r\n\r\nHello, this is message {i}.\r\n").encode())
    return out, roots


def fill(box: Sandbox, server: str, folder: str, count: int) -> tuple[str, list[bytes]]:
    """Put ``count`` messages into a new folder; return its IMAP name and the tracked roots."""
    raws, roots = messages(folder, count)
    if server == "cyrus":
        return _fill_by_multiappend(box, folder, raws), roots
    if server == "courier":
        maildir = box.courier.mail_dir(USER) / f".{folder}"
        name = f"INBOX.{folder}"
        uid, gid = box.courier.uid, box.courier.gid
    else:
        box.main.doveadm("mailbox", "create", "-u", USER, folder)
        maildir = box.main.mail_dir(USER) / "Maildir" / f".{folder}"
        name = folder
        uid, gid = box.main.uid, box.main.gid
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    started = int(time.time())
    for i, raw in enumerate(raws):
        (maildir / "cur" / f"{started}.M{i}P1.bench:2,").write_bytes(raw)
    subprocess.run(["chown", "-R", f"{uid}:{gid}", str(maildir)], check=True)
    return name, roots


def _fill_by_multiappend(box: Sandbox, folder: str, raws: list[bytes]) -> str:
    """CREATE, then APPEND in batches of 1,000 messages per command (RFC 3502, LITERAL+)."""
    ctx = ssl.create_default_context(cafile=str(box.ca.cert_path))
    conn = imaplib.IMAP4_SSL("localhost", box.imap_port("cyrus"), ssl_context=ctx)
    conn.login(USER, box.users[USER].password)
    conn.create(folder)
    for start in range(0, len(raws), 1000):
        tag = conn._new_tag()
        parts = [tag + b" APPEND " + folder.encode()]
        for raw in raws[start : start + 1000]:
            parts.append(b" (\\Seen) {%d+}\r\n" % len(raw) + raw)
        conn.send(b"".join(parts) + b"\r\n")
        while not (line := conn.readline()).startswith(tag):
            pass
        if b" OK" not in line:
            raise RuntimeError(f"MULTIAPPEND failed: {line!r}")
    conn.logout()
    return folder


def _raw_session(box: Sandbox, server: str, folder: str, port: int | None = None):
    """A bare TLS socket logged in with ``folder`` examined, and its reader (through
    ``port``, e.g. a delay proxy's, when given)."""
    ctx = ssl.create_default_context(cafile=str(box.ca.cert_path))
    sock = ctx.wrap_socket(
        socket.create_connection(("127.0.0.1", port or box.imap_port(server))),
        server_hostname="localhost",
    )
    f = sock.makefile("rb", buffering=1 << 20)

    def command(tag: bytes, text: bytes) -> None:
        sock.sendall(tag + b" " + text + b"\r\n")
        while not (line := f.readline()).startswith(tag):
            literal = re.search(rb"\{(\d+)\}\r\n$", line)
            if literal:
                f.read(int(literal.group(1)))

    f.readline()
    command(b"a1", f'LOGIN {USER} "{box.users[USER].password}"'.encode())
    command(b"a2", f'EXAMINE "{folder}"'.encode())
    return sock, f, command


SYNC_ITEMS = "UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES)]"
AUDIT_ITEMS = f"UID BODY.PEEK[HEADER.FIELDS ({FIELDS})]"
WIDE_ITEMS = f"UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS ({FIELDS})]"


def raw_fetch_seconds(
    box: Sandbox, server: str, folder: str, items: str = WIDE_ITEMS, port: int | None = None
) -> tuple[float, int]:
    """The minimal reader: login, EXAMINE, then time one UID FETCH 1:* (``items``) to its
    tagged OK. SYNC_ITEMS is what a sync asks for, AUDIT_ITEMS what `threads --folder` asks
    for, WIDE_ITEMS the figure recorded before 2026-12-07."""
    sock, f, _ = _raw_session(box, server, folder, port)
    started = time.perf_counter()
    sock.sendall(b"a3 UID FETCH 1:* (%s)\r\n" % items.encode())
    count = 0
    while True:
        line = f.readline()
        if line.startswith(b"a3 "):
            break
        literal = re.search(rb"\{(\d+)\}\r\n$", line)
        if literal:
            f.read(int(literal.group(1)))
            count += 1
    elapsed = time.perf_counter() - started
    sock.close()
    return elapsed, count


def server_thread_seconds(box: Sandbox, server: str, folder: str) -> float:
    """The server's own threading: UID THREAD REFERENCES UTF-8 ALL, to its tagged OK."""
    sock, _, command = _raw_session(box, server, folder)
    started = time.perf_counter()
    command(b"a3", b"UID THREAD REFERENCES UTF-8 ALL")
    elapsed = time.perf_counter() - started
    sock.close()
    return elapsed


def library_fetch_seconds(box: Sandbox, server: str, folder: str) -> dict:
    """The same messages read by general-purpose libraries, for comparison: imapclient
    fetching the three fields a sync scans in batches of 2,000 UIDs, and imap_tools
    (headers_only, in bulks of 2,000 UIDs: Dovecot refuses longer UID lists; it always
    fetches the whole header and parses every message)."""
    import imapclient

    ctx = ssl.create_default_context(cafile=str(box.ca.cert_path))
    port, password = box.imap_port(server), box.users[USER].password
    found = {}
    client = imapclient.IMAPClient("localhost", port, ssl_context=ctx, timeout=300)
    client.login(USER, password)
    last = client.select_folder(folder, readonly=True)[b"UIDNEXT"] - 1
    started, count = time.perf_counter(), 0
    item = b"BODY[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES)]"
    for first in range(1, last + 1, 2_000):  # imapclient wants UID lists, not ranges
        data = client.fetch(
            list(range(first, min(first + 2_000, last + 1))), [b"BODY.PEEK" + item[4:]]
        )
        count += sum(1 for v in data.values() if item in v)
    found["imapclient_batched_seconds"] = round(time.perf_counter() - started, 3)
    found["imapclient_messages"] = count
    client.logout()
    try:
        from imap_tools import MailBox
    except ImportError:
        found["imap_tools_seconds"] = None  # pip install imap-tools to compare
        return found
    started, count = time.perf_counter(), 0
    with MailBox("localhost", port, ssl_context=ctx).login(USER, password, folder) as box_:
        for msg in box_.fetch(mark_seen=False, headers_only=True, bulk=2_000):
            count += bool(msg.headers.get("message-id"))
    found["imap_tools_seconds"] = round(time.perf_counter() - started, 3)
    found["imap_tools_messages"] = count
    return found


# A fresh, small parent runs hubsync and reports RUSAGE_CHILDREN: measured from this process,
# a forked child's peak would include this benchmark's own memory (the generated messages:
# 320 MB at 1,000,000), as the figures recorded before 2026-11-29 afternoon did.
_MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "r = subprocess.run(sys.argv[1:]); t = time.perf_counter() - t; "
    "print(t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(r.returncode)"
)


def run_measured(env: dict, *args: str) -> tuple[float, int, dict]:
    """Run `hubsync ARGS`: wall time (the measuring parent's own start excluded), its own
    peak RSS (KiB) and its JSON output."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "hubsync", *args],
        env=env,
        capture_output=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"hubsync {' '.join(args)} failed: {done.stderr.decode()}")
    seconds, peak_kib = done.stderr.decode().strip().splitlines()[-1].split()
    return float(seconds), int(peak_kib), json.loads(done.stdout)


def _connected_home(
    box: Sandbox, server: str, home: Path, roots: list[bytes], port: int | None = None
) -> dict:
    """A new HUBSYNC_HOME with the account connected (through ``port`` when given) and the
    tracked roots logged; its environment."""
    home.mkdir(parents=True)
    env = {
        **os.environ,
        **box.keyring.env(),
        "HUBSYNC_HOME": str(home),
        "HUBSYNC_PASSWORD": box.users[USER].password,
        "NO_COLOR": "1",
    }
    args = [
        "connect", USER, "--account", "bench", "--imap-host", "localhost",
        "--imap-port", str(port or box.imap_port(server)), "--smtp-host", "localhost",
        "--smtp-port", str(box.postfix.submissions_port), "--store", "none",
        "--cafile", str(box.ca.cert_path), "--yes", "--json",
    ]  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "hubsync", *args], env=env, check=True, capture_output=True
    )
    for i, raw in enumerate(roots):
        eml = home / f"root{i}.eml"
        eml.write_bytes(raw)
        subprocess.run(
            [sys.executable, "-m", "hubsync", "log", str(eml)],
            env=env,
            check=True,
            capture_output=True,
        )
    return env


def measure(
    box: Sandbox, server: str, home: Path, size: int, rounds: int = 3, libraries: bool = False
) -> dict:
    """Best of ``rounds``, each round alternating the raw reader and hubsync: a first sync
    (each round in a new HUBSYNC_HOME), the no-change sync, `threads --folder`."""
    folder = f"Bench{size}"
    t0 = time.perf_counter()
    folder, roots = fill(box, server, folder, size)
    fill_s = time.perf_counter() - t0
    raw_fetch_seconds(box, server, folder)  # warm-up: the server indexes the new messages
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, seconds), seconds)

    for round_ in range(rounds):
        env = _connected_home(box, server, home / f"{server}-{size}-{round_}", roots)
        raw_s, count = raw_fetch_seconds(box, server, folder, SYNC_ITEMS)
        keep("raw_sync", raw_s)
        first_s, rss_kib, report = run_measured(env, "sync", "--folder", folder, "--json")
        keep("first", first_s)
        keep("scan", report["folders"][0]["seconds"])
        best["rss"] = max(best.get("rss", 0), rss_kib)
        run_measured(env, "sync", "--folder", folder, "--json")  # the second scan
        second_s, _, again = run_measured(env, "sync", "--folder", folder, "--json")
        keep("second", second_s)
        keep("raw_audit", raw_fetch_seconds(box, server, folder, AUDIT_ITEMS)[0])
        audit_s, audit_rss, audit = run_measured(env, "threads", "--folder", folder, "--json")
        keep("audit", audit_s)
        best["audit_rss"] = max(best.get("audit_rss", 0), audit_rss)
        keep("raw_wide", raw_fetch_seconds(box, server, folder)[0])
    thread_s = None
    if server == "dovecot":
        server_thread_seconds(box, server, folder)  # warm-up: Dovecot builds its index
        thread_s = server_thread_seconds(box, server, folder)
    found = {
        "server": server,
        "messages": count,
        "rounds": rounds,
        "fill_seconds": round(fill_s, 2),
        "raw_sync_fetch_seconds": round(best["raw_sync"], 3),
        "raw_audit_fetch_seconds": round(best["raw_audit"], 3),
        "server_fetch_seconds": round(best["raw_wide"], 3),
        "first_sync_seconds": round(best["first"], 3),
        "ratio_first_sync_to_raw": round(best["first"] / best["raw_sync"], 2),
        "first_sync_scan_seconds": best["scan"],
        "ratio_scan_to_raw": round(best["scan"] / best["raw_sync"], 2),
        "second_sync_seconds": round(best["second"], 3),
        "peak_rss_mb": round(best["rss"] / 1024, 1),
        "scanned": report["scanned"],
        "logged": report["logged"],
        "second_scanned": again["scanned"],
        "threads_folder_seconds": round(best["audit"], 3),
        "ratio_threads_folder_to_raw": round(best["audit"] / best["raw_audit"], 2),
        "threads_folder_peak_rss_mb": round(best["audit_rss"] / 1024, 1),
        "threads_found": audit["thread_count"],
        "server_thread_references_seconds": round(thread_s, 3) if thread_s else None,
    }
    print(json.dumps(found), flush=True)  # kept even if a library below fails
    found.update(imapclient_batched_seconds=None, imap_tools_seconds=None)
    if not libraries:
        return found
    try:
        found.update(library_fetch_seconds(box, server, folder))
    except Exception as exc:  # noqa: BLE001 - a comparison must not lose the run's figures
        print(f"library comparison failed: {type(exc).__name__}: {exc}", flush=True)
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,300000")
    parser.add_argument("--server", default="dovecot", choices=("dovecot", "cyrus", "courier"))
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds")
    parser.add_argument("--libraries", action="store_true", help="compare imapclient, imap_tools")
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",")]
    home = Path(tempfile.mkdtemp(prefix="hubsync-bench-"))
    box = Sandbox.create()
    results = []
    try:
        for size in sizes:
            result = measure(box, options.server, home, size, options.rounds, options.libraries)
            results.append(result)
            print(json.dumps(result), flush=True)
    finally:
        box.remove()
        shutil.rmtree(home, ignore_errors=True)
    print("\nserver   messages  raw (sync's FETCH)  first sync  ratio  no-op sync  peak RSS")
    for r in results:
        print(
            f"{r['server']:<8} {r['messages']:>8}  {r['raw_sync_fetch_seconds']:>16.3f}s  "
            f"{r['first_sync_seconds']:>9.3f}s  {r['ratio_first_sync_to_raw']:>5.2f}  "
            f"{r['second_sync_seconds']:>9.3f}s  {r['peak_rss_mb']:>6.1f} MB"
        )
    print("\nserver   messages  raw (wide FETCH)  hubsync scan  imapclient (batched)  imap_tools")
    for r in results:
        tools = r["imap_tools_seconds"]
        batched = r["imapclient_batched_seconds"]
        print(
            f"{r['server']:<8} {r['messages']:>8}  {r['server_fetch_seconds']:>15.3f}s  "
            f"{r['first_sync_scan_seconds']:>11.3f}s  "
            + (f"{batched:>19.3f}s  " if batched is not None else f"{'-':>20}  ")
            + (f"{tools:.3f}s" if tools is not None else "-")
        )
    print("\nserver   messages  raw (its FETCH)  threads --folder  ratio  peak RSS  server THREAD")
    for r in results:
        server_thread = r["server_thread_references_seconds"]
        print(
            f"{r['server']:<8} {r['messages']:>8}  {r['raw_audit_fetch_seconds']:>13.3f}s  "
            f"{r['threads_folder_seconds']:>14.3f}s  {r['ratio_threads_folder_to_raw']:>5.2f}  "
            f"{r['threads_folder_peak_rss_mb']:>6.1f} MB  "
            + (f"{server_thread:.3f}s" if server_thread else "-")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
