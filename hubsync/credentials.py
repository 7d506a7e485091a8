"""Where an account's password comes from, in this order:

1. ``--password-stdin`` (the CLI reads it and passes it in),
2. the ``HUBSYNC_PASSWORD`` environment variable,
3. the account's ``password_command`` (run without a shell; first line of its stdout),
4. a prompt, when the caller offers one (``connect`` on a terminal),
5. the OS keyring (service ``hubsync``, one entry per account).

A keyring that is locked or unreachable is an error that says so, never "no password".

Storing refuses plaintext, null and fail keyring backends: a secret is never written to a
plain file behind the user's back.
"""

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from hubsync import environment
from hubsync.errors import CredentialError, KeyringLockedError

SERVICE = "hubsync"
ENV_VAR = environment.PASSWORD
# keyring is imported only when a command needs it (about 60 ms of start-up otherwise).


def _backend_errors() -> tuple[type[BaseException], ...]:
    """What a keyring backend raises when D-Bus, the daemon or the collection is not there."""
    from keyring.errors import KeyringError

    return (KeyringError, OSError, RuntimeError, ImportError)


def _keyring_locked() -> type[BaseException]:
    from keyring.errors import KeyringLocked

    return KeyringLocked


_ALTERNATIVES = (
    "Alternatives: unlock or install a Secret Service keyring (gnome-keyring, KWallet), "
    "or give the password per run with --password-stdin, the HUBSYNC_PASSWORD environment "
    "variable, or a password_command in config.toml (for example `pass show mail/work`)."
)


@dataclass
class Secret:
    value: str
    source: str  # "stdin" | "env" | "command" | "prompt" | "keyring"

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


def _secret_service_errors() -> tuple[type[BaseException], ...]:
    from secretstorage.exceptions import SecretStorageException

    return (SecretStorageException,)


def _secret_service_if_chosen():
    """The Secret Service backend where keyring itself would choose it, found without
    keyring's detection, which imports every backend plugin it knows (macOS, Windows,
    KWallet, keyrings.alt: about 75 ms of each run, most of a no-change sync's start-up).

    That is on Linux outside KDE (where KWallet ranks first), with no backend chosen by the
    user (PYTHON_KEYRING_BACKEND, keyringrc.cfg) or already chosen in this process. None
    otherwise: the full detection decides. Only for reading; storing always detects.
    """
    if sys.platform != "linux" or os.environ.get("PYTHON_KEYRING_BACKEND"):
        return None
    if not session_bus_reachable():
        return None
    if "KDE" in os.environ.get("XDG_CURRENT_DESKTOP", "").upper():
        return None
    from keyring import core
    from keyring.util import platform_

    if core._keyring_backend is not None:  # noqa: SLF001 - set already: that one is used
        return None
    if os.path.exists(os.path.join(platform_.config_root(), "keyringrc.cfg")):
        return None
    try:
        from keyring.backends import SecretService
    except ImportError:
        return None
    return SecretService.Keyring()


def describe_backend() -> tuple[str, bool]:
    """Return (backend name, usable for secrets)."""
    try:
        backend = _backend()
    except _backend_errors() as exc:
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


def session_bus_reachable() -> bool:
    """Whether a D-Bus session bus (where the Secret Service lives) can be found: the
    desktop session's variable, or the per-user socket systemd provides. A backend the user
    chose (PYTHON_KEYRING_BACKEND) is judged on its own, bus or not."""
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS") or os.environ.get("PYTHON_KEYRING_BACKEND"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return os.path.exists(os.path.join(runtime, "bus"))


NO_SESSION_FIX = (
    "Outside a desktop session (cron, ssh, a system service) give the account a credential "
    "that needs none: (1) a password_command in config.toml (for example `pass show "
    "mail/work`, `hubsync accounts set NAME --password-command ...`), (2) the team store's "
    "encrypted secret (`hubsync team secret NAME`), or (3) run inside your session: "
    "`hubsync service install` (a systemd user unit), or export DBUS_SESSION_BUS_ADDRESS "
    "from it. For one run, HUBSYNC_PASSWORD or --password-stdin."
)


def _no_session() -> CredentialError:
    return CredentialError(
        "The keyring cannot be reached: there is no desktop session here (no D-Bus session "
        "bus: DBUS_SESSION_BUS_ADDRESS is unset and XDG_RUNTIME_DIR has no bus socket), as "
        "under cron, ssh or a system service.",
        fix=NO_SESSION_FIX,
        reason="keyring-no-session",
    )


def _safe_backend(action: str = "use"):
    try:
        backend = _backend()
    except _backend_errors() as exc:
        if not session_bus_reachable():
            raise _no_session() from None
        raise CredentialError(
            f"No usable keyring: {exc}", fix=_ALTERNATIVES, reason="keyring-unavailable"
        ) from None
    if not _backend_is_safe(backend):
        if not session_bus_reachable():
            raise _no_session()
        raise CredentialError(
            f"The active keyring backend ({_backend_name(backend)}) would keep the password "
            f"in plain text or not at all, so hubsync refuses to {action} it.",
            fix=_ALTERNATIVES,
            reason="keyring-unsafe",
        )
    return backend


def _call(action: str, reason: str, fix: str, method: str, *args: str):
    """Call a method of the safe backend; a locked keyring raises KeyringLockedError, any
    other backend failure a CredentialError that says what could not be done."""
    backend = _safe_backend("store" if method == "set_password" else "use")
    try:
        return getattr(backend, method)(SERVICE, *args)
    except _keyring_locked():
        raise _locked() from None
    except _backend_errors() as exc:
        if not session_bus_reachable():
            raise _no_session() from None
        raise CredentialError(
            f"The keyring {action}: {type(exc).__name__}", fix=fix, reason=reason
        ) from None


def store(account: str, password: str) -> None:
    """Save the password in the OS keyring; refuse unsafe backends."""
    _call(
        "refused to store the password",
        "keyring-write-failed",
        _ALTERNATIVES,
        "set_password",
        account,
        password,
    )


def delete(account: str) -> bool:
    """Remove the account's keyring entry; return whether one existed. A keyring that is
    locked or unreachable raises CredentialError (the secret may still be there)."""
    if from_keyring(account) is None:
        return False
    _call(
        "refused to delete the password",
        "keyring-delete-failed",
        "Delete the entry 'hubsync' / the account name with your keyring's own tool.",
        "delete_password",
        account,
    )
    return True


def from_keyring(account: str) -> str | None:
    """The stored password, or None when the keyring holds none for ``account``.

    Raises CredentialError when the keyring is locked, unsafe or unreachable: "we could not
    look" is never reported as "there is nothing".
    """
    likely = _secret_service_if_chosen()
    if likely is not None:
        try:
            return likely.get_password(SERVICE, account)
        except _keyring_locked():
            raise _locked() from None
        except _backend_errors() + _secret_service_errors():
            pass  # the full detection below says what is wrong
    return _call("could not be read", "keyring-unavailable", _ALTERNATIVES, "get_password", account)


def keyring_status(account: str) -> str:
    """ "stored", "missing", "locked" or "unavailable": what the keyring says of ``account``."""
    try:
        return "stored" if from_keyring(account) is not None else "missing"
    except KeyringLockedError:
        return "locked"
    except CredentialError:
        return "unavailable"


def _locked() -> KeyringLockedError:
    return KeyringLockedError(
        "The keyring is locked.",
        fix="Unlock it (log in to the desktop session, or `gnome-keyring-daemon --unlock`), "
        "or give the password with --password-stdin or HUBSYNC_PASSWORD.",
    )


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
    account: str,
    password_command: list[str] | None = None,
    stdin_value: str | None = None,
    prompt: Callable[[], str] | None = None,
    use_keyring: bool = True,
) -> Secret:
    """The password for ``account`` from the first source that has one (see the module
    docstring for the order); CredentialError when none does. ``use_keyring`` False: an
    account connected with ``--store none`` never takes a password left in the keyring."""
    if stdin_value is not None:
        return Secret(stdin_value, "stdin")
    env_value = environment.current().password
    if env_value:
        return Secret(env_value, "env")
    if password_command:
        return Secret(run_password_command(password_command), "command")
    if prompt is not None:
        return Secret(prompt(), "prompt")
    if not use_keyring:
        raise CredentialError(
            f"Account {account!r} keeps no password (it was connected with --store none).",
            fix=f"Give it with --password-stdin, {ENV_VAR} or a password_command in "
            "config.toml; or run `hubsync connect` again without --store none to keep it in "
            "the keyring.",
            reason="secret-missing",
        )
    value = from_keyring(account)
    if value is not None:
        return Secret(value, "keyring")
    raise CredentialError(
        f"No password found for account {account!r}.",
        fix=f"Run `hubsync connect` again to store it, or use --password-stdin, {ENV_VAR} "
        "or a password_command.",
        reason="secret-missing",
    )
