"""An in-memory mailbox implementing what the sync engine needs (hubsync.sync.mailbox).

Folders hold raw messages under UIDs; UIDVALIDITY can change (every UID renumbered), and a
scan can be made to drop the connection after a given number of messages, as a server or
network would. Used by the sync property test and the engine's in-process tests.
"""

from collections.abc import Callable, Iterable

from imapclient.exceptions import IMAPClientError

from hubsync import config as cfg
from hubsync.errors import ConnectionDropped
from hubsync.mail import parse
from hubsync.mail.sent_folder import Folder
from hubsync.sync.fetch import ScanTally, parse_fields
from hubsync.sync.mailbox import FolderState

_FIELDS = (b"message-id", b"in-reply-to", b"references")

# alice's account, as the engine sees it when it syncs a MemoryMailbox.
ACCOUNT = cfg.Account(
    name="alice",
    email="alice@example.test",
    username="alice@example.test",
    imap_host="memory",
    imap_port=143,
    sent_folder="Sent",
)


def header_fields(raw: bytes, wanted=_FIELDS) -> bytes:
    """What BODY[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES)] (or ``wanted``) returns
    for ``raw``."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    lines, keep = [], False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if keep:
                lines.append(line)
            continue
        keep = line.split(b":", 1)[0].strip().lower() in wanted
        if keep:
            lines.append(line)
    return b"".join(line + b"\r\n" for line in lines) + b"\r\n"


class MemoryMailbox:
    def __init__(self) -> None:
        self.folders: dict[str, dict[int, bytes]] = {"INBOX": {}, "Sent": {}}
        self.uidvalidity: dict[str, int] = {"INBOX": 1, "Sent": 1}
        self.uidnext: dict[str, int] = {"INBOX": 1, "Sent": 1}
        self.drop_after: int | None = None  # scanned messages before the connection drops
        self.fail_fetch: BaseException | None = None  # raised once by the next body fetch
        self.selected: str | None = None
        self.status_fields = True  # False: a server whose STATUS leaves UIDNEXT out
        self.examined: list[str] = []  # every folder selected, in order
        self.attributes: dict[str, tuple[str, ...]] = {"Sent": ("\\Sent",)}
        self.claim_ahead: int = 0  # added to UIDNEXT by the next STATUS/EXAMINE (a lie, once)
        self.searches = 0  # UID SEARCHes asked (empty ranges are never walked)
        self.client_searches = 0  # SEARCHes for what the user marked (client_ways)
        self.drop_calls: int | None = None  # interface calls before the connection drops
        self.during: tuple[int, Callable[[], None]] | None = None  # (calls, change) mid-sync
        self.keywords: dict[tuple[str, int], set[str]] = {}  # (folder, uid) -> keywords
        self.modseq: dict[str, int] = {}  # CONDSTORE's HIGHESTMODSEQ per folder
        self.condstore = True  # False: a server without CONDSTORE (Courier)

    # -- what the test does to the server ----------------------------------------------------

    def deliver(self, folder: str, raw: bytes) -> int:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # servers store CRLF
        uid = self.uidnext[folder]
        self.folders[folder][uid] = raw
        self.uidnext[folder] = uid + 1
        self._changed(folder)
        return uid

    def _changed(self, folder: str) -> None:
        self.modseq[folder] = self.modseq.get(folder, 1) + 1

    def _state(self, folder: str) -> FolderState:
        modseq = self.modseq.get(folder, 1) if self.condstore else None
        return FolderState(
            self.uidvalidity[folder],
            self._claimed_uidnext(folder) - 1,
            len(self.folders[folder]),
            highestmodseq=modseq,
        )

    def add_folder(self, folder: str, *attributes: str) -> None:
        self.folders.setdefault(folder, {})
        self.uidvalidity.setdefault(folder, 1)
        self.uidnext.setdefault(folder, 1)
        self.attributes[folder] = attributes

    def move(self, uid: int, source: str, target: str) -> int:
        """Move a message (a user filing it, or a server rule): a new UID in ``target``."""
        raw = self.folders[source].pop(uid)
        self._changed(source)
        flags = self.keywords.pop((source, uid), set())
        new = self.deliver(target, raw)
        if flags:
            self.keywords[(target, new)] = flags
        return new

    def tag(self, folder: str, uid: int, keyword: str) -> None:
        """A mail client setting a keyword (a tag) on a message (servers compare in any case)."""
        self.keywords.setdefault((folder, uid), set()).add(keyword.lower())
        self._changed(folder)

    def _tick(self) -> None:
        """Count one command: drop the connection, or change the mailbox, when due."""
        if self.during is not None:
            calls, change = self.during
            if calls <= 0:
                self.during = None
                change()
            else:
                self.during = (calls - 1, change)
        if self.drop_calls is not None:
            if self.drop_calls <= 0:
                self.drop_calls = None
                raise ConnectionDropped("The connection to memory:143 was lost.")
            self.drop_calls -= 1

    def _claimed_uidnext(self, folder: str) -> int:
        lie, self.claim_ahead = self.claim_ahead, 0
        return self.uidnext[folder] + lie

    def renumber(self, folder: str) -> None:
        """A new UIDVALIDITY: the same messages under new UIDs."""
        messages = [self.folders[folder][u] for u in sorted(self.folders[folder])]
        self.uidvalidity[folder] += 1
        self.folders[folder] = {i: raw for i, raw in enumerate(messages, start=1)}
        self.uidnext[folder] = len(messages) + 1

    # -- the Mailbox interface -----------------------------------------------------------------

    def examine(self, folder: str) -> FolderState:
        self._tick()
        if folder not in self.folders:
            raise IMAPClientError(f"select failed: Mailbox doesn't exist: {folder}")
        self.selected = folder
        self.examined.append(folder)
        return self._state(folder)

    def status(self, folder: str) -> FolderState | None:
        self._tick()
        if folder not in self.folders or folder == self.selected or not self.status_fields:
            return None
        return self._state(folder)

    def list_folders(self) -> list[Folder]:
        self._tick()
        return [Folder(name, self.attributes.get(name, ())) for name in self.folders]

    def next_uid(self, first: int) -> int | None:
        self._tick()
        self.searches += 1
        return min((u for u in self.folders[self.selected] if u >= first), default=None)

    def settle(self) -> None:
        """Nothing is ever asked ahead here."""

    def scan(
        self,
        first: int,
        last: int,
        candidate: Callable[[bytes], bool],
        ahead: tuple[int, int] | None = None,
    ) -> tuple[list[tuple[int, bytes]], ScanTally]:
        self._tick()
        found, seen, top = [], 0, 0
        messages = self.folders[self.selected]
        for uid in sorted(u for u in messages if first <= u <= last):
            if self.drop_after is not None:
                if self.drop_after <= 0:
                    self.drop_after = None
                    raise ConnectionDropped("The connection to memory:143 was lost.")
                self.drop_after -= 1
            header = header_fields(messages[uid])
            seen, top = seen + 1, uid
            if candidate(header):
                found.append((uid, header))
        return found, ScanTally(seen, top)

    def sizes(self, uids: Iterable[int]) -> dict[int, int]:
        messages = self.folders[self.selected]
        return {u: len(messages[u]) for u in uids if u in messages}  # gone: not answered

    def messages(self, uids: list[int], announced: int) -> dict[int, bytes]:
        self._tick()
        if self.fail_fetch is not None:
            failure, self.fail_fetch = self.fail_fetch, None
            raise failure
        messages = self.folders[self.selected]
        return {u: messages[u] for u in uids if u in messages}

    def search(self, criteria: list[str]) -> list[int]:
        self._tick()
        self.client_searches += 1
        return [u for u in sorted(self.folders[self.selected]) if self._matches(u, list(criteria))]

    def _matches(self, uid: int, criteria: list[str]) -> bool:
        """The SEARCH keys hubsync uses: UID ranges, KEYWORD, TO/CC/BCC, HEADER and OR."""
        ok = True
        while criteria:
            ok = self._one(uid, criteria) and ok
        return ok

    def _one(self, uid: int, criteria: list[str]) -> bool:
        key = criteria.pop(0).upper()
        if key == "OR":
            left, right = self._one(uid, criteria), self._one(uid, criteria)
            return left or right
        if key == "UID":
            first, _, last = criteria.pop(0).partition(":")
            return int(first) <= uid <= int(last or first)
        if key == "KEYWORD":
            word = criteria.pop(0).lower()
            return word in self.keywords.get((self.selected, uid), set())
        name = criteria.pop(0) if key == "HEADER" else key
        needle = criteria.pop(0).lower()
        fields = parse_fields(self.folders[self.selected][uid].split(b"\r\n\r\n", 1)[0])
        return needle in fields.get(name.lower().encode(), b"").decode(errors="replace").lower()

    def headers(self, uids: list[int], fields: tuple[str, ...]) -> dict[int, bytes]:
        self._tick()
        messages = self.folders[self.selected]
        wanted = {f.lower().encode() for f in fields}
        return {u: header_fields(messages[u], wanted) for u in uids if u in messages}

    def text_only(self, uid: int) -> tuple[bytes, str, int]:
        raw = self.folders[self.selected][uid]
        parsed = parse.parse(raw)
        return raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n", parsed.body, len(parsed.attachments)
