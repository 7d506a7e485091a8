"""Attachment bytes on disk under a content-derived name; the original name is metadata only."""

import hashlib
from pathlib import Path

from hubsync import paths


def directory() -> Path:
    """Where attachment files are kept."""
    return paths.data_dir() / "attachments"


def path_for(sha256: str) -> Path:
    """The file of the attachment with this sha256."""
    return directory() / sha256[:2] / sha256


def save(data: bytes) -> str:
    """Write ``data`` (once per content) and return its sha256."""
    digest = hashlib.sha256(data).hexdigest()
    target = path_for(digest)
    if not target.exists():
        paths.ensure_private_dir(directory())
        paths.write_private_file(target, data)
    return digest


def verify(sha256: str) -> str:
    """'ok', 'missing' or 'corrupt' for the file of ``sha256``."""
    target = path_for(sha256)
    if not target.exists():
        return "missing"
    return "ok" if hashlib.sha256(target.read_bytes()).hexdigest() == sha256 else "corrupt"
