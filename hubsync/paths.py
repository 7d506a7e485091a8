"""Where hubsync keeps its files: ``HUBSYNC_HOME`` if set, else the platform's directories."""

import errno
import os
from pathlib import Path

import platformdirs

from hubsync import environment
from hubsync.errors import StoreError

APP = "hubsync"


def config_dir() -> Path:
    """The folder of config.toml."""
    home = environment.current().home
    return home if home else Path(platformdirs.user_config_dir(APP))


def data_dir() -> Path:
    """The folder of the store and the attachment files."""
    home = environment.current().home
    return home / "data" if home else Path(platformdirs.user_data_dir(APP))


def config_file() -> Path:
    """The path of config.toml."""
    return config_dir() / "config.toml"


def others_can_change(path: Path) -> tuple[str, str] | None:
    """Why another user could change ``path`` (its target, for a symlink), and the exact
    command that stops it; None when only its owner (this user or root) can."""
    info = path.stat()
    if info.st_mode & 0o022:
        mode = f"{info.st_mode & 0o777:o}"
        return f"can be changed by other users (mode {mode})", f"chmod go-w '{path.resolve()}'"
    if info.st_uid not in (os.getuid(), 0):
        return (
            f"belongs to another user (uid {info.st_uid})",
            f"chown {os.getuid()} '{path.resolve()}'",
        )
    return None


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) as 0700 directories; tighten it if it exists."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private_file(
    path: Path, data: bytes, own_folder: bool = True, replace: bool = True
) -> None:
    """Write ``data`` atomically into a 0600 file (temp file, fsync, rename). A symlink at
    ``path`` (a dotfiles checkout of config.toml) is written through: its target is replaced,
    beside the target. ``own_folder``: the folder is hubsync's and made private even if it
    exists; otherwise (a place the user named) an existing folder keeps its mode.
    ``replace``: False never replaces anything at ``path`` (FileExistsError instead)."""
    if path.is_symlink():
        path = path.resolve()
    if own_folder:
        ensure_private_dir(path.parent)
    elif not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)  # a crashed run's leftover (never followed: O_EXCL)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if anything (a file, a planted link) is there
            tmp.unlink()
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StoreError(
                f"The disk holding {path.parent} is full; {path.name} was not "
                "written and nothing was lost.",
                fix="Free some space and run the command again.",
                reason="disk-full",
            ) from None
        raise
