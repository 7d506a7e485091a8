"""``sync --watch`` and the team worker: IDLE on the primary folder, never trusted alone.

Per connection: sync every watched folder, then repeat: IDLE on the primary folder (INBOX, or
``\\All`` where the server offers it) for at most ``poll`` seconds, end it (DONE, with a short
read deadline: a connection that died silently is found here), sync the primary folder, and
every ``sweep`` seconds every watched folder (STATUS first: an unchanged folder costs one
round trip). The CRM folder (sync/client_ways.py) is polled with the primary folder, so what
the user files there is logged within a poll interval; a keyword set on an old message is
found by the sweep. So a server whose IDLE never announces new mail, or a connection that a NAT
dropped without a word, costs at most about one poll interval, not the 29-minute IDLE renewal.

A reply the poll found that IDLE did not announce is recorded as an ``idle-silent`` event
(``doctor`` shows how often). Network events (cuts, time-outs, EOF during TLS or LOGIN, a busy
server) are retried forever with backoff (1 s doubling to 5 minutes, with jitter); only a
refusal (``verdict.is_refusal``) ends the watch.
"""

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import imapclient

from hubsync import config as cfg
from hubsync.environment import pause_point
from hubsync.errors import StoreBusy, StoreError, StoreUnreachable
from hubsync.mail.endpoint import DEFAULT_TIMEOUT
from hubsync.mail.reply_folders import WatchPlan
from hubsync.sessions import Secret
from hubsync.store import Store
from hubsync.sync import verdict
from hubsync.sync.engine import SyncReport, session, sync_mailbox, unchanged, watch_plan
from hubsync.sync.mailbox import ImapMailbox

IDLE_RENEW = 25 * 60  # RFC 2177: servers may drop a client idle for 30 minutes
POLL = 10.0
SWEEP = 60.0
SILENT_POLL = 2.0
CHECK_EVERY = 5.0  # the longest single wait, so that ``stop`` is seen in time


@dataclass(frozen=True)
class WatchSettings:
    """How often the watch checks: ``poll`` the primary folder while idling, ``sweep``
    every watched folder; ``idle_renew`` caps one IDLE command."""

    poll: float = POLL
    sweep: float = SWEEP
    idle_renew: float = IDLE_RENEW
    silent_poll: float = SILENT_POLL  # the poll once this connection's IDLE was seen silent


def watch(
    store: Store,
    account: cfg.Account,
    password: Secret,
    folders: list[str] | None,
    on_report: Callable[[SyncReport], None],
    on_trouble: Callable[[str, float], None],
    idle_renew: float = IDLE_RENEW,
    stop: threading.Event | None = None,
    settings: WatchSettings | None = None,
    jitter: Callable[[], float] = verdict.jitter,
    on_store: Callable[[str, str], None] | None = None,
) -> None:
    """Run until interrupted (KeyboardInterrupt propagates after a clean logout), until
    ``stop`` is set (a worker giving an account up), or until a refusal (raised, with its
    fix). Each sync's report goes to ``on_report``; each reconnect's reason and delay to
    ``on_trouble``. A database that cannot be reached (a team store restarting) is waited
    for with backoff: ``on_store("store-lost", why)`` once, ``on_store("store-back", "")``
    at the first sync that wrote again; nothing is lost meanwhile, since no position moves
    without its messages logged."""
    stop = stop or threading.Event()
    settings = settings or WatchSettings(idle_renew=idle_renew)
    retry = verdict.Reconnects(account.timeout or DEFAULT_TIMEOUT, jitter)
    tell = on_store or (lambda state, detail: None)
    lost = 0  # store outages in a row

    def reported(report: SyncReport) -> None:
        nonlocal lost
        if lost:
            lost = 0
            tell("store-back", "")
        on_report(report)

    while not stop.is_set():
        connected_at = None
        tried_at = time.monotonic()
        try:
            with session(account, password, store, timeout=retry.timeout) as client:
                connected_at = time.monotonic()
                retry.connected()
                _Connection(client, store, account, folders, reported, settings, stop).run()
        except (StoreUnreachable, StoreBusy) as exc:  # the database away, or a long writer
            lost += 1
            if lost == 1:
                tell("store-lost", exc.message)
            stop.wait(verdict.store_backoff(lost, jitter()))
        except StoreError:
            raise  # a full disk or a damaged store: a reconnect will not help
        except Exception as exc:
            if not verdict.is_retryable(exc):
                raise  # a refused login or certificate: retrying in a loop helps nobody
            now = time.monotonic()
            up = None if connected_at is None else now - connected_at
            delay = retry.failed(exc, up, now - tried_at)
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(StoreError):
                store.add_event(account.name, "connection", "watch-reconnect", detail=message)
            on_trouble(message, delay)
            stop.wait(delay)


class _Connection:
    """One logged-in session of the watch: the first sync, then IDLE and polls until the
    connection fails or the watch stops."""

    def __init__(self, client, store, account, folders, on_report, settings, stop) -> None:
        self.client = client
        self.mailbox = ImapMailbox(client)  # one per session: it knows what is selected
        self.store, self.account, self.fixed = store, account, folders
        self.on_report, self.settings, self.stop = on_report, settings, stop
        self.idle = client.has_capability("IDLE")
        self.silent = False  # this server's IDLE was seen not to announce new mail

    def poll_interval(self) -> float:
        """How long one IDLE lasts before the poll: shorter once IDLE was seen silent."""
        poll = min(self.settings.poll, self.settings.idle_renew)
        return min(poll, self.settings.silent_poll) if self.silent else poll

    def plan(self) -> WatchPlan:
        if self.fixed:
            primary = next((f for f in self.fixed if f.upper() == "INBOX"), self.fixed[0])
            return WatchPlan(primary, [primary, *[f for f in self.fixed if f != primary]])
        return watch_plan(self.account, self.mailbox)

    def sync(self, folders: list[str], first: bool = False, complete: bool = False):
        """Sync ``folders`` (``complete``: every watched folder); the report goes out after
        the first sync of a connection and whenever a sync found something (a poll every few
        seconds that found nothing is not news)."""
        report = sync_mailbox(
            self.mailbox, self.store, self.account, folders, complete=complete or first
        )
        if first or report.errors or report.total("scanned"):
            self.on_report(report)
        return report

    def run(self) -> None:
        plan = self.plan()
        self.sync(plan.folders, first=True)
        swept = time.monotonic()
        resynced = False
        before: int | None = None  # the primary's last UID when IDLE began
        announced = True
        while not self.stop.is_set():
            pause_point("before-idle")  # tests deliver mail here, between the sync and IDLE
            # The poll: one EXAMINE of the primary folder (IDLE needs it selected anyway)
            # against the stored position; a sync only when something is there.
            state = self.mailbox.examine(plan.primary)
            position = self.store.sync_state(self.account.name, plan.primary)
            if (
                not resynced
                and position is not None
                and state.uidvalidity == position["uidvalidity"]
                and not unchanged(state, position, floors=False)
            ):
                # New mail: what IDLE announced, what it did not (silent), or mail that came
                # between the last scan and this SELECT, which IDLE would never announce. Sync
                # it (once per round, so a folder that cannot be synced does not keep us from
                # idling).
                if not announced and before is not None and state.last_uid > before:
                    self.note_silence(plan.primary, state.last_uid)
                resynced = True
                self.sync([plan.primary])
                continue
            resynced = False
            before = state.last_uid
            announced = self.wait_for_mail()
            if self.stop.is_set():
                return
            if plan.log_folder and plan.log_folder != plan.primary:
                self.poll(plan.log_folder)  # what the user files there is logged within a poll
            if time.monotonic() - swept >= self.settings.sweep:
                plan, swept = self.plan(), time.monotonic()  # folders may have been created
                self.sync(plan.folders, complete=True)

    def poll(self, folder: str) -> None:
        """Sync ``folder`` when STATUS shows new mail in it (one round trip otherwise)."""
        position = self.store.sync_state(self.account.name, folder)
        status = self.mailbox.status(folder)
        if position is None or not unchanged(status, position, floors=False):
            self.sync([folder])

    def wait_for_mail(self) -> bool:
        """IDLE (or, without IDLE, wait) for up to one poll interval; True when the server
        announced new mail. Ending IDLE has a short deadline: that is the liveness check."""
        wait = self.poll_interval()
        if not self.idle:
            self.stop.wait(wait)
            self.client.noop()
            return False
        self.client.idle()
        started = time.monotonic()
        announced = False
        try:
            while not announced and not self.stop.is_set():
                left = wait - (time.monotonic() - started)
                if left <= 0:
                    break
                announced = _new_mail(self.client, min(left, CHECK_EVERY))
        except BaseException:
            # The connection may already be gone: ending IDLE must not hide why we stopped
            # (a dropped connection, or Ctrl-C).
            with contextlib.suppress(imapclient.exceptions.IMAPClientError, OSError):
                self.client.idle_done()
            raise
        return _end_idle(self.client, max(self.settings.poll, CHECK_EVERY)) or announced

    def note_silence(self, primary: str, last_uid: int) -> None:
        """Record ``idle-silent``: mail arrived in the primary folder during IDLE (past the
        last UID seen before it) and IDLE said nothing; from now on poll at the short
        interval on this connection."""
        if not self.idle:
            return
        self.silent = True
        self.store.add_event(
            self.account.name,
            "watch",
            "idle-silent",
            detail=f"{primary}: a poll found new mail (UID {last_uid}) that the server's IDLE "
            f"did not announce within {self.poll_interval():g} s",
        )


def _new_mail(client, timeout: float) -> bool:
    """One IDLE wait; raise ConnectionError when the server said BYE or closed the socket."""
    waited = time.monotonic()
    responses = client.idle_check(timeout=timeout)
    if any(r and r[0] == b"BYE" for r in responses):
        raise ConnectionError(f"the server ended the session: {responses}")
    if not responses and time.monotonic() - waited < timeout / 10:
        # imapclient returns at once with nothing when the socket reached EOF.
        raise ConnectionError("the server closed the connection")
    return _announces(responses)


def _end_idle(client, deadline: float) -> bool:
    """DONE, waiting at most ``deadline`` seconds for the server's answer (a silently dead
    connection raises TimeoutError here); True when responses that came with it announce
    new mail."""
    sock = client.socket()
    sock.settimeout(deadline)
    try:
        _, responses = client.idle_done()
    finally:
        with contextlib.suppress(OSError):
            client._set_read_timeout()
    return _announces(responses)


def _announces(responses) -> bool:
    return any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)
