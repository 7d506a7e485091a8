"""One classifier for long-running loops (``sync --watch``, ``hubsync worker``): is a failure
worth retrying, or did something refuse that no retry can change?

Retry: every network event (a cut, a reset, a time-out, EOF during TLS or LOGIN), a server
that is busy or limited (``[UNAVAILABLE]``, ``[LIMIT]``, ``[INUSE]``, too many connections),
an answer that made no sense (a captive portal, a response over budget). Refused: the server
rejected the credentials, the OAuth2 grant was revoked, a secret is missing, or the
certificate does not verify. A refusal stops the loop with its fix; a retry never does.
"""

import random

from imapclient.exceptions import IMAPClientError

from hubsync.errors import AuthFailure, CredentialError, HubsyncError, TLSFailure

# AuthFailure reasons that a later attempt can pass (RFC 5530 codes for a busy server).
TRANSIENT_LOGIN = frozenset(
    {"auth-unavailable", "auth-limit", "auth-in-use", "auth-too-many-connections"}
)
# TLSFailure reasons that are not a certificate's verdict: a network may strip STARTTLS
# or garble a handshake for a while.
TRANSIENT_TLS = frozenset({"tls-failed", "tls-unavailable"})

FIRST_DELAY = 1.0
MAX_DELAY = 300.0
STABLE_AFTER = 300.0  # a connection up this long resets the backoff (not a bare LOGIN)


def is_refusal(exc: BaseException) -> bool:
    """Whether ``exc`` is an answer no retry can change (so the loop stops with its fix)."""
    if isinstance(exc, CredentialError):
        return True
    if isinstance(exc, AuthFailure):
        return exc.reason not in TRANSIENT_LOGIN
    if isinstance(exc, TLSFailure):
        return exc.reason not in TRANSIENT_TLS
    return False


def is_retryable(exc: BaseException) -> bool:
    """Whether a loop should reconnect after ``exc`` (a network event or a busy server)."""
    if is_refusal(exc):
        return False
    return isinstance(exc, HubsyncError | OSError | IMAPClientError)


def backoff_delay(attempt: int, jitter: float) -> float:
    """Seconds to wait before reconnect ``attempt`` (0 for the first): 1 s doubling to 5
    minutes, spread by ``jitter`` (0..1) over the upper quarter so that many watches cut at
    once do not reconnect in step."""
    base = min(FIRST_DELAY * 2 ** min(attempt, 20), MAX_DELAY)
    return round(base * (0.75 + 0.25 * jitter), 3)


def jitter() -> float:
    """A random jitter value for ``backoff_delay`` (the loops pass it in; tests pick it)."""
    return random.random()  # noqa: S311 - spreading reconnects, not a secret
