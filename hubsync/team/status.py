"""``hubsync team status``: every account, which worker holds it, until when, its last
successful sync and its last failure (from the shared store)."""

import datetime as dt
from dataclasses import asdict, dataclass

from hubsync.store import Store

FAILURE_KINDS = ("connection", "sync")


@dataclass
class AccountStatus:
    account: str
    worker: str | None
    lease_expires: str | None  # ISO 8601 UTC
    lease_expired: bool
    last_sync: str | None
    last_failure: dict | None  # at, reason, detail

    def to_dict(self) -> dict:
        return asdict(self)


def team_status(store: Store, accounts: list[str], now_ms: int) -> list[AccountStatus]:
    """The status of ``accounts`` plus any account a lease names."""
    leases = {row["account"]: row for row in store.leases()}
    found = []
    for name in sorted(set(accounts) | set(leases)):
        lease = leases.get(name)
        events = store.events(name, FAILURE_KINDS)
        synced = [e for e in events if e["kind"] == "sync" and e["reason"] in ("ok", "partial")]
        failed = [e for e in events if e["reason"] not in ("ok", "partial", "uidvalidity-changed")]
        last_failure = failed[-1] if failed else None
        found.append(
            AccountStatus(
                account=name,
                worker=lease["owner"] if lease else None,
                lease_expires=_iso(lease["expires_ms"]) if lease else None,
                lease_expired=bool(lease) and lease["expires_ms"] < now_ms,
                last_sync=synced[-1]["at"] if synced else None,
                last_failure={k: last_failure[k] for k in ("at", "reason", "detail")}
                if last_failure
                else None,
            )
        )
    return found


def worker_status(store: Store, now_ms: int) -> list[dict]:
    """Each worker that sent a heartbeat lately: when it was last heard from and how many
    accounts it holds. A worker waiting for the database (or gone without a goodbye) shows
    an old heartbeat."""
    held: dict[str, int] = {}
    for lease in store.leases():
        if lease["expires_ms"] >= now_ms:
            held[lease["owner"]] = held.get(lease["owner"], 0) + 1
    return [
        {
            "worker": row["owner"],
            "last_heartbeat": _iso(row["heartbeat_ms"]),
            "seconds_ago": round((now_ms - row["heartbeat_ms"]) / 1000, 1),
            "accounts_held": held.get(row["owner"], 0),
        }
        for row in store.workers()
    ]


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")
