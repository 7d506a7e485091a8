"""Every account setting is editable from the command line, checked as config.toml is, and
`accounts show` prints what config.toml holds (TOML values), for the default account when no
name is given."""

import tomllib

import pytest

CONFIG = (
    'default_account = "work"\n[accounts.work]\nemail = "a@example.test"\nusername = "a"\n'
    'imap_host = "imap.example.test"\nimap_port = 993\nwatched_folders = ["INBOX"]\n'
)


@pytest.fixture
def configured(run_cli):
    run_cli.home.mkdir(parents=True, exist_ok=True)
    (run_cli.home / "config.toml").write_text(CONFIG)
    return run_cli


def saved(run_cli) -> dict:
    return tomllib.loads((run_cli.home / "config.toml").read_text())["accounts"]["work"]


def test_show_defaults_to_the_default_account_and_prints_toml(configured):
    shown = configured("accounts", "show")
    assert shown.code == 0, shown.stderr
    assert "[accounts.work]" in shown.stdout
    assert 'watched_folders = ["INBOX"]' in shown.stdout and "['INBOX']" not in shown.stdout
    assert "log_attachments = true" in shown.stdout and "True" not in shown.stdout
    assert configured("accounts", "show", "--json").json()["settings"]["imap_port"] == 993


@pytest.mark.parametrize(
    ("assignment", "key", "value"),
    [
        ("imap_host=mail.other.test", "imap_host", "mail.other.test"),
        ("imap_port=143", "imap_port", 143),
        ("imap_security=starttls", "imap_security", "starttls"),
        ("smtp_host=smtp.other.test", "smtp_host", "smtp.other.test"),
        ("smtp_port=587", "smtp_port", 587),
        ("timeout=60", "timeout", 60.0),
        ("log_attachments=no", "log_attachments", False),
        ("attachment_limit_mb=10", "attachment_limit_mb", 10.0),
        ("sent_folder=Gesendet", "sent_folder", "Gesendet"),
        ("watched_folders=INBOX, Customers", "watched_folders", ["INBOX", "Customers"]),
        ('never_log=["hr.example.test"]', "never_log", ["hr.example.test"]),
        ("password_command=pass show 'mail/my work'", "password_command",
         ["pass", "show", "mail/my work"]),
    ],
)  # fmt: skip
def test_set_changes_any_setting(configured, assignment, key, value):
    result = configured("accounts", "set", "--set", assignment)
    assert result.code == 0, result.stderr
    assert saved(configured)[key] == value
    assert configured("accounts", "show", "--json").json()["settings"][key] == value


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        ("imap_port=99999", "a whole number from 1 to 65535"),
        ("imap_security=tls13", "one of ssl, starttls"),
        ("timeout=-1", "seconds"),
        ("log_address=not-an-address", "an email address"),
        ("colour=blue", "not an account setting"),
        ("email=b@example.test", "not an account setting"),
        ("noequals", "KEY=VALUE"),
    ],
)
def test_a_bad_value_is_a_usage_error_and_changes_nothing(configured, assignment, expected):
    before = (configured.home / "config.toml").read_text()
    result = configured("accounts", "set", "--set", assignment)
    assert result.code == 2
    assert expected in result.stderr
    assert (configured.home / "config.toml").read_text() == before


def test_never_log_entries_are_added_and_removed_and_settings_unset(configured):
    configured("accounts", "set", "--never-log", "HR.example.test", "--never-log", "x@y.test")
    assert saved(configured)["never_log"] == ["hr.example.test", "x@y.test"]
    configured("accounts", "set", "work", "--remove-never-log", "hr.example.test")
    assert saved(configured)["never_log"] == ["x@y.test"]
    configured("accounts", "set", "--set", "timeout=60")
    configured("accounts", "set", "--unset", "timeout")
    assert "timeout" not in saved(configured)
    assert configured("accounts", "set", "--unset", "imap_host").code == 2  # required
