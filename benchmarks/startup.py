"""Start-up cost: a bare interpreter against `hubsync --version` and the imports of each
command (median of repeated runs, wall time, interpreter start included).

Targets (docs/performance.md): `hubsync --version` within 0.05 s of the bare interpreter. The
no-change `sync` figure comes from benchmarks/sync_large.py and benchmarks/many_folders.py
(they need a server).

Usage: python -m benchmarks.startup [--runs 21]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def median_seconds(args: list[str], runs: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(args, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    py = sys.executable
    cases = [
        ("bare interpreter (python -c pass)", [py, "-c", "pass"]),
        ("hubsync --version", [py, "-m", "hubsync", "--version"]),
        ("import what `sync --json` runs (quick)", [py, "-c", "import hubsync.cli.sync_once"]),
        ("import the sync command (Typer)", [py, "-c", "import hubsync.cli.sync"]),
        ("import the send command", [py, "-c", "import hubsync.cli.send"]),
        ("import the threads command", [py, "-c", "import hubsync.cli.reports"]),
        ("hubsync sync --help", [py, "-m", "hubsync", "sync", "--help"]),
    ]
    bare = None
    for label, args in cases:
        seconds = median_seconds(args, runs)
        bare = bare if bare is not None else seconds
        print(f"{label:38} {seconds * 1000:7.1f} ms  (+{(seconds - bare) * 1000:6.1f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
