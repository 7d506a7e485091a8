"""config.toml: unknown keys are errors that name the key and file; files are private."""

import stat

import pytest

from hubsync import config
from hubsync.errors import ConfigError


def test_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        '[accounts.work]\nemail = "a@b.c"\nusername = "a"\nimap_host = "h"\n'
        'imap_port = 993\nimap_pasword = "oops"\n'
    )
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert "imap_pasword" in caught.value.message
    assert str(path) in caught.value.message


def test_unknown_top_level_key(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('defualt_account = "x"\n')
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert "defualt_account" in caught.value.message


def test_saved_config_round_trips_and_is_0600(tmp_path):
    path = tmp_path / "home" / "config.toml"
    cfg = config.Config(path=path)
    cfg.accounts["work"] = config.Account(
        name="work",
        email="a@example.test",
        username="a",
        imap_host="imap.example.test",
        imap_port=993,
    )
    cfg.default_account = "work"
    cfg.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = config.load(path)
    assert again.account().imap_host == "imap.example.test"
    assert again.default_account == "work"


def test_invalid_toml_is_a_clear_error(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[accounts\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(path)
