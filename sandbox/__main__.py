"""``python -m sandbox up|down|status|env|reply``: a local mail system to try hubsync against."""

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
        print(exports(box.describe()), file=sys.stderr)
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
        print(exports(json.loads(state.read_text())), file=sys.stderr)
        return 0
    if command == "env":  # eval "$(scripts/sandbox env)"
        if not state.exists():
            print("no sandbox is up (start one with: scripts/sandbox up)", file=sys.stderr)
            return 1
        print(exports(json.loads(state.read_text())))
        return 0
    if command == "reply":  # play the contact's side: scripts/sandbox reply --in-reply-to ID
        if not state.exists():
            print("no sandbox is up (start one with: scripts/sandbox up)", file=sys.stderr)
            return 1
        from sandbox import reply

        return reply.main(json.loads(state.read_text()), argv[1:])
    print("usage: scripts/sandbox up|down|status|env|reply", file=sys.stderr)
    return 2


def exports(described: dict) -> str:
    """Every environment variable to export so hubsync in this shell uses the sandbox: its
    keyring (D-Bus session), its DNS server, and a home of its own."""
    import shlex

    env = {
        **described.get("keyring_env", {}),
        "HUBSYNC_DNS": described["dns"],
        "HUBSYNC_HOME": str(Path(described["root"]) / "hubsync-home"),
    }
    lines = ['# To use the sandbox from this shell: eval "$(scripts/sandbox env)"']
    lines += [f"export {k}={shlex.quote(str(v))}" for k, v in sorted(env.items())]
    lines.append(f"# Trust its CA with --cafile {shlex.quote(described['cafile'])}")
    return "\n".join(lines)


def _stop_from_state(root: Path) -> None:
    """Stop every process the sandbox in ``root`` started (and nothing else), then remove it."""
    import shutil

    cleanup.stop_recorded(root)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
