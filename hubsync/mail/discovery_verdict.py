"""Why discovery found no usable server, named by its first real cause: a certificate that
does not verify, a host that does not resolve, a port that refuses, or nothing to try at all.

Pure: works on a ``Discovery`` already probed. `connect` and `discover` both say it, so the
user reads "the certificate of mail.example.test is not trusted: give --cafile" and not
"no server found, ask IT".
"""

from dataclasses import dataclass

from hubsync.mail.discovery import Candidate, Discovery

LABELS = {"imap": "IMAP", "smtp": "SMTP", "pop3": "POP3"}


@dataclass(frozen=True)
class NoServer:
    reason: str  # a reason code: certificate-untrusted, dns, refused, not-found, ...
    cause: str  # one sentence: what stopped it
    fix: str
    tried: list[str]  # "host:port (source): what the probe saw", every candidate tried


def _line(c: Candidate) -> str:
    return f"{c.host}:{c.port} {c.security} ({c.source}): {c.check or 'not checked'}"


def explain(found: Discovery, kind: str, flag: str) -> NoServer:
    """Why no ``kind`` server of ``found`` was verified; ``flag`` is the option prefix that
    names one by hand (``--imap`` gives --imap-host/--imap-port)."""
    label = LABELS.get(kind, kind.upper())
    tried = [c for c in found.candidates + found.guesses if c.kind == kind]
    by_hand = f"Give it with {flag}-host and {flag}-port (ask IT for them)."
    lines = [_line(c) for c in tried]
    if not tried:
        return NoServer(
            "not-found",
            f"Nothing to try for {found.domain}: no provider entry, no DNS SRV record, no "
            f"autoconfig file, and no MX host of a known provider.",
            by_hand,
            lines,
        )
    answered = [c for c in tried if c.answers]
    untrusted = [c for c in answered if c.failure == "certificate"]
    if untrusted:
        c = untrusted[0]
        return NoServer(
            "certificate-untrusted",
            f"{c.host}:{c.port} answers as {label}, but its certificate does not verify "
            f"({c.check}).",
            "If your organisation signs its servers with a private CA, give that CA's "
            "certificate with --cafile FILE; otherwise the server's certificate is wrong "
            "(expired, self-signed or for another name): ask IT. Never turn verification off.",
            lines,
        )
    if answered:
        c = answered[0]
        return NoServer(
            "tls-mode",
            f"{c.host}:{c.port} answers as {label}, but {c.check}.",
            f"Check the security mode with IT ({flag}-security ssl or starttls).",
            lines,
        )
    if all(c.failure == "dns" for c in tried):
        hosts = sorted({c.host for c in tried})
        return NoServer(
            "dns",
            f"None of the host names tried resolves ({', '.join(hosts)}).",
            f"Check the spelling of {found.domain}; if it is right, {by_hand[0].lower()}"
            f"{by_hand[1:]}",
            lines,
        )
    reachable = [c for c in tried if c.failure != "dns"]
    c = reachable[0]
    return NoServer(
        "unreachable",
        f"No {label} server answered: {c.host}:{c.port} {c.check}"
        + (f" (and {len(reachable) - 1} more, see discover)" if len(reachable) > 1 else "")
        + ".",
        f"A firewall may block the port, or the server may be down. {by_hand}",
        lines,
    )
