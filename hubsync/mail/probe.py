"""Tell what listens on a host's mail ports, without ever sending credentials.

IMAP, POP3 and SMTP servers speak first: read before writing; a port that stays silent is tried
with a TLS handshake (implicit TLS, RFC 8314). After TLS, capabilities are asked again.
"""

import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from hubsync.errors import NetworkError
from hubsync.mail import dns as maildns
from hubsync.mail.tls import CertificateInfo, client_context, describe_certificate
from hubsync.mail.wire import LineConnection, Silent

DEFAULT_PORTS = (993, 143, 995, 110, 465, 587)
IMAP, POP3, SMTP, UNKNOWN = "imap", "pop3", "smtp", "unknown"

POP3_ONLY_EXPLANATION = (
    "This server offers POP3 but no IMAP. POP3 downloads mail and removes it from the server, "
    "so the mailbox cannot be watched from several places, and hubsync must always see the "
    "mailbox to log replies. Ask your IT team to enable IMAP for this mailbox, and to tell you "
    "the IMAP host and port (usually 993 with SSL/TLS) and the SMTP host and port (usually 465 "
    "with SSL/TLS, or 587 with STARTTLS)."
)


@dataclass
class PortReport:
    port: int
    open: bool
    protocol: str = ""
    tls: str = ""  # "implicit" | "starttls" | "none" | ""
    greeting: str = ""
    certificate: CertificateInfo | None = None
    capabilities: list[str] = field(default_factory=list)
    error: str = ""
    reason: str = ""
    elapsed_ms: int = 0


@dataclass
class ProbeReport:
    host: str
    ports: list[PortReport]
    verdict: str  # "imap" | "imap-without-tls" | "pop3-only" | "none"
    imap: PortReport | None = None
    smtp: PortReport | None = None
    explanation: str = ""
    resolves: bool = True  # False: the host name does not resolve (no port was reached)

    def to_dict(self) -> dict:
        """JSON-ready data (`probe --json`)."""
        data = asdict(self)
        data["recommended"] = {
            "imap": _endpoint(self.imap),
            "smtp": _endpoint(self.smtp),
        }
        data.pop("imap")
        data.pop("smtp")
        return data


def _endpoint(report: PortReport | None) -> dict | None:
    if report is None:
        return None
    security = {"implicit": "ssl", "starttls": "starttls"}.get(report.tls, "none")
    return {"port": report.port, "security": security}


def probe(
    host: str,
    ports: tuple[int, ...] = DEFAULT_PORTS,
    timeout: float = 10.0,
    cafile: str | None = None,
) -> ProbeReport:
    """Probe every port concurrently; each finishes within ``timeout`` seconds."""
    address = maildns.address_for(host)
    with ThreadPoolExecutor(max_workers=max(1, len(ports))) as pool:
        reports = list(pool.map(lambda p: probe_port(host, p, timeout, cafile, address), ports))
    return judge(host, reports)


def judge(host: str, reports: list[PortReport]) -> ProbeReport:
    """The verdict: which IMAP endpoint to use (implicit TLS first), or why there is none."""

    def rank(r: PortReport) -> tuple:
        """Sort key: implicit TLS first, then STARTTLS, then no TLS."""
        trusted = bool(r.certificate and r.certificate.trusted and r.certificate.matches_host)
        return (not trusted, r.tls != "implicit", r.port)

    secure_imap = sorted(
        (r for r in reports if r.protocol == IMAP and r.tls in ("implicit", "starttls")), key=rank
    )
    smtp = sorted(
        (r for r in reports if r.protocol == SMTP and r.tls in ("implicit", "starttls")), key=rank
    )
    report = ProbeReport(host=host, ports=reports, verdict="none", smtp=smtp[0] if smtp else None)
    if secure_imap:
        report.verdict, report.imap = "imap", secure_imap[0]
        best = secure_imap[0]
        mode = "SSL/TLS" if best.tls == "implicit" else "STARTTLS"
        report.explanation = f"IMAP is available: use port {best.port} with {mode}."
    elif any(r.protocol == IMAP for r in reports):
        report.verdict = "imap-without-tls"
        report.explanation = (
            "IMAP answers, but offers no TLS. hubsync never sends a password without TLS: "
            "ask IT to enable IMAPS (port 993) or STARTTLS."
        )
    elif any(r.protocol == POP3 for r in reports):
        report.verdict = "pop3-only"
        report.explanation = POP3_ONLY_EXPLANATION
    elif reports and all(not r.open and r.reason == "dns" for r in reports):
        report.resolves = False
        cause = reports[0].error.split(": ", 1)[-1].rstrip(".")
        report.explanation = (
            f"{host} does not resolve ({cause}): check the spelling of the host name; no "
            "port could be tried."
        )
    else:
        report.explanation = f"No IMAP or POP3 service was found on {host}."
    return report


def probe_port(
    host: str,
    port: int,
    timeout: float,
    cafile: str | None = None,
    address: str | None = None,
    implicit_tls: bool = False,
) -> PortReport:
    """Probe one port. ``implicit_tls`` says TLS is expected first (e.g. 993 from settings):
    the wait for a plaintext greeting is then cut short."""
    started = time.monotonic()
    report = PortReport(port=port, open=False)
    try:
        _probe_into(report, host, port, timeout, cafile, address, implicit_tls)
    except NetworkError as exc:
        report.error, report.reason = exc.message, exc.reason
    except Silent:
        report.tls = ""
        report.error = (
            f"accepted the connection but sent no greeting and completed no TLS "
            f"handshake within {timeout:g}s"
        )
        report.reason = "silent"
    except (OSError, ssl.SSLError) as exc:
        report.error = report.error or f"{type(exc).__name__}: {exc}"
        report.reason = report.reason or "connection-error"
    report.elapsed_ms = int((time.monotonic() - started) * 1000)
    return report


def _probe_into(
    report: PortReport,
    host: str,
    port: int,
    timeout: float,
    cafile: str | None,
    address: str | None,
    implicit_tls: bool = False,
) -> None:
    deadline = time.monotonic() + timeout
    conn = LineConnection.open(host, port, timeout, address)
    report.open = True
    # Servers speak first; a silent port is tried with TLS. How long to wait for a greeting:
    silence = 0.3 if implicit_tls else min(2.0, timeout / 3)
    try:
        try:
            greeting = _read_greeting(conn, silence)
        except Silent:
            greeting = b""
        if greeting:
            report.protocol, report.greeting = classify(greeting), _text(greeting)
            plain_caps = capabilities(conn, report.protocol)
            if not _offers_starttls(report.protocol, plain_caps):
                report.tls, report.capabilities = "none", plain_caps
                return
            report.tls = "starttls"
        else:
            report.tls = "implicit"
    finally:
        conn.close()
    _tls_session(report, host, port, deadline, cafile, address)
    report.reason = ""


def _tls_session(
    report: PortReport,
    host: str,
    port: int,
    deadline: float,
    cafile: str | None,
    address: str | None,
) -> None:
    """Open the TLS session twice if needed: verified first, then unverified for details."""
    verify_error = ""
    try:
        conn = _open_tls(report, host, port, deadline, client_context(cafile), address)
        trusted = True
    except ssl.SSLCertVerificationError as exc:
        verify_error = exc.verify_message or str(exc)
        conn = _open_tls(report, host, port, deadline, client_context(verify=False), address)
        trusted = False
    try:
        der = conn.sock.getpeercert(binary_form=True)
        if der:
            report.certificate = describe_certificate(der, host, trusted, verify_error)
            if trusted is False and "mismatch" in verify_error.lower():
                report.certificate.matches_host = False
        report.capabilities = capabilities(conn, report.protocol)
    finally:
        conn.close()


def _open_tls(
    report: PortReport,
    host: str,
    port: int,
    deadline: float,
    context: ssl.SSLContext,
    address: str | None,
) -> LineConnection:
    conn = LineConnection.open(host, port, max(0.1, deadline - time.monotonic()), address)
    conn.deadline = deadline
    try:
        if report.tls == "starttls":
            _read_greeting(conn, None)
            capabilities(conn, report.protocol)
            _send_starttls(conn, report.protocol)
            conn.start_tls(context, host)
        else:
            conn.start_tls(context, host)
            greeting = _read_greeting(conn, None)
            report.protocol, report.greeting = classify(greeting), _text(greeting)
    except BaseException:
        conn.close()
        raise
    return conn


def classify(greeting: bytes) -> str:
    """IMAP, POP3, SMTP or "" from a server's greeting line."""
    upper = greeting.upper()
    if upper.startswith((b"* OK", b"* PREAUTH", b"* BYE")):
        return IMAP
    if upper.startswith((b"+OK", b"-ERR")):
        return POP3
    if upper[:3] in (b"220", b"421", b"554"):
        return SMTP
    return UNKNOWN


def _read_greeting(conn: LineConnection, limit: float | None) -> bytes:
    line = conn.readline(limit)
    # SMTP greetings may span lines ("220-..."): read to the last one.
    while line[:4] in (b"220-", b"554-", b"421-"):
        line = conn.readline()
    return line


def capabilities(conn: LineConnection, protocol: str) -> list[str]:
    """The capabilities named in a greeting or CAPABILITY answer."""
    if protocol == IMAP:
        conn.write(b"p1 CAPABILITY\r\n")
        caps: list[str] = []
        while True:
            line = conn.readline()
            if line.upper().startswith(b"* CAPABILITY"):
                caps = _text(line).split()[2:]
            if line.startswith(b"p1 ") or not line:
                return caps
    if protocol == POP3:
        conn.write(b"CAPA\r\n")
        if not conn.readline().startswith(b"+OK"):
            return []
        caps = []
        while (line := conn.readline()).rstrip(b"\r\n") != b".":
            caps.append(_text(line))
        return caps
    if protocol == SMTP:
        conn.write(b"EHLO hubsync-probe\r\n")
        caps = []
        while True:
            line = conn.readline()
            if not line.startswith(b"250"):
                return caps
            caps.append(_text(line[4:]))
            if line[3:4] != b"-":
                return caps[1:]  # the first line is the server's name
    return []


def _offers_starttls(protocol: str, caps: list[str]) -> bool:
    words = {c.split()[0].upper() for c in caps if c}
    return {IMAP: "STARTTLS", POP3: "STLS", SMTP: "STARTTLS"}.get(protocol, "-") in words


def _send_starttls(conn: LineConnection, protocol: str) -> None:
    command, ok = {
        IMAP: (b"p2 STARTTLS\r\n", b"p2 OK"),
        POP3: (b"STLS\r\n", b"+OK"),
        SMTP: (b"STARTTLS\r\n", b"220"),
    }[protocol]
    conn.write(command)
    while True:
        line = conn.readline()
        if line.upper().startswith(ok.upper()):
            return
        if protocol != IMAP or line.startswith(b"p2 "):
            raise ssl.SSLError(f"server refused STARTTLS: {_text(line)}")


def _text(line: bytes) -> str:
    return line.decode("utf-8", "replace").strip()
