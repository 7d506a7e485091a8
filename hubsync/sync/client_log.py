"""During a sync, log what the user marked for the log in their own mail client (the ways of
``sync/client_ways.py``): the CRM folder, the keyword, the plus-address, Sent mail to known
contacts.

The new messages of a folder are looked at range by range, before the sync position moves
past them (only where a way applies: every message of the CRM folder and, with
``track_sent``, of the Sent folder; elsewhere only what a server SEARCH for the plus-address
finds). The keyword is searched for in the whole folder, since a tag can be set on an old
message; where the server keeps a modification sequence (CONDSTORE), a folder whose flags did
not change since the last search is not searched again. Only a few header fields of the
candidates are read; a message is fetched whole only when a way logs it. A marked message
that a never-log rule keeps out leaves one event with its Message-ID, nothing more.
"""

from hubsync import attachment_policy
from hubsync import config as cfg
from hubsync.logbook import log_manual
from hubsync.mail import parse
from hubsync.store import Store
from hubsync.store import queries as q
from hubsync.sync.capture import UNREADABLE, record_unreadable
from hubsync.sync.client_ways import (
    PICK_FIELDS,
    ClientWays,
    address_search,
    candidate,
    choose,
    keyword_search,
)
from hubsync.sync.mailbox import FolderState, Mailbox
from hubsync.sync.matching import MatchRule, never_log_hit
from hubsync.sync.stats import FolderStats

KEYWORD_MARK = "keyword-searched "  # a server fact per folder: "UIDVALIDITY HIGHESTMODSEQ"

_HOW = {
    MatchRule.LOG_FOLDER: "it is in the CRM folder {folder}",
    MatchRule.KEYWORD: "it carries the keyword {keyword} (in {folder})",
    MatchRule.LOG_ADDRESS: "it was sent to the logging address {address} (in {folder})",
    MatchRule.TRACKED_SENT: "it was sent from another mail client "
    "(track_sent = {track}, in {folder})",
}


def how(way: str, ways: ClientWays, folder: str) -> str:
    """Why ``way`` logs a message, in words (events and `why` use it)."""
    return _HOW[MatchRule(way)].format(
        folder=folder, keyword=ways.keyword, address=ways.log_address, track=ways.track_sent
    )


class ClientLog:
    """One sync's logging of marked messages; ``tracked`` (Message-ID -> thread) grows with
    what is logged, as the sync's own does."""

    def __init__(
        self,
        mailbox: Mailbox,
        store: Store,
        account: cfg.Account,
        ways: ClientWays,
        tracked: dict[str, int],
    ) -> None:
        self.mailbox, self.store, self.account = mailbox, store, account
        self.ways, self.tracked = ways, tracked
        self._contacts: dict[str, bool] = {}

    def new_range(self, folder: str, first: int, last: int, stats: FolderStats) -> None:
        """Log the marked messages among UIDs first..last of the selected ``folder``."""
        ways = self.ways.range_ways(folder)
        if not ways or first > last:
            return
        criteria = ["UID", f"{first}:{last}"]
        if not self.ways.reads_whole_range(folder):
            criteria += address_search(self.ways.log_address)
        # "UID n:m" also matches the last message when it is below n (RFC 3501 6.4.8).
        uids = [u for u in self.mailbox.search(criteria) if first <= u <= last]
        self._log(folder, uids, ways, stats)

    def keywords(
        self, folder: str, state: FolderState | None, selected: bool, stats: FolderStats
    ) -> None:
        """Log the messages of ``folder`` carrying the keyword. ``state``: the folder as the
        sync saw it (None: unknown); ``selected``: the sync left it selected."""
        if not self.ways.keyword:
            return
        key = KEYWORD_MARK + folder
        mark = _mark(state) if state is not None else ""
        if mark and mark == self.store.fact(self.account.name, key):
            return  # no flag changed in the folder since the last search
        if state is None or not selected:
            state = self.mailbox.examine(folder)
        uids = self.mailbox.search(keyword_search(self.ways.keyword))
        self._log(folder, uids, frozenset({MatchRule.KEYWORD}), stats)
        mark = _mark(state)
        if mark:
            self.store.set_fact(self.account.name, key, mark)

    def is_contact(self, address: str) -> bool:
        if address not in self._contacts:
            found = q.contact(self.store, self.account.name, address) is not None
            self._contacts[address] = found
        return self._contacts[address]

    def _log(self, folder: str, uids: list[int], ways, stats: FolderStats) -> None:
        if not uids:
            return
        headers = self.mailbox.headers(sorted(set(uids)), PICK_FIELDS)
        for uid in sorted(headers):
            try:
                found = candidate(uid, headers[uid])
            except UNREADABLE as exc:
                record_unreadable(self.store, self.account, folder, uid, "", exc, stats)
                continue
            way = choose(found, ways, self.ways, self.tracked, self.is_contact)
            if way is None:
                continue
            try:
                self._log_one(folder, uid, way, stats)
            except UNREADABLE as exc:
                mid = found.message_id
                record_unreadable(self.store, self.account, folder, uid, mid, exc, stats)

    def _log_one(self, folder: str, uid: int, way: MatchRule, stats: FolderStats) -> None:
        """Fetch one marked message (whole under the attachment limit, else header and text)
        and log it as `hubsync log` would, unless a never-log rule keeps it out."""
        size = self.mailbox.sizes([uid]).get(uid)
        if size is None:
            stats.vanished += 1  # moved or deleted since the search
            return
        decision = attachment_policy.decide(self.account, size)
        body = note = None
        attachment_parts = 0
        if decision.keep:
            raw = self.mailbox.messages([uid], size).get(uid)
            if raw is None:
                stats.vanished += 1
                return
            parsed = parse.parse(raw)
        else:
            raw, body, attachment_parts = self.mailbox.text_only(uid)
            parsed = parse.parse(raw, with_body=False)
            parsed.body, note = body, decision.note
        stats.marked += 1
        if self._never_log(parsed, way, folder, stats):
            return
        outcome = log_manual(
            self.store,
            self.account.name,
            raw,
            self.ways.own,
            folder,
            uid,
            body=body,
            note=note,
            rule=way,
            parsed=parsed,
            detail=f"{folder} UID {uid}: {how(way, self.ways, folder)}",
        )
        self.tracked[parsed.message_id] = outcome.thread_id
        if outcome.message_pk is None:
            stats.already_logged += 1
            return
        stats.logged += 1
        stats.by_way[way.value] = stats.by_way.get(way.value, 0) + 1
        stats.attachments_logged += outcome.attachments_logged
        if note and (attachment_parts or decision.reason == attachment_policy.OVER_LIMIT):
            stats.attachments_skipped += attachment_parts or 1
            self.store.add_event(
                self.account.name,
                "attachments-skipped",
                decision.reason,
                parsed.message_id,
                f"{note}; {attachment_parts} attachment(s); size {size} bytes",
            )

    def _never_log(self, parsed, way: MatchRule, folder: str, stats: FolderStats) -> bool:
        people = [parsed.from_addr, *[a for _, a in parsed.to], *[a for _, a in parsed.cc]]
        others = [a for a in people if a and a not in self.ways.own]
        hit = never_log_hit(others, self.account.never_log)
        if not hit:
            return False
        stats.never_log_hits += 1
        said = q.events_for(self.store, self.account.name, parsed.message_id)
        if not any(e["reason"] == "never-log" for e in said):  # said once, not every sync
            self.store.add_event(
                self.account.name,
                "skip",
                "never-log",
                parsed.message_id,
                f"marked for the log: {how(way, self.ways, folder)}; never_log entry {hit}",
            )
        return True


def _mark(state: FolderState) -> str:
    """What says that a folder's flags did not change: UIDVALIDITY and HIGHESTMODSEQ."""
    if not state.highestmodseq:
        return ""
    return f"{state.uidvalidity} {state.highestmodseq}"
