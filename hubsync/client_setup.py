"""Setting up logging from the user's own mail client (the ways of sync/client_ways.py):
changing the settings, checking them against the server (`connect`, `doctor`), and saying
what each way does and stores."""

import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import imapclient

from hubsync import config as cfg
from hubsync.errors import UsageError
from hubsync.mail import imap
from hubsync.mail.sent_folder import Folder
from hubsync.sync.client_ways import keyword_allowed, resolve_log_folder

OFF_WORDS = ("", "off", "none", "no")
TRACK_SENT = ("off", "contacts", "all")


def change(
    account: cfg.Account,
    log_folder: str | None = None,
    keyword: str | None = None,
    address: str | None = None,
    track_sent: str | None = None,
    now: datetime | None = None,
) -> None:
    """Apply `accounts set` / `connect` options to ``account`` ("off" turns a way off).
    Turning ``track_sent`` on starts it now: Sent mail from before is never tracked."""
    if log_folder is not None:
        account.log_folder = "" if log_folder.strip().lower() in OFF_WORDS else log_folder.strip()
    if keyword is not None:
        account.log_keyword = _keyword(keyword)
    if address is not None:
        account.log_address = _address(address, account)
    if track_sent is not None:
        if track_sent not in TRACK_SENT:
            raise UsageError(
                f"--track-sent {track_sent!r}: expected one of {', '.join(TRACK_SENT)}.",
                reason="bad-option",
            )
        if track_sent != "off" and account.track_sent == "off":
            account.track_sent_since = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        account.track_sent = track_sent


def settings(account: cfg.Account) -> dict:
    """The ways' settings, every key present ("" = off), for `accounts show --json`."""
    return {
        "log_folder": account.log_folder,
        "log_keyword": account.log_keyword,
        "log_address": account.log_address,
        "track_sent": account.track_sent,
        "track_sent_since": account.track_sent_since,
    }


def describe(account: cfg.Account) -> str:
    """The account's ways in one line (`accounts set`, `accounts show`, `doctor`)."""
    parts = [
        f"CRM folder {account.log_folder}" if account.log_folder else "CRM folder off",
        f"keyword {account.log_keyword}" if account.log_keyword else "keyword off",
        f"logging address {account.log_address}" if account.log_address else "address off",
        f"track_sent = {account.track_sent}"
        + (f" since {account.track_sent_since}" if account.track_sent != "off" else ""),
    ]
    return "; ".join(parts)


def _keyword(text: str) -> str:
    word = text.strip()
    if word.lower() in OFF_WORDS:
        return ""
    # RFC 3501 flag-keyword = atom: no space, parentheses, braces, %, *, quotes, backslash
    if any(c in word for c in ' (){%*"\\]') or not word.isprintable() or not word.isascii():
        raise UsageError(
            f"--log-keyword {text!r} is not an IMAP keyword.",
            fix="Use letters, digits and $ only, e.g. $CRM (the default) or crm.",
            reason="bad-option",
        )
    return word


def _address(text: str, account: cfg.Account) -> str:
    address = text.strip()
    if address.lower() in OFF_WORDS:
        return ""
    if "@" not in address or " " in address:
        raise UsageError(f"--log-address {text!r} is not an email address.", reason="bad-option")
    if address.lower() == account.email.lower():
        raise UsageError(
            f"--log-address {address} is the account's own address: every message would be logged.",
            fix=f"Use a plus-address, e.g. {_plus(account.email)}.",
            reason="bad-option",
        )
    return address


def _plus(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local}+crm@{domain}"


@dataclass
class WaysCheck:
    """What the server says about each way (`connect`, `doctor`)."""

    log_folder: str  # the setting ("" = off)
    log_folder_found: str  # the server's folder it names ("" = none)
    log_folder_created: bool
    keyword: str
    keyword_available: bool | None  # None: the way is off
    log_address: str
    log_address_delivered_to: str | None  # the folder the test message reached; None: untested
    track_sent: str

    def to_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        """The check in words, one line per way."""
        out = []
        if not self.log_folder:
            out.append("CRM folder: off")
        elif self.log_folder_found:
            made = " (created)" if self.log_folder_created else ""
            out.append(f"CRM folder: {self.log_folder_found}{made}: what you put there is logged")
        else:
            out.append(
                f"CRM folder: {self.log_folder} does not exist; create it in your mail client "
                f"(or `hubsync connect --log-folder {self.log_folder}`) to use it"
            )
        if not self.keyword:
            out.append("Keyword: off")
        elif self.keyword_available:
            out.append(f"Keyword: {self.keyword}: a message tagged with it is logged")
        else:
            out.append(
                f"Keyword: {self.keyword} is unavailable: this server does not keep new "
                "keywords (PERMANENTFLAGS without \\*); use the CRM folder instead"
            )
        if not self.log_address:
            out.append("Logging address: off")
        elif self.log_address_delivered_to is None:
            out.append(
                f"Logging address: {self.log_address} (BCC it); check that the server "
                "delivers it with `hubsync connect --test-log-address`"
            )
        elif self.log_address_delivered_to:
            out.append(
                f"Logging address: {self.log_address} is delivered (to "
                f"{self.log_address_delivered_to})"
            )
        else:
            out.append(
                f"Logging address: {self.log_address} was NOT delivered: the server does not "
                "accept plus-addresses, or filters them away; ask IT, or use another way"
            )
        out.append(f"Sent mail from other clients: track_sent = {self.track_sent}")
        return out

    @property
    def problems(self) -> list[str]:
        """What does not work as set (doctor warns). A CRM folder that does not exist is not
        one: the default folder is used only where the user makes it."""
        found = []
        if self.keyword and self.keyword_available is False:
            found.append(f"the keyword {self.keyword} cannot be set on this server")
        if self.log_address and self.log_address_delivered_to == "":
            found.append(f"{self.log_address} is not delivered")
        return found


def check(
    client: imapclient.IMAPClient,
    account: cfg.Account,
    listing: list[Folder],
    create_log_folder: bool = False,
) -> WaysCheck:
    """Look at the server for ``account``'s ways: find (or, asked to, create) the CRM
    folder, and whether INBOX keeps new keywords (SELECT's PERMANENTFLAGS; EXAMINE reports
    none, so this selects read-write without changing anything)."""
    found = resolve_log_folder(listing, account.log_folder)
    created = False
    if account.log_folder and not found and create_log_folder:
        name = _in_personal_namespace(client, account.log_folder, listing)
        client.create_folder(name)
        client.subscribe_folder(name)
        found, created = resolve_log_folder(imap.list_folders(client), account.log_folder), True
    available = None
    if account.log_keyword:
        info = client.select_folder("INBOX", readonly=False)
        flags = [
            f.decode() if isinstance(f, bytes) else str(f) for f in info.get(b"PERMANENTFLAGS", ())
        ]
        available = keyword_allowed(flags, account.log_keyword)
        client.unselect_folder() if client.has_capability("UNSELECT") else client.close_folder()
    return WaysCheck(
        log_folder=account.log_folder,
        log_folder_found=found,
        log_folder_created=created,
        keyword=account.log_keyword,
        keyword_available=available,
        log_address=account.log_address,
        log_address_delivered_to=None,
        track_sent=account.track_sent,
    )


def _in_personal_namespace(client, name: str, listing: list[Folder]) -> str:
    """``name`` where the server keeps the user's folders (Courier: ``INBOX.name``)."""
    try:
        personal = client.namespace().personal
    except imapclient.exceptions.IMAPClientError:
        personal = None
    prefix = personal[0][0] if personal else ""
    if isinstance(prefix, bytes):
        prefix = prefix.decode()
    return name if not prefix or name.startswith(prefix) else prefix + name


def test_message(account: cfg.Account) -> tuple[str, bytes]:
    """The one message `connect --test-log-address` sends (to the logging address only)."""
    mid = f"<hubsync-log-address-test-{uuid.uuid4().hex}@{account.domain}>"
    lines = [
        f"From: {account.email}",
        f"To: {account.log_address}",
        "Subject: hubsync: logging address test",
        f"Date: {datetime.now(UTC).strftime('%a, %d %b %Y %H:%M:%S +0000')}",
        f"Message-ID: {mid}",
        "",
        "hubsync sent this to check that the logging address is delivered. It is not logged;",
        "you may delete it.",
        "",
    ]
    return mid, "\r\n".join(lines).encode()


def find_delivered(
    client: imapclient.IMAPClient, listing: list[Folder], message_id: str, wait: float
) -> str:
    """The folder where ``message_id`` arrived, looking for up to ``wait`` seconds; ""
    when it did not arrive."""
    deadline = time.monotonic() + wait
    names = [f.name for f in listing if f.selectable]
    names.sort(key=lambda n: (n.upper() != "INBOX", "crm" not in n.lower()))
    while True:
        for name in names:
            try:
                client.select_folder(name, readonly=True)
                if client.search(["HEADER", "Message-ID", message_id]):
                    return name
            except imapclient.exceptions.IMAPClientAbortError:
                raise
            except imapclient.exceptions.IMAPClientError:
                continue
        if time.monotonic() >= deadline:
            return ""
        time.sleep(1.0)
