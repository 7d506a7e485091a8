"""`hubsync doctor`: every way an inbox connection breaks, found and explained.

Each check returns pass, warn or fail with a stable reason code, the evidence it saw and the
fix in plain words. Local checks read config, keyring and store; the IMAP and SMTP chains run
concurrently with bounded timeouts, so doctor finishes in about 15 seconds even when every
host is unreachable.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from hubsync import config as cfg
from hubsync.errors import HubsyncError
from hubsync.store import Store


@dataclass
class Check:
    id: str
    status: str  # "pass" | "warn" | "fail"
    reason: str
    evidence: str
    fix: str = ""


def ok(id_: str, evidence: str, reason: str = "ok") -> Check:
    """A passing check."""
    return Check(id_, "pass", reason, evidence)


def warn(id_: str, reason: str, evidence: str, fix: str) -> Check:
    """A warning: hubsync works, with a loss the user should know of."""
    return Check(id_, "warn", reason, evidence, fix)


def fail(id_: str, reason: str, evidence: str, fix: str) -> Check:
    """A failing check, with its reason code and fix."""
    return Check(id_, "fail", reason, evidence, fix)


def from_error(id_: str, exc: HubsyncError) -> Check:
    """A failing check made from an expected error."""
    return fail(id_, exc.reason, exc.message, exc.fix or "")


def run(account: cfg.Account, store: Store | None, offline: bool = False) -> list[Check]:
    """Local checks, then (unless ``offline``) the IMAP and SMTP chains concurrently."""
    from hubsync.doctor.local import local_checks
    from hubsync.doctor.network import imap_checks, smtp_checks

    checks, password = local_checks(account, store)
    if offline:
        return checks
    if account.auth == "oauth2" and password is not None:
        from hubsync.doctor.oauth import refresh_check

        check, password = refresh_check(account, password)
        checks.append(check)
    from hubsync.doctor.folders import RECENT_IDS

    # Read here: the store's connection belongs to this thread, not the pool's.
    tracked = store.recent_tracked_ids(account.name, RECENT_IDS) if store is not None else None
    sent = _recent_filed(store, account.name) if store is not None else []
    with ThreadPoolExecutor(max_workers=2) as pool:
        imap_chain = pool.submit(imap_checks, account, password, tracked, sent)
        smtp_chain = pool.submit(smtp_checks, account, password)
        online = imap_chain.result() + smtp_chain.result()
    if any(c.id == "sent-copies" for c in online):  # what was found beats what was learned
        checks = [c for c in checks if c.id != "sent-copies"]
    return checks + online


RECENT_SENDS = 10


def _recent_filed(store: Store, account: str) -> list[str]:
    """Message-IDs of the account's last sends whose Sent copy is settled (filed)."""
    filed = [e for e in store.outbox(account, ("filed",)) if e["sent_copy"] != "skipped"]
    return [e["message_id"] for e in filed[-RECENT_SENDS:]]


def to_dict(account: str, checks: list[Check]) -> dict:
    """Checks of one account as JSON-ready data."""
    return {"account": account, "checks": [asdict(c) for c in checks]}


def config_check(path: str, error: HubsyncError | None) -> Check:
    """The config check: pass, or the error that loading config.toml raised."""
    if error:
        return from_error("config", error)
    return ok("config", f"{path} is valid")
