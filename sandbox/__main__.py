"""``python -m sandbox up|down|status``: a local mail system to try hubsync against."""

import json
import os
import sys
from pathlib import Path

from sandbox.system import Sandbox

STATE_DIR = Path(os.environ.get("HUBSYNC_SANDBOX_DIR", "/tmp/hubsync-sandbox"))


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    state = STATE_DIR / "sandbox.json"
    if command == "up":
        if state.exists():
            print(f"sandbox already up: {state}", file=sys.stderr)
            print(state.read_text())
            return 0
        box = Sandbox.create(STATE_DIR)
        box.save_state()
        print(json.dumps(box.describe(), indent=2))
        return 0
    if command == "down":
        if not state.exists():
            print("no sandbox is up", file=sys.stderr)
            return 0
        _stop_from_state(STATE_DIR)
        print("sandbox stopped and removed")
        return 0
    if command == "status":
        if not state.exists():
            print("no sandbox is up (start one with: scripts/sandbox up)")
            return 1
        print(state.read_text())
        return 0
    print("usage: scripts/sandbox up|down|status", file=sys.stderr)
    return 2


def _stop_from_state(root: Path) -> None:
    """Stop every process the sandbox in ``root`` started, using the files it left."""
    import shutil
    import signal
    import subprocess

    for name in ("main", "loc", "pop", "exp"):
        conf = root / name / "dovecot.conf"
        if conf.exists():
            subprocess.run(["doveadm", "-c", str(conf), "stop"], capture_output=True)
    if (root / "postfix").exists():
        subprocess.run(["postfix", "-c", str(root / "postfix"), "stop"], capture_output=True)
    pid_file = root / "dns" / "dnsmasq.pid"
    if pid_file.exists():
        _kill(int(pid_file.read_text()), signal.SIGTERM)
    state = json.loads((root / "sandbox.json").read_text())
    bus = state["keyring_env"]["DBUS_SESSION_BUS_ADDRESS"]
    subprocess.run(
        ["pkill", "-f", "gnome-keyring-daemon --unlock --components=secrets"],
        env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": bus},
        capture_output=True,
    )
    subprocess.run(
        [
            "pkill",
            "-f",
            f"dbus-daemon --session --fork --print-address=1 "
            f"--print-pid=1 --address=unix:path={root}/keyring",
        ],
        capture_output=True,
    )
    shutil.rmtree(root, ignore_errors=True)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
