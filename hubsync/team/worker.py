"""``hubsync worker``: one process that watches many inboxes of a team's shared store.

Accounts are claimed through leases in the store (``Store.claim_lease``: one atomic upsert, so
two workers never hold one account), renewed every third of the lease while the worker is
alive, and given up on a clean shutdown. A worker that dies (``kill -9``) stops renewing: its
accounts are claimed by the others once the lease has run out. Each claimed account is
watched by a thread of its own running the ``sync --watch`` loop (IMAP IDLE), with a store
connection of its own; at most ``concurrency`` accounts at a time.
"""

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from hubsync import config as cfg
from hubsync import credentials, environment
from hubsync.errors import CredentialError, HubsyncError
from hubsync.store import Store
from hubsync.sync import verdict

Event = dict  # one JSON-ready event: {"event": "start" | "claim" | "release" | "sync" |
# "failure" | "stop", "account", "worker", ...}


def now_ms() -> int:
    return int(time.time() * 1000)


def owner_id() -> str:
    """This worker's name in the lease table: host, PID and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Watched:
    thread: threading.Thread
    stop: threading.Event = field(default_factory=threading.Event)


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
    ) -> None:
        self.open_store = open_store
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

    def run(self) -> None:
        """Claim, renew and watch until ``stop()``; then give every lease up."""
        store = self._store()
        self._emit("start", None, lease_s=self.lease_ms / 1000, concurrency=self.concurrency)
        try:
            while not self.stopping.is_set():
                self._round(store)
                self.stopping.wait(self.lease_ms / 3000)
        finally:
            self._shutdown(store)
            self._done_with(store)
            self._emit("stop", None)

    def _store(self) -> Store:
        return self.shared_store or self.open_store()

    def _done_with(self, store: Store) -> None:
        if store is not self.shared_store:
            store.close()

    def stop(self) -> None:
        self.stopping.set()

    def _round(self, store: Store) -> None:
        """Renew what is held (dropping lost leases and dead watches), then claim more."""
        renewed = store.renew_leases(list(self.watched), self.owner, now_ms(), self.lease_ms)
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
        for name in sorted(self.accounts):
            if len(self.watched) >= self.concurrency:
                break
            if name in self.watched or name in self.unusable:
                continue
            if store.claim_lease(name, self.owner, now_ms(), self.lease_ms):
                self._start(name)

    def _start(self, name: str) -> None:
        watched = Watched(threading.Thread(target=self._watch, args=(name,), daemon=True))
        self.watched[name] = watched
        self._emit("claim", name, expires_in_s=self.lease_ms / 1000)
        watched.thread.start()

    def _watch(self, name: str) -> None:
        from hubsync.sync import watch  # the IMAP machinery only where it runs

        account = self.accounts[name]
        stop = self.watched[name].stop
        store = None
        try:
            store = self._store()
            secret = secret_for(account, store)

            def on_report(report) -> None:
                data = report.to_dict()
                self._emit("sync", name, scanned=data["scanned"], logged=data["logged"])

            def on_trouble(message: str, delay: float) -> None:
                self._emit("failure", name, reason="reconnect", detail=message, retry_in=delay)

            watch.watch(
                store,
                account,
                secret,
                None,
                on_report,
                on_trouble,
                stop=stop,
                settings=self.watch_settings,
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

    def _shutdown(self, store: Store) -> None:
        for watched in self.watched.values():
            watched.stop.set()
        for name, watched in list(self.watched.items()):
            watched.thread.join(timeout=15)
            store.release_lease(name, self.owner)
            self._emit("release", name, reason="shutdown")
        self.watched.clear()

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
