"""Running unattended: a systemd user unit per account that runs `hubsync sync --watch`, so
replies keep being logged after the terminal closes (restarted if it crashes, output in the
journal). Where systemd is absent, the equivalent cron line.

A watch that stops on a rejected password or revoked consent (exit 3), a certificate (exit 1)
or a usage error (exit 2) is not restarted (RestartPreventExitStatus=1 2 3): retrying a
refused login in a loop helps nobody and can lock the mailbox. `hubsync doctor` says why.
"""

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hubsync import config as cfg
from hubsync import credentials, environment, paths
from hubsync.errors import HubsyncError, UsageError
from hubsync.urls import secret_in_url

SYSTEMCTL_TIMEOUT = 30.0


def systemd_escape(text: str) -> str:
    """``systemd-escape TEXT``: every UTF-8 byte outside [A-Za-z0-9:_.] as \\xNN, "/" as
    "-", a leading "." escaped. Two different names never give the same result."""
    out = []
    for i, byte in enumerate(text.encode("utf-8", "surrogatepass")):
        char = chr(byte)
        if char == "/":
            out.append("-")
        elif byte < 128 and (char.isalnum() or char in ":_.") and not (i == 0 and char == "."):
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


MAX_UNIT_NAME = 255  # systemd's limit, ".service" included


def unit_name(account: str) -> str:
    """The unit of ``account``: systemd-escaped, so any account name gives a valid and
    distinct name; one too long for systemd is cut and made unique by a hash of the name."""
    name = f"hubsync-watch-{systemd_escape(account)}.service"
    if len(name) <= MAX_UNIT_NAME:
        return name
    digest = hashlib.sha256(account.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    keep = MAX_UNIT_NAME - len("hubsync-watch-") - len(digest) - len("-.service")
    head = systemd_escape(account)[:keep]
    head = head[: head.rfind("\\")] if "\\" in head[-3:] else head  # no cut escape
    return f"hubsync-watch-{head}-{digest}.service"


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
        "RestartPreventExitStatus=1 2 3",  # failed, usage, authentication refused
        "Environment=PYTHONUNBUFFERED=1",
    ]
    # What this run uses, so the unattended watch logs to the same store with the same key.
    for name, value in (
        (environment.HOME, env.home),
        (environment.DNS, env.dns),
        (environment.STORE_URL, env.store_url),
        (environment.SECRET_KEY_FILE, env.secret_key_file),
    ):
        if value:
            lines.append(f"Environment={_systemd_quote(f'{name}={value}')}")
    lines += ["", "[Install]", "WantedBy=default.target", ""]
    return "\n".join(lines)


def _printable(text: str) -> str:
    """No line breaks or control characters: an account name cannot add lines to the unit."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _one_line(text: str) -> str:
    return _printable(text).replace("%", "%%")  # % starts a systemd specifier


def _systemd_quote(arg: str) -> str:
    """One ExecStart/Environment word that systemd reads back exactly: quoted, with "\\",
    '"', "%" (specifiers), "$" (variables) and every byte that is not printable ASCII
    escaped (\\xNN: no line break can reach the file)."""
    if arg and all(c.isascii() and (c.isalnum() or c in "-_./=:@+,") for c in arg):
        return arg
    out = []
    for char in arg:
        if char in '\\"':
            out.append("\\" + char)
        elif char == "%":
            out.append("%%")
        elif char == "$":
            out.append("$$")
        elif char.isascii() and char.isprintable():
            out.append(char)
        else:
            out += [f"\\x{b:02x}" for b in char.encode("utf-8", "surrogatepass")]
    return '"' + "".join(out) + '"'


def cron_line(account: str) -> str:
    """Without systemd: a sync every 5 minutes (the account lock keeps runs from overlapping).
    "%" means a line break to cron, so it is escaped in the command."""
    sync = [sys.executable, "-m", "hubsync", "sync", "--account", account]
    env = environment.current()
    settings = [
        f"{name}={shlex.quote(str(value))}"
        for name, value in (
            (environment.HOME, env.home),
            (environment.STORE_URL, env.store_url),
            (environment.SECRET_KEY_FILE, env.secret_key_file),
        )
        if value
    ]
    log = shlex.quote(str(cron_log(account)))
    line = " ".join([*settings, shlex.join(sync), ">>", log, "2>&1"]).replace("%", "\\%")
    return f"*/5 * * * * {line}"


def cron_log(account: str) -> Path:
    """Where the cron line appends its output (errors included): read by `doctor`."""
    safe = "".join(c if c.isalnum() or c in "@.-_" else "_" for c in account)
    return paths.data_dir() / "logs" / f"cron-{safe}.log"


def prepare_cron_log(account: str) -> None:
    """Make the cron log's folder (private): cron's `>>` does not create it, and the line
    would fail on every run without running the sync."""
    paths.ensure_private_dir(cron_log(account).parent)


def cron_problem(account: cfg.Account) -> str:
    """Why the cron line would fail for ``account`` as set up now ("" when it would not):
    cron runs outside the desktop session, where the keyring cannot be reached."""
    if account.password_command or account.oauth_token_command:
        return ""
    if account.credential_source in ("keyring", "") and not environment.current().password:
        return (
            "cron runs outside your desktop session, where the keyring cannot be reached, so "
            "this line would fail to log in. " + credentials.NO_SESSION_FIX
        )
    return ""


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
    cron_log: str = ""
    cron_problem: str = ""  # why the cron line would not work as set up now

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
    if done.returncode != 0 and _NO_MANAGER.search(done.stderr):
        return None
    return done


# However systemctl says that no user manager answers (no session bus, no XDG_RUNTIME_DIR,
# a container without systemd, a manager that is not running).
_NO_MANAGER = re.compile(
    r"Failed to connect to (user scope )?bus|No medium found|not been booted with systemd|"
    r"XDG_RUNTIME_DIR|DBUS_SESSION_BUS_ADDRESS|Connection refused|No such file or directory|"
    r"Transport endpoint is not connected|Host is down|"
    # a D-Bus session without systemd: the bus answers, systemd1 does not
    r"org\.freedesktop\.systemd1|Failed to retrieve unit state|ServiceUnknown|"
    r"Failed to get D-Bus connection",
    re.IGNORECASE,
)


def unattended_problem(account: cfg.Account) -> HubsyncError | None:
    """Why ``account`` cannot run unattended as set up now (None: it can): no credential a
    unit can reach, or a secret that would be written into the unit file."""
    env = environment.current()
    if (
        account.credential_source == "none"
        and not account.password_command
        and not account.oauth_token_command
    ):
        return UsageError(
            f'Account {account.name!r} keeps no credential (credential_source = "none"): '
            "an unattended watch could never log in (HUBSYNC_PASSWORD is not written into "
            "the unit).",
            fix=f"Store one (`hubsync connect {account.email}`), or set a password_command "
            "for the account, or keep it in the team store (`hubsync team secret`).",
            reason="service-cannot-log-in",
        )
    if env.store_url and secret_in_url(env.store_url):
        return UsageError(
            "HUBSYNC_STORE_URL holds a password, which would be written into the unit file.",
            fix="Put the password in ~/.pgpass (or PGPASSFILE) and leave it out of the URL.",
            reason="service-secret-in-url",
        )
    return None


def status(account: str, settings: cfg.Account | None = None) -> ServiceState:
    """What is installed for ``account`` and what systemd says of it; without a user
    manager, the cron line (and why it would fail with ``settings`` as they are)."""
    path = unit_dir() / unit_name(account)
    state = ServiceState(
        account,
        unit_name(account),
        str(path),
        path.exists(),
        False,
        cron=cron_line(account),
        cron_log=str(cron_log(account)),
        cron_problem=cron_problem(settings) if settings else "",
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


def install(account: str, enable: bool = True, settings: cfg.Account | None = None) -> ServiceState:
    """Write the unit; with a systemd user manager, reload and enable --now it. Without one
    nothing is written (a unit nobody runs would only look installed): the error carries the
    cron line to use instead."""
    if enable and _systemctl("daemon-reload") is None:
        prepare_cron_log(account)
        line = cron_line(account)
        problem = cron_problem(settings) if settings else ""
        raise HubsyncError(
            "No systemd user manager answers here (no systemctl, or no user session bus), so "
            "no unit was installed: nothing would run it.",
            fix=f"Run the sync from cron instead: add this line with `crontab -e` (it appends "
            f"its output to {cron_log(account)}): {line}"
            + (f" Note: {problem}" if problem else ""),
            reason="service-no-systemd",
            details={"cron": line, "cron_log": str(cron_log(account)), "cron_problem": problem},
        )
    directory = unit_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / unit_name(account)
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(unit_text(account))
        tmp.chmod(0o600)  # it may name the store and the key file
        tmp.replace(path)
    except OSError as exc:
        raise HubsyncError(
            f"Could not write {path}: {exc.strerror}.", reason="service-write-failed"
        ) from None
    if enable:
        done = _systemctl("enable", "--now", unit_name(account))
        if done is not None and done.returncode != 0:
            uninstall(account)  # nothing half-installed is left enabled
            raise HubsyncError(
                f"systemd refused to start {unit_name(account)}: {done.stderr.strip()}; the "
                "unit was removed again.",
                fix=f"See `systemctl --user status {unit_name(account)}`; where no systemd "
                f"user manager runs, use the cron line of `hubsync service status`.",
                reason="service-start-failed",
            )
    return status(account, settings)


def uninstall(account: str) -> ServiceState:
    """Stop and disable the unit (if systemd runs) and delete its file."""
    name = unit_name(account)
    _systemctl("disable", "--now", name)
    path = unit_dir() / name
    path.unlink(missing_ok=True)
    _systemctl("daemon-reload")
    return status(account)
