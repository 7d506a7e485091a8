"""Where an account's password comes from, in this order:

1. ``--password-stdin`` (the CLI reads it and passes it in),
2. the ``HUBSYNC_PASSWORD`` environment variable,
3. the account's ``password_command`` (run without a shell; first line of its stdout),
4. the OS keyring (service ``hubsync``, one entry per account).

Storing refuses plaintext, null and fail keyring backends: a secret is never written to a
plain file behind the user's back.
"""

import os
import subprocess
from dataclasses import dataclass

from hubsync.errors import CredentialError

SERVICE = "hubsync"
ENV_VAR = "HUBSYNC_PASSWORD"
_ALTERNATIVES = (
    "Alternatives: unlock or install a Secret Service keyring (gnome-keyring, KWallet), "
    "or give the password per run with --password-stdin, the HUBSYNC_PASSWORD environment "
    "variable, or a password_command in config.toml (for example `pass show mail/work`)."
)


@dataclass
class Secret:
    value: str
    source: str  # "stdin" | "env" | "command" | "keyring"

    def __repr__(self) -> str:  # never print the secret, even in a traceback's locals
        return f"Secret(source={self.source!r}, value='***')"


def _backend():
    """The one backend that would really hold the secret.

    A chainer writes to the first of its backends that accepts the write, which could fall
    through to a plaintext file; hubsync talks only to the highest-priority one instead.
    """
    import keyring
    from keyring.backends import chainer

    backend = keyring.get_keyring()
    if isinstance(backend, chainer.ChainerBackend) and backend.backends:
        return backend.backends[0]
    return backend


def describe_backend() -> tuple[str, bool]:
    """Return (backend name, usable for secrets)."""
    try:
        backend = _backend()
    except Exception as exc:  # keyring raises a broad set when D-Bus is missing
        return (f"unavailable ({type(exc).__name__})", False)
    return (_backend_name(backend), _backend_is_safe(backend))


def _backend_name(backend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _backend_is_safe(backend) -> bool:
    from keyring.backends import chainer, fail, null

    if isinstance(backend, chainer.ChainerBackend):
        return False  # an empty chain: nothing would hold the secret
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return False
    name = _backend_name(backend).lower()
    return "plaintext" not in name and "uncrypted" not in name


def _safe_backend():
    try:
        backend = _backend()
    except Exception as exc:
        raise CredentialError(
            f"No usable keyring: {exc}", fix=_ALTERNATIVES, reason="keyring-unavailable"
        ) from None
    if not _backend_is_safe(backend):
        raise CredentialError(
            f"The active keyring backend ({_backend_name(backend)}) would keep the password "
            "in plain text or not at all, so hubsync refuses to store it.",
            fix=_ALTERNATIVES,
            reason="keyring-unsafe",
        )
    return backend


def store(account: str, password: str) -> None:
    """Save the password in the OS keyring; refuse unsafe backends."""
    backend = _safe_backend()
    try:
        backend.set_password(SERVICE, account, password)
    except Exception as exc:
        raise CredentialError(
            f"The keyring refused to store the password: {type(exc).__name__}",
            fix=_ALTERNATIVES,
            reason="keyring-write-failed",
        ) from None


def delete(account: str) -> bool:
    """Remove the account's keyring entry; return whether one existed."""
    try:
        backend = _safe_backend()
        if backend.get_password(SERVICE, account) is None:
            return False
        backend.delete_password(SERVICE, account)
        return True
    except CredentialError:
        return False
    except Exception:
        return False


def from_keyring(account: str) -> str | None:
    try:
        return _safe_backend().get_password(SERVICE, account)
    except CredentialError:
        return None
    except Exception:
        return None


def run_password_command(command: list[str], timeout: float = 30.0) -> str:
    """Run ``command`` without a shell and return the first line of its output."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CredentialError(
            f"password_command {command[0]!r} could not run: {type(exc).__name__}",
            fix="Check the command in config.toml.",
            reason="password-command-failed",
        ) from None
    if done.returncode != 0:
        raise CredentialError(
            f"password_command {command[0]!r} exited with {done.returncode}.",
            fix="Run it by hand to see why.",
            reason="password-command-failed",
        )
    line = done.stdout.splitlines()[0] if done.stdout else ""
    if not line:
        raise CredentialError(
            f"password_command {command[0]!r} printed nothing.", reason="password-command-failed"
        )
    return line


def resolve(
    account: str, password_command: list[str] | None = None, stdin_value: str | None = None
) -> Secret:
    """Find the password for ``account`` from the sources, in order."""
    if stdin_value is not None:
        return Secret(stdin_value, "stdin")
    if os.environ.get(ENV_VAR):
        return Secret(os.environ[ENV_VAR], "env")
    if password_command:
        return Secret(run_password_command(password_command), "command")
    value = from_keyring(account)
    if value is not None:
        return Secret(value, "keyring")
    raise CredentialError(
        f"No password found for account {account!r}.",
        fix=f"Run `hubsync connect` again to store it, or use --password-stdin, {ENV_VAR} "
        "or a password_command.",
        reason="secret-missing",
    )
