"""TLS contexts and certificate inspection (verified by default; ``--cafile`` adds a CA)."""

import datetime as dt
import ipaddress
import os
import ssl
import threading
from dataclasses import dataclass


def client_context(cafile: str | None = None, verify: bool = True) -> ssl.SSLContext:
    """A client context that verifies the chain and host name, trusting ``cafile`` too.

    Verifying contexts are shared by every session of the process (a worker watching 1,000
    inboxes builds one, not 1,000: each holds the system's CA store, about 0.5 MB); a CA
    file that changed on disk gets a new one. Nothing changes a context after it is made."""
    if not verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    try:
        stamp = os.stat(cafile).st_mtime_ns if cafile else 0
    except OSError:
        stamp = -1  # missing: load_verify_locations says so, every time
    with _LOCK:
        key = (cafile or "", stamp)
        ctx = _SHARED.get(key)
        if ctx is None:
            ctx = ssl.create_default_context()
            if cafile:
                ctx.load_verify_locations(cafile=cafile)
            if stamp != -1:
                _SHARED[key] = ctx
        return ctx


_SHARED: dict[tuple[str, int], ssl.SSLContext] = {}
_LOCK = threading.Lock()


@dataclass
class CertificateInfo:
    subject: str
    issuer: str
    not_before: str
    not_after: str
    days_left: int
    names: list[str]
    matches_host: bool
    trusted: bool
    verify_error: str = ""

    @property
    def expired(self) -> bool:
        """True when the certificate's end date has passed."""
        return self.days_left < 0


def describe_certificate(
    der: bytes, host: str, trusted: bool, verify_error: str = ""
) -> CertificateInfo:
    """What a certificate says (names, issuer, dates) and whether it is trusted for ``host``."""
    from cryptography import x509  # only probes need it: keep other commands' start fast
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        names += [str(n) for n in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    not_after = cert.not_valid_after_utc
    days_left = (not_after - dt.datetime.now(dt.UTC)).days
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=not_after.isoformat(),
        days_left=days_left,
        names=names,
        matches_host=host_matches(host, names),
        trusted=trusted,
        verify_error=verify_error,
    )


def host_matches(host: str, names: list[str]) -> bool:
    """RFC 6125 matching: exact names, a single left-most ``*`` label, and IP addresses."""
    host = host.rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    for name in names:
        name = name.rstrip(".").lower()
        if ip is not None:
            try:
                if ipaddress.ip_address(name) == ip:
                    return True
            except ValueError:
                pass
            continue
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            if host.split(".", 1)[1] == name[2:]:
                return True
    return False
