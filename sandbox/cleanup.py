"""Stopping exactly what a sandbox started, also after the process that started it was killed.

Every sandbox directory holds ``owner`` (the PID of the process that created it) and
``processes`` (one line per daemon it started: PID, whether it leads a process group, and a
word its command line must contain). Dovecot and Postfix instances are stopped through their
own config directories. Nothing is matched by name across the machine: other work may run
here, and only what a sandbox recorded is ever stopped.
"""

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

PREFIX = "hs-"


def record(root: Path, pid: int, marker: str, group: bool = False) -> None:
    """Note a daemon this sandbox started (``marker``: a word of its command line)."""
    with open(root / "processes", "a", encoding="utf-8") as handle:
        handle.write(f"{pid} {'group' if group else 'single'} {marker}\n")


def claim(root: Path) -> None:
    """Mark ``root`` as this process's sandbox."""
    (root / "owner").write_text(str(os.getpid()))


def stop_recorded(root: Path) -> None:
    """Stop every daemon the sandbox in ``root`` recorded, and its Dovecot and Postfix."""
    for conf in sorted(root.glob("*/dovecot.conf")):
        subprocess.run(["doveadm", "-c", str(conf), "stop"], capture_output=True, check=False)
    if (root / "postfix" / "main.cf").exists():
        subprocess.run(
            ["postfix", "-c", str(root / "postfix"), "stop"], capture_output=True, check=False
        )
    listing = root / "processes"
    if not listing.exists():
        return
    for line in reversed(listing.read_text().splitlines()):
        pid_text, kind, marker = (line.split(" ", 2) + ["", ""])[:3]
        if pid_text.isdigit() and _command_has(int(pid_text), marker):
            _terminate(int(pid_text), kind == "group")


def reap_leftovers(base: Path | None = None) -> list[Path]:
    """Stop and remove sandboxes whose creating process is gone (a test run killed by a
    timeout leaves its servers running); return the directories cleaned."""
    cleaned = []
    for root in sorted((base or Path(tempfile.gettempdir())).glob(f"{PREFIX}*")):
        owner = root / "owner"
        if not owner.is_file():
            continue
        text = owner.read_text().strip()
        if text.isdigit() and _alive(int(text)):
            continue
        stop_recorded(root)
        shutil.rmtree(root, ignore_errors=True)
        cleaned.append(root)
    return cleaned


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _command_has(pid: int, marker: str) -> bool:
    """Whether process ``pid`` still runs the recorded program (PIDs get reused)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return marker.encode() in command


def _terminate(pid: int, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, signal.SIGTERM)
        else:
            os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


def stop_group(process: subprocess.Popen | None) -> None:
    """Stop a daemon started with ``start_new_session=True`` and everything it forked (its
    process group), and reap it."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def start_group(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a daemon in a process group of its own (so ``stop_group`` stops all it forks),
    its output into ``log`` (``env``: added to this process's environment)."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
