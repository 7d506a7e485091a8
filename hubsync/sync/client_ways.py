"""Logging from the user's own mail client, as pure decisions: which messages the user
marked for the log (a CRM folder, a keyword, a plus-address, mail sent to known contacts),
and by which way. The sync executes them (sync/client_log.py).

Four ways, each off when its setting is empty (``track_sent``: "off"):
- ``log_folder``: every message the user moves or copies into that folder;
- ``log_keyword``: every message in a synced folder carrying the keyword (any case);
- ``log_address``: every message whose To/Cc/Bcc (or the delivery's Delivered-To,
  X-Original-To, Envelope-To) holds the plus-address the user BCCs;
- ``track_sent``: mail in the Sent folder written by the user in another client, to an
  address that has a contact record ("contacts") or to anyone ("all"), dated on or after
  ``track_sent_since``.
A message already in the log is never logged again, whichever ways name it; the first way
in ``ORDER`` is the one recorded.
"""

import email.utils
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from hubsync import config as cfg
from hubsync.mail import parse
from hubsync.mail.sent_folder import Folder
from hubsync.sync.fetch import parse_fields
from hubsync.sync.matching import MatchRule, ids_in

ORDER = (
    MatchRule.LOG_FOLDER,
    MatchRule.KEYWORD,
    MatchRule.LOG_ADDRESS,
    MatchRule.TRACKED_SENT,
)
WAYS = frozenset(ORDER)
# Where a plus-address can show: the visible recipients, and what delivery recorded (a Bcc
# leaves no header of its own; Dovecot, Postfix and Exim name the envelope recipient).
DELIVERY_FIELDS = ("DELIVERED-TO", "X-ORIGINAL-TO", "ENVELOPE-TO")
PICK_FIELDS = ("MESSAGE-ID", "FROM", "TO", "CC", "BCC", "DATE", *DELIVERY_FIELDS)


@dataclass(frozen=True)
class ClientWays:
    """An account's ways, resolved against its server: ``log_folder`` is the server's name
    of the CRM folder ("" when off or when no such folder exists)."""

    log_folder: str = ""
    keyword: str = ""
    log_address: str = ""
    track_sent: str = "off"
    track_sent_since: datetime | None = None
    sent_folder: str = ""
    own: tuple[str, ...] = ()  # the account's own addresses (the plus-address too), lower

    @property
    def any(self) -> bool:
        """Whether any way is on."""
        return bool(self.log_folder or self.keyword or self.log_address or self.tracks_sent)

    @property
    def tracks_sent(self) -> bool:
        return self.track_sent != "off" and bool(self.sent_folder)

    def range_ways(self, folder: str) -> frozenset[MatchRule]:
        """The ways decided on the new messages of ``folder`` (the keyword is searched for in
        the whole folder instead: a tag can be set on an old message)."""
        ways = set()
        if self.log_folder and folder == self.log_folder:
            ways.add(MatchRule.LOG_FOLDER)
        if self.log_address:
            ways.add(MatchRule.LOG_ADDRESS)
        if self.tracks_sent and folder == self.sent_folder:
            ways.add(MatchRule.TRACKED_SENT)
        return frozenset(ways)

    def reads_whole_range(self, folder: str) -> bool:
        """Whether every new message of ``folder`` is a candidate (not only those a server
        SEARCH for the plus-address finds)."""
        return bool(self.range_ways(folder) - {MatchRule.LOG_ADDRESS})


def ways_of(account: cfg.Account, log_folder: str = "") -> ClientWays:
    """``account``'s ways; ``log_folder`` is the CRM folder as the server names it."""
    own = tuple(a.lower() for a in (account.email, account.log_address) if a)
    since = cfg.parse_since(account.track_sent_since) if account.track_sent_since else None
    return ClientWays(
        log_folder=log_folder if account.log_folder else "",
        keyword=account.log_keyword.strip(),
        log_address=account.log_address.strip().lower(),
        track_sent=account.track_sent,
        track_sent_since=since,
        sent_folder=account.sent_folder,
        own=own,
    )


def resolve_log_folder(listing: Iterable[Folder], name: str) -> str:
    """The server's folder that ``name`` means: that exact name, else the same name in
    another case or Unicode form, else a folder whose own label is ``name`` (``INBOX.CRM``
    on a server that keeps every folder under INBOX); "" when there is none."""
    if not name:
        return ""
    folders = list(listing)
    want = _fold(name)
    for test in (
        lambda f: f.name == name,
        lambda f: _fold(f.name) == want,
        lambda f: _fold(f.label) == want,
    ):
        hits = sorted((f.name for f in folders if test(f) and not f.has("\\Noselect")), key=len)
        if hits:
            return hits[0]
    return ""


def log_folder_among(folders: Iterable[str], name: str) -> str:
    """Which of ``folders`` (names the caller already has, no folder list asked) is the CRM
    folder ``name``: the same name in any case, or under a prefix (``INBOX.CRM``)."""
    if not name:
        return ""
    want = _fold(name)
    for folder in folders:
        folded = _fold(folder)
        if folded == want or any(folded.endswith(sep + want) for sep in "./"):
            return folder
    return ""


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def keyword_variants(keyword: str) -> list[str]:
    """The spellings a SEARCH asks for: IMAP leaves keyword case to the server, and clients
    differ (Thunderbird writes its tags in lower case)."""
    seen: list[str] = []
    for form in (keyword, keyword.lower(), keyword.upper()):
        if form and form not in seen:
            seen.append(form)
    return seen


def any_of(tests: list[list[str]]) -> list[str]:
    """IMAP SEARCH criteria matching any of ``tests`` (nested ORs, RFC 3501 6.4.4)."""
    if len(tests) == 1:
        return tests[0]
    return ["OR", *tests[0], *any_of(tests[1:])]


def keyword_search(keyword: str) -> list[str]:
    """SEARCH criteria for messages carrying ``keyword`` in any of its usual spellings."""
    return any_of([["KEYWORD", k] for k in keyword_variants(keyword)])


def address_search(address: str) -> list[str]:
    """SEARCH criteria for messages naming ``address`` as a recipient or delivery address
    (substring matches: ``candidate`` decides exactly)."""
    tests = [["TO", address], ["CC", address], ["BCC", address]]
    tests += [["HEADER", field, address] for field in DELIVERY_FIELDS]
    return any_of(tests)


def keyword_allowed(permanent_flags: Iterable[str], keyword: str) -> bool:
    """Whether a folder whose SELECT answered ``permanent_flags`` keeps ``keyword``: it
    lists ``\\*`` (new keywords may be made) or the keyword itself."""
    flags = {f.casefold() for f in permanent_flags}
    return "\\*" in flags or keyword.casefold() in flags


@dataclass(frozen=True)
class Candidate:
    """What the decision reads of one message: a few header fields, nothing kept."""

    uid: int
    message_id: str
    sender: str
    recipients: tuple[str, ...]  # To, Cc and Bcc addresses, lower case
    delivered: tuple[str, ...]  # Delivered-To, X-Original-To, Envelope-To, lower case
    date: datetime | None


def candidate(uid: int, header: bytes) -> Candidate:
    """Read the fields of ``PICK_FIELDS`` from a header block."""
    fields = parse_fields(header)

    def addresses(*names: bytes) -> tuple[str, ...]:
        found = []
        for name in names:
            value = fields.get(name)
            if value:
                pairs = email.utils.getaddresses([_text(value)])
                found += [a.strip().lower() for _, a in pairs if "@" in a]
        return tuple(found)

    senders = addresses(b"from")
    return Candidate(
        uid=uid,
        message_id=(ids_in(fields.get(b"message-id")) or [""])[0],
        sender=senders[0] if senders else "",
        recipients=addresses(b"to", b"cc", b"bcc"),
        delivered=addresses(*(f.lower().encode() for f in DELIVERY_FIELDS)),
        date=_date(_text(fields.get(b"date", b""))),
    )


def _date(value: str) -> datetime | None:
    moment = parse.iso_date(value)
    if not moment:
        return None
    parsed = datetime.fromisoformat(moment)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def choose(
    message: Candidate,
    ways: frozenset[MatchRule],
    settings: ClientWays,
    tracked: Mapping[str, int],
    is_contact: Callable[[str], bool],
) -> MatchRule | None:
    """The way that logs ``message`` (found where ``ways`` apply), or None: already in the
    log, or no way holds (the plus-address only as a substring, Sent mail to strangers or
    from before ``track_sent_since``)."""
    if message.message_id and message.message_id in tracked:
        return None
    for way in ORDER:
        if way in ways and _holds(way, message, settings, is_contact):
            return way
    return None


def _holds(
    way: MatchRule, message: Candidate, settings: ClientWays, is_contact: Callable[[str], bool]
) -> bool:
    if way in (MatchRule.LOG_FOLDER, MatchRule.KEYWORD):
        return True
    if way == MatchRule.LOG_ADDRESS:
        return settings.log_address in message.recipients + message.delivered
    # TRACKED_SENT: the user's own mail, new enough, to someone the log knows (or anyone).
    if message.sender not in settings.own:
        return False
    since = settings.track_sent_since
    if since is not None and (message.date is None or message.date < since):
        return False
    others = [r for r in message.recipients if r not in settings.own]
    if settings.track_sent == "all":
        return bool(others)
    return any(is_contact(r) for r in others)
