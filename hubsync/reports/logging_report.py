"""The logging report: what was logged, skipped and why, by contact and by day."""

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass

from hubsync.logbook import COUNT_NAMES, Direction, Origin
from hubsync.reports.period import since_date
from hubsync.store import Store
from hubsync.store import queries as q
from hubsync.sync.client_ways import ORDER as CLIENT_ORDER
from hubsync.sync.client_ways import WAYS as CLIENT_WAYS

STATEMENT = (
    "Stored: the emails hubsync sent, the messages logged by hand or marked for the log "
    "in your mail client (the CRM folder, the keyword, the logging address, Sent mail "
    "when track_sent is on), the replies to all of them (headers, body text, raw source), "
    "their participants as contacts, and their attachments within the size limit. Not "
    "stored: any other email — not its headers, not its addresses — only the sync "
    "position in each folder moved."
)
ERROR_KINDS = ("connection", "filing", "message-error")
ERROR_REASONS = ("folder-failed", "partial", "internal-error")


@dataclass
class LoggingReport:
    """Counts of what the log holds and what was skipped, for one account."""

    account: str
    since: str | None
    emails_sent: int
    replies_logged: int
    logged_by_hand: int
    logged_from_client: dict[str, int]  # way (log-folder, keyword, ...) -> messages
    messages_logged: int
    attachments_logged: int
    attachment_bytes: int
    skipped_attachments: list[dict]  # message_id, reason, detail (one per such email)
    never_log_hits: int
    contacts_created: int
    errors: list[dict]  # at, kind, reason, detail
    by_contact: dict[str, dict[str, int]]  # address -> origin -> count
    by_day: dict[str, dict[str, int]]  # YYYY-MM-DD -> origin -> count
    statement: str = STATEMENT
    accounts: list[str] | None = None  # `report --team`: the accounts summed up

    def to_dict(self) -> dict:
        """JSON-ready data (`report --json`)."""
        return asdict(self)


_SUMMED = (
    "emails_sent",
    "replies_logged",
    "logged_by_hand",
    "messages_logged",
    "attachments_logged",
    "attachment_bytes",
    "never_log_hits",
    "contacts_created",
)


def team_report(store: Store, since: str | None = None) -> LoggingReport:
    """The logging report summed over every account of the store (a team's shared log):
    counts added, errors and skipped attachments listed with their account, by-contact and
    by-day counts merged."""
    names = q.accounts(store)
    parts = [logging_report(store, name, since) for name in names]
    total = LoggingReport(
        account="team",
        since=parts[0].since if parts else since_date(since),
        **{key: sum(getattr(p, key) for p in parts) for key in _SUMMED},
        skipped_attachments=[
            {**s, "account": p.account} for p in parts for s in p.skipped_attachments
        ],
        errors=sorted(
            ({**e, "account": p.account} for p in parts for e in p.errors), key=lambda e: e["at"]
        ),
        logged_from_client=_ways(sum((Counter(p.logged_from_client) for p in parts), Counter())),
        by_contact=_merged(p.by_contact for p in parts),
        by_day=dict(sorted(_merged(p.by_day for p in parts).items())),
        accounts=names,
    )
    return total


def _merged(tables) -> dict[str, dict[str, int]]:
    merged: dict[str, dict[str, int]] = {}
    for table in tables:
        for key, counts in table.items():
            into = merged.setdefault(key, {})
            for origin, n in counts.items():
                into[origin] = into.get(origin, 0) + n
    return merged


def logging_report(store: Store, account: str, since: str | None = None) -> LoggingReport:
    """The logging report of ``account``, from ``since`` (an ISO date) on if given;
    UsageError for a date that cannot be read."""
    since = since_date(since)
    rows = q.messages(store, account, since=since)
    events = store.events(account, since=since)
    origin = Counter(r["origin"] for r in rows)
    ways = Counter(r["match_rule"] for r in rows if r["match_rule"] in CLIENT_WAYS)
    stored_attachments = [a for r in rows for a in r["attachments"]]
    by_contact: dict[str, Counter] = defaultdict(Counter)
    by_day: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        by_day[(r["date"] or r["logged_at"] or "")[:10]][r["origin"]] += 1
        people = (
            [r["from_addr"]]
            if r["direction"] == Direction.RECEIVED
            else [*r["to_addrs"], *r["cc_addrs"]]
        )
        for person in people:
            by_contact[person][r["origin"]] += 1
    skipped = [
        {"message_id": e["message_id"], "reason": e["reason"], "detail": e["detail"]}
        for e in events
        if e["kind"] == "attachments-skipped"
    ]
    return LoggingReport(
        account=account,
        since=since,
        emails_sent=origin.get(Origin.SENT, 0),
        replies_logged=origin.get(Origin.REPLY, 0),
        logged_by_hand=origin.get(Origin.MANUAL, 0) - sum(ways.values()),
        logged_from_client=_ways(ways),
        messages_logged=len(rows),
        attachments_logged=len(stored_attachments),
        attachment_bytes=sum(a["size"] for a in stored_attachments),
        skipped_attachments=skipped,
        never_log_hits=sum(1 for e in events if e["reason"] == "never-log"),
        contacts_created=q.contacts_created(store, account, since),
        errors=[
            {"at": e["at"], "kind": e["kind"], "reason": e["reason"], "detail": e["detail"]}
            for e in events
            if e["kind"] in ERROR_KINDS or e["reason"] in ERROR_REASONS
        ],
        by_contact={k: _origins(v) for k, v in sorted(by_contact.items())},
        by_day={k: _origins(v) for k, v in sorted(by_day.items())},
    )


def _ways(counts: Counter) -> dict[str, int]:
    """Counts by way of logging from a mail client, every way present (0 when none)."""
    return {str(way): counts.get(way, 0) for way in CLIENT_ORDER}


def _origins(counts: Counter) -> dict[str, int]:
    """Counts by origin, every origin present (0 when none): one shape for scripts."""
    return {COUNT_NAMES[origin]: counts.get(origin, 0) for origin in Origin}
