"""`hubsync connect` at a real terminal (a pseudo-terminal): a mistyped password is asked for
again, and nothing else has to be retyped."""

import os
import pty
import select
import signal
import sys
import time

from helpers import connect_args


def expect(fd: int, text: str, seen: list[str], timeout: float = 60) -> None:
    """Read the terminal until ``text`` appears (or fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while text not in "".join(seen):
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(0, remaining))
        if not ready:
            raise AssertionError(f"{text!r} did not appear; the terminal showed: {''.join(seen)!r}")
        try:
            seen.append(os.read(fd, 4096).decode(errors="replace"))
        except OSError:  # the process ended
            raise AssertionError(f"{text!r} never appeared: {''.join(seen)!r}") from None


def reap(pid: int, timeout: float = 30) -> int:
    """The child's exit code; a child still running after ``timeout`` is killed (a failed
    test must not leave hubsync waiting at a prompt)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_mistyped_password_is_asked_for_again(cli, sandbox):
    args = [a for a in connect_args(sandbox, "typo") if a != "--password-stdin"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: hubsync on the terminal
        os.execvpe(sys.executable, [sys.executable, "-m", "hubsync", *args], cli.env)  # noqa: S606
    seen: list[str] = []
    try:
        for attempt, password in enumerate(("wrong-1", "wrong-2", "alice-sandbox-pw")):
            expect(fd, "Password for typo", seen)
            time.sleep(0.5)  # getpass flushes what was typed before it turned echo off
            seen.clear()
            os.write(fd, password.encode() + b"\r")
            if attempt < 2:
                expect(fd, f"Try again ({2 - attempt} left)", seen)
        expect(fd, "Connected", seen)
        output = "".join(seen)
    finally:
        status = reap(pid)
        os.close(fd)
    assert status == 0
    assert "What hubsync will read" in output
    assert "alice-sandbox-pw" not in output
    assert cli("accounts", "show", "typo", "--json").json()["password"] == "in keyring"


def test_sync_at_a_terminal_shows_its_progress_and_its_table(alice):
    """On a terminal `sync` draws a progress bar on Rich's console and then the table (the
    quick dispatch hands Rich the console itself, not its stand-in)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: hubsync on the terminal
        os.execvpe(sys.executable, [sys.executable, "-m", "hubsync", "sync"], alice.env)  # noqa: S606
    seen: list[str] = []
    try:
        expect(fd, "Logged 0 replies", seen)
    finally:
        status = reap(pid)
        os.close(fd)
    output = "".join(seen)
    assert status == 0, output
    assert "Sync of alice" in output and "INBOX" in output
    assert "Traceback" not in output and "internal error" not in output
