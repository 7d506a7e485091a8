"""``hubsync worker``: one process that watches many inboxes of a team's shared store.

Accounts are claimed through leases in the store (``Store.claim_lease``: one atomic upsert, so
two workers never hold one account), renewed every third of the lease while the worker is
alive, and given up on a clean shutdown. A worker that dies (``kill -9``) stops renewing: its
accounts are claimed by the others once the lease has run out. Each claimed account is
watched by a thread of its own running the ``sync --watch`` loop (IMAP IDLE); at most
``concurrency`` accounts at a time.

Balance: every round a worker renews its heartbeat and learns how many workers are alive
(by the database's clock), and aims at its fair share, ceil(accounts / live workers), capped
by ``concurrency``. Over its share it gives up the surplus, the accounts idle longest first,
so a worker that joins gets its share within one lease period; under it, it claims more.

The database may go away (a dropped connection, a restart, a failover): a round that cannot
reach it is retried with backoff (1 s doubling to 60 s, with jitter), the watches keep
running (each retries its own store writes), and the events say ``store-lost`` and
``store-back``.
"""

import contextlib
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from hubsync import config as cfg
from hubsync import credentials, environment
from hubsync.errors import CredentialError, HubsyncError, StoreUnreachable
from hubsync.store import Store
from hubsync.sync import verdict

Event = dict  # one JSON-ready event: {"event": "start" | "claim" | "release" | "sync" |
# "failure" | "store-lost" | "store-back" | "stop", "account", "worker", ...}


def fair_share(accounts: int, held: dict[str, int], me: str, concurrency: int) -> int:
    """How many accounts worker ``me`` aims to hold, given what every live worker holds:
    at most ceil(accounts / workers); only floor(accounts / workers) while another worker
    is still below that (so that the surplus moves to it); capped by ``concurrency``."""
    live = max(1, len(held | {me: 0}))
    floor, ceiling = accounts // live, math.ceil(accounts / live)
    starved = any(n < floor for owner, n in held.items() if owner != me)
    return min(concurrency, floor if starved else ceiling)


def owner_id() -> str:
    """This worker's name in the lease table: host, PID and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Watched:
    thread: threading.Thread
    stop: threading.Event = field(default_factory=threading.Event)
    active_at: float = field(default_factory=time.monotonic)  # claimed, or last logged mail


class Worker:
    def __init__(
        self,
        open_store: Callable[[], Store],
        accounts: list[cfg.Account],
        on_event: Callable[[Event], None],
        concurrency: int = 50,
        lease_seconds: float = 60.0,
        owner: str | None = None,
        shared_store: Store | None = None,
        watch_settings=None,
        watch_one: Callable[[str, threading.Event], None] | None = None,
    ) -> None:
        self.open_store = open_store
        # What watching one account means: the IMAP watch (tests of balancing give another)
        self.watch_one = watch_one or self._watch_imap
        self.watch_settings = watch_settings  # poll and sweep (sync.watch.WatchSettings)
        # A PostgreSQL store with a connection pool serves every thread; otherwise (SQLite)
        # each thread opens a store of its own.
        self.shared_store = shared_store
        self.accounts = {a.name: a for a in accounts}
        self.on_event = on_event
        self.concurrency = concurrency
        self.lease_ms = int(lease_seconds * 1000)
        self.owner = owner or owner_id()
        self.watched: dict[str, Watched] = {}
        self.unusable: set[str] = set()  # no secret, or a refused login: not retried here
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.share = concurrency  # this worker's fair share, recomputed each round

    def run(self) -> None:
        """Claim, renew and watch until ``stop()``; then give every lease up. A database
        that cannot be reached is waited for, never a reason to stop. The rounds have a
        connection of their own (not the watches' pool, where a thread may wait minutes for
        a free connection): an outage is seen, and said, at the next round."""
        store = self.open_store()
        self._emit("start", None, lease_s=self.lease_ms / 1000, concurrency=self.concurrency)
        lost = 0  # rounds in a row that could not reach the database
        try:
            while not self.stopping.is_set():
                try:
                    self._round(store)
                except StoreUnreachable as exc:
                    lost += 1
                    if lost == 1:
                        self._emit("store-lost", None, detail=exc.message)
                    self.stopping.wait(verdict.store_backoff(lost, verdict.jitter()))
                    continue
                if lost:
                    self._emit("store-back", None, after_attempts=lost)
                    lost = 0
                self.stopping.wait(self.lease_ms / 3000)
        finally:
            self._shutdown(store)
            store.close()
            self._emit("stop", None)

    def _store(self) -> Store:
        return self.shared_store or self.open_store()

    def _done_with(self, store: Store) -> None:
        if store is not self.shared_store:
            store.close()

    def stop(self) -> None:
        self.stopping.set()

    def _round(self, store: Store) -> None:
        """Renew what is held (dropping lost leases and dead watches), give up what is over
        the fair share, then claim up to it."""
        held = store.heartbeat(self.owner, self.lease_ms)
        wanted = [n for n in self.accounts if n not in self.unusable]
        self.share = fair_share(len(wanted), held, self.owner, self.concurrency)
        renewed = store.renew_leases(list(self.watched), self.owner, lease_ms=self.lease_ms)
        for name in list(self.watched):
            watched = self.watched[name]
            alive = watched.thread.is_alive()
            if not alive or name not in renewed:
                watched.stop.set()
                self.watched.pop(name)
                if alive:
                    self._emit("release", name, reason="lease-lost")
                else:
                    store.release_lease(name, self.owner)
                    self._emit("release", name, reason="watch-ended")
        surplus = len(self.watched) - self.share
        if surplus > 0:  # the idlest first: a busy inbox keeps its warm connection
            idlest = sorted(self.watched, key=lambda n: self.watched[n].active_at)[:surplus]
            self._give_up(store, idlest)
        for name in sorted(wanted):
            if len(self.watched) >= self.share:
                break
            if name in self.watched:
                continue
            if store.claim_lease(name, self.owner, lease_ms=self.lease_ms):
                self._start(name)

    GIVE_UP_WAIT = 10.0  # seconds, for all the watches given up in one round together

    def _give_up(self, store: Store, names: list[str]) -> None:
        """Stop watching ``names`` and free their leases, for a worker under its share. The
        watches are told to stop together and waited for together (within GIVE_UP_WAIT:
        the other leases must still be renewed this round); one still finishing its last
        sync then only costs that sync being deduplicated by the new holder."""
        leaving = {name: self.watched.pop(name) for name in names}
        for watched in leaving.values():
            watched.stop.set()
        deadline = time.monotonic() + self.GIVE_UP_WAIT
        for watched in leaving.values():
            watched.thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for name in leaving:
            store.release_lease(name, self.owner)
            self._emit("release", name, reason="rebalance")

    def _start(self, name: str) -> None:
        watched = Watched(threading.Thread(target=self._watch, args=(name,), daemon=True))
        self.watched[name] = watched
        self._emit("claim", name, expires_in_s=self.lease_ms / 1000)
        watched.thread.start()

    def _watch(self, name: str) -> None:
        self.watch_one(name, self.watched[name].stop)

    def _watch_imap(self, name: str, stop: threading.Event) -> None:
        from hubsync.sync import watch  # the IMAP machinery only where it runs

        account = self.accounts[name]
        store = None
        try:
            store = self._store()
            secret = secret_for(account, store)

            def on_report(report) -> None:
                data = report.to_dict()
                if data["logged"] and name in self.watched:
                    self.watched[name].active_at = time.monotonic()
                self._emit("sync", name, scanned=data["scanned"], logged=data["logged"])

            def on_trouble(message: str, delay: float) -> None:
                self._emit("failure", name, reason="reconnect", detail=message, retry_in=delay)

            def on_store(state: str, detail: str) -> None:
                self._emit(state, name, **({"detail": detail} if detail else {}))

            watch.watch(
                store,
                account,
                secret,
                None,
                on_report,
                on_trouble,
                stop=stop,
                settings=self.watch_settings,
                on_store=on_store,
            )
        except HubsyncError as exc:
            if verdict.is_refusal(exc):
                self.unusable.add(name)  # reported once, never retried in a loop
                self._emit("failure", name, reason=exc.reason, detail=exc.message, retried=False)
            else:
                self._emit("failure", name, reason=exc.reason, detail=exc.message)
        except Exception as exc:  # noqa: BLE001 - one account's defect must not stop the rest
            self._emit("failure", name, reason="internal-error", detail=f"{type(exc).__name__}")
        finally:
            if store is not None:
                self._done_with(store)

    SHUTDOWN_WAIT = 20.0  # seconds for every watch to log out, together (systemd waits 30)

    def _shutdown(self, store: Store) -> None:
        for watched in self.watched.values():
            watched.stop.set()
        deadline = time.monotonic() + self.SHUTDOWN_WAIT
        for name, watched in list(self.watched.items()):
            watched.thread.join(timeout=max(0.0, deadline - time.monotonic()))
            with contextlib.suppress(HubsyncError):  # unreachable: the lease runs out instead
                store.release_lease(name, self.owner)
            self._emit("release", name, reason="shutdown")
        self.watched.clear()
        with contextlib.suppress(HubsyncError):
            store.leave(self.owner)

    def _emit(self, event: str, account: str | None, **details) -> None:
        with self.lock:
            self.on_event({"event": event, "account": account, "worker": self.owner, **details})


def secret_for(account: cfg.Account, store: Store | None = None):
    """The account's login secret on a server: HUBSYNC_PASSWORD, its password_command, its
    encrypted secret in the team store (credential_source "store"), or the keyring where there
    is one; an OAuth2 account's token source."""
    from hubsync.oauth import grant
    from hubsync.redact import register

    if account.auth == "oauth2":
        return grant.source_for(account)
    if account.credential_source == "store" and not (
        environment.current().password or account.password_command
    ):
        from hubsync.team import secrets

        if store is None:
            raise CredentialError(f"Account {account.name!r} keeps its secret in the store.")
        return secrets.get(store, account.name)
    secret = credentials.resolve(
        account.name,
        account.password_command or None,
        use_keyring=account.credential_source != "none",
    )
    register(secret.value)
    return secret.value
