"""`hubsync service`: a systemd user unit that keeps `sync --watch` running, checked by
systemd's own verifier; the cron line where systemd is absent."""

import json
import os
import subprocess
import sys
from pathlib import Path

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
