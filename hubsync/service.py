"""Running unattended: a systemd user unit per account that runs `hubsync sync --watch`, so
replies keep being logged after the terminal closes (restarted if it crashes, output in the
journal). Where systemd is absent, the equivalent cron line.

A watch that stops on a rejected password, certificate or revoked consent exits 1; the unit
does not restart it then (RestartPreventExitStatus=1): retrying a refused login in a loop
helps nobody and can lock the mailbox. `hubsync doctor` says why.
"""

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hubsync import environment
from hubsync.errors import HubsyncError

SYSTEMCTL_TIMEOUT = 30.0


def unit_name(account: str) -> str:
    """The unit of ``account`` (systemd-escaped, so any account name gives a valid name)."""
    safe = "".join(c if c.isalnum() or c in "-_." else f"\\x{ord(c):02x}" for c in account)
    return f"hubsync-watch-{safe}.service"


def unit_dir() -> Path:
    """Where systemd looks for the user's own units."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def command(account: str) -> list[str]:
    """The command the unit (or cron) runs: this interpreter, this hubsync."""
    return [sys.executable, "-m", "hubsync", "sync", "--watch", "--account", account]


def unit_text(account: str) -> str:
    """The unit file for ``account``."""
    env = environment.current()
    lines = [
        "[Unit]",
        f"Description=hubsync: log replies to tracked threads for account {_one_line(account)}",
        "Documentation=https://hubsync.invalid/docs/user-guide.md",
        "After=network-online.target",
        "Wants=network-online.target",
        "StartLimitIntervalSec=600",
        "StartLimitBurst=5",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(_systemd_quote(a) for a in command(account)),
        "Restart=on-failure",
        "RestartSec=30",
        "RestartPreventExitStatus=1",
        "Environment=PYTHONUNBUFFERED=1",
    ]
    if env.home:
        lines.append(f"Environment={_systemd_quote(f'{environment.HOME}={env.home}')}")
    if env.dns:
        lines.append(f"Environment={_systemd_quote(f'{environment.DNS}={env.dns}')}")
    lines += ["", "[Install]", "WantedBy=default.target", ""]
    return "\n".join(lines)


def _printable(text: str) -> str:
    """No line breaks or control characters: an account name cannot add lines to the unit."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _one_line(text: str) -> str:
    return _printable(text).replace("%", "%%")  # % starts a systemd specifier


def _systemd_quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "-_./=:@+," for c in arg):
        return arg
    escaped = _printable(arg).replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def cron_line(account: str) -> str:
    """Without systemd: a sync every 5 minutes (the account lock keeps runs from overlapping)."""
    sync = [sys.executable, "-m", "hubsync", "sync", "--account", account]
    env = environment.current()
    prefix = f"{environment.HOME}={shlex.quote(str(env.home))} " if env.home else ""
    return f"*/5 * * * * {prefix}{shlex.join(sync)} >/dev/null 2>&1"


@dataclass
class ServiceState:
    account: str
    unit: str
    path: str
    installed: bool
    systemd: bool  # whether a systemd user manager answered
    enabled: str = ""  # systemctl is-enabled
    active: str = ""  # systemctl is-active
    note: str = ""
    cron: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _systemctl(*args: str) -> subprocess.CompletedProcess | None:
    """``systemctl --user ARGS``, or None when there is no systemctl or no user manager."""
    if shutil.which("systemctl") is None:
        return None
    try:
        done = subprocess.run(
            ["systemctl", "--user", *args],
            capture_output=True,
            text=True,
            timeout=SYSTEMCTL_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if "Failed to connect to bus" in done.stderr or "No medium found" in done.stderr:
        return None
    return done


def status(account: str) -> ServiceState:
    """What is installed for ``account`` and what systemd says of it."""
    path = unit_dir() / unit_name(account)
    state = ServiceState(
        account, unit_name(account), str(path), path.exists(), False, cron=cron_line(account)
    )
    active = _systemctl("is-active", state.unit)  # needs the user manager itself
    if active is not None:
        enabled = _systemctl("is-enabled", state.unit)
        state.systemd = True
        state.active = active.stdout.strip() or "unknown"
        state.enabled = enabled.stdout.strip() if enabled else "unknown"
    else:
        state.note = "No systemd user manager answered; use the cron line instead."
    return state


def install(account: str, enable: bool = True) -> ServiceState:
    """Write the unit; with a systemd user manager, reload and enable --now it."""
    directory = unit_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / unit_name(account)
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(unit_text(account))
        tmp.replace(path)
    except OSError as exc:
        raise HubsyncError(
            f"Could not write {path}: {exc.strerror}.", reason="service-write-failed"
        ) from None
    if enable and _systemctl("daemon-reload") is not None:
        done = _systemctl("enable", "--now", unit_name(account))
        if done is not None and done.returncode != 0:
            raise HubsyncError(
                f"systemd refused to start {unit_name(account)}: {done.stderr.strip()}",
                fix=f"See `journalctl --user -u {unit_name(account)}`.",
                reason="service-start-failed",
            )
    return status(account)


def uninstall(account: str) -> ServiceState:
    """Stop and disable the unit (if systemd runs) and delete its file."""
    name = unit_name(account)
    _systemctl("disable", "--now", name)
    path = unit_dir() / name
    path.unlink(missing_ok=True)
    _systemctl("daemon-reload")
    return status(account)
