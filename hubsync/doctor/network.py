"""Doctor's network checks: DNS, TCP, TLS, IMAP login, capabilities, folders, SMTP."""

import socket

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from hubsync import config as cfg
from hubsync.doctor import Check, fail, from_error, ok, warn
from hubsync.doctor.folders import (
    client_ways_check,
    folders_check,
    replies_elsewhere_check,
    sent_copies_check,
)
from hubsync.errors import HubsyncError
from hubsync.mail import dns as maildns
from hubsync.mail import imap
from hubsync.mail.endpoint import DEFAULT_TIMEOUT, Endpoint
from hubsync.mail.probe import IMAP, POP3, POP3_ONLY_EXPLANATION, probe_port
from hubsync.mail.sent_folder import resolve_sent_folder
from hubsync.sessions import imap_session, smtp_session

PROBE_TIMEOUT = 6.0
SESSION_TIMEOUT = 8.0
LARGE_FOLDER = 100_000
EXPIRY_WARN_DAYS = 14
CAPABILITY_LOSSES = {
    "IDLE": "no instant logging: `sync --watch` falls back to a sync at each renewal",
    "UIDPLUS": "the server does not confirm where an appended Sent copy landed",
    "SPECIAL-USE": "the Sent folder is found by its name only",
    "CONDSTORE": "flag changes cannot be fetched incrementally",
}
# What a greeting or ID response says about the server, and what to know about it.
SERVER_QUIRKS = (
    ("dovecot", "Dovecot", "Standards-complete (IDLE, CONDSTORE, QRESYNC, SPECIAL-USE)."),
    ("postfix", "Postfix", "Does not file a Sent copy itself; hubsync appends one."),
    (
        "gimap",
        "Gmail",
        "Files its own Sent copy; at most 15 connections; labels appear as folders.",
    ),
    (
        "microsoft exchange",
        "Microsoft Exchange",
        "Files its own Sent copy; no CONDSTORE or "
        "QRESYNC; slows down on folders over 100,000 items.",
    ),
    (
        "courier",
        "Courier-IMAP",
        "Folders live under INBOX. with a dot separator; no SPECIAL-USE (Sent is found by "
        "name), no UIDNEXT in SELECT, and IDLE polls (replies may take up to a minute).",
    ),
    (
        "cyrus",
        "Cyrus IMAP",
        "Folders such as Sent sit at the top level (Cyrus 3 default); special-use flags may "
        "come in lower case; instant IDLE needs the server's idled.",
    ),
    ("zimbra", "Zimbra", "Sent is usually named 'Sent'."),
    ("icloud", "iCloud", "Needs an app-specific password."),
)


def _dns_check(id_: str, host: str) -> Check:
    address = maildns.address_for(host)
    if address:
        return ok(id_, f"{host} -> {address} (HUBSYNC_DNS)")
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return fail(
            id_,
            "dns",
            f"{host} does not resolve: {exc.strerror}",
            "Check the host name in config.toml (or your network's DNS).",
        )
    return ok(id_, f"{host} -> {', '.join(sorted({i[4][0] for i in infos})[:3])}")


def _endpoint_checks(endpoint: Endpoint, want: str) -> tuple[list[Check], bool]:
    """DNS, TCP, protocol and TLS of one endpoint; return (checks, usable)."""
    kind = "imap" if want == IMAP else "smtp"
    host, port, security = endpoint.host, endpoint.port, endpoint.security
    checks = [_dns_check(f"{kind}-dns", host)]
    if checks[0].status == "fail":
        return checks, False
    report = probe_port(
        host,
        port,
        PROBE_TIMEOUT if endpoint.timeout == DEFAULT_TIMEOUT else endpoint.timeout,
        endpoint.cafile,
        maildns.address_for(host),
        implicit_tls=security == "ssl",
    )
    if not report.open:
        checks.append(
            fail(
                f"{kind}-reachable",
                report.reason or "unreachable",
                f"{host}:{port}: {report.error}",
                "Check that the server is up, the port is right and no firewall blocks it.",
            )
        )
        return checks, False
    checks.append(
        ok(f"{kind}-reachable", f"{host}:{port} answered in {report.elapsed_ms} ms (with TLS)")
    )
    if report.protocol == POP3 and want == IMAP:
        checks.append(
            fail(
                "imap-available",
                "pop3-only",
                f"{host}:{port} answers as POP3: {report.greeting}",
                POP3_ONLY_EXPLANATION,
            )
        )
        return checks, False
    if report.protocol != want:
        checks.append(
            fail(
                f"{kind}-protocol",
                "wrong-protocol",
                f"{host}:{port} answers as "
                f"{report.protocol or 'nothing'} ({report.error or report.greeting})",
                f"Check the {kind.upper()} port.",
            )
        )
        return checks, False
    tls = _tls_check(kind, host, port, security, report)
    checks.append(tls)
    if tls.status == "fail":
        return checks, False
    checks.append(_server_identity(kind, report.greeting))
    return checks, True


def _tls_check(kind: str, host: str, port: int, security: str, report) -> Check:
    """The TLS verdict from a probe: mode as configured, certificate present, current,
    naming the host, trusted, and not about to expire."""
    id_ = f"{kind}-tls"
    expected_tls = "implicit" if security == "ssl" else "starttls"
    if report.tls != expected_tls:
        return fail(
            id_,
            "tls-mode",
            f"{host}:{port} offers TLS mode '{report.tls}', the account expects '{expected_tls}'",
            "Correct the security setting (993/465 ssl, 143/587 starttls).",
        )
    cert = report.certificate
    if cert is None:
        return fail(id_, "tls-missing", "no certificate", "Ask IT.")
    if cert.expired:
        return fail(
            id_,
            "tls-expired",
            f"certificate for {cert.subject} expired on {cert.not_after[:10]}",
            "Tell IT or the provider: the "
            "certificate must be renewed; hubsync will not connect until then.",
        )
    if not cert.matches_host:
        return fail(
            id_,
            "tls-name-mismatch",
            f"certificate names {', '.join(cert.names[:4])}, not {host}",
            f"Use the host name on the certificate, e.g. {cert.names[0] if cert.names else '?'}.",
        )
    if not cert.trusted:
        return fail(
            id_,
            "tls-untrusted",
            f"certificate issued by {cert.issuer} is not trusted ({cert.verify_error})",
            "If your organisation uses a private CA, set its certificate with "
            "`hubsync connect ... --cafile FILE`; otherwise the connection may be "
            "intercepted.",
        )
    if cert.days_left < EXPIRY_WARN_DAYS:
        return warn(
            id_,
            "tls-expiring",
            f"certificate expires in {cert.days_left} days ({cert.not_after[:10]})",
            "Tell IT or the provider before it expires.",
        )
    return ok(id_, f"{report.tls} TLS, trusted certificate for {host} until {cert.not_after[:10]}")


def _server_identity(kind: str, greeting: str, id_response: str = "") -> Check:
    text = f"{greeting} {id_response}".lower()
    for needle, name, quirk in SERVER_QUIRKS:
        if needle in text:
            return ok(f"{kind}-server", f"{name}: {quirk}", "recognised")
    return ok(
        f"{kind}-server", f"not recognised from its greeting: {greeting[:80]}", "unrecognised"
    )


def imap_checks(
    account: cfg.Account,
    password: str | None,
    tracked: list[str] | None = None,
    sent: list[str] | None = None,
) -> list[Check]:
    """The IMAP chain: reachability and TLS, then (with a password) login, capabilities,
    folders and the server's identity."""
    checks, usable = _endpoint_checks(account.imap_endpoint(), IMAP)
    if not usable or password is None:
        return checks
    logging_in = [False]

    def connected() -> None:
        logging_in[0] = True

    try:
        with imap_session(
            account, password, timeout=account.timeout or SESSION_TIMEOUT, on_connected=connected
        ) as client:
            logging_in[0] = False
            checks.append(ok("imap-login", f"logged in as {account.username}"))
            checks.append(_capabilities_check(imap.capability_names(client)))
            checks += _folder_checks(client, account, tracked)
            copies = sent_copies_check(client, account, sent or [])
            checks += [copies] if copies else []
            identity = _id_check(client)
            checks = [c for c in checks if c.id != "imap-server"] + [identity]
    except HubsyncError as exc:
        checks.append(from_error("imap-login" if logging_in[0] else "imap-session", exc))
    return checks


def _capabilities_check(caps: list[str]) -> Check:
    names = {c.upper() for c in caps}
    missing = [c for c in CAPABILITY_LOSSES if c not in names]
    if not missing:
        return ok("imap-capabilities", "IDLE, UIDPLUS, SPECIAL-USE and CONDSTORE offered")
    return warn(
        "imap-capabilities",
        "capability-missing",
        "missing: " + "; ".join(f"{c} ({CAPABILITY_LOSSES[c]})" for c in missing),
        "Nothing to do for hubsync to work; ask the provider if you need what is lost.",
    )


def _folder_checks(client, account: cfg.Account, tracked: list[str] | None) -> list[Check]:
    folders = imap.list_folders(client)
    watch = [folders_check(account, folders), client_ways_check(client, account, folders)]
    if tracked is not None:
        watch.append(replies_elsewhere_check(client, account, tracked, folders))
    configured = account.sent_folder if account.sent_folder_rule == "config" else None
    resolution = resolve_sent_folder(folders, configured)
    checks = []
    names = {f.name for f in folders}
    if account.sent_folder and account.sent_folder not in names:
        checks.append(
            fail(
                "sent-folder",
                "sent-folder-missing",
                f"the Sent folder "
                f"'{account.sent_folder}' is gone from the server; "
                f"{resolution.explanation}",
                f"Recreate '{account.sent_folder}', or set another with `hubsync "
                "connect ... --sent-folder NAME` (or sent_folder in config.toml).",
            )
        )
    elif resolution.folder is None:
        checks.append(
            fail(
                "sent-folder",
                "sent-folder-not-found",
                resolution.explanation,
                "Set sent_folder in config.toml.",
            )
        )
    else:
        checks.append(ok("sent-folder", f"'{resolution.folder}' by rule {resolution.rule}"))
    large, unreadable = [], []
    for folder in folders:
        if not folder.selectable:
            continue
        try:
            status = client.folder_status(folder.name, ["MESSAGES"])
        except IMAPClientAbortError:
            raise
        except IMAPClientError:  # one odd folder must not stop the diagnosis
            unreadable.append(folder.name)
            status = {}
        count = int(status.get(b"MESSAGES", 0))
        if count > LARGE_FOLDER:
            large.append(f"{folder.name} ({count:,})")
    if unreadable:
        checks.append(
            warn(
                "folder-status",
                "status-failed",
                "STATUS failed for: " + ", ".join(unreadable),
                "Those folders are not synced reliably; check them in webmail.",
            )
        )
    if large:
        checks.append(
            warn(
                "folder-sizes",
                "large-folder",
                f"over {LARGE_FOLDER:,} messages: {', '.join(large)}",
                "Outlook and Exchange slow down on such "
                "folders, and some servers drop sessions on them. hubsync copes (it "
                "fetches headers in bounded UID ranges and remembers its position), "
                "but you can help: archive old mail into yearly folders.",
            )
        )
    else:
        checks.append(
            ok("folder-sizes", f"{len(folders)} folder(s), none over {LARGE_FOLDER:,} messages")
        )
    return checks + watch


def _id_check(client) -> Check:
    greeting = client.welcome.decode(errors="replace") if client.welcome else ""
    try:
        response = client.id_({"name": "hubsync"}) if client.has_capability("ID") else None
    except IMAPClientError:  # ID is optional (RFC 2971); a refusal says nothing
        response = None
    items = list(response or ())  # RFC 2971: alternating field names and values
    text = " ".join(f"{_s(k)}={_s(v)}" for k, v in zip(items[::2], items[1::2], strict=False))
    return _server_identity("imap", greeting, text)


def _s(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def smtp_checks(account: cfg.Account, password: str | None) -> list[Check]:
    """The SMTP chain: reachability and TLS, then (with a password) authentication."""
    checks, usable = _endpoint_checks(account.smtp_endpoint(), "smtp")
    if not usable or password is None:
        return checks
    try:
        with smtp_session(account, password, timeout=account.timeout or SESSION_TIMEOUT):
            checks.append(ok("smtp-auth", f"authenticated as {account.username}"))
    except HubsyncError as exc:
        checks.append(from_error("smtp-auth", exc))
    return checks
