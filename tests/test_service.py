"""`hubsync service`: a systemd user unit that keeps `sync --watch` running, checked by
systemd's own verifier; the cron line where systemd is absent."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubsync import environment, service

ROOT = Path(__file__).resolve().parents[1]
CONFIG = (
    '[accounts."work mail"]\nemail = "a@example.test"\nusername = "a"\n'
    'imap_host = "imap.example.test"\nimap_port = 993\n'
)


def hubsync(tmp_path, *args, path=None):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(CONFIG)
    env = {
        **os.environ,
        "HUBSYNC_HOME": str(home),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
    }
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "hubsync", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_install_writes_a_unit_systemd_accepts_and_uninstall_removes_it(tmp_path):
    done = hubsync(tmp_path, "service", "install", "-a", "work mail", "--no-enable", "--json")
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout)
    unit = Path(state["path"])
    assert state["installed"] and unit.parent == tmp_path / "xdg" / "systemd" / "user"
    text = unit.read_text()
    assert 'sync --watch --account "work mail"' in text
    assert f"HUBSYNC_HOME={tmp_path / 'home'}" in text
    assert "Restart=on-failure" in text and "RestartPreventExitStatus=1" in text
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert verify.returncode == 0, verify.stderr
    assert "hubsync-watch" not in verify.stderr  # no complaint about our unit
    status = json.loads(hubsync(tmp_path, "service", "status", "-a", "work mail", "--json").stdout)
    assert status["installed"] is True
    gone = json.loads(hubsync(tmp_path, "service", "uninstall", "-a", "work mail", "--json").stdout)
    assert gone["installed"] is False and not unit.exists()


def test_without_systemd_the_cron_line_is_shown(tmp_path):
    bin_dir = tmp_path / "bin"  # a PATH with no systemctl
    bin_dir.mkdir()
    done = hubsync(tmp_path, "service", "status", "-a", "work mail", path=str(bin_dir))
    assert done.returncode == 0, done.stderr
    assert "No systemd user manager answered" in done.stdout
    cron = next(line for line in done.stdout.splitlines() if line.startswith("*/5 "))
    fields = cron.split()
    assert fields[:5] == ["*/5", "*", "*", "*", "*"]
    assert "sync --account 'work mail'" in cron and f"HUBSYNC_HOME={tmp_path / 'home'}" in cron


def test_an_account_name_cannot_add_lines_to_the_unit(monkeypatch, tmp_path):
    from hubsync import service

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    text = service.unit_text("evil\nExecStartPre=/bin/sh -c 'rm -rf ~' %h")
    assert not any(line.startswith("ExecStartPre") for line in text.splitlines())
    assert "%h" not in text.replace("%%h", "")  # no systemd specifier left live


# -- #23 item 8: units and cron lines built from data, not text ---------------------------


NAMES = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
HOSTILE = [
    "x${HOME}",
    "café",
    " 28",
    "\u2028",
    "p%d",
    "w\\$(touch x)",
    "a/b",
    "a-b",
    ".x",
    'q"uote',
    "ж" * 150,
]


def exec_start_args(text: str) -> list[str]:
    """ExecStart's words as systemd reads them (quotes, \\\\ \\" \\xNN escapes, %% and $$)."""
    line = next(x for x in text.splitlines() if x.startswith("ExecStart="))[len("ExecStart=") :]
    words = re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', line)
    args = []
    for quoted, bare in words:
        raw = quoted if quoted or not bare else bare
        data = bytearray()
        i = 0
        while i < len(raw):
            if raw[i] == "\\" and raw[i + 1] == "x":
                data.append(int(raw[i + 2 : i + 4], 16))
                i += 4
            elif raw[i] == "\\":
                data += raw[i + 1].encode()
                i += 2
            elif raw[i] in "%$" and raw[i + 1 : i + 2] == raw[i]:
                data += raw[i].encode()
                i += 2
            else:
                data += raw[i].encode()
                i += 1
        args.append(data.decode("utf-8", "surrogatepass"))
    return args


@settings(max_examples=300, deadline=None)
@given(NAMES, NAMES)
def test_unit_names_are_valid_distinct_and_exec_start_gives_the_name_back(a, b):
    for name in (a, b):
        unit = service.unit_name(name)
        assert len(unit) <= 255 and re.fullmatch(r"[A-Za-z0-9:_.\\-]+\.service", unit), unit
        assert exec_start_args(service.unit_text(name))[-1] == name
    if a != b:
        assert service.unit_name(a) != service.unit_name(b)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_match_systemd_escape_and_pass_systemd_s_verifier(tmp_path, name):
    unit = service.unit_name(name)
    if len(name) < 100:
        expected = subprocess.run(["systemd-escape", name], capture_output=True, text=True)
        assert unit == f"hubsync-watch-{expected.stdout.strip()}.service"
    path = tmp_path / unit
    path.write_text(service.unit_text(name))
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stderr
    assert "hubsync-watch" not in verify.stderr, verify.stderr
    assert exec_start_args(path.read_text())[-1] == name


def test_the_store_and_key_file_go_with_the_unit_and_the_cron_line(tmp_path):
    env = environment.Environment(
        home=tmp_path, store_url="postgresql://team@db.example.test/hubsync", secret_key_file="/k 1"
    )
    with environment.use(env):
        text = service.unit_text("p%d")
        cron = service.cron_line("p%d")
    assert 'Environment="HUBSYNC_SECRET_KEY_FILE=/k 1"' in text
    assert "Environment=HUBSYNC_STORE_URL=postgresql://team@db.example.test/hubsync" in text
    assert "%" not in cron.replace("\\%", "")  # a bare % is a line break to cron
    command = shlex.split(cron.split(None, 5)[5].replace("\\%", "%"))
    assert command[command.index("--account") + 1] == "p%d"
    assert "HUBSYNC_STORE_URL=postgresql://team@db.example.test/hubsync" in command
    assert "HUBSYNC_SECRET_KEY_FILE=/k 1" in command


def test_an_account_that_cannot_log_in_unattended_is_refused(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(CONFIG + 'credential_source = "none"\n')
    env = {**os.environ, "HUBSYNC_HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "hubsync", "service", "install", "-a", "work mail", "--json"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0 and json.loads(done.stdout)["error"] == "service-cannot-log-in"
    assert not (tmp_path / "xdg" / "systemd").exists()


def fake_systemctl(tmp_path, script: str) -> str:
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    tool = bin_dir / "systemctl"
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}"


def test_a_missing_user_manager_is_found_however_systemctl_says_it(tmp_path):
    path = fake_systemctl(
        tmp_path,
        'echo "Failed to connect to user scope bus via local transport: '
        '$DBUS_SESSION_BUS_ADDRESS and $XDG_RUNTIME_DIR not defined" >&2; exit 1\n',
    )
    done = hubsync(tmp_path, "service", "install", "-a", "work mail", "--json", path=path)
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout)
    assert state["installed"] and state["systemd"] is False and state["cron"].startswith("*/5 ")


def test_a_unit_systemd_refuses_to_start_is_not_left_enabled(tmp_path):
    path = fake_systemctl(
        tmp_path,
        'case "$2" in enable) echo "Job failed: bad unit" >&2; exit 1;; '
        "is-active) echo inactive; exit 3;; *) exit 0;; esac\n",
    )
    done = hubsync(tmp_path, "service", "install", "-a", "work mail", "--json", path=path)
    assert done.returncode != 0 and json.loads(done.stdout)["error"] == "service-start-failed"
    assert not list((tmp_path / "xdg" / "systemd" / "user").glob("*.service"))
