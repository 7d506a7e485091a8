"""Connecting an inbox: settings from the user or discovery, then every step checked.

Nothing is written (neither config.toml nor the keyring) unless every step passed; the CLI does
the writing through ``save_connected`` afterwards.
"""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from hubsync import client_setup, credentials
from hubsync import config as cfg
from hubsync.errors import CredentialError, HubsyncError, NotImap, ProtocolFailure, UsageError
from hubsync.mail import discovery_verdict, imap, providers
from hubsync.mail.discovery import Discovery, discover, split_address
from hubsync.mail.endpoint import Endpoint
from hubsync.mail.probe import POP3, POP3_ONLY_EXPLANATION, probe_port
from hubsync.mail.reply_folders import ALL, WatchPlan, is_all_setting, reply_folders
from hubsync.mail.sent_folder import SentResolution, resolve_sent_folder
from hubsync.mail.smtp import submit
from hubsync.oauth.grant import TokenSource
from hubsync.sessions import Secret, imap_session, smtp_session

WANTED_CAPABILITIES = ("IDLE", "UIDPLUS", "SPECIAL-USE", "CONDSTORE")


@dataclass
class Step:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class ConnectRequest:
    email: str
    account: str | None = None
    imap_host: str | None = None
    imap_port: int | None = None
    imap_security: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: str | None = None
    username: str | None = None
    cafile: str | None = None
    sent_folder: str | None = None
    display_name: str | None = None


@dataclass
class ConnectResult:
    account: cfg.Account
    steps: list[Step] = field(default_factory=list)
    discovery: Discovery | None = None
    sent: SentResolution | None = None
    capabilities: list[str] = field(default_factory=list)
    failure: HubsyncError | None = None
    watch: WatchPlan | None = None
    ways: client_setup.WaysCheck | None = None

    def to_dict(self) -> dict:
        """The result as JSON-ready data (`connect --json`)."""
        a = self.account
        return {
            "account": a.name,
            "email": a.email,
            "username": a.username,
            "imap": {"host": a.imap_host, "port": a.imap_port, "security": a.imap_security},
            "smtp": {"host": a.smtp_host, "port": a.smtp_port, "security": a.smtp_security},
            "sent_folder": self.sent.folder if self.sent else None,
            "sent_folder_rule": self.sent.rule if self.sent else None,
            "sent_folder_candidates": self.sent.candidates if self.sent else [],
            "capabilities": self.capabilities,
            "watched_folders": self.watch.folders if self.watch else [],
            "folders_not_watched": self.watch.skipped if self.watch else {},
            "client_ways": self.ways.to_dict() if self.ways else None,
            "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail} for s in self.steps],
            "discovery": self.discovery.to_dict() if self.discovery else None,
            "ok": self.failure is None,
        }


def plan(
    request: ConnectRequest, existing: cfg.Account | None
) -> tuple[cfg.Account, Discovery | None]:
    """Settings for the account: given options, then the existing account, then discovery."""
    split_address(request.email)
    name = request.account or (existing.name if existing else request.email)
    base = existing or cfg.Account(
        name=name,
        email=request.email,
        username=request.email,
        imap_host="",
        imap_port=0,
        watched_folders=[ALL],  # a new account reads every folder a reply can land in
    )
    account = cfg.Account(**{**base.__dict__, "name": name, "email": request.email})
    for attr in (
        "imap_host",
        "imap_port",
        "imap_security",
        "smtp_host",
        "smtp_port",
        "smtp_security",
        "username",
        "cafile",
        "display_name",
    ):
        value = getattr(request, attr)
        if value:
            setattr(account, attr, value)
    if request.sent_folder:
        account.sent_folder, account.sent_folder_rule = request.sent_folder, "config"
    found = None
    if not account.imap_host or not account.smtp_host:
        found = discover(request.email, account.cafile or None)
        if found.provider:
            account.provider = found.provider.key
        if not account.imap_host:
            if found.imap is None:
                if found.pop3_only:
                    raise ProtocolFailure(
                        POP3_ONLY_EXPLANATION,
                        reason="pop3-only",
                        details={"discovery": found.to_dict()},
                    )
                why = discovery_verdict.explain(found, "imap", "--imap")
                raise ProtocolFailure(
                    f"No IMAP server could be verified for {found.domain}: {why.cause}",
                    fix=why.fix + " `hubsync discover` lists every candidate and why it failed.",
                    reason="imap-not-found",
                    details={"discovery": found.to_dict(), "cause": why.reason},
                )
            account.imap_host, account.imap_port = found.imap.host, found.imap.port
            account.imap_security = found.imap.security
        if not account.smtp_host and found.smtp:
            account.smtp_host, account.smtp_port = found.smtp.host, found.smtp.port
            account.smtp_security = found.smtp.security
    if not account.imap_port:
        account.imap_port = 993 if account.imap_security == "ssl" else 143
    if not account.smtp_host:
        if found is None:  # nothing was looked up: the IMAP host was given, SMTP was not
            raise UsageError(
                "No SMTP server was given.",
                fix="Give it with --smtp-host and --smtp-port (ask IT).",
                reason="smtp-not-found",
            )
        why = discovery_verdict.explain(found, "smtp", "--smtp")
        raise ProtocolFailure(
            f"No SMTP server could be verified for {found.domain}: {why.cause}",
            fix=why.fix,
            reason="smtp-not-found",
            details={"cause": why.reason},
        )
    if not account.provider:
        provider = providers.by_host(account.imap_host)
        account.provider = provider.key if provider else ""
    return account, found


def verify(
    account: cfg.Account,
    password: Secret,
    on_step: Callable[[Step], None] | None = None,
    create_log_folder: bool = False,
    test_log_address: bool = False,
) -> ConnectResult:
    """Run every connection step; stop at the first failure and record it in the result
    (``failure``). On success the account's Sent folder is set from what the server has.
    ``create_log_folder``: create the CRM folder where it does not exist;
    ``test_log_address``: send one message to the logging address and look for it."""
    result = ConnectResult(account=account)
    stage = ["IMAP connect (TLS verified)"]  # the step running now, for the failure's label

    def record(name: str, ok: bool, detail: str) -> None:
        step = Step(name, ok, detail)
        result.steps.append(step)
        if on_step:
            on_step(step)

    def passed(detail: str, next_stage: str) -> None:
        record(stage[0], True, detail)
        stage[0] = next_stage

    imap_at = account.imap_endpoint()
    smtp_at = account.smtp_endpoint()
    try:
        try:
            with imap_session(
                account,
                password,
                on_connected=lambda: passed(f"{imap_at} {imap_at.mode}", "IMAP login"),
            ) as client:
                passed(f"as {account.username}{_how(password)}", "Capabilities after login")
                result.capabilities = imap.capability_names(client)
                missing = [c for c in WANTED_CAPABILITIES if c not in result.capabilities]
                passed(
                    " ".join(result.capabilities[:20])
                    + (f" (missing: {', '.join(missing)})" if missing else ""),
                    "Sent folder",
                )
                configured = account.sent_folder if account.sent_folder_rule == "config" else None
                listing = imap.list_folders(client)
                result.sent = resolve_sent_folder(listing, configured)
                if result.sent.folder is None:
                    raise UsageError(
                        result.sent.explanation,
                        reason="sent-folder-not-found",
                        fix="Pass --sent-folder NAME with one of the folders listed.",
                    )
                passed(f"'{result.sent.folder}' by rule {result.sent.rule}", "Watched folders")
                result.watch = reply_folders(
                    listing, account.watched_folders, result.sent.folder, account.excluded_folders
                )
                watching = describe_watch(account, result.watch, listing)
                passed(watching, "Logging from your mail client")
                result.ways = client_setup.check(client, account, listing, create_log_folder)
                passed("; ".join(result.ways.lines()), "SMTP connect (TLS verified)")
        except NotImap:
            raise _pop3_or(imap_at) from None
        with smtp_session(
            account,
            password,
            timeout=30,
            on_connected=lambda: passed(f"{smtp_at} {smtp_at.mode}", "SMTP authentication"),
        ) as conn:
            passed(f"as {account.username}{_how(password)}", "Logging address test")
            if test_log_address and account.log_address and result.ways is not None:
                mid, raw = client_setup.test_message(account)
                submit(conn, raw, account.email, [account.log_address])
        if test_log_address and account.log_address and result.ways is not None:
            with imap_session(account, password) as client:
                folder = client_setup.find_delivered(client, imap.list_folders(client), mid, 30)
            result.ways.log_address_delivered_to = folder
            said = result.ways.lines()[2]
            if not folder:
                raise UsageError(said.partition(": ")[2], reason="log-address-not-delivered")
            passed(said, "")
    except HubsyncError as exc:
        # The label says what was tried, not what was hoped for: "IMAP connect", not
        # "IMAP connect (TLS verified)", when the connection or its TLS failed.
        record(stage[0].replace(" (TLS verified)", ""), False, exc.message.splitlines()[0])
        result.failure = exc
    if result.failure is None:
        account.sent_folder = result.sent.folder
        account.sent_folder_rule = result.sent.rule
    return result


def _how(secret: Secret) -> str:
    return " with an OAuth2 token" if isinstance(secret, TokenSource) else ""


def _pop3_or(endpoint: Endpoint) -> HubsyncError:
    """When an IMAP connection fails oddly, look at the greeting: a POP3 server gets the
    explanation of why hubsync needs IMAP."""
    report = probe_port(endpoint.host, endpoint.port, 5.0, endpoint.cafile)
    if report.protocol == POP3:
        return ProtocolFailure(
            f"{endpoint} is a POP3 server. " + POP3_ONLY_EXPLANATION,
            reason="pop3-only",
        )
    return NotImap(
        f"{endpoint} does not speak IMAP (it answers as {report.protocol or 'nothing known'}).",
        fix="Check the IMAP port (usually 993).",
    )


def save_connected(
    config: cfg.Config, account: cfg.Account, secret: Secret | None, store: str
) -> None:
    """Store the secret (unless ``store`` is "none"): the password, or an OAuth2 account's
    sign-in; then the account. The first account becomes the default."""
    if store == "keyring":
        if isinstance(secret, TokenSource):
            credentials.store(account.name, secret.pending.dumps() if secret.pending else "")
        else:
            credentials.store(account.name, secret or "")
    else:
        _forget_stored_secret(account.name)
    account.credential_source = store
    config.accounts[account.name] = account
    if not config.default_account or config.default_account not in config.accounts:
        config.default_account = account.name
    try:
        config.save()
    except OSError:
        if store == "keyring":
            credentials.delete(account.name)
        raise


def _forget_stored_secret(name: str) -> None:
    """A reconnect with ``--store none`` removes a password an earlier connect kept; where
    there is no usable keyring (a server) there is nothing to remove."""
    with contextlib.suppress(CredentialError):
        credentials.delete(name)


def remove(config: cfg.Config, name: str) -> bool:
    """Remove the account and its stored secret; return whether a secret was deleted.
    The secret goes first: a locked keyring stops the removal with a clear error, so no
    password is left behind without an account to find it by."""
    account = config.account(name)
    deleted = credentials.delete(name) if account.credential_source == "keyring" else False
    del config.accounts[name]
    if config.default_account == name:
        config.default_account = next(iter(config.accounts), "")
    config.save()
    return deleted


def find_existing(config: cfg.Config, email: str, name: str | None) -> cfg.Account | None:
    """The account ``connect`` would update: the named one, else the one for ``email``."""
    if name and name in config.accounts:
        return config.accounts[name]
    if not name:
        return next((a for a in config.accounts.values() if a.email == email), None)
    return None


def describe_watch(account: cfg.Account, plan: WatchPlan, listing: list) -> str:
    """What a sync will read, in one line for `connect` (and what it leaves out, and why)."""
    text = f"{', '.join(plan.folders)} (IDLE on {plan.primary})"
    unread = [f.name for f in listing if f.selectable and f.name not in plan.folders]
    if not is_all_setting(account.watched_folders) and unread:
        text += (
            f"; {len(unread)} other folder(s) are not read, so a reply filed there is "
            "missed: `hubsync accounts set --folders all` reads them"
        )
    elif plan.skipped:
        text += "; not read: " + ", ".join(f"{k} ({v})" for k, v in list(plan.skipped.items())[:6])
    return text


def parse_folders_setting(text: str) -> list[str]:
    """``accounts set --folders``: "all" (every folder a reply can land in), "inbox", or a
    comma-separated list of folder names."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    if not words:
        raise UsageError("--folders needs all, inbox, or folder names separated by commas.")
    if len(words) == 1 and words[0].lower() in ("all", ALL):
        return [ALL]
    if len(words) == 1 and words[0].lower() == "inbox":
        return ["INBOX"]
    return words


def describe_folders(account: cfg.Account) -> str:
    """The account's watched folders in words (connect, accounts set, doctor)."""
    if is_all_setting(account.watched_folders):
        text = (
            "every folder a reply can land in (\\All where offered, else all but Junk, "
            "Trash and Drafts)"
        )
    else:
        text = ", ".join(account.watched_folders or ["INBOX"])
    if account.sent_folder:
        text += f"; and the Sent folder {account.sent_folder}"
    if account.excluded_folders:
        text += f"; never {', '.join(account.excluded_folders)}"
    return text
