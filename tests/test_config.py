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


BASE = 'email = "me@b.test"\nusername = "me"\nimap_host = "h"\nimap_port = 993\n'


@pytest.mark.parametrize(
    "line, key, expected",
    [
        ('never_log = "customer.test"', "never_log", "a list of strings"),
        ('log_attachments = "no"', "log_attachments", "true or false"),
        ('attachment_limit_mb = "x"', "attachment_limit_mb", "a number of megabytes"),
        ("attachment_limit_mb = 0", "attachment_limit_mb", "a number of megabytes"),
        ('password_command = "echo"', "password_command", "a list of strings"),
        ('imap_port = "abc"', "imap_port", "a whole number"),
        ("smtp_port = 70000", "smtp_port", "a whole number"),
        ('sent_copy = "maybe"', "sent_copy", "one of auto, always, never"),
        ("display_name = 5", "display_name", "a string"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_naming_key_file_and_type(
    tmp_path, line, key, expected
):
    path = tmp_path / "config.toml"
    lines = [x for x in BASE.splitlines() if not x.startswith(key)]
    path.write_text("[accounts.a]\n" + "\n".join([*lines, line]) + "\n")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert (caught.value.details["key"], caught.value.details["file"]) == (key, str(path))
    assert expected in caught.value.message and str(path) in caught.value.message


def test_well_typed_values_load(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        "[accounts.a]\n" + BASE + 'never_log = ["hr.test"]\nlog_attachments = false\n'
        'attachment_limit_mb = 0.5\npassword_command = ["pass", "show", "x"]\n'
    )
    account = config.load(path).account("a")
    assert (account.never_log, account.log_attachments, account.attachment_limit_mb) == (
        ["hr.test"],
        False,
        0.5,
    )


def test_a_store_url_with_a_password_anywhere_is_refused_and_never_shown(tmp_path):
    from hubsync.urls import redact_url

    for url in (
        "postgresql://team:s3cret@db.example.com/hubsync",
        "postgresql://team@db.example.com/hubsync?password=s3cret",
        "postgresql://db.example.com/hubsync?sslmode=require&SSLPassword=s3cret",
    ):
        path = tmp_path / "config.toml"
        path.write_text(f'store_url = "{url}"\n')
        with pytest.raises(ConfigError) as refused:
            config.load(path)
        assert "s3cret" not in refused.value.message and "password" in refused.value.message
        assert "s3cret" not in redact_url(url)
    kept = redact_url("postgresql://team:s3cret@db.example.com:5433/hubsync?sslmode=require")
    assert kept == "postgresql://team@db.example.com:5433/hubsync?sslmode=require"
    path.write_text('store_url = "postgresql://team@db.example.com/hubsync?sslmode=require"\n')
    assert config.load(path).store_url.endswith("sslmode=require"), "no secret: accepted"


def test_a_config_others_can_write_is_refused_before_any_command_runs(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "config.toml"
    path.write_text(
        '[accounts.a]\nemail = "a@example.test"\nusername = "a"\nimap_host = "h"\n'
        f'imap_port = 993\npassword_command = ["touch", "{marker}"]\n'
    )
    path.chmod(0o666)
    with pytest.raises(ConfigError) as refused:
        config.load(path)
    assert refused.value.reason == "config-unsafe"
    assert refused.value.fix == f"chmod go-w '{path.resolve()}'"
    assert not marker.exists()
    path.chmod(0o600)
    assert config.load(path).accounts["a"].password_command == ["touch", str(marker)]
    # A symlinked config (a dotfiles checkout) is judged by the file it points at.
    link = tmp_path / "link.toml"
    link.symlink_to(path)
    assert "a" in config.load(link).accounts


def test_a_symlinked_config_is_written_through_to_its_target(tmp_path):
    """#23 item 11: a dotfiles checkout's link was replaced by a plain file on the first save."""
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "hubsync.toml"
    target.write_text('default_account = ""\n')
    target.chmod(0o600)
    link = tmp_path / "config.toml"
    link.symlink_to(target)
    loaded = config.load(link)
    loaded.default_account = "work"
    loaded.save()
    assert link.is_symlink() and link.resolve() == target
    assert 'default_account = "work"' in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
