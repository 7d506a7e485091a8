"""``python -m sandbox up|down|status``: a local mail system to try hubsync against."""

import json
import os
import sys
from pathlib import Path

from sandbox import cleanup
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
    """Stop every process the sandbox in ``root`` started (and nothing else), then remove it."""
    import shutil

    cleanup.stop_recorded(root)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
