"""`hubsync doctor`: every way an inbox connection breaks, found and explained.

Each check returns pass, warn or fail with a stable reason code, the evidence it saw and the
fix in plain words. Local checks read config, keyring and store; the IMAP and SMTP chains run
concurrently with bounded timeouts, so doctor finishes in about 15 seconds even when every
host is unreachable.
"""

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from hubsync import config as cfg
from hubsync import credentials
from hubsync.errors import HubsyncError
from hubsync.mail import dns as maildns
from hubsync.mail import imap, providers, smtp
from hubsync.mail.probe import IMAP, POP3, POP3_ONLY_EXPLANATION, probe_port
from hubsync.mail.sent_folder import resolve_sent_folder
from hubsync.store import Store
from hubsync.store import attachments as files

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
    ("courier", "Courier-IMAP", "Folders live under INBOX. with a dot separator."),
    ("cyrus", "Cyrus IMAP", "Folders often live under INBOX."),
    ("zimbra", "Zimbra", "Sent is usually named 'Sent'."),
    ("icloud", "iCloud", "Needs an app-specific password."),
)


@dataclass
class Check:
    id: str
    status: str  # "pass" | "warn" | "fail"
    reason: str
    evidence: str
    fix: str = ""


def ok(id_: str, evidence: str, reason: str = "ok") -> Check:
    return Check(id_, "pass", reason, evidence)


def warn(id_: str, reason: str, evidence: str, fix: str) -> Check:
    return Check(id_, "warn", reason, evidence, fix)


def fail(id_: str, reason: str, evidence: str, fix: str) -> Check:
    return Check(id_, "fail", reason, evidence, fix)


def from_error(id_: str, exc: HubsyncError) -> Check:
    return fail(id_, exc.reason, exc.message, exc.fix or "")


def run(account: cfg.Account, store: Store | None, offline: bool = False) -> list[Check]:
    checks = local_checks(account, store)
    if offline:
        return checks
    password = _password(account)
    with ThreadPoolExecutor(max_workers=2) as pool:
        imap_chain = pool.submit(_imap_checks, account, password, store)
        smtp_chain = pool.submit(_smtp_checks, account, password, store)
        checks += imap_chain.result() + smtp_chain.result()
    return checks


def to_dict(account: str, checks: list[Check]) -> dict:
    return {"account": account, "checks": [asdict(c) for c in checks]}


# -- local -------------------------------------------------------------------------------------


def config_check(path: str, error: HubsyncError | None) -> Check:
    if error:
        return from_error("config", error)
    return ok("config", f"{path} is valid")


def local_checks(account: cfg.Account, store: Store | None) -> list[Check]:
    checks = [_keyring_check(), _secret_check(account)]
    if store is None:
        return checks
    checks += [
        _store_check(store),
        _attachments_check(store),
        _outbox_check(account, store),
        _history_check(account, store),
        _sent_copy_fact(account, store),
    ]
    return checks


def _keyring_check() -> Check:
    name, usable = credentials.describe_backend()
    if usable:
        return ok("keyring", f"backend {name}")
    return warn(
        "keyring",
        "keyring-unsafe",
        f"backend {name} cannot hold secrets safely",
        "Unlock or install a Secret Service keyring, or give passwords through "
        "HUBSYNC_PASSWORD or a password_command.",
    )


def _secret_check(account: cfg.Account) -> Check:
    try:
        secret = credentials.resolve(account.name, account.password_command or None)
    except HubsyncError as exc:
        return from_error("secret", exc)
    return ok("secret", f"password available from {secret.source}")


def _password(account: cfg.Account) -> str | None:
    try:
        return credentials.resolve(account.name, account.password_command or None).value
    except HubsyncError:
        return None


def _store_check(store: Store) -> Check:
    try:
        result = store.integrity()
    except Exception as exc:  # noqa: BLE001 - a damaged file raises many kinds
        result = str(exc)
    if result == "ok":
        return ok("store", f"{store.path}: integrity check ok (schema {store.version})")
    return fail(
        "store",
        "store-corrupt",
        f"{store.path}: {result}",
        "Restore the store from a backup; hubsync can rebuild threads from mail by "
        "logging the roots again with `hubsync log`.",
    )


def _attachments_check(store: Store) -> Check:
    rows = store._all(
        "SELECT a.sha256, a.filename, m.message_id FROM attachments a "
        "JOIN messages m ON a.message_pk = m.id"
    )
    bad = [(r, state) for r in rows if (state := files.verify(r["sha256"])) != "ok"]
    if not bad:
        return ok(
            "attachments", f"{len(rows)} attachment file(s) present and matching their hashes"
        )
    listed = "; ".join(f"{r['filename']} of {r['message_id']}: {state}" for r, state in bad[:5])
    return fail(
        "attachments",
        "attachment-corrupt",
        f"{len(bad)} of {len(rows)} damaged or missing: {listed}",
        "Log the message again from the server with `hubsync log "
        "--folder F --uid N`, or restore the attachments folder from a backup.",
    )


def _outbox_check(account: cfg.Account, store: Store) -> Check:
    stuck = store.outbox(account.name, ("submitting", "uncertain", "submitted", "filing-failed"))
    if not stuck:
        return ok("outbox", "every sent message has its Sent copy")
    states = ", ".join(f"{i['message_id']} ({i['state']})" for i in stuck[:5])
    return warn(
        "outbox",
        "outbox-stuck",
        f"{len(stuck)} message(s) owed a Sent copy or of unknown outcome: {states}",
        "Run `hubsync outbox --retry`; for 'uncertain' "
        "ones check with the recipient, hubsync never resends by itself.",
    )


def _history_check(account: cfg.Account, store: Store) -> Check:
    events = store.events(account.name, ("connection", "sync"))
    last_ok = next(
        (e for e in reversed(events) if e["kind"] == "sync" and e["reason"] == "ok"), None
    )
    failures = [e for e in events if e["kind"] == "connection"]
    since_ok = [e for e in failures if last_ok is None or e["id"] > last_ok["id"]]
    history = "; ".join(f"{e['at']} {e['reason']}" for e in failures[-5:]) or "none"
    if since_ok:
        return fail(
            "history",
            since_ok[-1]["reason"],
            f"{len(since_ok)} failed connection(s) since the last successful sync "
            f"({last_ok['at'] if last_ok else 'never'}): {history}",
            "The inbox is disconnected; see the login and TLS checks for the cause.",
        )
    if last_ok is None:
        return warn(
            "history",
            "never-synced",
            "no sync has run yet",
            "Run `hubsync sync` (or `hubsync sync --watch`).",
        )
    recovered = f"; earlier failures, recovered since: {history}" if failures else ""
    return ok("history", f"last successful sync {last_ok['at']}{recovered}")


def _sent_copy_fact(account: cfg.Account, store: Store) -> Check:
    fact = store.fact(account.name, "server_files_sent_copy")
    provider = providers.by_key(account.provider)
    known = {
        "yes": "the server files its own copy of sent mail; hubsync adds none",
        "no": "the server files no copy; hubsync appends one",
    }.get(fact)
    if known is None and provider and provider.files_sent_copy is not None:
        known = (
            f"{provider.name} is known to {'file' if provider.files_sent_copy else 'not file'}"
            " its own copy"
        )
    return ok("sent-copies", known or "not learned yet (the first send finds out)")


# -- IMAP chain --------------------------------------------------------------------------------


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


def _endpoint_checks(
    kind: str, host: str, port: int, security: str, cafile: str | None, want: str
) -> tuple[list[Check], bool]:
    """DNS, TCP, protocol and TLS of one endpoint; return (checks, usable)."""
    checks = [_dns_check(f"{kind}-dns", host)]
    if checks[0].status == "fail":
        return checks, False
    report = probe_port(
        host, port, PROBE_TIMEOUT, cafile, maildns.address_for(host), implicit_tls=security == "ssl"
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
    expected_tls = "implicit" if security == "ssl" else "starttls"
    if report.tls != expected_tls:
        checks.append(
            fail(
                f"{kind}-tls",
                "tls-mode",
                f"{host}:{port} offers TLS mode "
                f"'{report.tls}', the account expects '{expected_tls}'",
                "Correct the security setting (993/465 ssl, 143/587 starttls).",
            )
        )
        return checks, False
    cert = report.certificate
    if cert is None:
        checks.append(fail(f"{kind}-tls", "tls-missing", "no certificate", "Ask IT."))
        return checks, False
    if cert.expired:
        checks.append(
            fail(
                f"{kind}-tls",
                "tls-expired",
                f"certificate for {cert.subject} expired on {cert.not_after[:10]}",
                "Tell IT or the provider: the "
                "certificate must be renewed; hubsync will not connect until then.",
            )
        )
        return checks, False
    if not cert.matches_host:
        checks.append(
            fail(
                f"{kind}-tls",
                "tls-name-mismatch",
                f"certificate names {', '.join(cert.names[:4])}, not {host}",
                f"Use the host name on "
                f"the certificate, e.g. {cert.names[0] if cert.names else '?'}.",
            )
        )
        return checks, False
    if not cert.trusted:
        checks.append(
            fail(
                f"{kind}-tls",
                "tls-untrusted",
                f"certificate issued by {cert.issuer} is not trusted ({cert.verify_error})",
                "If your organisation uses a private CA, set its certificate with "
                "`hubsync connect ... --cafile FILE`; otherwise the connection may be "
                "intercepted.",
            )
        )
        return checks, False
    if cert.days_left < EXPIRY_WARN_DAYS:
        checks.append(
            warn(
                f"{kind}-tls",
                "tls-expiring",
                f"certificate expires in {cert.days_left} days ({cert.not_after[:10]})",
                "Tell IT or the provider before it expires.",
            )
        )
    else:
        checks.append(
            ok(
                f"{kind}-tls",
                f"{report.tls} TLS, trusted certificate for {host} until {cert.not_after[:10]}",
            )
        )
    checks.append(_server_identity(kind, report.greeting))
    return checks, True


def _server_identity(kind: str, greeting: str, id_response: str = "") -> Check:
    text = f"{greeting} {id_response}".lower()
    for needle, name, quirk in SERVER_QUIRKS:
        if needle in text:
            return ok(f"{kind}-server", f"{name}: {quirk}", "recognised")
    return ok(
        f"{kind}-server", f"not recognised from its greeting: {greeting[:80]}", "unrecognised"
    )


def _imap_checks(account: cfg.Account, password: str | None, store: Store | None) -> list[Check]:
    checks, usable = _endpoint_checks(
        "imap",
        account.imap_host,
        account.imap_port,
        account.imap_security,
        account.cafile or None,
        IMAP,
    )
    if not usable or password is None:
        return checks
    client = None
    try:
        client = imap.open_session(
            imap.ImapEndpoint(
                account.imap_host,
                account.imap_port,
                account.imap_security,
                account.cafile or None,
                SESSION_TIMEOUT,
            )
        )
        try:
            imap.login(client, account.username, password, providers.by_key(account.provider))
        except HubsyncError as exc:
            checks.append(from_error("imap-login", exc))
            return checks
        checks.append(ok("imap-login", f"logged in as {account.username}"))
        checks.append(_capabilities_check(imap.capability_names(client)))
        checks += _folder_checks(client, account)
        identity = _id_check(client, checks)
        checks = [c for c in checks if c.id != "imap-server"] + [identity]
    except HubsyncError as exc:
        checks.append(from_error("imap-session", exc))
    except OSError as exc:
        checks.append(fail("imap-session", "connection-dropped", str(exc), "Try again."))
    finally:
        imap.close(client)
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


def _folder_checks(client, account: cfg.Account) -> list[Check]:
    folders = imap.list_folders(client)
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
        except Exception:  # noqa: BLE001 - one odd folder must not stop the diagnosis
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
    return checks


def _id_check(client, checks: list[Check]) -> Check:
    greeting = client.welcome.decode(errors="replace") if client.welcome else ""
    try:
        response = client.id_({"name": "hubsync"}) if client.has_capability("ID") else None
    except Exception:  # noqa: BLE001 - ID is optional (RFC 2971)
        response = None
    items = list(response or ())  # RFC 2971: alternating field names and values
    text = " ".join(f"{_s(k)}={_s(v)}" for k, v in zip(items[::2], items[1::2], strict=False))
    return _server_identity("imap", greeting, text)


def _s(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


# -- SMTP chain --------------------------------------------------------------------------------


def _smtp_checks(account: cfg.Account, password: str | None, store: Store | None) -> list[Check]:
    checks, usable = _endpoint_checks(
        "smtp",
        account.smtp_host,
        account.smtp_port,
        account.smtp_security,
        account.cafile or None,
        "smtp",
    )
    if not usable or password is None:
        return checks
    conn = None
    try:
        conn = smtp.open_session(
            smtp.SmtpEndpoint(
                account.smtp_host,
                account.smtp_port,
                account.smtp_security,
                account.cafile or None,
                SESSION_TIMEOUT,
            )
        )
        smtp.authenticate(conn, account.username, password, providers.by_key(account.provider))
        checks.append(ok("smtp-auth", f"authenticated as {account.username}"))
    except HubsyncError as exc:
        checks.append(from_error("smtp-auth", exc))
    finally:
        smtp.close(conn)
    return checks
