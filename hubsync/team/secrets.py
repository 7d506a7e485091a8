"""Secrets of a team's accounts kept in the shared store, encrypted with a key file.

Workers run on servers without a desktop keyring. An account with ``credential_source =
"store"`` has its password in the store's ``secrets`` table, encrypted with Fernet (AES-128-CBC
with HMAC-SHA256, from ``cryptography``) under the key in the file named by
HUBSYNC_SECRET_KEY_FILE. The database holds ciphertext only; the key file must be readable by
its owner alone.
"""

import os
import stat
from pathlib import Path

from hubsync import environment, paths, redact
from hubsync.environment import SECRET_KEY_FILE
from hubsync.errors import CredentialError
from hubsync.store import Store


def new_key_file(path: Path) -> Path:
    """Write a new random key to ``path`` (mode 0600); an existing file is never replaced."""
    from cryptography.fernet import Fernet

    exists = CredentialError(
        f"{path} exists already; a key file is never overwritten (secrets encrypted with "
        "it would be lost).",
        reason="secret-key-exists",
    )
    if path.exists() or path.is_symlink():
        raise exists
    try:
        # A folder the user named keeps its mode (`team key /tmp/team.key` must not make
        # /tmp private); the key itself is created 0600 and never replaces anything.
        paths.write_private_file(
            path, Fernet.generate_key() + b"\n", own_folder=False, replace=False
        )
    except FileExistsError:
        raise exists from None
    return path


def _fernet():
    from cryptography.fernet import Fernet

    name = environment.current().secret_key_file
    if not name:
        raise CredentialError(
            "No key file for the team store's secrets is given.",
            fix=f"Set {SECRET_KEY_FILE} to the key file (`hubsync team key FILE` makes one).",
            reason="secret-key-missing",
        )
    path = Path(name)
    try:
        info = path.stat()
        mode = info.st_mode
        key = path.read_bytes().strip()
    except OSError as exc:
        raise CredentialError(
            f"The key file {path} cannot be read: {exc.strerror}.",
            fix=f"Check {SECRET_KEY_FILE}.",
            reason="secret-key-missing",
        ) from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialError(
            f"The key file {path} can be read by others (mode {stat.S_IMODE(mode):o}).",
            fix=f"chmod 600 {path}",
            reason="secret-key-unsafe",
        )
    if os.name == "posix" and info.st_uid not in (os.getuid(), 0):
        raise CredentialError(
            f"The key file {path} belongs to another user (uid {info.st_uid}), who could "
            "replace it.",
            fix=f"chown {os.getuid()} '{path}' (or make your own key with `hubsync team key`).",
            reason="secret-key-unsafe",
        )
    try:
        return Fernet(key)
    except ValueError:
        raise CredentialError(
            f"{path} does not hold a key made by `hubsync team key`.",
            reason="secret-key-invalid",
        ) from None


def put(store: Store, account: str, secret: str) -> None:
    """Encrypt ``secret`` with the key file and keep it in the store for ``account``."""
    redact.register(secret)
    store.set_secret(account, _fernet().encrypt(secret.encode("utf-8")))


def get(store: Store, account: str) -> str:
    """The account's secret from the store, decrypted; CredentialError when there is none or
    the key does not open it."""
    from cryptography.fernet import InvalidToken

    ciphertext = store.secret(account)
    if ciphertext is None:
        raise CredentialError(
            f"The team store holds no secret for account {account!r}.",
            fix=f"Store it with `hubsync team secret {account} --password-stdin`.",
            reason="secret-missing",
        )
    try:
        value = _fernet().decrypt(ciphertext).decode("utf-8")
    except InvalidToken:
        raise CredentialError(
            f"The key file does not open the secret of account {account!r} (another key, "
            "or the secret was altered).",
            fix="Use the key file the secret was stored with, or store it again.",
            reason="secret-key-wrong",
        ) from None
    redact.register(value)
    return value
