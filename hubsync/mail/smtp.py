"""SMTP submission: implicit TLS (465) or STARTTLS (587), authentication only after TLS."""

import base64
import contextlib
import smtplib
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from hubsync.errors import NetworkError, SendFailure, SmtpDisconnected
from hubsync.mail import dns as maildns
from hubsync.mail.cutoff import cut_after
from hubsync.mail.diagnosis import (
    diagnose_login,
    oauth_no_token,
    oauth_refused,
    oauth_unsupported,
)
from hubsync.mail.endpoint import Endpoint
from hubsync.mail.failures import connection_failure, no_starttls
from hubsync.mail.providers import Provider
from hubsync.mail.tls import client_context
from hubsync.oauth import sasl

SUBMIT_TIMEOUT = 60.0  # a large message may take a while to be accepted


@dataclass
class Submission:
    """What the server did with each recipient of one submission."""

    accepted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


STEPS_PER_REPLY = 4  # one reply (the greeting too): this many timeouts at most


class _Deadlined:
    """Every reply (the greeting included) has a whole-step deadline of STEPS_PER_REPLY
    timeouts: a server that trickles its answer is cut. (A TLS handshake has one already:
    Python's ssl module bounds the whole handshake by the socket's timeout.)"""

    connect_address: str | None = None

    def _step_seconds(self) -> float | None:
        return STEPS_PER_REPLY * self.timeout if isinstance(self.timeout, int | float) else None

    def getreply(self):
        with cut_after(getattr(self, "sock", None), self._step_seconds()) as cutoff:
            try:
                reply = super().getreply()
            except (OSError, smtplib.SMTPServerDisconnected):
                if cutoff.fired:
                    raise _too_slow(self._host, cutoff.seconds) from None
                raise
        if cutoff.fired:  # what came before the cut is only part of the answer
            raise _too_slow(self._host, cutoff.seconds)
        return reply


def _too_slow(host: str, seconds: float) -> NetworkError:
    return NetworkError(
        f"The SMTP server {host} kept one answer (or the TLS handshake) coming for more than "
        f"{seconds:g} s; hubsync stopped waiting.",
        fix="Try again later; `hubsync doctor` shows the server.",
        reason="smtp-too-slow",
    )


class _Plain(_Deadlined, smtplib.SMTP):
    def _get_socket(self, host, port, timeout):
        return socket.create_connection((self.connect_address or host, port), timeout)


class _Implicit(_Deadlined, smtplib.SMTP_SSL):
    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((self.connect_address or host, port), timeout)
        return self.context.wrap_socket(sock, server_hostname=self._host)


def open_session(endpoint: Endpoint) -> smtplib.SMTP:
    """A connected session with TLS up (implicit or STARTTLS); refuses to go on without."""
    context = client_context(endpoint.cafile)
    address = maildns.address_for(endpoint.host)
    try:
        if endpoint.security == "ssl":
            conn: smtplib.SMTP = _Implicit(context=context, timeout=endpoint.timeout)
            conn.connect_address = address
            conn._host = endpoint.host
            conn.connect(endpoint.host, endpoint.port)
            conn.ehlo()
        else:
            conn = _Plain(timeout=endpoint.timeout)
            conn.connect_address = address
            conn._host = endpoint.host  # smtplib's name for STARTTLS verification
            conn.connect(endpoint.host, endpoint.port)
            conn.ehlo()
            if not conn.has_extn("starttls"):
                conn.close()
                raise no_starttls(endpoint.host, endpoint.port, 465, "--smtp-security")
            conn.starttls(context=context)
            conn.ehlo()
    except smtplib.SMTPException as exc:
        raise NetworkError(
            f"SMTP {endpoint.host}:{endpoint.port}: {exc}", reason="smtp-connect-failed"
        ) from None
    except OSError as exc:
        raise connection_failure(
            exc,
            endpoint.host,
            endpoint.port,
            "SMTP",
            endpoint.timeout,
            " (465 is SSL/TLS, 587 STARTTLS)",
        ) from None
    return conn


def authenticate(
    conn: smtplib.SMTP, username: str, password: str, provider: Provider | None = None
) -> None:
    """AUTH; a refusal becomes the diagnosed AuthFailure (with the provider's own fix)."""
    try:
        if (username + password).isascii():
            conn.login(username, password)
        else:
            _auth_plain_utf8(conn, username, password)
    except smtplib.SMTPAuthenticationError as exc:
        text = f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
        raise diagnose_login(text, provider, protocol="SMTP") from None
    except smtplib.SMTPNotSupportedError:
        raise SendFailure(
            "The SMTP server offers no authentication on this port.",
            fix="Use the submission port (465 or 587), not port 25.",
            reason="smtp-no-auth",
        ) from None


def _auth_plain_utf8(conn: smtplib.SMTP, username: str, password: str) -> None:
    """AUTH PLAIN with UTF-8 credentials (RFC 4616), which smtplib's login cannot send."""
    conn.ehlo_or_helo_if_needed()
    if not conn.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    token = base64.b64encode(b"\0" + username.encode() + b"\0" + password.encode()).decode()
    code, reply = conn.docmd("AUTH", "PLAIN " + token)
    if code not in (235, 503):
        raise smtplib.SMTPAuthenticationError(code, reply)


def submit(conn: smtplib.SMTP, raw: bytes, sender: str, recipients: list[str]) -> Submission:
    """Send once. Recipients the server refused are reported, not retried."""
    result = Submission()
    try:
        refused = conn.sendmail(sender, recipients, raw)
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendFailure(
            "The server refused every recipient: "
            + "; ".join(f"{r}: {_reply(c, m)}" for r, (c, m) in exc.recipients.items()),
            fix="Check the addresses.",
            reason="recipients-refused",
            details={"refused": {r: _reply(c, m) for r, (c, m) in exc.recipients.items()}},
        ) from None
    except smtplib.SMTPSenderRefused as exc:
        raise SendFailure(
            f"The server refused the sender {sender}: {_reply(exc.smtp_code, exc.smtp_error)}",
            fix="The From address must be one this account may send as.",
            reason="sender-refused",
        ) from None
    except smtplib.SMTPDataError as exc:
        text = _reply(exc.smtp_code, exc.smtp_error)
        too_big = exc.smtp_code == 552 or "5.3.4" in text or "too large" in text.lower()
        raise SendFailure(
            f"The server refused the message: {text}",
            fix="Send smaller attachments (or a link)." if too_big else None,
            reason="message-too-large" if too_big else "data-refused",
        ) from None
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise SmtpDisconnected(
            f"The connection dropped while sending: {exc}",
            fix="Check `hubsync outbox`: the message may or may not have been accepted.",
        ) from None
    result.refused = {r: _reply(c, m) for r, (c, m) in refused.items()}
    result.accepted = [r for r in recipients if r not in result.refused]
    return result


@contextlib.contextmanager
def logged_in(
    endpoint: Endpoint,
    login: Callable[[smtplib.SMTP], None],
    on_connected: Callable[[], None] | None = None,
) -> Iterator[smtplib.SMTP]:
    """An authenticated submission session, always closed afterwards. ``on_connected`` is
    called once TLS is up, before any credential is sent."""
    conn = open_session(endpoint)
    try:
        if on_connected:
            on_connected()
        login(conn)
        yield conn
    finally:
        close(conn)


def oauth_authenticate(
    conn: smtplib.SMTP,
    username: str,
    token: Callable[[bool], str | None],
    preferred: str = "",
    provider: Provider | None = None,
) -> str:
    """AUTH XOAUTH2 or OAUTHBEARER, as ``imap.oauth_login`` does for IMAP (one retry with a
    refreshed token; the server's JSON error challenge answered as specified and reported).
    Returns the mechanism used."""
    conn.ehlo_or_helo_if_needed()
    if not conn.has_extn("auth"):
        raise SendFailure(
            "The SMTP server offers no authentication on this port.",
            fix="Use the submission port (465 or 587), not port 25.",
            reason="smtp-no-auth",
        )
    advertised = conn.esmtp_features.get("auth", "").split()
    mechanism = sasl.choose(advertised, preferred)
    if mechanism is None:
        raise oauth_unsupported("SMTP", advertised)

    def attempt(access_token: str) -> Exception | None:
        error: dict = {}
        try:
            conn.auth(mechanism, _sasl_exchange(mechanism, username, access_token, error))
        except smtplib.SMTPAuthenticationError as exc:
            text = f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
            return oauth_refused("SMTP", text, error, mechanism, provider)
        return None

    sasl.with_one_refresh(token, attempt, oauth_no_token())
    return mechanism


def _sasl_exchange(mechanism: str, username: str, token: str, error: dict):
    """smtplib's authobject: called with no challenge for the initial response (sent with
    AUTH), then with each decoded challenge (an error's JSON, kept in ``error``)."""

    def answer(challenge: bytes | None = None) -> str:
        if challenge is None:
            return sasl.initial_response(mechanism, username, token).decode()
        error.update(sasl.parse_error(challenge))
        return sasl.error_reply(mechanism).decode()

    return answer


def close(conn: smtplib.SMTP | None) -> None:
    """QUIT, ignoring a connection that is already gone."""
    if conn is None:
        return
    with contextlib.suppress(smtplib.SMTPException, OSError):
        conn.quit()


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    return f"{code} {text}"
