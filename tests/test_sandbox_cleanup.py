"""The sandbox stops exactly the processes it started, also those of a run that was killed."""

import os
import subprocess
import sys
import time

from sandbox import cleanup


def spawn(marker: str, group: bool = False) -> subprocess.Popen:
    """A stand-in daemon whose command line carries ``marker``."""
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", marker],
        start_new_session=group,
    )


def wait_gone(process: subprocess.Popen) -> bool:
    try:
        process.wait(timeout=10)
        return True
    except subprocess.TimeoutExpired:
        return False


def test_a_killed_runs_daemons_are_stopped_and_others_are_left_alone(tmp_path):
    root = tmp_path / f"{cleanup.PREFIX}killed"
    root.mkdir()
    owner = subprocess.Popen([sys.executable, "-c", "pass"])
    owner.wait()
    (root / "owner").write_text(str(owner.pid))  # the run that created it is gone
    daemon = spawn("hubsync-test-daemon")
    leader = spawn("hubsync-test-group", group=True)
    cleanup.record(root, daemon.pid, "hubsync-test-daemon")
    cleanup.record(root, leader.pid, "hubsync-test-group", group=True)
    bystander = spawn("somebody-elses-daemon")
    cleanup.record(root, bystander.pid, "a-program-it-no-longer-runs")  # a reused PID
    live = tmp_path / f"{cleanup.PREFIX}live"
    live.mkdir()
    cleanup.claim(live)  # this process: alive
    mine = spawn("hubsync-test-live")
    cleanup.record(live, mine.pid, "hubsync-test-live")
    try:
        assert cleanup.reap_leftovers(tmp_path) == [root]
        assert wait_gone(daemon) and wait_gone(leader)
        assert not root.exists() and live.exists()
        time.sleep(0.2)
        assert bystander.poll() is None, "a process whose command changed is not touched"
        assert mine.poll() is None, "a live run's daemons are not touched"
    finally:
        for process in (bystander, mine, daemon):
            process.kill()
            process.wait()
        try:
            os.killpg(leader.pid, 9)
        except ProcessLookupError:
            pass
