"""`hubsync attachments save`: a stored attachment written back out under its original name,
made safe (no directories, no control or reserved characters, never overwriting a file).

The target folder may be shared with other users, who can plant links under any name the
sender chose. So nothing is ever opened by its final name: the bytes go to a fresh file made
with ``mkstemp`` (O_CREAT|O_EXCL, private) in the target folder, and that file is then linked
to the final name with ``link``, which fails when the name exists (a planted symlink
included) and never follows one; the next free name is tried instead.
"""

import contextlib
import os
import re
import tempfile
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


NAME_BYTES = 200  # of a file system's 255, leaving room for " (123)"


def safe_name(name: str | None, sha256: str) -> str:
    """A file name that stays inside the target folder, displays as what it is, and fits
    the file system (cut by encoded bytes, keeping the extension)."""
    cleaned = _UNSAFE.sub("_", (name or "").strip()).strip(". ")
    if len(cleaned.encode()) > NAME_BYTES:
        stem, suffix = os.path.splitext(cleaned)
        suffix = suffix if len(suffix.encode()) <= 16 else ""
        room = NAME_BYTES - len(suffix.encode())
        stem = stem.encode()[:room].decode("utf-8", "ignore")
        cleaned = stem.rstrip(". ") + suffix
    return cleaned or f"attachment-{sha256[:12]}"


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
            fix="Take the id or sha256 from `hubsync attachments list`.",
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
    name = safe_name(row["filename"], row["sha256"])
    if not directory.is_dir():  # a typo must not leave a tree of new folders behind
        raise UsageError(
            f"{directory} is not an existing folder; nothing was written.",
            fix=f"Create it first (mkdir -p {directory}), or give another --to.",
            reason="no-such-folder",
        )
    try:
        target = _write_new(directory, name, data)
    except OSError as exc:
        raise StoreError(f"Could not write into {directory}: {exc.strerror}.") from None
    return Saved(row["id"], row["filename"] or name, row["size"], row["sha256"], str(target))


def _write_new(directory: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to a new file under ``name`` ("name (2).pdf", ... when taken), never
    through an existing file or link."""
    fd, scratch = tempfile.mkstemp(prefix=".hubsync-", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        stem, suffix = os.path.splitext(name)
        for number in range(1, 10_000):
            target = directory / (name if number == 1 else f"{stem} ({number}){suffix}")
            try:
                os.link(scratch, target, follow_symlinks=False)
            except FileExistsError:
                continue  # taken (or a planted link): the next name
            return target
        raise FileExistsError(f"every name like {name} is taken in {directory}")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(scratch)
