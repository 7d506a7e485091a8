"""Turn socket and TLS exceptions into errors that say what failed and what to do.

One place for IMAP, SMTP, probe and discovery, so every command explains a refused port, a
time-out, a DNS failure or a certificate problem the same way.
"""

import socket
import ssl

from hubsync.errors import ConnectionDropped, HubsyncError, NetworkError, TLSFailure


def connection_failure(
    exc: OSError, host: str, port: int, what: str, timeout: float, port_hint: str = ""
) -> HubsyncError:
    """Classify ``exc`` (raised while connecting to ``what`` at host:port)."""
    where = f"{what} {host}:{port}".strip()
    if isinstance(exc, ssl.SSLCertVerificationError):
        return tls_failure(exc, host, port, what)
    if isinstance(exc, TimeoutError):
        return NetworkError(
            f"{where} did not answer within {timeout:g}s.",
            reason="timeout",
            fix="Check the host, the port and any firewall in between.",
        )
    if isinstance(exc, ConnectionRefusedError):
        return NetworkError(
            f"{where} refused the connection (nothing listens there).",
            fix=f"Check the host and port{port_hint}.",
            reason="refused",
        )
    if isinstance(exc, socket.gaierror):
        return NetworkError(
            f"{host} does not resolve: {exc.strerror}.", fix="Check the host name.", reason="dns"
        )
    if is_cut(exc):
        # EOF or a reset in the middle of the TLS handshake: the network (or a server under
        # load) dropped the connection. Nothing about TLS was refused; a retry may work.
        return ConnectionDropped(
            f"The connection to {where} was cut before it was set up "
            f"({type(exc).__name__}: {exc}).",
            fix="Nothing was lost. It is retried automatically by `sync --watch` and workers; "
            "run the command again. If it keeps happening, `hubsync doctor` shows why.",
        )
    if isinstance(exc, ssl.SSLError):
        return TLSFailure(
            f"TLS with {where} failed: {getattr(exc, 'reason', None) or exc}.",
            fix=f"Check the port and security mode{port_hint}.",
            reason="tls-failed",
        )
    return NetworkError(f"{where} is unreachable: {exc.strerror or exc}.", reason="unreachable")


def is_cut(exc: OSError) -> bool:
    """Whether ``exc`` is a connection cut (EOF, reset, broken pipe) rather than an answer."""
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return True
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return True
    text = str(exc).upper()
    return isinstance(exc, ssl.SSLError) and ("EOF" in text or "RESET" in text)


def no_starttls(host: str, port: int, secure_port: int, option: str) -> TLSFailure:
    """The plaintext port offers no STARTTLS: hubsync will not send a password over it."""
    return TLSFailure(
        f"{host}:{port} does not offer STARTTLS, and hubsync never sends a password without TLS.",
        fix=f"Use port {secure_port} with {option} ssl, or ask IT to enable TLS.",
        reason="tls-unavailable",
    )


def tls_failure(exc: ssl.SSLCertVerificationError, host: str, port: int, what: str) -> TLSFailure:
    """A certificate problem explained: unknown CA, expired, or a name mismatch."""
    message = exc.verify_message or str(exc)
    if exc.verify_code == 62 or "mismatch" in message.lower():
        return TLSFailure(
            f"The {what} server's certificate does not match the name {host}.",
            fix="This usually means the host name is your own domain while the certificate "
            "belongs to your hosting provider. Use the host name on the certificate (see "
            f"`hubsync probe {host} --port {port}`). hubsync never turns verification off.",
            reason="tls-name-mismatch",
        )
    if exc.verify_code == 10 or "expired" in message.lower():
        return TLSFailure(
            f"The {what} server's certificate at {host}:{port} has expired.",
            fix="Tell IT or the provider; hubsync will not connect until the certificate is "
            "renewed.",
            reason="tls-expired",
        )
    return TLSFailure(
        f"The {what} server's certificate at {host}:{port} is not trusted ({message}).",
        fix="If your organisation uses a private CA, pass its certificate with --cafile FILE "
        "(it is remembered for the account). Otherwise the connection may be intercepted.",
        reason="tls-untrusted",
    )
