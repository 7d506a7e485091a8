"""Does a message belong to a tracked thread? A pure function of its headers and the log.

A message matches when its In-Reply-To, or any of its References, is the Message-ID of a
message already logged in a thread (RFC 5322 3.6.4). Any entry counts, not only the root:
some relays rewrite Message-IDs, so the chain may only survive further down. A never-log
address or domain overrides a match.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from hubsync.mail.parse import message_ids

ids_in = message_ids  # the name the sync code reads best with


class MatchRule(StrEnum):
    """Why a message is in the log (the store keeps these values; `why` explains them)."""

    IN_REPLY_TO = "in-reply-to"  # its In-Reply-To names a logged message
    REFERENCES = "references"  # one of its References does (In-Reply-To did not)
    SENT_BY_HUBSYNC = "sent-by-hubsync"  # hubsync sent it
    MANUAL = "manual"  # logged by hand (`hubsync log`)
    # Logged from the user's own mail client (sync/client_ways.py):
    LOG_FOLDER = "log-folder"  # the user put it in the CRM folder
    KEYWORD = "keyword"  # the user tagged it with the CRM keyword
    LOG_ADDRESS = "log-address"  # it was sent to the user's logging plus-address
    TRACKED_SENT = "tracked-sent"  # sent from another client (track_sent)


@dataclass(frozen=True)
class ReplyMatch:
    """The tracked thread a reply belongs to, by which rule, through which Message-ID."""

    thread_id: int
    rule: MatchRule  # IN_REPLY_TO or REFERENCES
    ref: str  # the Message-ID that matched


def match_reply(
    in_reply_to: list[str], references: list[str], tracked: Mapping[str, int]
) -> ReplyMatch | None:
    """The thread this message replies into, and by which rule; None when unrelated."""
    for ref in in_reply_to:
        if ref in tracked:
            return ReplyMatch(tracked[ref], MatchRule.IN_REPLY_TO, ref)
    for ref in reversed(references):  # the last entry is the parent: prefer the closest
        if ref in tracked:
            return ReplyMatch(tracked[ref], MatchRule.REFERENCES, ref)
    return None


def never_log_hit(addresses: list[str], never_log: list[str]) -> str | None:
    """The never-log entry (an address, or a domain such as ``example.com`` or
    ``@example.com``) that one of ``addresses`` hits, or None."""
    rules = [r.strip().lower() for r in never_log if r.strip()]
    for address in addresses:
        address = address.lower()
        domain = address.rpartition("@")[2]
        for rule in rules:
            if "@" in rule and not rule.startswith("@"):
                if address == rule:
                    return rule
            elif domain == rule.lstrip("@") or domain.endswith("." + rule.lstrip("@")):
                return rule
    return None
