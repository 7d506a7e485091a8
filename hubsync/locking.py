"""One sync at a time per account: an advisory lock file in the data directory and, on a
team's shared PostgreSQL store, the account's lease, so that two machines never sync one
account at once (nor a machine and a worker)."""

import contextlib
import fcntl
import os
import threading
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


TEAM_LEASE_MS = 60_000  # renewed every third of it while held


@contextlib.contextmanager
def team_account_lock(store, account: str, what: str = "sync") -> Iterator["threading.Event"]:
    """Hold ``account``'s lease in the shared store while the block runs (renewed in the
    background); AlreadyRunning naming the holder (machine, process, since when) when
    another hubsync, on any machine, holds it. Nothing to do on a local SQLite store.

    Yields an event that is set when the lease was lost (the database was away longer than
    the lease and someone else claimed the account): a long-running holder stops then."""
    lost = threading.Event()
    if getattr(store, "kind", "sqlite") != "postgresql":
        yield lost
        return
    import socket
    import uuid

    owner = f"{what}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    if not store.claim_lease(account, owner, lease_ms=TEAM_LEASE_MS):
        holder = next((r for r in store.leases() if r["account"] == account), None)
        raise AlreadyRunning(
            f"Account {account!r} is being worked on by another hubsync: "
            + describe_holder(holder),
            fix="Wait for it to finish (a worker holds an account while it runs: stop it, or "
            "let it do the syncing).",
            details={"holder": holder["owner"] if holder else None},
        )
    stop = threading.Event()

    def still_held() -> bool | None:
        """Renewed (or, expired but free, claimed again); None: the store is unreachable."""
        try:
            return store.renew_lease(account, owner, lease_ms=TEAM_LEASE_MS) or store.claim_lease(
                account, owner, lease_ms=TEAM_LEASE_MS
            )
        except Exception:  # noqa: BLE001 - retried at the next beat
            return None

    def renew() -> None:
        while not stop.wait(TEAM_LEASE_MS / 3000):
            if still_held() is False:
                lost.set()  # expired while the database was away, and taken: give way
                return

    beat = threading.Thread(target=renew, daemon=True, name=f"lease {account}")
    beat.start()
    try:
        yield lost
    finally:
        stop.set()
        with contextlib.suppress(Exception):  # unreachable: the lease simply runs out
            store.release_lease(account, owner)


def describe_holder(lease: dict | None) -> str:
    """ "sync on laptop (process 4242) since 2026-12-07T09:00:00+00:00" from a lease row."""
    if lease is None:
        return "it has just finished; try again."
    parts = lease["owner"].split(":")
    if len(parts) == 4:  # what:host:pid:suffix (sync, sync --watch)
        what, host, pid = parts[0], parts[1], parts[2]
    else:  # host:pid:suffix (hubsync worker)
        what, host, pid = "worker", parts[0], parts[1] if len(parts) > 1 else "?"
    return f"{what} on {host} (process {pid}) since {lease['claimed']}."


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
