"""What a sync did, per folder and in total (the numbers behind `sync --json`)."""

from dataclasses import asdict, dataclass, field


@dataclass
class FolderStats:
    folder: str
    scanned: int = 0
    matched: int = 0
    logged: int = 0
    already_logged: int = 0
    never_log_hits: int = 0  # matched, but a never_log rule kept them out
    attachments_logged: int = 0
    attachments_skipped: int = 0
    deliveries_proven: int = 0  # replies that proved an uncertain send reached its recipient
    vanished: int = 0  # matched, then moved or deleted before its body was read
    unreadable: int = 0  # messages that could not be read (recorded as message-error events)
    marked: int = 0  # messages the user marked for the log in their mail client (client_ways)
    by_way: dict[str, int] = field(default_factory=dict)  # of those, logged per way
    uidvalidity_changed: bool = False
    caught_up: bool = False  # part of it was scanned again: a reply's parent came later
    position_reset: bool = False  # the saved position was past the server's: rescanned
    unchanged: bool = False  # STATUS showed nothing new since the last sync: not selected
    last_uid: int = 0
    seconds: float = 0.0  # wall time of this folder's sync (SELECT to last position)


@dataclass
class SyncReport:
    account: str
    folders: list[FolderStats] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    messages: list = field(default_factory=list)  # LoggedMessage: what this run logged

    def total(self, name: str) -> int:
        """The sum of one figure over every folder."""
        return sum(getattr(f, name) for f in self.folders)

    def by_way(self) -> dict[str, int]:
        """Messages logged from the user's mail client, per way, over every folder."""
        ways: dict[str, int] = {}
        for folder in self.folders:
            for way, count in folder.by_way.items():
                ways[way] = ways.get(way, 0) + count
        return ways

    def to_dict(self) -> dict:
        """JSON-ready data (`sync --json`)."""
        keys = (
            "scanned",
            "matched",
            "logged",
            "never_log_hits",
            "attachments_logged",
            "attachments_skipped",
            "unreadable",
        )
        return {
            "account": self.account,
            **{k: self.total(k) for k in keys},
            "logged_by_way": self.by_way(),
            "errors": self.errors,
            "folders": [asdict(f) for f in self.folders],
            "messages": [m.to_dict() for m in self.messages],
        }
