"""Which folders a reply can land in: a pure function of the folder list and the settings.

A reply does not always stay in INBOX: Gmail's "skip the inbox" filters file it under a label,
Outlook rules move it, and users file a customer's mail before hubsync sees it. So an account
that watches "all" folders reads:

- where the server offers a ``\\All`` mailbox (RFC 6154; Gmail's "All Mail" in any language):
  that one plus the Sent folder, since every message sits in it whatever its labels;
- otherwise every selectable folder except ``\\Junk``, ``\\Trash``, ``\\Drafts`` (and folders
  named like them where the server has no special-use attributes) and virtual views
  (``\\Flagged``, ``\\Important``), plus the Sent folder.

The *primary* folder is the one watched with IDLE: ``\\All`` where offered, else INBOX. Names
are compared in Unicode NFC, since macOS clients create folders in decomposed form (NFD).
"""

import unicodedata
from dataclasses import dataclass, field

from hubsync.mail.sent_folder import Folder

ALL = "*"  # watched_folders = ["*"]: every folder a reply can land in

_SKIPPED_USES = ("\\Junk", "\\Trash", "\\Drafts", "\\Flagged", "\\Important")
# Last path segment, lower-cased: where no special-use attribute says what a folder is.
SKIPPED_NAMES = frozenset(
    {
        "junk",
        "junk e-mail",
        "junk email",
        "junk mail",
        "spam",
        "bulk mail",
        "trash",
        "deleted items",
        "deleted messages",
        "deleted",
        "bin",
        "drafts",
        "draft",
        "papierkorb",
        "gelöschte elemente",
        "entwürfe",
        "corbeille",
        "éléments supprimés",
        "brouillons",
        "courrier indésirable",
        "papelera",
        "elementos eliminados",
        "borradores",
        "correo no deseado",
        "papperskorgen",
        "papperskorg",
        "borttagna objekt",
        "utkast",
        "skräppost",
        "cestino",
        "bozze",
        "prullenbak",
        "concepten",
        "ongewenste e-mail",
        "lixeira",
        "rascunhos",
        "корзина",
        "черновики",
        "спам",
    }
)


def nfc(name: str) -> str:
    """``name`` in Unicode NFC, the form folder names are compared in."""
    return unicodedata.normalize("NFC", name)


@dataclass(frozen=True)
class WatchPlan:
    """The folders to read, in order (primary first), and why the others are left out."""

    primary: str
    folders: list[str]
    skipped: dict[str, str] = field(default_factory=dict)  # folder -> why it is not read
    missing: list[str] = field(default_factory=list)  # named in the settings, not on the server
    covered: list[str] = field(default_factory=list)  # not read: the \\All folder holds theirs
    log_folder: str = ""  # the CRM folder (sync/client_ways.py), read too, "" when none


def is_all_setting(watched: list[str]) -> bool:
    """Whether ``watched_folders`` asks for every folder a reply can land in."""
    return any(w.strip() == ALL or w.strip().lower() == "all" for w in watched)


def reply_folders(
    listing: list[Folder],
    watched: list[str],
    sent: str = "",
    excluded: list[str] = (),
) -> WatchPlan:
    """The watch plan for an account whose settings name ``watched`` (``["*"]`` for all,
    or folder names), its Sent folder ``sent`` and ``excluded`` folders, on a server that
    lists ``listing``. Folders are named as the server spells them (IMAP commands need that
    spelling); settings match them in NFC."""
    by_nfc = {nfc(f.name): f.name for f in listing}
    out = {nfc(x) for x in excluded}
    skipped: dict[str, str] = {
        by_nfc.get(nfc(x), x): "excluded by the account's settings" for x in excluded
    }

    def server_name(name: str) -> str:
        if name.upper() == "INBOX":  # case-insensitive (RFC 3501 5.1)
            return next((n for n in by_nfc.values() if n.upper() == "INBOX"), "INBOX")
        return by_nfc.get(nfc(name), name)

    def add(chosen: list[str], name: str) -> None:
        if nfc(name) not in out and nfc(name) not in {nfc(c) for c in chosen}:
            chosen.append(name)

    if not is_all_setting(watched):
        chosen: list[str] = []
        for name in [*(watched or ["INBOX"]), *([sent] if sent else [])]:
            add(chosen, server_name(name))
        missing = [n for n in chosen if listing and nfc(n) not in by_nfc and n.upper() != "INBOX"]
        return WatchPlan(_primary(chosen), chosen, skipped, missing)
    all_mail = [f for f in listing if f.has("\\All") and f.selectable and nfc(f.name) not in out]
    chosen = []
    covered = []
    if all_mail:
        add(chosen, all_mail[0].name)
        for f in listing:
            if nfc(f.name) not in out and f.name != all_mail[0].name:
                why = _why_skipped(f)
                if not why:
                    why = f"its messages are in {all_mail[0].name} too"
                    covered.append(f.name)
                skipped.setdefault(f.name, why)
    else:
        if not any(f.name.upper() == "INBOX" for f in listing):
            add(chosen, "INBOX")  # some servers leave INBOX out of LIST "*"
        for f in listing:
            why = _why_skipped(f)
            if nfc(f.name) in out:
                continue
            if why:
                skipped[f.name] = why
            else:
                add(chosen, f.name)
    if sent:
        add(chosen, server_name(sent))
        skipped.pop(server_name(sent), None)
    primary = chosen[0] if all_mail else _primary(chosen)
    ordered = [primary, *[n for n in chosen if n != primary]]
    return WatchPlan(primary, ordered, skipped, covered=[c for c in covered if c not in ordered])


def _primary(names: list[str]) -> str:
    return next((n for n in names if n.upper() == "INBOX"), names[0] if names else "INBOX")


def _why_skipped(folder: Folder) -> str:
    """Why ``folder`` cannot hold a reply worth logging, or "" when it can."""
    if not folder.selectable:
        return "it cannot be selected (\\Noselect)"
    for use in _SKIPPED_USES:
        if folder.has(use):
            return f"it is the {use[1:]} folder"
    if nfc(folder.label).strip().lower() in SKIPPED_NAMES:
        return f"it is named like a {nfc(folder.label).strip().lower()} folder"
    return ""
