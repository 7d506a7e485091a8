"""The first scan over a long link: 150 ms round trip (a delay proxy, benchmarks/delay_proxy.py),
against one unbatched UID FETCH of the same items over the same link.

Fills a Dovecot folder with N messages (as benchmarks/sync_large.py does: a third replying,
a few into tracked threads), connects an account through the proxy, then per round: the raw
reader's `UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES)])`
to its tagged OK (login and EXAMINE not timed), and a first `hubsync sync --folder` in a new
HUBSYNC_HOME (its scan of the folder, from the JSON's per-folder seconds, and the whole
command). Best of the rounds; ratios to the raw reader.

Target (issue #26): 10,000 messages at 150 ms, scan within 1.3x the unbatched FETCH.

Usage: python -m benchmarks.slow_link [--messages 10000] [--rtt 0.150] [--rounds 3]
"""

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.delay_proxy import DelayProxy
from benchmarks.sync_large import SYNC_ITEMS, _connected_home, fill, raw_fetch_seconds
from benchmarks.sync_large import run_measured as run_hubsync
from sandbox import Sandbox


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rtt", type=float, default=0.150)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="hubsync-bench-link-"))
    box = Sandbox.create()
    proxy = None
    try:
        folder, roots = fill(box, "dovecot", f"Link{options.messages}", options.messages)
        raw_fetch_seconds(box, "dovecot", folder)  # the server indexes the new messages
        proxy = DelayProxy(box.imap_port("dovecot"), options.rtt)
        raw, scan, whole = [], [], []
        for round_ in range(options.rounds):
            raw.append(raw_fetch_seconds(box, "dovecot", folder, SYNC_ITEMS, proxy.port)[0])
            env = _connected_home(box, "dovecot", home / f"r{round_}", roots, proxy.port)
            seconds, _, report = run_hubsync(env, "sync", "--folder", folder, "--json")
            whole.append(seconds)
            scan.append(report["folders"][0]["seconds"])
            print(
                f"round {round_ + 1}: raw {raw[-1]:.3f} s, scan {scan[-1]:.3f} s, "
                f"command {seconds:.3f} s, logged {report['logged']}",
                flush=True,
            )
        found = {
            "messages": options.messages,
            "rtt_seconds": options.rtt,
            "raw_unbatched_fetch_seconds": round(min(raw), 3),
            "first_scan_seconds": round(min(scan), 3),
            "ratio_scan_to_raw": round(min(scan) / min(raw), 2),
            "first_sync_command_seconds": round(min(whole), 3),
            "ratio_command_to_raw": round(min(whole) / min(raw), 2),
        }
        print(json.dumps(found))
    finally:
        if proxy is not None:
            proxy.close()
        box.remove()
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
