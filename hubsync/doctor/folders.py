"""Doctor's watch checks: which folders sync reads and what it leaves out, replies sitting
where hubsync does not look, IDLE that stays silent, and positions a server pushed too far.

The search for replies elsewhere is bounded (the 200 most recent tracked Message-IDs, 10
seconds) and reads nothing but the server's SEARCH answer: a count per folder.
"""

import time

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from hubsync import client_setup
from hubsync import config as cfg
from hubsync.doctor import Check, ok, warn
from hubsync.mail.reply_folders import is_all_setting, reply_folders
from hubsync.mail.sent_folder import Folder
from hubsync.store import Store

RECENT_IDS = 200
SEARCH_SECONDS = 10.0
IDS_PER_SEARCH = 20
FOLDERS_FIX = "Run `hubsync accounts set --folders all` (or name the folders), then `hubsync sync`."


def folders_check(account: cfg.Account, listing: list[Folder]) -> Check:
    """What sync reads; a warning when a fixed list leaves folders a reply can land in."""
    plan = reply_folders(
        listing, account.watched_folders, account.sent_folder, account.excluded_folders
    )
    if plan.missing:
        return warn(
            "watched-folders",
            "watched-folder-missing",
            f"configured but not on the server: {', '.join(plan.missing)}",
            "Correct watched_folders (`hubsync accounts set --folders ...`).",
        )
    everything = reply_folders(listing, ["*"], account.sent_folder, account.excluded_folders)
    unread = [f for f in everything.folders if f not in plan.folders]
    reads = f"reads {', '.join(plan.folders)} (IDLE on {plan.primary})"
    if not is_all_setting(account.watched_folders) and unread:
        return warn(
            "watched-folders",
            "folders-not-watched",
            f"{reads}; {len(unread)} folder(s) where replies can land are not read, so a reply "
            f"filed there by a rule, a filter or by hand is never logged: {_names(unread)}",
            FOLDERS_FIX,
        )
    return ok("watched-folders", reads)


def client_ways_check(client, account: cfg.Account, listing: list[Folder]) -> Check:
    """Whether each way of logging from the mail client works on this server: the CRM
    folder exists, INBOX keeps the keyword (PERMANENTFLAGS)."""
    found = client_setup.check(client, account, listing)
    said = "; ".join(found.lines())
    if found.problems:
        return warn(
            "client-ways",
            "client-ways-limited",
            f"{'; '.join(found.problems)} ({said})",
            "Create the CRM folder in your mail client, or turn the way off or change it "
            "with `hubsync accounts set --log-folder/--log-keyword ...`.",
        )
    return ok("client-ways", said)


def replies_elsewhere_check(
    client, account: cfg.Account, ids: list[str], listing: list[Folder]
) -> Check:
    """Search the folders sync does not read for replies to ``ids`` (the recently tracked
    Message-IDs, read from the store beforehand: the store stays in its own thread)."""
    plan = reply_folders(
        listing, account.watched_folders, account.sent_folder, account.excluded_folders
    )
    others = [
        f.name
        for f in listing
        if f.selectable and f.name not in plan.folders and f.name not in plan.covered
    ]
    if not others or not ids:
        return ok("replies-elsewhere", "no folder outside the watched ones to search")
    deadline = time.monotonic() + SEARCH_SECONDS
    found: dict[str, int] = {}
    searched = 0
    for folder in others:
        if time.monotonic() > deadline:
            break
        try:
            client.select_folder(folder, readonly=True)
            hits: set[int] = set()
            for i in range(0, len(ids), IDS_PER_SEARCH):
                if time.monotonic() > deadline:
                    break
                hits.update(client.search(_any_reply_to(ids[i : i + IDS_PER_SEARCH])))
        except IMAPClientAbortError:
            raise
        except IMAPClientError:
            continue  # a folder that refuses SELECT or SEARCH: the others still count
        searched += 1
        if hits:
            found[folder] = len(hits)
    partial = "" if searched == len(others) else f" (searched {searched} of {len(others)})"
    if not found:
        return ok(
            "replies-elsewhere",
            f"no reply to the last {len(ids)} tracked message(s) in the {searched} folder(s) "
            f"sync does not read{partial}",
        )
    where = ", ".join(f"{name} ({count})" for name, count in found.items())
    total = sum(found.values())
    return warn(
        "replies-elsewhere",
        "replies-not-watched",
        f"{total} message(s) replying to tracked mail sit where sync does not read: "
        f"{where}{partial}",
        "If they are real replies (not spam), move them to a watched folder, or read the "
        "folder: `hubsync accounts set --folders all`, or `--include-folder NAME` if you "
        "excluded it. `hubsync why MESSAGE-ID` explains one.",
    )


def sent_copies_check(client, account: cfg.Account, sent: list[str]) -> Check | None:
    """How many copies of each of the last sends sit in the Sent folder: what the server and
    hubsync actually did, not what was assumed. None when there is nothing to look at."""
    if not sent or not account.sent_folder:
        return None
    try:
        client.select_folder(account.sent_folder, readonly=True)
        counts = {mid: len(client.search(["HEADER", "Message-ID", mid])) for mid in sent}
    except IMAPClientAbortError:
        raise
    except IMAPClientError:
        return None  # the sent-folder check says why the folder cannot be read
    doubled = [m for m, n in counts.items() if n > 1]
    missing = [m for m, n in counts.items() if n == 0]
    seen = f"last {len(counts)} send(s): " + ", ".join(str(n) for n in counts.values())
    if doubled:
        return warn(
            "sent-copies",
            "sent-copy-doubled",
            f"{seen} copies in {account.sent_folder}; more than one of {', '.join(doubled)}",
            "The provider files its own copy later than hubsync waited: raise "
            "`accounts set --sent-copy-grace-minutes` (hubsync then files one only when none "
            "came). Delete the extra copies in your mail client if they bother you.",
        )
    if missing:
        return warn(
            "sent-copies",
            "sent-copy-missing",
            f"{seen} copies in {account.sent_folder}; none of {', '.join(missing)}",
            "`hubsync outbox --retry` files a copy still owed; a copy deleted by hand is not "
            "filed again.",
        )
    return ok("sent-copies", f"{seen} copies in {account.sent_folder}: one each")


def _any_reply_to(ids: list[str]) -> list:
    """SEARCH criteria: In-Reply-To or References names any of ``ids`` (OR is binary, so
    nested; imapclient puts each nested list in parentheses)."""
    first = ["OR", "HEADER", "In-Reply-To", ids[0], "HEADER", "References", ids[0]]
    return first if len(ids) == 1 else ["OR", first, _any_reply_to(ids[1:])]


def idle_check(account: cfg.Account, store: Store) -> Check:
    """Whether the server's IDLE announced what the watch's polls found, and the delay users
    should expect either way."""
    events = store.events(account.name, ("watch",))
    silent = [e for e in events if e["reason"] == "idle-silent"]
    expect = (
        "while `hubsync sync --watch` (or a worker) runs, a reply in the primary folder is "
        "logged within seconds, other folders within the sweep (60 s by default)"
    )
    if not silent:
        return ok("idle", f"no sign of a silent IDLE; {expect}")
    return warn(
        "idle",
        "idle-silent",
        f"{len(silent)} time(s) a poll found new mail that the server's IDLE had not "
        f"announced (last {silent[-1]['at']}: {silent[-1]['detail']}); replies there are "
        "logged within the poll interval (`--poll`, 10 s by default), not at once",
        "Nothing is lost. For a faster watch ask IT why IDLE is silent (Dovecot: the "
        "kernel's inotify limit, fs.inotify.max_user_instances); or lower `--poll`.",
    )


def position_check(account: cfg.Account, store: Store) -> Check:
    """Positions a server pushed past its own UIDNEXT (found and rescanned by sync)."""
    events = [e for e in store.events(account.name, ("sync",)) if e["reason"] == "position-ahead"]
    if not events:
        return ok("sync-position", "every folder's position is within what its server holds")
    return warn(
        "sync-position",
        "position-ahead",
        f"{len(events)} time(s) a saved position was past the server's last UID and the "
        f"folder was rescanned; last {events[-1]['at']}: {events[-1]['detail']}",
        "Nothing is lost (the rescan logs what was missed, each reply once). If it recurs, "
        "the server misreports UIDNEXT: tell its administrator.",
    )


def _names(names: list[str], most: int = 8) -> str:
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more
