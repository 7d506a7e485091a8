"""Sync of an account with many watched folders (issue #16, target 4), against the sandbox's
Dovecot over TLS.

Fills ``--folders`` folders of ``--messages`` messages each (Maildir files written directly),
watches all of them, then measures in one run:

1. the server-side limit: one minimal socket session that EXAMINEs each folder and fetches
   UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES)]), the
   fields a sync scans, to each tagged OK;
2. `hubsync sync`, first run over every folder (wall time, interpreter start included);
3. `hubsync sync` again with nothing new (every folder checked with STATUS, none selected);
4. for comparison, a bare session sending EXAMINE to every folder, and one sending STATUS
   (UIDVALIDITY UIDNEXT MESSAGES): what checking a folder costs either way;
5. the no-change sync (median of 5) of the same account watching every folder
   (``watched_folders = ["*"]``: a LIST, then STATUS per folder) against one watching a
   single folder: what watching every folder a reply can land in costs (issue #22: at most
   0.2 s more for 50 folders).

Usage: python -m benchmarks.many_folders [--folders 200] [--messages 5000]
Prints each figure with its limit and ratio; record results in docs/performance.md.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import tomli_w

from benchmarks.sync_large import USER, _raw_session, fill, run_measured
from sandbox import Sandbox


def raw_scan_seconds(box: Sandbox, folders: list[str]) -> tuple[float, int]:
    """One bare session: EXAMINE and fetch the match fields of every folder."""
    sock, f, command = _raw_session(box, "dovecot", "INBOX")
    count = 0
    started = time.perf_counter()
    for n, folder in enumerate(folders):
        command(b"e%d" % n, f'EXAMINE "{folder}"'.encode())
        tag = b"f%d" % n
        sock.sendall(
            tag + b" UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS "
            b"(MESSAGE-ID IN-REPLY-TO REFERENCES)])\r\n"
        )
        while not (line := f.readline()).startswith(tag):
            if line.endswith(b"}\r\n"):
                f.read(int(line[line.rindex(b"{") + 1 : -3]))
                count += 1
    elapsed = time.perf_counter() - started
    sock.close()
    return elapsed, count


def raw_check_seconds(box: Sandbox, folders: list[str], verb: bytes) -> float:
    """One bare session sending ``verb`` (EXAMINE or STATUS) for every folder."""
    sock, _, command = _raw_session(box, "dovecot", "INBOX")
    items = b" (UIDVALIDITY UIDNEXT MESSAGES)" if verb == b"STATUS" else b""
    started = time.perf_counter()
    for n, folder in enumerate(folders):
        command(b"c%d" % n, verb + b' "' + folder.encode() + b'"' + items)
    elapsed = time.perf_counter() - started
    sock.close()
    return elapsed


def _every_folder_against_one(env: dict, config_path: Path, folders: list[str]):
    """Median no-change sync watching ["*"], then watching only ``folders[0]``."""

    def watch(setting: list[str]) -> float:
        config = tomllib.loads(config_path.read_text())
        config["accounts"]["bench"]["watched_folders"] = setting
        config_path.write_text(tomli_w.dumps(config))
        run_measured(env, "sync", "--json")  # positions for folders not synced yet
        run_measured(env, "sync", "--json")  # and their second scan
        runs = sorted(run_measured(env, "sync", "--json")[0] for _ in range(5))
        return runs[2]

    return watch(["*"]), watch(folders[:1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folders", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5000)
    options = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="hubsync-bench-folders-"))
    box = Sandbox.create()
    try:
        started = time.perf_counter()
        folders = []
        for n in range(options.folders):
            name, _ = fill(box, "dovecot", f"Project{n:03d}", options.messages)
            folders.append(name)
        fill_s = time.perf_counter() - started
        env = {
            **os.environ,
            **box.keyring.env(),
            "HUBSYNC_HOME": str(home),
            "HUBSYNC_PASSWORD": box.users[USER].password,
            "NO_COLOR": "1",
        }
        connect = [
            "connect", USER, "--account", "bench", "--imap-host", "localhost",
            "--imap-port", str(box.imap_port("dovecot")), "--smtp-host", "localhost",
            "--smtp-port", str(box.postfix.submissions_port), "--store", "none",
            "--cafile", str(box.ca.cert_path), "--yes", "--json",
        ]  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "hubsync", *connect], env=env, check=True, capture_output=True
        )
        config_path = home / "config.toml"
        config = tomllib.loads(config_path.read_text())
        config["accounts"]["bench"]["watched_folders"] = folders
        config_path.write_text(tomli_w.dumps(config))

        raw_scan_seconds(box, folders)  # warm-up: Dovecot indexes the new messages
        raw_s, count = raw_scan_seconds(box, folders)
        first_s, first_rss, first = run_measured(env, "sync", "--json")
        run_measured(env, "sync", "--json")  # the second scan every message gets
        again_s, _, again = run_measured(env, "sync", "--json")
        skipped = sum(1 for f in again["folders"] if f["unchanged"])
        every_s, one_s = _every_folder_against_one(env, config_path, folders)
        examine_s = raw_check_seconds(box, folders, b"EXAMINE")
        status_s = raw_check_seconds(box, folders, b"STATUS")
        result = {
            "folders": options.folders,
            "messages_per_folder": options.messages,
            "messages": count,
            "fill_seconds": round(fill_s, 1),
            "raw_scan_seconds": round(raw_s, 3),
            "first_sync_seconds": round(first_s, 3),
            "ratio_first_sync_to_raw": round(first_s / raw_s, 2),
            "first_sync_peak_rss_mb": round(first_rss / 1024, 1),
            "scanned": first["scanned"],
            "no_change_sync_seconds": round(again_s, 3),
            "folders_skipped_on_status": skipped,
            "raw_examine_every_folder_seconds": round(examine_s, 3),
            "raw_status_every_folder_seconds": round(status_s, 3),
            "no_change_sync_every_folder_median_seconds": round(every_s, 3),
            "no_change_sync_one_folder_median_seconds": round(one_s, 3),
            "every_folder_extra_seconds": round(every_s - one_s, 3),
        }
    finally:
        box.remove()
        shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(result), flush=True)
    print(
        f"\n{options.folders} folders x {options.messages} messages ({count} in all)\n"
        f"  raw scan (EXAMINE + UID FETCH per folder)  {raw_s:8.3f} s\n"
        f"  first sync                                 {first_s:8.3f} s  "
        f"ratio {first_s / raw_s:.2f} (limit 1.30)  peak {first_rss / 1024:.0f} MB\n"
        f"  no-change sync (STATUS, {skipped} skipped)      {again_s:8.3f} s  (limit 1.00 s)\n"
        f"  bare EXAMINE of every folder               {examine_s:8.3f} s\n"
        f"  bare STATUS of every folder                {status_s:8.3f} s\n"
        f"  no-change sync, watching every folder (*)  {every_s:8.3f} s  (median of 5)\n"
        f"  no-change sync, watching one folder        {one_s:8.3f} s  (median of 5)\n"
        f"  every folder costs                         {every_s - one_s:+8.3f} s  (limit +0.2 s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
