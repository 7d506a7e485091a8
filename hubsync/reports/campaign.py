"""`report --campaign NAME`: who was written to in a campaign, and who replied."""

from dataclasses import asdict, dataclass, field

from hubsync.errors import NotFound
from hubsync.logbook import Direction
from hubsync.store import Store
from hubsync.store import queries as q


@dataclass
class CampaignRecipient:
    address: str
    thread_id: int
    sent_message_id: str
    replied: bool
    replies: int
    last_reply: str | None
    replied_from: list[str] = field(default_factory=list)  # the addresses the replies came from


@dataclass
class CampaignReport:
    account: str
    campaign: str
    threads: int
    recipients: list[CampaignRecipient] = field(default_factory=list)

    @property
    def replied(self) -> int:
        return sum(1 for r in self.recipients if r.replied)

    def to_dict(self) -> dict:
        """JSON-ready data (`report --campaign NAME --json`)."""
        return {**asdict(self), "replied": self.replied}


def campaign_report(store: Store, account: str, campaign: str) -> CampaignReport:
    """Every recipient of the campaign's threads, with whether (and when last) they replied;
    NotFound when no thread carries the campaign."""
    thread_ids = {
        r["id"]
        for r in store._all(
            "SELECT id FROM threads WHERE account = ? AND campaign = ?", account, campaign
        )
    }
    if not thread_ids:
        raise NotFound(
            f"No thread of {account} was sent in campaign {campaign!r}.",
            fix="Tag sends with `hubsync send --campaign NAME`.",
            reason="no-such-campaign",
        )
    rows = [r for r in q.messages(store, account) if r["thread_id"] in thread_ids]
    report = CampaignReport(account, campaign, len(thread_ids))
    for row in rows:
        if row["direction"] != Direction.SENT:
            continue
        recipients = (*row["to_addrs"], *row["cc_addrs"])
        received = [
            r
            for r in rows
            if r["thread_id"] == row["thread_id"] and r["direction"] == Direction.RECEIVED
        ]
        # A reply from an address the mail was not sent to (a colleague, the contact's other
        # address) answers the only recipient when there is one; with several, it is nobody's.
        strangers = [r for r in received if r["from_addr"] not in recipients]
        for address in recipients:
            replies = [r for r in received if r["from_addr"] == address]
            if len(recipients) == 1:
                replies += strangers
            dates = [r["date"] or r["logged_at"] for r in replies]
            report.recipients.append(
                CampaignRecipient(
                    address=address,
                    thread_id=row["thread_id"],
                    sent_message_id=row["message_id"],
                    replied=bool(replies),
                    replies=len(replies),
                    last_reply=max(dates) if dates else None,
                    replied_from=sorted({r["from_addr"] for r in replies if r["from_addr"]}),
                )
            )
    return report
