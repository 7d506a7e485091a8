"""One sync at a time per account: an advisory lock file in the data directory."""

import contextlib
import fcntl
import os
from collections.abc import Iterator

from hubsync import paths
from hubsync.errors import AlreadyRunning


def _open_lock(name: str) -> int:
    """The lock file of ``name`` in the data directory, opened (created private)."""
    directory = paths.ensure_private_dir(paths.data_dir() / "locks")
    safe = "".join(c if c.isalnum() or c in "@.-_" else "_" for c in name)
    return os.open(directory / f"{safe}.lock", os.O_RDWR | os.O_CREAT, 0o600)


@contextlib.contextmanager
def account_lock(account: str, what: str = "sync") -> Iterator[None]:
    """Hold the account's lock, or fail at once with a clear message if another holds it."""
    fd = _open_lock(account)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise AlreadyRunning(
                f"Another hubsync {what} is already running for account {account!r} "
                f"(process {holder}).",
                fix="Wait for it to finish, or stop it (Ctrl-C in its terminal).",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def waiting_lock(name: str, timeout: float = 30.0) -> Iterator[None]:
    """Hold the lock ``name``, waiting up to ``timeout`` seconds for another process to let
    it go (for short critical sections, such as refreshing an OAuth2 token once)."""
    import time

    fd = _open_lock(name)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AlreadyRunning(
                        f"Another hubsync process held {name!r} for more than {timeout:g} s.",
                        fix="Try again; if it persists, look for a stuck hubsync process.",
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)
