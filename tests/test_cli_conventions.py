"""The conventions a user of gh, himalaya or httpie expects: -h, -V, help text and readable
placeholders on every option, one meaning per short flag, shell completion."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def every_parameter():
    from typer.main import get_command

    from hubsync.cli.application import _register_commands, app

    _register_commands([])
    found = []

    def walk(command, path):
        for param in command.params:
            found.append((path or "hubsync", param))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())

    walk(get_command(app), "")
    return found


def test_every_option_and_argument_has_help_and_a_readable_placeholder():
    missing = []
    for path, param in every_parameter():
        label = f"{path} {'/'.join(param.opts)}"
        if not getattr(param, "help", None):
            missing.append(f"{label}: no help")
        is_flag = getattr(param, "is_flag", False)
        if not is_flag and param.name not in ("help",):
            metavar = param.metavar or ""
            if not metavar or metavar != metavar.upper() and "|" not in metavar:
                missing.append(f"{label}: placeholder {metavar!r}")
    assert missing == []


def test_one_meaning_per_short_flag():
    meanings: dict[str, set[str]] = {}
    for _, param in every_parameter():
        longs = [o for o in param.opts if o.startswith("--")]
        for short in (o for o in param.opts if len(o) == 2):
            meanings.setdefault(short, set()).update(longs)
    clashes = {s: sorted(m) for s, m in meanings.items() if len(m) > 1}
    assert clashes == {}
    assert meanings["-a"] == {"--account"}


def test_account_option_is_spelled_the_same_everywhere():
    for path, param in every_parameter():
        if "--account" in param.opts:
            assert "-a" in param.opts, path


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "hubsync", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **(env or {})},
        timeout=60,
    )


def test_short_help_and_version():
    assert "Usage" in run("-h").stdout
    assert "Usage" in run("send", "-h").stdout
    version = run("-V")
    assert version.returncode == 0 and version.stdout.startswith("hubsync ")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_for_each_shell(shell):
    result = run("completion", shell)
    assert result.returncode == 0, result.stderr
    assert "_HUBSYNC_COMPLETE" in result.stdout


def test_bash_completion_completes_commands_options_and_account_names(tmp_path):
    """The generated bash script, sourced in a real bash, completes what a user types."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        'default_account = "work"\n[accounts.work]\nemail = "a@b.test"\nusername = "a@b.test"\n'
        'imap_host = "h"\nimap_port = 993\n[accounts.private]\nemail = "p@b.test"\n'
        'username = "p@b.test"\nimap_host = "h"\nimap_port = 993\n'
    )
    script = run("completion", "bash").stdout
    wrapper = tmp_path / "hubsync"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m hubsync "$@"\n')
    wrapper.chmod(0o755)

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        probe = (
            f"{script}\n"
            f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
            "_hubsync_completion hubsync\n"
            'printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        env = {
            **os.environ,
            "PATH": f"{tmp_path}:{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT),
            "HUBSYNC_HOME": str(home),
        }
        done = subprocess.run(
            ["bash", "-c", probe], capture_output=True, text=True, env=env, timeout=60
        )
        return [w for w in done.stdout.split() if w]

    assert "sync" in complete("hubsync sy")
    assert "--account" in complete("hubsync sync --acc")
    assert sorted(complete("hubsync sync -a ")) == ["private", "work"]
    assert complete("hubsync doctor --account pr") == ["private"]


def test_help_shows_readable_placeholders_and_whole_sentences(run_cli, monkeypatch):
    from hubsync.cli.application import COMMAND_MODULES

    monkeypatch.setenv("COLUMNS", "80")
    for command in COMMAND_MODULES:
        text = run_cli(command, "-h").stdout
        assert "<bool>" not in text and "<float" not in text and "list[" not in text, command
        usage = next(line for line in text.splitlines() if "Usage:" in line)
        assert "{" not in usage, usage  # {name} means a template placeholder in hubsync
    main = run_cli("-h").stdout
    connect_line = next(line for line in main.splitlines() if " connect " in line)
    assert connect_line.rstrip(" │").endswith(("SMTP", "Sent folder,", "SMTP connect")) is False


def test_piped_output_is_neither_wrapped_nor_padded(tmp_path):
    """In a pipe (no COLUMNS, no terminal) lines are as long as their text: not cut at 80
    columns, not padded to some console width."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[accounts.a-rather-long-account-name-that-must-stay-whole]\nemail = "a@b.test"\n'
        'username = "a"\nimap_host = "imap.a-long-host-name.example.test"\nimap_port = 993\n'
        'credential_source = "none"\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update({"HUBSYNC_HOME": str(home), "PYTHONPATH": str(ROOT), "NO_COLOR": "1"})
    for args in (["doctor", "--offline"], ["accounts", "list"]):
        done = subprocess.run(
            [sys.executable, "-m", "hubsync", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        lines = done.stdout.splitlines()
        assert lines, done.stderr
        assert all(not line.endswith("  ") for line in lines), args
        assert "a-rather-long-account-name-that-must-stay-whole" in done.stdout


def test_long_running_json_commands_end_with_one_compact_error_line(offline_cli):
    """#23 item 13: `worker --json` switched from JSON Lines to an indented error object."""
    for args in (("worker", "--json"), ("sync", "--watch", "--json")):
        result = offline_cli(*args)
        assert result.code == 2, result.stderr
        lines = result.stdout.splitlines()
        assert len(lines) == 1, result.stdout
        assert json.loads(lines[0])["error"] in ("usage", "no-account")
    once = offline_cli("sync", "--json")  # a one-shot command keeps its readable form
    assert once.code == 2 and len(once.stdout.splitlines()) > 1


HOSTILE_ACCOUNTS = [
    "w\\$(touch pwned-1)",
    "q`touch pwned-2`",
    'd"$(touch pwned-3)"',
    "c:olon",
    "sp ace",
    "p%d",
]


def _hostile_home(tmp_path):
    import tomli_w

    home = tmp_path / "home"
    home.mkdir()
    accounts = {
        name: {"email": "a@b.test", "username": "a@b.test", "imap_host": "h", "imap_port": 993}
        for name in HOSTILE_ACCOUNTS
    }
    (home / "config.toml").write_text(tomli_w.dumps({"accounts": accounts}))
    return home


def _answer(tmp_path, home, shell: str, line: str) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HUBSYNC_HOME": str(home),
        "_HUBSYNC_COMPLETE": f"complete_{shell}",
        "_TYPER_COMPLETE_ARGS": line,  # zsh's way
        "COMP_WORDS": line,  # bash's way
        "COMP_CWORD": str(len(line.split(" ")) - 1),
    }
    done = subprocess.run(
        [sys.executable, "-m", "hubsync"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (scripts/install)")
def test_zsh_completion_of_hostile_account_names_runs_nothing_and_shows_them_exactly(tmp_path):
    """#23 item 12: Typer escaped "$" but not "\\", so `w\\$(touch x)` ran in zsh."""
    home = _hostile_home(tmp_path)
    answer = tmp_path / "answer"
    answer.write_text(_answer(tmp_path, home, "zsh", "hubsync sync --account "))
    # What the completion script and zsh's own _arguments do with the answer: the script
    # evals the words of it; _arguments evals a ((...)) action as an array (Completion/Base/
    # Utility/_arguments); the stub prints the candidates instead of offering them.
    probe = (
        "setopt rcquotes\n"
        '_arguments() { local action=${1#*: :}; eval ws\\=\\( "${action[3,-3]}" \\); '
        'print -rl -- "${ws[@]}"; }\n'
        f'eval $(cat "{answer}")\n'
    )
    done = subprocess.run(
        ["zsh", "-f", "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert not list(tmp_path.glob("pwned-*")), "a name ran a command"
    shown = [w.replace("\\:", ":") for w in done.stdout.splitlines()]
    assert sorted(shown) == sorted(HOSTILE_ACCOUNTS)


def test_bash_completion_of_hostile_account_names_runs_nothing(tmp_path):
    home = _hostile_home(tmp_path)
    answer = _answer(tmp_path, home, "bash", "hubsync sync --account ")
    assert not list(tmp_path.glob("pwned-*"))
    assert sorted(answer.splitlines()) == sorted(HOSTILE_ACCOUNTS)  # bash: one per line


def test_folder_names_are_completed_from_the_last_sync(tmp_path):
    import sqlite3

    home = _hostile_home(tmp_path)
    data = home / "data"
    data.mkdir()
    with sqlite3.connect(data / "hubsync.sqlite3") as conn:
        conn.execute("CREATE TABLE sync_state (account TEXT, folder TEXT)")
        conn.executemany("INSERT INTO sync_state VALUES ('a', ?)", [("INBOX",), ("Kunden",)])
    for line in ("hubsync sync --folder K", "hubsync threads --folder K", "hubsync log --folder K"):
        assert _answer(tmp_path, home, "bash", line).split() == ["Kunden"], line
