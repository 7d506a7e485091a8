"""`hubsync attachments save`: a stored attachment written back out under its original name,
made safe (no directories, no control or reserved characters, never overwriting a file)."""

import re
from dataclasses import asdict, dataclass
from pathlib import Path

from hubsync.errors import NotFound, StoreError, UsageError
from hubsync.store import Store

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|\u202a-\u202e\u2066-\u2069]')


@dataclass
class Saved:
    id: int
    filename: str
    size: int
    sha256: str
    path: str

    def to_dict(self) -> dict:
        return asdict(self)


def safe_name(name: str | None, sha256: str) -> str:
    """A file name that stays inside the target folder and displays as what it is."""
    cleaned = _UNSAFE.sub("_", (name or "").strip()).strip(". ")
    return cleaned[:200] or f"attachment-{sha256[:12]}"


def find(store: Store, account: str, ref: str) -> dict:
    """The attachment row for an id, or a sha256 (or its first 8+ hex digits)."""
    sql = (
        "SELECT a.id, a.filename, a.size, a.sha256, a.mime_type FROM attachments a "
        "JOIN messages m ON m.id = a.message_pk WHERE m.account = ? AND "
    )
    if ref.isdigit():
        rows = store._all(sql + "a.id = ?", account, int(ref))
    elif re.fullmatch(r"[0-9a-fA-F]{8,64}", ref):
        rows = store._all(sql + "a.sha256 LIKE ?", account, ref.lower() + "%")
    else:
        raise UsageError(
            f"{ref!r} is neither an attachment id nor a sha256.",
            fix="Take the id or sha256 from `hubsync contacts ADDRESS --json` or "
            "`hubsync threads --json`.",
        )
    if not rows:
        raise NotFound(f"No stored attachment {ref} in account {account}.", reason="no-attachment")
    if len({r["sha256"] for r in rows}) > 1:
        raise UsageError(f"{ref} matches several attachments; give more of the sha256.")
    return rows[0]


def save_to(store: Store, account: str, ref: str, directory: Path) -> Saved:
    """Copy the attachment into ``directory`` under its (safe) name; "name (2).pdf" when
    the name is taken."""
    row = find(store, account, ref)
    data = store.attachment_bytes(row["sha256"])
    if data is None:
        raise StoreError(
            f"The bytes of attachment {row['id']} are missing from the store ({store.location}).",
            fix="`hubsync doctor` checks every attachment.",
            reason="attachment-missing",
        )
    directory.mkdir(parents=True, exist_ok=True)
    name = safe_name(row["filename"], row["sha256"])
    target = directory / name
    stem, suffix = Path(name).stem, Path(name).suffix
    number = 2
    while target.exists():
        target = directory / f"{stem} ({number}){suffix}"
        number += 1
    partial = target.with_name(target.name + ".part")
    try:
        partial.write_bytes(data)
        partial.chmod(0o600)
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"Could not write {target}: {exc.strerror}.") from None
    return Saved(row["id"], row["filename"] or name, row["size"], row["sha256"], str(target))
