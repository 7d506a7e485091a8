"""`hubsync service`: a systemd user unit that keeps `sync --watch` running, checked by
systemd's own verifier; the cron line where systemd is absent."""

import json
import os
import re
import shlex
import shutil
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
    assert "Restart=on-failure" in text and "RestartPreventExitStatus=1 2 3" in text
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


NO_MANAGER = {
    "no user bus": 'echo "Failed to connect to user scope bus via local transport: '
    '$DBUS_SESSION_BUS_ADDRESS and $XDG_RUNTIME_DIR not defined" >&2; exit 1\n',
    "no medium": 'echo "Failed to connect to bus: No medium found" >&2; exit 1\n',
    "not booted": 'echo "System has not been booted with systemd as init system (PID 1). '
    "Can't operate.\" >&2; exit 1\n",
    "a session bus, no systemd": 'echo "Reload daemon failed: Process '
    'org.freedesktop.systemd1 exited with status 1" >&2; exit 1\n',
}


@pytest.mark.parametrize("says", sorted(NO_MANAGER))
def test_a_missing_user_manager_is_found_however_systemctl_says_it(tmp_path, says):
    path = fake_systemctl(tmp_path, NO_MANAGER[says])
    done = hubsync(tmp_path, "service", "install", "-a", "work mail", "--json", path=path)
    assert done.returncode == 1, done.stderr
    error = json.loads(done.stdout)
    assert error["error"] == "service-no-systemd" and error["cron"].startswith("*/5 ")
    assert not (tmp_path / "xdg" / "systemd").exists()  # nothing enabled that cannot run
    status = json.loads(hubsync(tmp_path, "service", "status", "-a", "work mail", "--json",
                                path=path).stdout)  # fmt: skip
    assert status["systemd"] is False and status["installed"] is False


def test_without_a_user_manager_install_prints_the_cron_line_and_its_log(tmp_path):
    bin_dir = tmp_path / "bin"  # no systemctl at all
    bin_dir.mkdir()
    done = hubsync(tmp_path, "service", "install", "-a", "work mail", path=str(bin_dir))
    assert done.returncode == 1
    cron = done.stderr[done.stderr.index("*/5 ") :]
    log = tmp_path / "home" / "data" / "logs" / "cron-work_mail.log"
    assert f">> {log} 2>&1" in " ".join(cron.split())  # output kept, not thrown away
    assert log.parent.is_dir()  # cron's >> would not make it: the line would fail every run
    assert "/dev/null" not in cron
    assert "keyring cannot be reached" in done.stderr and "password_command" in done.stderr


def test_with_a_real_session_bus_but_no_systemd(tmp_path, sandbox):
    """The sandbox's D-Bus session (gnome-keyring's) has no systemd behind it."""
    if shutil.which("systemctl") is None:
        pytest.skip("this machine has no systemctl")
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(CONFIG)
    env = {**os.environ, **sandbox.keyring.env(), "HUBSYNC_HOME": str(home)}
    env.update({"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "PYTHONPATH": str(ROOT)})
    probe = subprocess.run(["systemctl", "--user", "is-system-running"], env=env,
                           capture_output=True, text=True, timeout=30)  # fmt: skip
    if probe.returncode == 0:
        pytest.skip("a systemd user manager runs here: this case cannot be shown")
    done = subprocess.run(
        [sys.executable, "-m", "hubsync", "service", "install", "-a", "work mail", "--json"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and json.loads(done.stdout)["error"] == "service-no-systemd"
    assert not (tmp_path / "xdg" / "systemd").exists()
    status = subprocess.run(
        [sys.executable, "-m", "hubsync", "service", "status", "-a", "work mail"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "active=unknown" not in status.stdout and "*/5 " in status.stdout


def test_a_unit_systemd_refuses_to_start_is_not_left_enabled(tmp_path):
    path = fake_systemctl(
        tmp_path,
        'case "$2" in enable) echo "Job failed: bad unit" >&2; exit 1;; '
        "is-active) echo inactive; exit 3;; *) exit 0;; esac\n",
    )
    done = hubsync(tmp_path, "service", "install", "-a", "work mail", "--json", path=path)
    assert done.returncode != 0 and json.loads(done.stdout)["error"] == "service-start-failed"
    assert not list((tmp_path / "xdg" / "systemd" / "user").glob("*.service"))
