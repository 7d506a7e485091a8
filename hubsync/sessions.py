"""One way to open a logged-in session for an account: ``imap_session`` and ``smtp_session``.

Every caller (connect, send, sync, watch, doctor, reports) goes through these two, so the
account's endpoint, its provider's login advice, TLS verification and closing are the same
everywhere.
"""

import contextlib
import smtplib
from collections.abc import Callable, Iterator

import imapclient

from hubsync import config as cfg
from hubsync.mail import imap, providers, smtp


@contextlib.contextmanager
def imap_session(
    account: cfg.Account,
    password: str,
    *,
    timeout: float | None = None,
    on_connected: Callable[[], None] | None = None,
) -> Iterator[imapclient.IMAPClient]:
    """A logged-in IMAP session to the account's server, closed when the block ends.

    Raises the connection's diagnosed errors (NetworkError, TLSFailure, NotImap, AuthFailure);
    a session cut while open raises ConnectionDropped.
    """
    with imap.logged_in(
        account.imap_endpoint(timeout),
        account.username,
        password,
        providers.by_key(account.provider),
        on_connected,
    ) as client:
        yield client


@contextlib.contextmanager
def smtp_session(
    account: cfg.Account,
    password: str,
    *,
    timeout: float | None = None,
    on_connected: Callable[[], None] | None = None,
) -> Iterator[smtplib.SMTP]:
    """An authenticated SMTP submission session for the account, closed when the block ends."""
    with smtp.logged_in(
        account.smtp_endpoint(timeout),
        account.username,
        password,
        providers.by_key(account.provider),
        on_connected,
    ) as conn:
        yield conn
