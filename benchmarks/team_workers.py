"""A team's inboxes watched by `hubsync worker` (issue #15): N Dovecot mailboxes, two workers
on one PostgreSQL store, replies delivered over LMTP, time to logged.

Creates ``--accounts`` users on the sandbox's Dovecot (one mailbox each), logs a root message
for each account, starts two workers (`--concurrency` each), then delivers ``--replies``
replies to random accounts (``--rate`` per second) and measures, in one run:

1. delivery (doveadm save returned: the message is in the mailbox) to logged in PostgreSQL
   (polled every 20 ms): p50, p99, max; lost and duplicated replies;
2. peak memory of each worker, and per watched account;
3. database connections in use (pg_stat_activity);
4. failover: `kill -9` of the worker holding the most accounts, time until the other holds
   every account (the lease is ``--lease`` seconds);
5. with ``--outage SECONDS``: the workers reach Dovecot through an IMAP proxy
   (sandbox/imap_proxy.py) that goes down a fifth of the way into the deliveries (open
   connections go silent, new ones get no answer) and comes back after that long; for the
   replies delivered during the outage, the time from the network's return to logged.

Usage: python -m benchmarks.team_workers [--accounts 200] [--replies 1000] [--lease 10]
Prints each figure with its target; record results in docs/performance.md.
"""

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import tomli_w

from sandbox import Sandbox, cleanup
from sandbox.postgres import Postgres

PASSWORD = "team-bench-pw"  # noqa: S105 - a sandbox user's password


def users(count: int) -> dict[str, str]:
    return {f"member{n:03d}@example.test": PASSWORD for n in range(count)}


def config(box: Sandbox, addresses: list[str], imap_port: int, timeout: float) -> dict:
    accounts = {}
    for address in addresses:
        accounts[address.split("@")[0]] = {
            "email": address,
            "username": address,
            "imap_host": "localhost",
            "imap_port": imap_port,
            "imap_security": "ssl",
            "smtp_host": "localhost",
            "smtp_port": box.postfix.submissions_port,
            "smtp_security": "ssl",
            "cafile": str(box.ca.cert_path),
            "sent_folder": "Sent",
            "credential_source": "none",
            **({"timeout": timeout} if timeout else {}),
        }
    return {"accounts": accounts}


def message(mid: str, sender: str, to: str, subject: str, parent: str | None = None) -> bytes:
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", f"Message-ID: {mid}",
             "Date: Sun, 29 Nov 2026 10:00:00 +0000"]  # fmt: skip
    if parent:
        lines += [f"In-Reply-To: {parent}", f"References: {parent}"]
    return ("\r\n".join(lines) + "\r\n\r\nhello\r\n").encode()


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--replies", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--lease", type=float, default=10.0)
    parser.add_argument("--idle-check", type=int, default=0, help="Dovecot's poll interval (s)")
    parser.add_argument("--poll", type=float, default=4.0, help="the workers' --poll (s)")
    parser.add_argument("--outage", type=float, default=0.0, help="a network outage (s)")
    parser.add_argument("--timeout", type=float, default=0.0, help="the accounts' timeout (s)")
    parser.add_argument("--workers", type=int, default=2, help="how many workers")
    parser.add_argument(
        "--db-restart", type=float, default=0.0,
        help="restart PostgreSQL a third of the way into the deliveries, down this long (s)",
    )  # fmt: skip
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix=cleanup.PREFIX))
    root.chmod(0o755)
    cleanup.claim(root)
    box = Sandbox.create()
    pg = Postgres(root / "postgres")
    workers: list[subprocess.Popen] = []
    proxy = None
    try:
        pg.start()
        if options.idle_check:
            # Dovecot falls back to polling every mailbox_idle_check_interval (30 s) for IDLE
            # sessions past the kernel's inotify instance limit (fs.inotify.max_user_instances,
            # 128 here, per mail uid); this makes the poll interval the thing measured.
            with open(box.main.config_path, "a") as conf:
                conf.write(f"mailbox_idle_check_interval = {options.idle_check} secs\n")
            box.main.doveadm("reload")
        members = users(options.accounts)
        box.main.write_users({**{u.address: u.password for u in box.users.values()}, **members})
        addresses = sorted(members)
        home = root / "home"
        home.mkdir()
        imap_port = box.main.ports.imaps
        if options.outage:
            from sandbox.imap_proxy import ImapProxy

            proxy = ImapProxy(imap_port, box.main.cert, box.main.key, box.ca.cert_path)
            imap_port = proxy.port
        (home / "config.toml").write_text(
            tomli_w.dumps(config(box, addresses, imap_port, options.timeout))
        )
        env = {**os.environ, "HUBSYNC_HOME": str(home), "HUBSYNC_STORE_URL": pg.url,
               "HUBSYNC_PASSWORD": PASSWORD, "NO_COLOR": "1"}  # fmt: skip
        roots = {}
        for address in addresses:  # a tracked root per account, logged by hand
            mid = f"<root-{address}>"
            roots[address] = mid
            subprocess.run(
                [sys.executable, "-m", "hubsync", "log", "-a", address.split("@")[0], "-"],
                input=message(mid, address, "bob@customer.test", "Quote"),
                env=env, check=True, capture_output=True,
            )  # fmt: skip
        for n in range(options.workers):
            events = open(root / f"worker{n}.jsonl", "wb")  # noqa: SIM115 - removed with root
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "hubsync",
                        "worker",
                        "--json",
                        "--lease",
                        str(options.lease),
                        "--concurrency",
                        str(options.accounts),
                        "--poll",
                        str(options.poll),
                    ],
                    env=env,
                    stdout=events,  # a pipe nobody reads fills up and blocks the worker
                    stderr=subprocess.STDOUT,
                )
            )
        conn = psycopg.connect(pg.url, autocommit=True)

        def held() -> dict[str, int]:
            rows = conn.execute("SELECT owner, count(*) FROM leases GROUP BY owner").fetchall()
            return dict(rows)

        def synced_accounts() -> int:
            """Accounts whose watch has finished its first sync (and so is about to idle)."""
            names = set()
            for n in range(options.workers):
                for line in (root / f"worker{n}.jsonl").read_text().splitlines():
                    with contextlib.suppress(ValueError):
                        event = json.loads(line)
                        if event.get("event") == "sync":
                            names.add(event["account"])
            return len(names)

        started = time.monotonic()
        while synced_accounts() < options.accounts and time.monotonic() - started < 300:
            time.sleep(0.5)
        warm_up = time.monotonic() - started  # from start to every watch having synced once
        time.sleep(1)
        delivered: dict[str, float] = {}
        logged: dict[str, float] = {}
        stop = threading.Event()

        def poll() -> None:
            reader = conn2
            while not stop.is_set():
                try:
                    rows = reader.execute(
                        "SELECT message_id, count(*) FROM messages "
                        "WHERE message_id LIKE '<reply-%' GROUP BY message_id"
                    ).fetchall()
                except psycopg.Error:  # the database is restarting: ask again
                    time.sleep(0.2)
                    with contextlib.suppress(psycopg.Error):
                        reader = psycopg.connect(pg.url, autocommit=True, connect_timeout=2)
                    continue
                now = time.monotonic()
                for mid, count in rows:
                    logged.setdefault(mid, now)
                    if count > 1:
                        duplicates.add(mid)
                time.sleep(0.02)

        conn2 = psycopg.connect(pg.url, autocommit=True)
        duplicates: set[str] = set()
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        rng = random.Random(11)
        down_at = up_at = None
        during: list[str] = []  # replies delivered while the network was down
        restart: dict[str, float] = {}
        in_restart: list[str] = []  # replies delivered while PostgreSQL restarted

        def restart_database() -> None:
            restart["at"] = time.monotonic()
            pg.restart(down_for=options.db_restart)
            restart["back"] = time.monotonic()

        restarter = None
        for n in range(options.replies):
            now = time.monotonic()
            if options.db_restart and restarter is None and n >= options.replies // 3:
                restarter = threading.Thread(target=restart_database, daemon=True)
                restarter.start()
            if proxy is not None and down_at is None and n >= options.replies // 5:
                proxy.outage(True)
                down_at = now
            if down_at is not None and up_at is None and now - down_at >= options.outage:
                proxy.outage(False)
                up_at = now
            address = rng.choice(addresses)
            mid = f"<reply-{n}@customer.test>"
            raw = message(mid, "bob@customer.test", address, "Re: Quote", roots[address])
            box.deliver(raw, address)
            delivered[mid] = time.monotonic()
            if down_at is not None and up_at is None:
                during.append(mid)
            if restarter is not None and "back" not in restart:
                in_restart.append(mid)
            time.sleep(max(0.0, 1 / options.rate - 0.005))
        if down_at is not None and up_at is None:
            time.sleep(max(0.0, options.outage - (time.monotonic() - down_at)))
            proxy.outage(False)
            up_at = time.monotonic()
        if restarter is not None:
            restarter.join(timeout=120)
        wait_until = time.monotonic() + 60 + options.outage + options.db_restart
        while len(logged) < options.replies and time.monotonic() < wait_until:
            time.sleep(0.1)
        if restarter is not None:  # the benchmark's own connections were cut too
            conn = psycopg.connect(pg.url, autocommit=True)
        connections = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'hubsync'"
        ).fetchone()[0]
        outage_set = set(during) | set(in_restart)
        restart_latencies = sorted(logged[m] - delivered[m] for m in in_restart if m in logged)
        latencies = sorted(
            logged[m] - delivered[m] for m in delivered if m in logged and m not in outage_set
        )
        after_outage = sorted(logged[m] - up_at for m in during if m in logged)
        per_worker = held()
        peaks = [vm_hwm_kib(w.pid) for w in workers]
        # failover: kill the worker holding the most accounts
        owners = conn.execute("SELECT owner FROM leases").fetchall()
        busiest = max(per_worker, key=per_worker.get)
        victim = next(w for w in workers if busiest.split(":")[1] == str(w.pid))
        os.kill(victim.pid, signal.SIGKILL)
        killed = time.monotonic()
        survivor = next(o for o in per_worker if o != busiest) if len(per_worker) > 1 else None
        while time.monotonic() - killed < options.lease + 60:
            rows = conn.execute("SELECT owner FROM leases").fetchall()
            if rows and all(r[0] != busiest for r in rows) and len(rows) == options.accounts:
                break
            time.sleep(0.1)
        failover = time.monotonic() - killed
        stop.set()
        result = {
            "accounts": options.accounts,
            "replies": options.replies,
            "logged": len(latencies),
            "lost": options.replies - len(latencies) - len(after_outage) - len(restart_latencies),
            "db_restart_seconds": round(restart["back"] - restart["at"], 2) if restart else None,
            "replies_during_db_restart": len(in_restart),
            "db_restart_p99_s": round(
                restart_latencies[max(0, int(len(restart_latencies) * 0.99) - 1)], 3
            )
            if restart_latencies
            else None,
            "outage_seconds": options.outage,
            "replies_during_outage": len(during),
            "after_outage_logged": len(after_outage),
            "after_outage_p50_s": round(statistics.median(after_outage), 3)
            if after_outage
            else None,
            "after_outage_max_s": round(after_outage[-1], 3) if after_outage else None,
            "duplicates": len(duplicates),
            "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
            "latency_p99_s": round(latencies[int(len(latencies) * 0.99) - 1], 3)
            if latencies
            else None,
            "latency_max_s": round(latencies[-1], 3) if latencies else None,
            "accounts_per_worker": list(per_worker.values()),
            "worker_peak_rss_mb": [round(p / 1024, 1) for p in peaks],
            # an upper bound: the whole process's peak (interpreter and libraries included)
            "rss_per_watched_account_kb": [
                round(p / max(1, n)) for p, n in zip(peaks, per_worker.values(), strict=False)
            ],
            "database_connections": connections,
            "failover_seconds": round(failover, 2),
            "lease_seconds": options.lease,
            "survivor": survivor,
            "leases_before_kill": len(owners),
            "seconds_until_every_account_synced_once": round(warm_up, 1),
        }
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
                try:
                    w.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    w.kill()
        if proxy is not None:
            proxy.close()
        pg.stop()
        box.remove()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result), flush=True)
    print(
        f"\n{options.accounts} accounts, {options.workers} workers, {options.replies} replies at "
        f"{options.rate}/s\n"
        f"  delivery -> logged  p50 {result['latency_p50_s']} s  p99 {result['latency_p99_s']} s"
        f"  (target p99 <= 5 s)\n"
        f"  lost {result['lost']}, duplicates {result['duplicates']}  (target 0, 0)\n"
        f"  worker peak RSS {result['worker_peak_rss_mb']} MB for {result['accounts_per_worker']}"
        f" accounts: {result['rss_per_watched_account_kb']} KB per account (target <= 1 MB)\n"
        f"  database connections {connections}\n"
        + (
            f"  outage {options.outage:g} s: {result['replies_during_outage']} replies during "
            f"it, logged {result['after_outage_p50_s']} s (p50) / {result['after_outage_max_s']}"
            f" s (max) after the network returned (target <= poll {options.poll:g} + 5 s)\n"
            if options.outage
            else ""
        )
        + f"  failover after kill -9: {result['failover_seconds']} s (lease {options.lease} s, "
        f"target <= lease + 5 s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
