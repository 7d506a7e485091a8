"""Credentials: the real gnome-keyring over D-Bus, and refusal of plaintext backends."""

import sys

import keyring
import keyring.compat.properties
import keyring.core
import keyring.errors
import pytest
from helpers import redetect_keyring

from hubsync import credentials
from hubsync.errors import CredentialError, KeyringLockedError


@pytest.fixture
def gnome_keyring(sandbox, monkeypatch):
    for key, value in sandbox.keyring.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    redetect_keyring()  # viability is cached from the first look
    keyring.core.init_backend()
    yield
    keyring.core._keyring_backend = None


def test_secret_round_trip_through_gnome_keyring(gnome_keyring):
    name, usable = credentials.describe_backend()
    assert "SecretService" in name and usable
    credentials.store("roundtrip-account", "s3cret-värde")
    assert credentials.from_keyring("roundtrip-account") == "s3cret-värde"
    assert credentials.resolve("roundtrip-account").source == "keyring"
    assert credentials.delete("roundtrip-account") is True
    assert credentials.from_keyring("roundtrip-account") is None


def test_a_read_goes_straight_to_the_secret_service_where_keyring_would_choose_it(
    gnome_keyring, monkeypatch
):
    """The start-up shortcut: the same secret, without keyring's detection (which loads
    every backend plugin); on KDE, where keyring ranks KWallet first, the detection runs."""
    credentials.store("shortcut-account", "via-secret-service")
    keyring.core._keyring_backend = None  # as in a new process
    assert credentials.from_keyring("shortcut-account") == "via-secret-service"
    assert keyring.core._keyring_backend is None  # no detection ran
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "KDE")
    assert credentials.from_keyring("shortcut-account") == "via-secret-service"
    assert keyring.core._keyring_backend is not None  # keyring chose (the Secret Service here)
    assert credentials.from_keyring("missing-account") is None
    assert credentials.delete("shortcut-account") is True


def test_plaintext_backend_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    redetect_keyring()  # viability is cached from the first look
    keyring.core.init_backend()
    try:
        with pytest.raises(CredentialError) as caught:
            credentials.store("plain-account", "never-on-disk")
        assert caught.value.reason == "keyring-unsafe"
        assert "--password-stdin" in caught.value.fix
        assert not any(
            p.is_file() and "never-on-disk" in p.read_text(errors="ignore")
            for p in tmp_path.rglob("*")
        )
    finally:
        monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
        keyring.core._keyring_backend = None  # detected afresh on next use


def test_null_backend_is_refused(monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    redetect_keyring()  # viability is cached from the first look
    keyring.core.init_backend()
    try:
        with pytest.raises(CredentialError):
            credentials.store("null-account", "x-secret")
    finally:
        monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
        keyring.core._keyring_backend = None  # detected afresh on next use


def test_sources_in_order(monkeypatch):
    monkeypatch.setenv("HUBSYNC_PASSWORD", "from-env")
    assert credentials.resolve("a", stdin_value="from-stdin").source == "stdin"
    assert credentials.resolve("a", [sys.executable, "-c", "print('cmd')"]).value == "from-env"
    monkeypatch.delenv("HUBSYNC_PASSWORD")
    secret = credentials.resolve("a", [sys.executable, "-c", "print('from-cmd\\nsecond')"])
    assert (secret.value, secret.source) == ("from-cmd", "command")
    assert "from-cmd" not in repr(secret)


def test_failing_password_command_is_a_clear_error():
    with pytest.raises(CredentialError, match="exited with 3"):
        credentials.resolve("a", [sys.executable, "-c", "import sys; sys.exit(3)"])


class LockedKeyring(keyring.backend.KeyringBackend):
    """A keyring that holds secrets but will not give them out (as a locked collection).
    Never chosen by keyring's own discovery (its priority raises): set only explicitly."""

    @keyring.compat.properties.classproperty
    def priority(cls):
        raise RuntimeError("used only where a test sets it")

    def get_password(self, service, username):
        raise keyring.errors.KeyringLocked("collection is locked")

    def set_password(self, service, username, password):
        raise keyring.errors.KeyringLocked("collection is locked")

    def delete_password(self, service, username):
        raise keyring.errors.KeyringLocked("collection is locked")


@pytest.fixture
def locked_keyring():
    previous = keyring.core._keyring_backend
    keyring.set_keyring(LockedKeyring())
    yield
    keyring.core._keyring_backend = previous


def test_a_locked_keyring_is_reported_as_locked_not_as_missing(locked_keyring, home):
    assert credentials.keyring_status("a") == "locked"
    with pytest.raises(KeyringLockedError) as caught:
        credentials.resolve("a")
    assert caught.value.reason == "keyring-locked"
    assert "--password-stdin" in caught.value.fix
    with pytest.raises(KeyringLockedError):
        credentials.delete("a")


def test_prompt_comes_after_the_command_and_before_the_keyring(locked_keyring, home):
    asked = []

    def prompt():
        asked.append(True)
        return "typed"

    secret = credentials.resolve("a", [sys.executable, "-c", "print('cmd')"], prompt=prompt)
    assert (secret.source, asked) == ("command", [])
    secret = credentials.resolve("a", prompt=prompt)
    assert (secret.value, secret.source, asked) == ("typed", "prompt", [True])


def test_outside_a_desktop_session_the_cause_and_three_fixes_are_named(offline_cli, tmp_path):
    """As cron runs it: no D-Bus session bus, so no keyring; sync stores nothing, and the
    error says so instead of blaming a plaintext backend."""
    offline_cli.home.mkdir(parents=True)
    (offline_cli.home / "config.toml").write_text(
        '[accounts.a]\nemail = "a@example.test"\nusername = "a"\nimap_host = "127.0.0.1"\n'
        "imap_port = 1\n"
    )
    done = offline_cli("sync", "--json", env={"XDG_RUNTIME_DIR": str(tmp_path / "no-runtime")})
    assert done.code == 3, done.stderr
    error = done.json()
    assert error["error"] == "keyring-no-session"
    assert "no desktop session" in error["message"]
    assert "refuses to store" not in error["message"]
    for fix in ("password_command", "hubsync team secret", "hubsync service install"):
        assert fix in error["fix"]
