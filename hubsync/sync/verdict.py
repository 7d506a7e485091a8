"""One classifier for long-running loops (``sync --watch``, ``hubsync worker``): is a failure
worth retrying, or did something refuse that no retry can change?

Retry: every network event (a cut, a reset, a time-out, EOF during TLS or LOGIN), a server
that is busy or limited (``[UNAVAILABLE]``, ``[LIMIT]``, ``[INUSE]``, too many connections),
an answer that made no sense (a captive portal, a response over budget). Refused: the server
rejected the credentials, the OAuth2 grant was revoked, a secret is missing, or the
certificate does not verify. A refusal stops the loop with its fix; a retry never does.
"""

import random
from collections.abc import Callable

from imapclient.exceptions import IMAPClientError

from hubsync.errors import AuthFailure, CredentialError, HubsyncError, NetworkError, TLSFailure

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
SILENT_REASONS = frozenset({"timeout", "unreachable", "dns"})
SILENT_RETRY = 5.0  # after an attempt nothing answered: the next one this long after it began
SILENT_TIMEOUT = 5.0  # the step timeout of such retries, doubling every few attempts
SILENT_TIMEOUT_STEPS = 12


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


def is_silence(exc: BaseException) -> bool:
    """Whether nothing answered at all (a time-out, an unreachable network, no DNS): the
    attempt never reached the server, so retrying soon costs it nothing."""
    return isinstance(exc, NetworkError) and exc.reason in SILENT_REASONS


class Reconnects:
    """When the next reconnect is due, and how long its network steps may take.

    A failure after contact (a cut, a busy server, EOF during TLS or LOGIN) backs off 1 s
    doubling to 5 minutes with jitter, reset only after a connection stayed up STABLE_AFTER;
    that protects a server that drops every session. A failure where nothing answered (an
    outage swallows the packets) retries every SILENT_RETRY seconds counted from when the
    attempt began, with a short step timeout (SILENT_TIMEOUT, doubling every
    SILENT_TIMEOUT_STEPS such attempts, up to the usual one, so a slow server still gets
    in): after an outage the watch is back within seconds, not after a long backoff.
    """

    def __init__(self, usual: float, jitter: Callable[[], float]) -> None:
        self.usual, self.jitter = usual, jitter
        self.attempt = 0  # failures after contact since the last stable connection
        self.silent = 0  # failures in a row where nothing answered
        self.timeout: float | None = None  # the next attempt's step timeout (None: usual)

    def connected(self) -> None:
        """The session is up (TLS and login passed)."""
        self.silent, self.timeout = 0, None

    def failed(self, exc: BaseException, up: float | None, tried: float) -> float:
        """Seconds to wait after ``exc``; ``up``: how long the connection had been up (None:
        it never came up), ``tried``: how long ago the attempt began."""
        if up is None and is_silence(exc):
            self.silent += 1
            self.timeout = min(
                self.usual, SILENT_TIMEOUT * 2 ** ((self.silent - 1) // SILENT_TIMEOUT_STEPS)
            )
            return round(max(0.0, SILENT_RETRY - tried), 3)
        if up is not None and up > STABLE_AFTER:
            self.attempt = 0  # only a connection that stayed up resets the backoff
        self.silent, self.timeout = 0, None
        delay = backoff_delay(self.attempt, self.jitter())
        self.attempt += 1
        return delay


STORE_RETRY_FIRST = 1.0
STORE_RETRY_MAX = 60.0


def store_backoff(attempt: int, jitter: float) -> float:
    """Seconds before the ``attempt``-th retry of a database that cannot be reached (1, 2,
    4, ... 60), spread by ``jitter`` (0 to 1: times 0.5 to 1.5) so that the workers of a
    team do not all come back at the same moment."""
    return min(STORE_RETRY_MAX, STORE_RETRY_FIRST * 2 ** max(0, attempt - 1)) * (0.5 + jitter)


def jitter() -> float:
    """A random jitter value for ``backoff_delay`` (the loops pass it in; tests pick it)."""
    return random.random()  # noqa: S311 - spreading reconnects, not a secret
