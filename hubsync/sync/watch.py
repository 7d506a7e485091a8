"""``sync --watch``: IMAP IDLE on INBOX, a sync on each arrival, reconnects with backoff.

IDLE is renewed before 29 minutes (RFC 2177: servers may drop an idle client after 30); each
renewal also syncs the other watched folders (IDLE only watches the selected one).
"""

import contextlib
import threading
import time
from collections.abc import Callable

import imapclient

from hubsync import config as cfg
from hubsync.environment import pause_point
from hubsync.errors import AuthFailure, CredentialError, HubsyncError, TLSFailure
from hubsync.sessions import Secret
from hubsync.store import Store
from hubsync.sync.engine import SyncReport, session, sync_account, watched_folders
from hubsync.sync.mailbox import ImapMailbox

IDLE_RENEW = 25 * 60
CHECK_EVERY = 5.0
MAX_BACKOFF = 300.0


def watch(
    store: Store,
    account: cfg.Account,
    password: Secret,
    folders: list[str] | None,
    on_report: Callable[[SyncReport], None],
    on_trouble: Callable[[str, float], None],
    idle_renew: float = IDLE_RENEW,
    stop: threading.Event | None = None,
) -> None:
    """Run until interrupted (KeyboardInterrupt propagates after a clean logout), or until
    ``stop`` is set (within CHECK_EVERY seconds; a worker giving an account up). Each sync's
    report goes to ``on_report``; each reconnect's reason and delay to ``on_trouble``."""
    stop = stop or threading.Event()
    backoff = 1.0
    while not stop.is_set():
        try:
            with session(account, password, store) as client:
                backoff = 1.0
                on_report(sync_account(store, account, password, folders, client=client))
                _idle_loop(client, store, account, password, folders, on_report, idle_renew, stop)
        except (AuthFailure, TLSFailure, CredentialError):
            raise  # retrying a rejected password or certificate in a loop helps nobody
        except (HubsyncError, OSError, imapclient.exceptions.IMAPClientError) as exc:
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            store.add_event(account.name, "connection", "watch-reconnect", detail=message)
            on_trouble(message, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)


def _idle_loop(client, store, account, password, folders, on_report, idle_renew, stop) -> None:
    while not stop.is_set():
        pause_point("before-idle")  # tests deliver mail here, between the sync and IDLE
        if "INBOX" not in (folders or watched_folders(account)):
            client.select_folder("INBOX", readonly=True)
        elif _arrived_since_sync(client, store, account):  # selects INBOX
            # Mail that came between the scan and that SELECT is counted in EXISTS already,
            # so IDLE would never announce it: sync it first (once per round, so a folder
            # that cannot be synced does not keep us from idling).
            on_report(sync_account(store, account, password, folders, client=client))
            client.select_folder("INBOX", readonly=True)
        client.idle()
        started = time.monotonic()
        try:
            # Wake on new mail, or renew IDLE in time; either way sync every watched folder.
            while time.monotonic() - started < idle_renew and not stop.is_set():
                if _new_mail(client):
                    break
        except BaseException:
            # The connection may already be gone: ending IDLE must not hide why we stopped
            # (a dropped connection, or Ctrl-C).
            with contextlib.suppress(imapclient.exceptions.IMAPClientError, OSError):
                client.idle_done()
            raise
        client.idle_done()
        if stop.is_set():
            return
        on_report(sync_account(store, account, password, folders, client=client))


def _arrived_since_sync(client, store: Store, account: cfg.Account) -> bool:
    """Select INBOX (read-only, as IDLE needs) and say whether it holds UIDs past the
    stored position. A changed UIDVALIDITY is left to the next sync: some servers change it
    on every EXAMINE, and a sync here would then never end."""
    state = ImapMailbox(client).examine("INBOX")
    position = store.sync_state(account.name, "INBOX")
    if position is None or position["uidvalidity"] != state.uidvalidity:
        return False
    return state.exists > 0 and state.last_uid > position["last_uid"]


def _new_mail(client) -> bool:
    """One IDLE wait; raise ConnectionError when the server said BYE or closed the socket."""
    waited = time.monotonic()
    responses = client.idle_check(timeout=CHECK_EVERY)
    if any(r and r[0] == b"BYE" for r in responses):
        raise ConnectionError(f"the server ended the session: {responses}")
    if not responses and time.monotonic() - waited < CHECK_EVERY / 10:
        # imapclient returns at once with nothing when the socket reached EOF.
        raise ConnectionError("the server closed the connection")
    return any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)
