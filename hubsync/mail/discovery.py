"""Find an address's mail servers: provider table, DNS SRV, autoconfig XML, MX, guesses.

All sources run concurrently, each with its own timeout; every candidate is then probed, and the
most secure verified one wins (implicit TLS over STARTTLS). Guessed host names are kept only when
the probe confirms them.
"""

import http.client
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import defusedxml.ElementTree as SafeET
import dns.exception
import dns.resolver
from defusedxml import DefusedXmlException

from hubsync.errors import UsageError
from hubsync.mail import dns as maildns
from hubsync.mail import providers
from hubsync.mail.probe import IMAP, POP3, SMTP, probe_port
from hubsync.mail.tls import client_context

SOURCE_ORDER = ("provider", "srv", "autoconfig", "mx", "guess")
HTTP_TIMEOUT = 4.0
PROBE_TIMEOUT = 4.0
_SRV = (
    ("_imaps._tcp", IMAP, "ssl"),
    ("_imap._tcp", IMAP, "starttls"),
    ("_submissions._tcp", SMTP, "ssl"),
    ("_submission._tcp", SMTP, "starttls"),
    ("_pop3s._tcp", POP3, "ssl"),
    ("_pop3._tcp", POP3, "starttls"),
)


@dataclass
class Candidate:
    kind: str  # "imap" | "smtp" | "pop3"
    host: str
    port: int
    security: str  # "ssl" | "starttls"
    source: str
    verified: bool = False
    answers: bool = False  # the right protocol answered, whatever its certificate
    check: str = ""  # what the probe saw
    # why it is not verified, as a code: the probe's reason for a port that did not answer
    # (dns, refused, timeout, ...), or wrong-protocol, tls-mode, certificate
    failure: str = ""

    @property
    def key(self) -> tuple:
        """What makes two candidates the same server."""
        return (self.kind, self.host.lower().rstrip("."), self.port, self.security)


@dataclass
class Discovery:
    email: str
    domain: str
    provider: providers.Provider | None = None
    candidates: list[Candidate] = field(default_factory=list)
    imap: Candidate | None = None
    smtp: Candidate | None = None
    pop3_only: bool = False
    not_offered: list[str] = field(default_factory=list)  # SRV records with target "."
    notes: list[str] = field(default_factory=list)
    guesses: list[Candidate] = field(default_factory=list)  # host-name guesses that failed

    def to_dict(self) -> dict:
        """JSON-ready data (`discover --json`)."""

        def cand(c: Candidate | None) -> dict | None:
            if c is None:
                return None
            return {
                k: getattr(c, k)
                for k in (
                    "kind",
                    "host",
                    "port",
                    "security",
                    "source",
                    "verified",
                    "answers",
                    "check",
                )
            }

        return {
            "email": self.email,
            "domain": self.domain,
            "provider": self.provider.key if self.provider else None,
            "provider_name": self.provider.name if self.provider else None,
            "candidates": [cand(c) for c in self.candidates],
            "imap": cand(self.imap),
            "smtp": cand(self.smtp),
            "pop3_only": self.pop3_only,
            "not_offered": self.not_offered,
            "notes": self.notes,
            "guesses_failed": [cand(c) for c in self.guesses],
        }


def split_address(email: str) -> tuple[str, str]:
    """(local part, domain) of an address; UsageError when it is not one."""
    local, at, domain = email.strip().rpartition("@")
    if not at or not local or "." not in domain:
        raise UsageError(f"{email!r} is not an email address.", reason="bad-address")
    return local, domain.lower()


def discover(email: str, cafile: str | None = None, verify: bool = True) -> Discovery:
    """Candidates for EMAIL's servers from every source, probed; the best verified IMAP and SMTP
    chosen."""
    _, domain = split_address(email)
    result = Discovery(email=email, domain=domain, provider=providers.by_domain(domain))
    with ThreadPoolExecutor(max_workers=4) as pool:
        srv = pool.submit(_from_srv, domain)
        auto = pool.submit(_from_autoconfig, email, domain, cafile)
        mx = pool.submit(_from_mx, domain)
        found = []
        if result.provider:
            found += _provider_candidates(result.provider, "provider")
        srv_candidates, result.not_offered = srv.result()
        found += srv_candidates
        found += auto.result()
        mx_provider = mx.result()
        if mx_provider:
            result.provider = result.provider or mx_provider
            found += _provider_candidates(mx_provider, "mx")
    found += _guesses(domain)
    result.candidates = _dedupe(found)
    if verify:
        _verify(result.candidates, cafile)
    else:
        result.candidates = [c for c in result.candidates if c.source != "guess"]
    result.guesses = [c for c in result.candidates if c.source == "guess" and not c.verified]
    result.candidates = [c for c in result.candidates if c.source != "guess" or c.verified]
    result.imap = _best(result.candidates, IMAP, verify)
    result.smtp = _best(result.candidates, SMTP, verify)
    has_pop3 = any(c.kind == POP3 and (c.answers or not verify) for c in result.candidates)
    result.pop3_only = result.imap is None and has_pop3
    if result.provider:
        result.notes.append(f"{result.provider.name}: {result.provider.login_hint}")
        result.notes.extend(result.provider.notes)
    return result


def _provider_candidates(provider: providers.Provider, source: str) -> list[Candidate]:
    return [
        Candidate(IMAP, provider.imap.host, provider.imap.port, provider.imap.security, source),
        Candidate(SMTP, provider.smtp.host, provider.smtp.port, provider.smtp.security, source),
    ]


def _from_srv(domain: str) -> tuple[list[Candidate], list[str]]:
    """RFC 6186 and RFC 8314 SRV records; a target of "." means the service is not offered."""
    res = maildns.resolver()
    found, not_offered = [], []

    def one(entry):
        prefix, kind, security = entry
        try:
            answers = res.resolve(f"{prefix}.{domain}", "SRV")
        except (dns.exception.DNSException, OSError):
            return []
        return [(prefix, kind, security, a) for a in answers]

    with ThreadPoolExecutor(max_workers=len(_SRV)) as pool:
        for rows in pool.map(one, _SRV):
            for prefix, kind, security, answer in sorted(
                rows, key=lambda r: (r[3].priority, -r[3].weight)
            ):
                target = str(answer.target).rstrip(".")
                if not target:
                    not_offered.append(prefix)
                    continue
                found.append(Candidate(kind, target, int(answer.port), security, "srv"))
    return found, not_offered


def _from_mx(domain: str) -> providers.Provider | None:
    try:
        answers = maildns.resolver().resolve(domain, "MX")
    except (dns.exception.DNSException, OSError):
        return None
    for answer in sorted(answers, key=lambda a: a.preference):
        provider = providers.by_mx(str(answer.exchange))
        if provider:
            return provider
    return None


def _guesses(domain: str) -> list[Candidate]:
    return [
        Candidate(IMAP, f"imap.{domain}", 993, "ssl", "guess"),
        Candidate(IMAP, f"mail.{domain}", 993, "ssl", "guess"),
        Candidate(IMAP, f"imap.{domain}", 143, "starttls", "guess"),
        Candidate(SMTP, f"smtp.{domain}", 465, "ssl", "guess"),
        Candidate(SMTP, f"smtp.{domain}", 587, "starttls", "guess"),
        Candidate(SMTP, f"mail.{domain}", 465, "ssl", "guess"),
    ]


def autoconfig_urls(email: str, domain: str) -> list[str]:
    """Thunderbird's order, HTTPS first."""
    paths = [
        f"autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={email}",
        f"{domain}/.well-known/autoconfig/mail/config-v1.1.xml",
    ]
    return [f"https://{p}" for p in paths] + [f"http://{p}" for p in paths]


def _from_autoconfig(email: str, domain: str, cafile: str | None) -> list[Candidate]:
    for url in autoconfig_urls(email, domain):
        body = fetch(url, cafile)
        if body:
            try:
                found = parse_autoconfig(body)
            except ValueError:
                continue
            if found:
                return found
    return []


def fetch(url: str, cafile: str | None, timeout: float = HTTP_TIMEOUT) -> bytes | None:
    """GET a URL with TLS verified; connects through HUBSYNC_DNS when it is set."""
    scheme, _, rest = url.partition("://")
    hostport, _, path = rest.partition("/")
    host = hostport.split(":")[0]
    address = maildns.address_for(host)
    if scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            hostport, timeout=timeout, context=client_context(cafile)
        )
    else:
        conn = http.client.HTTPConnection(hostport, timeout=timeout)
    if address:

        def connect_to(addr, *args, **kwargs):
            return socket.create_connection((address, addr[1]), *args, **kwargs)

        conn._create_connection = connect_to
    try:
        conn.request("GET", "/" + path, headers={"User-Agent": "hubsync"})
        response = conn.getresponse()
        if response.status != 200:
            return None
        return response.read(1_000_000)
    except (OSError, ssl.SSLError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def parse_autoconfig(xml: bytes) -> list[Candidate]:
    """Mozilla clientConfig XML, parsed with defusedxml (no entities, no external DTDs)."""
    try:
        root = SafeET.fromstring(xml)
    except (SafeET.ParseError, DefusedXmlException) as exc:
        raise ValueError(f"not usable autoconfig XML: {exc}") from None
    found = []
    for server in root.iter():
        tag = server.tag.rsplit("}", 1)[-1]
        if tag not in ("incomingServer", "outgoingServer"):
            continue
        kind = server.get("type", "").lower()
        kind = {"imap": IMAP, "pop3": POP3, "smtp": SMTP}.get(kind)
        host = (server.findtext("hostname") or "").strip()
        port = (server.findtext("port") or "").strip()
        socket_type = (server.findtext("socketType") or "").strip().upper()
        if not kind or not host or not port.isdigit() or socket_type not in ("SSL", "STARTTLS"):
            continue  # plain connections are never offered
        security = "ssl" if socket_type == "SSL" else "starttls"
        found.append(Candidate(kind, host, int(port), security, "autoconfig"))
    return found


def _dedupe(candidates: list[Candidate]) -> list[Candidate]:
    seen, out = set(), []
    for c in candidates:
        if c.key not in seen:
            seen.add(c.key)
            out.append(c)
    return out


def _verify(candidates: list[Candidate], cafile: str | None) -> None:
    def check(c: Candidate) -> None:
        report = probe_port(
            c.host,
            c.port,
            PROBE_TIMEOUT,
            cafile,
            maildns.address_for(c.host),
            implicit_tls=c.security == "ssl",
        )
        want_tls = "implicit" if c.security == "ssl" else "starttls"
        cert = report.certificate
        if not report.open:
            c.check, c.failure = report.error or "closed", report.reason or "closed"
        elif report.protocol != c.kind:
            c.check = f"answers as {report.protocol or 'nothing'}"
            c.failure = "wrong-protocol"
        else:
            c.answers = True
        if c.check:
            return
        if report.tls != want_tls:
            c.check, c.failure = f"TLS mode is {report.tls or 'none'}", "tls-mode"
        elif cert and not (cert.trusted and cert.matches_host):
            c.check = f"certificate not trusted for {c.host}: {cert.verify_error or 'name'}"
            c.failure = "certificate"
        else:
            c.verified, c.check = True, "verified"

    with ThreadPoolExecutor(max_workers=max(1, len(candidates))) as pool:
        list(pool.map(check, candidates))


def _best(candidates: list[Candidate], kind: str, verify: bool) -> Candidate | None:
    usable = [c for c in candidates if c.kind == kind and (c.verified or not verify)]
    if not usable:
        return None
    return sorted(usable, key=lambda c: (c.security != "ssl", SOURCE_ORDER.index(c.source)))[0]
