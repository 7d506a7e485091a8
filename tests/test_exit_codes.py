"""Exit codes with one meaning each (README, `hubsync --help`): 0 success, 1 the operation
failed, 2 usage error (an unknown account too), 3 authentication refused, 4 unreachable,
5 busy, 130 interrupted. Each class is walked through the commands it applies to."""

import os
import pty
import signal
import socket
import subprocess
import sys
import time

import pytest

from hubsync import locking

CONFIG = (
    '[accounts.a]\nemail = "alice@example.test"\nusername = "alice"\n'
    'imap_host = "127.0.0.1"\nimap_port = {port}\nsmtp_host = "127.0.0.1"\n'
    'smtp_port = {port}\nsent_folder = "Sent"\nwatched_folders = ["INBOX"]\n'
    'credential_source = "none"\ntimeout = 2\n'
)

# Every command that works on one account, with what it needs besides --account.
ACCOUNT_COMMANDS = [
    ("send", "--to", "b@example.test", "--subject", "s", "--body", "b"),
    ("sync",),
    ("log", "--folder", "INBOX", "--uid", "1"),
    ("outbox",),
    ("threads",),
    ("report",),
    ("contacts",),
    ("why", "<x@example.test>", "--offline"),
    ("doctor", "--offline"),
    ("accounts", "show", "nobody"),
    ("accounts", "set", "nobody", "--folders", "inbox"),
    ("attachments", "save", "1"),
    ("attachments", "list"),
    ("messages",),
]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def configured(run_cli, monkeypatch):
    run_cli.home.mkdir(parents=True, exist_ok=True)
    (run_cli.home / "config.toml").write_text(CONFIG.format(port=closed_port()))
    monkeypatch.setenv("HUBSYNC_PASSWORD", "pw")
    return run_cli


@pytest.mark.parametrize("command", ACCOUNT_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_an_unknown_account_is_a_usage_error(configured, command):
    where = 2 if command[0] in ("accounts", "attachments") else 1
    named = "nobody" in command  # accounts show/set take the name as their argument
    args = command if named else [*command[:where], "--account", "nobody", *command[where:]]
    result = configured(*args, "--json")
    assert result.code == 2, result.stderr
    assert result.json()["error"] == "no-account"
    assert "nobody" in result.stderr


def test_no_account_yet_is_a_usage_error(run_cli):
    assert run_cli("sync").code == 2


@pytest.mark.parametrize("command", [("sync",), ("why", "<x@example.test>")], ids=str)
def test_an_unreachable_server_exits_4(configured, command):
    result = configured(*command, "--json")
    assert result.code == 4, result.stderr
    assert result.json()["error"] in ("unreachable", "refused", "timeout")


def test_a_send_to_an_unreachable_server_exits_4(configured):
    result = configured("send", "--to", "b@example.test", "--subject", "s", "--body", "b")
    assert result.code == 4, result.stderr


@pytest.mark.parametrize("command", [("sync",), ("sync", "--watch")], ids=str)
def test_another_hubsync_holding_the_account_exits_5(configured, command):
    with locking.account_lock("a"):
        result = configured(*command, "--json")
    assert result.code == 5, result.stderr
    assert "already-running" in result.stdout


def test_why_on_a_message_nowhere_exits_1_and_found_nothing_exits_0(configured):
    unknown = configured("why", "<never-seen@example.test>", "--offline", "--json")
    assert unknown.code == 1 and unknown.json()["rule"] == "unknown"
    assert configured("threads", "--json").code == 0  # nothing logged yet: still success
    assert configured("contacts", "--json").code == 0


def test_a_closed_stdout_exits_0_quietly(offline_cli, tmp_path):
    eml = tmp_path / "m.eml"
    eml.write_bytes(
        b"From: Bob <b@customer.test>\r\nTo: a@example.test\r\nSubject: hello\r\n"
        b"Message-ID: <m1@customer.test>\r\n\r\nhi\r\n"
    )
    offline_cli.home.mkdir(parents=True)
    (offline_cli.home / "config.toml").write_text(CONFIG.format(port=closed_port()))
    assert offline_cli("log", str(eml)).code == 0
    for command in (["threads"], ["threads", "--json"], ["contacts"], ["report"]):
        reader = subprocess.Popen(["head", "-c", "0"], stdin=subprocess.PIPE)
        writer = subprocess.run(
            [sys.executable, "-m", "hubsync", *command],
            env=offline_cli.env,
            stdout=reader.stdin,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
        reader.stdin.close()
        reader.wait()
        assert writer.returncode == 0, (command, writer.stderr)
        assert writer.stderr == "", (command, writer.stderr)


def test_ctrl_c_at_a_prompt_exits_130(offline_cli):
    """`connect` asks for the password at a terminal; Ctrl-C there is an interruption."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: hubsync at a terminal
        os.environ.clear()
        os.environ.update(offline_cli.env)
        port = str(closed_port())
        os.execv(  # noqa: S606 - the child of pty.fork becomes hubsync
            sys.executable,
            [
                sys.executable,
                "-m",
                "hubsync",
                "connect",
                "a@example.test",
                "--imap-host",
                "127.0.0.1",
                "--imap-port",
                port,
                "--smtp-host",
                "127.0.0.1",
                "--smtp-port",
                port,
            ],
        )
    output = b""
    deadline = time.monotonic() + 30
    while b"assword" not in output and time.monotonic() < deadline:
        try:
            output += os.read(fd, 1024)
        except OSError:
            break
    assert b"assword" in output, output
    os.kill(pid, signal.SIGINT)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 130


def test_a_global_option_after_the_command_says_where_it_goes(run_cli):
    result = run_cli("threads", "--debug")
    assert result.code == 2
    assert "give it before the command" in result.stderr
    assert "hubsync --debug threads" in result.stderr
