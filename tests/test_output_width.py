"""Output never loses text: in a pipe, with COLUMNS at 40, 60 or 80, every word of the
unbounded output is still there, whole (lines wrap at word boundaries, tables too narrow for
their words become records, help keeps option names whole). Words are compared, not layout."""

import re

import pytest
from mail_factory import make

CONFIG = (
    '[accounts."alice@example.test"]\nemail = "alice@example.test"\n'
    'username = "alice@example.test"\nimap_host = "imap.example.test"\nimap_port = 993\n'
    'smtp_host = "smtp.example.test"\ncredential_source = "none"\n'
    'never_log = ["hr.example.test"]\n'
)
BOX = re.compile(r"[─━│┃┌┐└┘├┤┬┴┼╭╮╯╰═║╔╗╚╝╠╣╦╩╬\u2500-\u257f]")


def words(text: str) -> set[str]:
    return {w.strip(":,;") for w in BOX.sub(" ", text).split() if w.strip(":,;")}


@pytest.fixture
def logged(offline_cli, tmp_path):
    offline_cli.home.mkdir(parents=True)
    (offline_cli.home / "config.toml").write_text(CONFIG)
    for n in range(2):
        eml = tmp_path / f"m{n}.eml"
        eml.write_bytes(
            make(
                f"<width-{n}@customer.test>",
                subject=f"Quarterly pricing proposal number {n} for the northern region",
                attachment=("signed-contract-with-a-long-name.pdf", b"%PDF-1.7"),
            )
        )
        assert offline_cli("log", str(eml)).code == 0
    return offline_cli


COMMANDS = [
    ("doctor", "--offline"),
    ("threads",),
    ("contacts",),
    ("contacts", "bob@customer.test"),
    ("report",),
    ("messages",),
    ("accounts", "list"),
    ("accounts", "show"),
    ("attachments", "list"),
    ("-h",),
    ("connect", "-h"),
    ("accounts", "set", "-h"),
    ("sync", "-h"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_no_word_is_lost_or_broken_at_any_width(logged, command):
    wide = logged(*command, env={"COLUMNS": "400"})
    assert wide.code == 0 or command[0] == "doctor", wide.stderr
    reference = words(wide.stdout)
    assert reference
    for width in (40, 60, 80):
        narrow = logged(*command, env={"COLUMNS": str(width)})
        assert narrow.code == wide.code
        joined = "".join(narrow.stdout.split())
        seen = words(narrow.stdout)
        for word in reference:
            if len(word) > width - 8:  # longer than a line: it may fold, but all of it is there
                assert word in joined, (width, word)
            else:
                assert word in seen, (width, word, narrow.stdout)
        assert "…" not in narrow.stdout or "…" in wide.stdout, (width, narrow.stdout)
