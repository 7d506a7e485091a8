"""Secrets of team accounts kept in the store, encrypted with a key file (on SQLite and
PostgreSQL): never in clear in the database, readable only with the right, private key."""

import os

import pytest

from hubsync import environment
from hubsync.errors import CredentialError
from hubsync.team import secrets


@pytest.fixture
def key_file(tmp_path, home):
    path = secrets.new_key_file(tmp_path / "team.key")
    with environment.use(environment.Environment(home=home, secret_key_file=str(path))):
        yield path


def test_a_secret_is_kept_encrypted_and_read_back_with_the_key(store, key_file):
    secrets.put(store, "alice", "s3cret-mail-pw")
    assert b"s3cret-mail-pw" not in store.secret("alice")
    assert secrets.get(store, "alice") == "s3cret-mail-pw"
    secrets.put(store, "alice", "changed-pw")  # replaced, not added
    assert secrets.get(store, "alice") == "changed-pw"
    assert key_file.stat().st_mode & 0o077 == 0


def test_another_key_a_missing_key_and_a_readable_key_are_clear_errors(store, key_file, tmp_path):
    secrets.put(store, "alice", "s3cret-mail-pw")
    other = secrets.new_key_file(tmp_path / "other.key")
    cases = {
        str(other): "secret-key-wrong",
        str(tmp_path / "nope.key"): "secret-key-missing",
        "": "secret-key-missing",
    }
    for name, reason in cases.items():
        with environment.use(environment.Environment(secret_key_file=name)):
            with pytest.raises(CredentialError) as failed:
                secrets.get(store, "alice")
        assert failed.value.reason == reason
        assert "s3cret-mail-pw" not in failed.value.message
    key_file.chmod(0o644)
    with pytest.raises(CredentialError) as unsafe:
        secrets.get(store, "alice")
    assert unsafe.value.reason == "secret-key-unsafe" and "chmod 600" in unsafe.value.fix


def test_no_secret_stored_says_how_to_store_one(store, key_file):
    with pytest.raises(CredentialError) as failed:
        secrets.get(store, "bob")
    assert failed.value.reason == "secret-missing"
    assert "hubsync team secret bob --password-stdin" in failed.value.fix


def test_a_key_file_is_never_overwritten(key_file):
    before = key_file.read_bytes()
    with pytest.raises(CredentialError):
        secrets.new_key_file(key_file)
    assert key_file.read_bytes() == before


def test_a_key_in_an_existing_shared_folder_leaves_the_folder_as_it_was(tmp_path):
    """#23 item 5: `team key /tmp/team.key` made /tmp 0700 for everyone."""
    import os

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # noqa: S103 (a shared folder such as /tmp, on purpose)
    key = secrets.new_key_file(shared / "team.key")
    assert os.stat(shared).st_mode & 0o7777 == 0o1777
    assert os.stat(key).st_mode & 0o777 == 0o600
    made = secrets.new_key_file(tmp_path / "new" / "team.key")  # a folder it makes: private
    assert os.stat(made.parent).st_mode & 0o777 == 0o700


def test_a_key_is_never_written_through_a_planted_link(tmp_path):
    target = tmp_path / "victim"
    target.write_text("keep me")
    link = tmp_path / "team.key"
    link.symlink_to(target)
    with pytest.raises(CredentialError) as refused:
        secrets.new_key_file(link)
    assert refused.value.reason == "secret-key-exists"
    assert target.read_text() == "keep me"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_key_file_another_user_owns_is_refused(store, key_file):
    secrets.put(store, "alice", "s3cret-mail-pw")
    os.chown(key_file, 4242, -1)  # someone else's file: they could swap the key
    with pytest.raises(CredentialError) as refused:
        secrets.get(store, "alice")
    assert refused.value.reason == "secret-key-unsafe" and "uid 4242" in refused.value.message
