"""Doctor's `unattended` check: is the account set up to keep logging with no terminal open
(a systemd user unit or a cron line), when did that last run, and can its credential be
reached there (cron runs outside the desktop session, where no keyring answers)?"""

import datetime as dt
import shutil
import subprocess

from hubsync import config as cfg
from hubsync import service
from hubsync.doctor import Check, ok, warn
from hubsync.store import Store

CRONTAB_TIMEOUT = 5.0


def cron_entry(account: str) -> str | None:
    """The user's crontab line that runs hubsync's sync for ``account``, or None."""
    if shutil.which("crontab") is None:
        return None
    try:
        done = subprocess.run(
            ["crontab", "-l"], capture_output=True, text=True, timeout=CRONTAB_TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    wanted = service.cron_line(account).split(None, 5)[5]  # the command, without the schedule
    for line in done.stdout.splitlines():
        if not line.lstrip().startswith("#") and wanted in line:
            return line
    return None


def _last_sync(account: str, store: Store) -> str | None:
    events = store.events(account, ("sync",))
    return events[-1]["at"] if events else None


def unattended_check(account: cfg.Account, store: Store) -> Check:
    unit = service.unit_dir() / service.unit_name(account.name)
    last = _last_sync(account.name, store) or "never"
    if unit.exists():
        return ok("unattended", f"systemd user unit {unit.name} is installed; last sync {last}")
    cron = cron_entry(account.name)
    if cron is None:
        return ok(
            "unattended",
            "not set up to run unattended (replies are logged when you run `hubsync sync`); "
            "`hubsync service install` keeps them logged with no terminal open",
        )
    log = service.cron_log(account.name)
    ran = "no run recorded yet"
    if log.exists():
        ran = "its log last written " + dt.datetime.fromtimestamp(
            log.stat().st_mtime, dt.UTC
        ).isoformat(timespec="seconds")
    problem = service.cron_problem(account)
    if problem:
        return warn(
            "unattended",
            "cron-cannot-reach-keyring",
            f"a cron line syncs this account ({ran}; last sync {last}), but the account's "
            "password is in the keyring, which cron cannot reach",
            problem,
        )
    return ok("unattended", f"a cron line syncs this account ({ran}; last sync {last})")
