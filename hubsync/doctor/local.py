"""Doctor's local checks: keyring, secret, store, attachments, outbox, history."""

from hubsync import config as cfg
from hubsync import credentials, environment
from hubsync.doctor import Check, fail, from_error, ok, warn
from hubsync.doctor.folders import idle_check, position_check
from hubsync.doctor.unattended import unattended_check
from hubsync.errors import HubsyncError
from hubsync.mail import providers
from hubsync.sending import OutboxState
from hubsync.sessions import Secret
from hubsync.store import Store, queries


def local_checks(account: cfg.Account, store: Store | None) -> tuple[list[Check], Secret | None]:
    """The local checks, and the account's login secret when one was found (for the network
    checks: the keyring or password_command is asked only once)."""
    secret_check, password = _secret_check(account, store)
    checks = [_keyring_check(), secret_check]
    if store is None:
        return checks, password
    checks += [
        _store_check(store),
        *_lease_check(account, store),
        _attachments_check(store),
        _outbox_check(account, store),
        _history_check(account, store),
        _uidvalidity_check(account, store),
        _unreadable_check(account, store),
        _sent_copy_fact(account, store),
        idle_check(account, store),
        position_check(account, store),
        unattended_check(account, store),
    ]
    return checks, password


# Sent (or maybe sent) but not finished; a bare "queued" entry was never submitted.
NOT_FINISHED = (
    OutboxState.SUBMITTING,
    OutboxState.UNCERTAIN,
    OutboxState.SUBMITTED,
    OutboxState.FILING_FAILED,
)


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


def _secret_check(account: cfg.Account, store: Store | None) -> tuple[Check, Secret | None]:
    if account.auth == "oauth2":
        from hubsync.doctor.oauth import stored_check

        return stored_check(account)
    from_store = account.credential_source == "store"
    if (
        from_store
        and store is not None
        and not (environment.current().password or account.password_command)
    ):
        from hubsync.team import secrets

        try:
            value = secrets.get(store, account.name)
        except HubsyncError as exc:
            return from_error("secret", exc), None
        return ok("secret", "password from the team store (decrypted with the key file)"), value
    try:
        secret = credentials.resolve(
            account.name,
            account.password_command or None,
            use_keyring=account.credential_source == "keyring",
        )
    except HubsyncError as exc:
        return from_error("secret", exc), None
    return ok("secret", f"password available from {secret.source}"), secret.value


def _store_check(store: Store) -> Check:
    result = store.integrity()
    if result == "ok":
        return ok(
            "store",
            f"{store.kind} {store.location}: reachable, integrity ok (schema {store.version})",
        )
    return fail(
        "store",
        "store-corrupt",
        f"{store.location}: {result}",
        "Restore the store from a backup; hubsync can rebuild threads from mail by "
        "logging the roots again with `hubsync log`.",
    )


def _lease_check(account: cfg.Account, store: Store) -> list[Check]:
    """Where workers run (`hubsync worker`): which one watches the account, and whether its
    lease is still being renewed. Nothing when no worker ever claimed the account."""
    import datetime as dt

    lease = next((row for row in store.leases() if row["account"] == account.name), None)
    if lease is None:
        return []
    until = dt.datetime.fromtimestamp(lease["expires_ms"] / 1000, dt.UTC)
    when = until.isoformat(timespec="seconds")
    if lease["expires_ms"] >= store.clock_ms():  # the clock leases are measured by
        return [ok("lease", f"watched by worker {lease['owner']} (lease until {when})")]
    return [
        warn(
            "lease",
            "lease-expired",
            f"worker {lease['owner']} stopped renewing its lease on {when}: nobody watches "
            "this inbox until another worker claims it",
            "Start a worker (`hubsync worker`), or see why that one stopped (its journal).",
        )
    ]


def _attachments_check(store: Store) -> Check:
    rows = queries.attachment_files(store)
    bad = [(r, state) for r in rows if (state := store.verify_attachment(r["sha256"])) != "ok"]
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
    stuck = store.outbox(account.name, NOT_FINISHED)
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


HISTORY_LISTED = 10  # failures named one by one; more are counted


def _listed(events: list[dict]) -> str:
    shown = "; ".join(f"{e['at']} {e['reason']}" for e in events[-HISTORY_LISTED:])
    if len(events) > HISTORY_LISTED:
        return f"the last {HISTORY_LISTED}: {shown}"
    return shown


def history_fix(reason: str, account: str) -> str:
    """What to do about a failed connection, by the cause its reason code names; always with
    how the check clears (a successful sync)."""
    clear = "then run `hubsync sync`: a successful sync clears this check."
    if reason.startswith(("auth", "oauth", "credentials", "keyring", "secret")):
        return (
            f"The server or the keyring refused the login: run `hubsync connect {account}` "
            f"again with the right password (or sign in again), {clear}"
        )
    if reason.startswith("tls"):
        return (
            "The server's certificate or TLS setup was refused: see the tls check (a private "
            f"CA needs `--cafile`), {clear}"
        )
    if reason in ("unreachable", "refused", "timeout", "dns", "connection-dropped") or (
        reason.endswith("too-slow")
    ):
        return (
            "The server or the network was unreachable at the time: nothing to change if "
            f"that has passed; {clear}"
        )
    return f"See the connection checks above for the cause, {clear}"


def _history_check(account: cfg.Account, store: Store) -> Check:
    events = store.events(account.name, ("connection", "sync"))
    last_ok = next(
        (e for e in reversed(events) if e["kind"] == "sync" and e["reason"] == "ok"), None
    )
    failures = [e for e in events if e["kind"] == "connection"]
    # strictly after the last successful sync (by order of recording, not by clock)
    since_ok = [e for e in failures if last_ok is None or e["id"] > last_ok["id"]]
    if since_ok:
        latest = since_ok[-1]["reason"]
        return fail(
            "history",
            latest,
            f"{len(since_ok)} failed connection(s) since the last successful sync "
            f"({last_ok['at'] if last_ok else 'never'}): {_listed(since_ok)}",
            history_fix(latest, account.name),
        )
    if last_ok is None:
        return warn(
            "history",
            "never-synced",
            "no sync has run yet",
            "Run `hubsync sync` (or `hubsync sync --watch`).",
        )
    recovered = f"; earlier failures, recovered since: {_listed(failures)}" if failures else ""
    return ok("history", f"last successful sync {last_ok['at']}{recovered}")


UNSTABLE_SYNCS = 5  # look at this many recent syncs
UNSTABLE_CHANGES = 3  # a folder whose UIDVALIDITY changed in this many of them is unstable


def _uidvalidity_check(account: cfg.Account, store: Store) -> Check:
    """A folder whose UIDVALIDITY changes on (nearly) every sync is rescanned whole each
    time; say which, what it costs and how to make it stable."""
    events = store.events(account.name, ("sync",))
    runs = [e for e in events if e["reason"] in ("ok", "partial")][-UNSTABLE_SYNCS:]
    if not runs:
        return ok("uidvalidity", "no sync yet")
    since = runs[0]["id"]
    changes: dict[str, int] = {}
    for e in events:
        if e["reason"] == "uidvalidity-changed" and e["id"] >= since:
            folder = (e["detail"] or "").rsplit(": ", 1)[0]
            changes[folder] = changes.get(folder, 0) + 1
    unstable = sorted(f for f, n in changes.items() if n >= UNSTABLE_CHANGES)
    if not unstable:
        return ok("uidvalidity", f"stable over the last {len(runs)} sync(s)")
    return warn(
        "uidvalidity",
        "uidvalidity-unstable",
        f"UIDVALIDITY changed in {', '.join(unstable)} on nearly every one of the last "
        f"{len(runs)} syncs, so each sync reads the whole folder again (time and traffic "
        "grow with the folder; nothing is logged twice)",
        "Courier gives a maildir a new UIDVALIDITY each time it is opened read-only until "
        "it has been opened read-write once: open the folder once in a mail client. On "
        "other servers ask IT why the folder's index keeps being rebuilt.",
    )


def _unreadable_check(account: cfg.Account, store: Store) -> Check:
    """Replies that matched a tracked thread but could not be read (skipped, not lost
    silently: each has an event)."""
    events = store.events(account.name, ("message-error",))
    if not events:
        return ok("unreadable-messages", "every matched message could be read")
    listed = "; ".join(f"{e['message_id'] or '?'}: {e['detail']}" for e in events[-3:])
    return warn(
        "unreadable-messages",
        "message-unreadable",
        f"{len(events)} matched message(s) could not be read and were skipped: {listed}",
        "Open them in your mail client; log one by hand with `hubsync log FILE.eml` after "
        "saving it, if it matters. `hubsync why MESSAGE-ID` explains each.",
    )


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
