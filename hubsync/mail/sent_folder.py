"""Which mailbox is the Sent folder: a pure function of the folder list and the settings.

Order: a configured ``sent_folder``; a mailbox carrying the RFC 6154 ``\\Sent`` attribute (read
from every LIST, since some servers send it without advertising SPECIAL-USE); then the first
folder whose own label names "sent", localized names included. A label that merely contains the
letters ("Sentinel reports", "Consent forms") is not a sent folder.
"""

import re
import unicodedata
from dataclasses import dataclass, field

# Last path segment, lower-cased. "outbox" is last: on some servers it is a queue.
KNOWN_SENT_NAMES = (
    "sent",
    "sent items",
    "sent messages",
    "sent mail",
    "sent-mail",
    "sent mails",
    "skickat",
    "skickade objekt",
    "skickade meddelanden",
    "skickade",
    "gesendet",
    "gesendete elemente",
    "gesendete objekte",
    "gesendete nachrichten",
    "envoyés",
    "éléments envoyés",
    "messages envoyés",
    "envoyes",
    "elements envoyes",
    "enviados",
    "elementos enviados",
    "mensajes enviados",
    "itens enviados",
    "mensagens enviadas",
    "inviati",
    "posta inviata",
    "elementi inviati",
    "messaggi inviati",
    "verzonden",
    "verzonden items",
    "verzonden berichten",
    "sendt",
    "sendte elementer",
    "sendte",
    "sendt post",
    "lähetetyt",
    "lähetetyt viestit",
    "wysłane",
    "elementy wysłane",
    "odeslaná pošta",
    "odeslané",
    "elküldött elemek",
    "trimise",
    "poslano",
    "odoslaná pošta",
    "отправленные",
    "надіслані",
    "已发送",
    "已傳送",
    "寄件備份",
    "寄件匣",
    "送信済み",
    "送信済みアイテム",
    "보낸 편지함",
    "gönderilmiş öğeler",
    "gönderilenler",
    "απεσταλμένα",
    "נשלחו",
    "المرسلة",
    "outbox",
)
_RANK = {name: i for i, name in enumerate(KNOWN_SENT_NAMES)}


@dataclass(frozen=True)
class Folder:
    name: str
    flags: tuple[str, ...] = ()
    delimiter: str = "/"

    @property
    def label(self) -> str:
        """The folder's own name: last path segment (``INBOX.Sent`` -> ``Sent``)."""
        if self.delimiter and self.delimiter in self.name:
            return self.name.rsplit(self.delimiter, 1)[1]
        return self.name

    def has(self, flag: str) -> bool:
        """Whether the folder carries this attribute (case-insensitive)."""
        return flag.lower() in (f.lower() for f in self.flags)

    @property
    def selectable(self) -> bool:
        """False for \\Noselect and \\NonExistent folders."""
        return not (self.has("\\Noselect") or self.has("\\NonExistent"))


@dataclass
class SentResolution:
    folder: str | None
    rule: str | None  # "config" | "special-use" | "name" | None
    candidates: list[str] = field(default_factory=list)
    explanation: str = ""


def resolve_sent_folder(folders: list[Folder], configured: str | None = None) -> SentResolution:
    """Pick the Sent folder, say by which rule, and list the candidates that were seen."""
    names = [f.name for f in folders]
    if configured:
        composed = unicodedata.normalize("NFC", configured)
        configured = next(
            (n for n in names if unicodedata.normalize("NFC", n) == composed), configured
        )
    special = [f.name for f in folders if f.has("\\Sent") and f.selectable]
    by_name = sorted(
        (
            (rank, i, f.name)
            for i, f in enumerate(folders)
            if f.selectable and (rank := name_rank(f.label)) is not None
        ),
    )
    candidates = special + [n for _, _, n in by_name if n not in special]
    if configured:
        if configured in names:
            return SentResolution(
                configured,
                "config",
                candidates,
                f"'{configured}' is set as sent_folder in config.toml.",
            )
        return SentResolution(
            None,
            None,
            candidates,
            f"sent_folder '{configured}' is set in config.toml but the server "
            "has no such folder. " + _how_to_set(candidates),
        )
    if special:
        return SentResolution(
            special[0],
            "special-use",
            candidates,
            f"'{special[0]}' carries the \\Sent attribute (RFC 6154).",
        )
    if by_name:
        name = by_name[0][2]
        return SentResolution(
            name,
            "name",
            candidates,
            f"No folder carries \\Sent; '{name}' is named like a sent folder.",
        )
    return SentResolution(
        None,
        None,
        [],
        "No folder carries \\Sent and none is named like a sent folder. " + _how_to_set(names),
    )


def name_rank(label: str) -> int | None:
    """Rank of a label that names a sent folder (lower is better), or None.

    An exact known name ranks by the list; a known name followed by more words ("Sent 2023")
    ranks after every exact one. Substrings never count ("Sentinel", "Consent").
    """
    # NFC: macOS clients create "Éléments envoyés" in decomposed form (NFD).
    text = " ".join(unicodedata.normalize("NFC", label).strip().lower().split())
    if text in _RANK:
        return _RANK[text] if text != "outbox" else 10_000
    for name, rank in _RANK.items():
        if name != "outbox" and re.fullmatch(re.escape(name) + r"[\s_-]+\S.*", text):
            return 1_000 + rank
    return None


def _how_to_set(seen: list[str]) -> str:
    listed = ", ".join(f"'{n}'" for n in seen[:12]) or "none"
    return (
        f'Set it with `sent_folder = "NAME"` under your account in config.toml, or '
        f"`hubsync connect ... --sent-folder NAME`. Folders seen: {listed}."
    )
