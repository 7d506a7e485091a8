"""One way to open a logged-in session for an account: ``imap_session`` and ``smtp_session``.

Every caller (connect, send, sync, watch, doctor, reports) goes through these two, so the
account's endpoint, its way of logging in (password, or OAuth2 with XOAUTH2/OAUTHBEARER), its
provider's login advice, TLS verification and closing are the same everywhere.

A session's secret is the password (a ``str``) or, for OAuth2 accounts, a ``TokenSource``
that gives a current access token and a fresh one after a refusal.
"""

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import imapclient

from hubsync import config as cfg
from hubsync.mail import imap, providers
from hubsync.oauth.grant import TokenSource

if TYPE_CHECKING:
    import smtplib

Secret = str | TokenSource


def _oauth_preference(account: cfg.Account) -> str:
    """The SASL mechanism to try first: the account's, else its provider's."""
    if account.oauth_mechanism:
        return account.oauth_mechanism
    provider = providers.by_key(account.provider)
    return provider.oauth.mechanism if provider and provider.oauth else ""


def _imap_login(account: cfg.Account, secret: Secret) -> Callable[[imapclient.IMAPClient], None]:
    provider = providers.by_key(account.provider)
    if isinstance(secret, TokenSource):
        preferred = _oauth_preference(account)
        return lambda client: imap.oauth_login(
            client, account.username, secret.token, preferred, provider
        )
    return lambda client: imap.login(client, account.username, secret, provider)


def _smtp_login(account: cfg.Account, secret: Secret) -> Callable[["smtplib.SMTP"], None]:
    from hubsync.mail import smtp  # smtplib only for commands that send

    provider = providers.by_key(account.provider)
    if isinstance(secret, TokenSource):
        preferred = _oauth_preference(account)
        return lambda conn: smtp.oauth_authenticate(
            conn, account.username, secret.token, preferred, provider
        )
    return lambda conn: smtp.authenticate(conn, account.username, secret, provider)


@contextlib.contextmanager
def imap_session(
    account: cfg.Account,
    secret: Secret,
    *,
    timeout: float | None = None,
    on_connected: Callable[[], None] | None = None,
) -> Iterator[imapclient.IMAPClient]:
    """A logged-in IMAP session to the account's server, closed when the block ends.

    Raises the connection's diagnosed errors (NetworkError, TLSFailure, NotImap, AuthFailure);
    a session cut while open raises ConnectionDropped.
    """
    login = _imap_login(account, secret)
    with imap.logged_in(account.imap_endpoint(timeout), login, on_connected) as client:
        yield client


@contextlib.contextmanager
def smtp_session(
    account: cfg.Account,
    secret: Secret,
    *,
    timeout: float | None = None,
    on_connected: Callable[[], None] | None = None,
) -> Iterator["smtplib.SMTP"]:
    """An authenticated SMTP submission session for the account, closed when the block ends."""
    from hubsync.mail import smtp

    login = _smtp_login(account, secret)
    with smtp.logged_in(account.smtp_endpoint(timeout), login, on_connected) as conn:
        yield conn
