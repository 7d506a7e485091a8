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


def header_fields(raw: bytes) -> bytes:
    """What BODY[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES)] returns for ``raw``."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    lines, keep = [], False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if keep:
                lines.append(line)
            continue
        keep = line.split(b":", 1)[0].strip().lower() in _FIELDS
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

    # -- what the test does to the server ----------------------------------------------------

    def deliver(self, folder: str, raw: bytes) -> int:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # servers store CRLF
        uid = self.uidnext[folder]
        self.folders[folder][uid] = raw
        self.uidnext[folder] = uid + 1
        return uid

    def renumber(self, folder: str) -> None:
        """A new UIDVALIDITY: the same messages under new UIDs."""
        messages = [self.folders[folder][u] for u in sorted(self.folders[folder])]
        self.uidvalidity[folder] += 1
        self.folders[folder] = {i: raw for i, raw in enumerate(messages, start=1)}
        self.uidnext[folder] = len(messages) + 1

    # -- the Mailbox interface -----------------------------------------------------------------

    def examine(self, folder: str) -> FolderState:
        if folder not in self.folders:
            raise IMAPClientError(f"select failed: Mailbox doesn't exist: {folder}")
        self.selected = folder
        self.examined.append(folder)
        return FolderState(
            self.uidvalidity[folder], self.uidnext[folder] - 1, len(self.folders[folder])
        )

    def status(self, folder: str) -> FolderState | None:
        if folder not in self.folders or folder == self.selected or not self.status_fields:
            return None
        return FolderState(
            self.uidvalidity[folder], self.uidnext[folder] - 1, len(self.folders[folder])
        )

    def scan(
        self, first: int, last: int, candidate: Callable[[bytes], bool]
    ) -> tuple[list[tuple[int, bytes]], int]:
        found, seen = [], 0
        messages = self.folders[self.selected]
        for uid in sorted(u for u in messages if first <= u <= last):
            if self.drop_after is not None:
                if self.drop_after <= 0:
                    self.drop_after = None
                    raise ConnectionDropped("The connection to memory:143 was lost.")
                self.drop_after -= 1
            header = header_fields(messages[uid])
            seen += 1
            if candidate(header):
                found.append((uid, header))
        return found, seen

    def sizes(self, uids: Iterable[int]) -> dict[int, int]:
        return {u: len(self.folders[self.selected][u]) for u in uids}

    def messages(self, uids: list[int], announced: int) -> dict[int, bytes]:
        if self.fail_fetch is not None:
            failure, self.fail_fetch = self.fail_fetch, None
            raise failure
        return {u: self.folders[self.selected][u] for u in uids}

    def text_only(self, uid: int) -> tuple[bytes, str, int]:
        raw = self.folders[self.selected][uid]
        parsed = parse.parse(raw)
        return raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n", parsed.body, len(parsed.attachments)
