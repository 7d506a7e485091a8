"""The CLI frame: every command documented and with --help; exit codes; --json; privacy."""

import re
import stat
from pathlib import Path

import pytest

from hubsync.cli.application import COMMAND_MODULES

DOCS = (Path(__file__).parents[1] / "docs" / "commands.md").read_text()


@pytest.mark.parametrize("command", sorted(COMMAND_MODULES))
def test_every_command_has_help_and_a_docs_section(run_cli, command):
    result = run_cli(command, "--help")
    assert result.code == 0, result.stderr
    assert "Usage:" in result.stdout
    assert re.search(rf"^## hubsync {command}\b", DOCS, re.MULTILINE), command


def test_version_and_usage_error_exit_codes(run_cli):
    assert run_cli("--version").stdout.startswith("hubsync ")
    bad = run_cli("probe")  # HOST missing
    assert bad.code == 2
    assert run_cli("no-such-command").code == 2


def test_expected_failure_has_no_traceback_and_json_error(run_cli):
    result = run_cli("send", "--to", "x@y.test", "--subject", "s", "--body", "b", "--json")
    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert result.json()["error"] == "no-account"


@pytest.fixture
def echoing_server(tmp_path):
    """A server whose refusal quotes the LOGIN command back, password and all."""
    from hostile_server import HostileServer

    from sandbox.ca import CertAuthority

    ca = CertAuthority(tmp_path / "ca")
    cert, key = ca.issue("server")
    server = HostileServer("echo-login", cert, key)
    yield server, ca.cert_path
    server.close()


def test_debug_shows_traceback_without_the_secret(run_cli, tmp_path, monkeypatch, echoing_server):
    server, cafile = echoing_server
    secret = "hunter2-very-secret"
    home = tmp_path / "hubsync-home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[accounts.a]\nemail = "alice@example.test"\nusername = "alice"\n'
        f'imap_host = "localhost"\nimap_port = {server.port}\ncafile = "{cafile}"\n'
        'sent_folder = "Sent"\nwatched_folders = ["INBOX"]\ncredential_source = "none"\n'
    )
    monkeypatch.setenv("HUBSYNC_PASSWORD", secret)
    result = run_cli("--debug", "sync", "--json")
    assert result.code == 3  # authentication refused
    assert "Traceback" in result.stderr
    # the server's refusal is shown, with the password it quoted replaced
    assert "refused: LOGIN" in result.stderr and "***" in result.stderr
    assert secret not in result.stderr + result.stdout
    assert "***" in result.json()["server_text"]


def test_files_created_are_private(offline_cli, tmp_path):
    eml = tmp_path / "m.eml"
    eml.write_bytes(
        b"From: a@b.test\r\nTo: c@d.test\r\nSubject: x\r\nMessage-ID: <p@b.test>\r\n\r\nhi\r\n"
    )
    offline_cli.home.mkdir(parents=True)
    (offline_cli.home / "config.toml").write_text(
        '[accounts.a]\nemail = "a@b.test"\nusername = "a"\nimap_host = "h"\nimap_port = 993\n'
    )
    assert offline_cli("log", str(eml)).code == 0
    for path in offline_cli.home.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode & 0o077 == 0, path
        elif path.name != "config.toml":
            assert mode & 0o077 == 0, (path, oct(mode))


def test_log_from_standard_input_and_contact_filter(run_cli):
    run_cli.home.mkdir(parents=True)
    (run_cli.home / "config.toml").write_text(
        '[accounts.a]\nemail = "me@b.test"\nusername = "me"\nimap_host = "h"\nimap_port = 993\n'
    )
    for n, who in enumerate(("ann@x.test", "ben@y.test")):
        raw = (
            f"From: {who}\r\nTo: me@b.test\r\nSubject: hello {n}\r\n"
            f"Message-ID: <stdin-{n}@x.test>\r\n\r\nhi\r\n"
        )
        result = run_cli("log", "-", "--json", input=raw)
        assert result.code == 0, result.stderr
        assert result.json()["logged"][0]["new"] is True
    threads = run_cli("threads", "--contact", "ann@x.test", "--json").json()["threads"]
    assert [t["messages"][0]["message_id"] for t in threads] == ["<stdin-0@x.test>"]
    again = run_cli("log", "-", "--json", input=raw)
    assert again.json()["logged"][0]["new"] is False  # logging twice keeps one copy


def test_markup_and_terminal_escapes_from_mail_are_shown_harmlessly(run_cli):
    run_cli.home.mkdir(parents=True)
    (run_cli.home / "config.toml").write_text(
        '[accounts.a]\nemail = "me@b.test"\nusername = "me"\nimap_host = "h"\nimap_port = 993\n'
    )
    subject = "[/]Quote [red]x\x1b[2J\x1b]0;owned\x07"
    raw = (
        "From: Eve <eve@x.test>\r\nTo: me@b.test\r\nMessage-ID: <esc@x.test>\r\n"
        f"Subject: {subject}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        "Content-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pdf\r\n"
        'Content-Disposition: attachment; filename="invoice\u202efdp.exe"\r\n\r\n%PDF\r\n--b--\r\n'
    )
    assert run_cli("log", "-", input=raw).code == 0
    for args in (["threads"], ["contacts", "eve@x.test"], ["why", "esc@x.test", "--offline"]):
        result = run_cli(*args)
        assert result.code == 0, (args, result.stderr)
        assert "\x1b" not in result.stdout and "\u202e" not in result.stdout, args
    shown = run_cli("threads").stdout
    assert "[/]Quote [red]x" in shown and "invoicefdp.exe" in shown
    exact = run_cli("threads", "--json").json()["threads"][0]["messages"][0]
    assert exact["subject"] == subject  # JSON keeps the text exact
    assert exact["attachments"][0]["filename"] == "invoice\u202efdp.exe"


def test_generated_reference_is_up_to_date():
    """docs/reference.md is generated from the command definitions; regenerate it with
    `python -m hubsync.cli.reference > docs/reference.md` after changing an option."""
    from hubsync.cli.reference import markdown

    current = (Path(__file__).resolve().parents[1] / "docs" / "reference.md").read_text()
    assert current == markdown(), "docs/reference.md is stale: regenerate it"


def test_every_doctor_check_id_and_reason_is_documented():
    """Each check id and reason code doctor can report has a line in docs/commands.md."""
    import ast

    found = set()
    for source in (Path(__file__).resolve().parents[1] / "hubsync" / "doctor").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in CHECKS):
                continue
            positions = CHECKS[node.func.id]
            for index in positions:
                if index < len(node.args):
                    arg = node.args[index]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.add(arg.value)
                    elif isinstance(arg, ast.JoinedStr):  # f"{kind}-server": both kinds
                        tail = "".join(v.value for v in arg.values if isinstance(v, ast.Constant))
                        found.update({f"imap{tail}", f"smtp{tail}"})
    assert len(found) > 40
    assert sorted(code for code in found if f"`{code}`" not in DOCS) == []


CHECKS = {"ok": (0, 2), "warn": (0, 1), "fail": (0, 1)}  # positions of the id and reason
