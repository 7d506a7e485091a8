"""The thread audit in-process (no server): the Python side of `threads --folder`.

Builds N header blocks shaped like benchmarks/sync_large.py's folder (a third replying to
earlier messages), then times, each on its own:
1. reading the header fields of each message (``folder_audit.audit_fields``),
2. the threading itself, flags included (``reports.audit``: JWZ, subject grouping, the
   unrelated-email check),
and prints seconds and messages per second. Target (docs/performance.md): 2. under 0.3 s
for 100,000 messages.

Usage: python -m benchmarks.thread_audit [--sizes 100000,1000000] [--grouping participants]
"""

import argparse
import random
import time

from hubsync.reports.thread_view import audit
from hubsync.sync.folder_audit import audit_fields

OWN = "alice@example.test"


def header_blocks(count: int) -> list[bytes]:
    rng = random.Random(7)
    blocks = []
    for i in range(count):
        lines = [
            f"Message-ID: <bench-{i}@bench.test>",
            f"From: Person {i % 997} <p{i % 997}@customers.test>",
            f"To: {OWN}",
            f"Subject: Topic {i // 3}",
            "Date: Thu, 26 Nov 2026 10:00:00 +0000",
        ]
        if i % 3 == 2:
            parent = rng.randrange(i)
            lines += [f"In-Reply-To: <bench-{parent}@bench.test>"]
            lines += [f"References: <bench-{parent}@bench.test>"]
        blocks.append(("\r\n".join(lines) + "\r\n\r\n").encode())
    return blocks


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--grouping", default="participants")
    args = parser.parse_args()
    print("messages  read records  thread+flags  threads  flagged")
    for size in (int(s) for s in args.sizes.split(",")):
        blocks = header_blocks(size)
        started = time.perf_counter()
        records = [audit_fields(uid, block, "INBOX") for uid, block in enumerate(blocks, 1)]
        read = time.perf_counter() - started
        started = time.perf_counter()
        result = audit(records, OWN, "INBOX", args.grouping)
        threaded = time.perf_counter() - started
        print(
            f"{size:>8,}  {read:>10.3f} s  {threaded:>10.3f} s  {result.threads:>7,}  "
            f"{result.suspect_count:>7,}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
