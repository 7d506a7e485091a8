"""`hubsync why`: whether and why a message was logged (which rule, which reference), or why
not. Unrelated mail leaves no trace, so for a message not in the log the answer comes from
its headers read live from the server (and nothing of it is kept)."""

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import imapclient

from hubsync import config as cfg
from hubsync.logbook import Origin
from hubsync.mail.parse import normalize_message_id
from hubsync.store import Store
from hubsync.store import queries as q
from hubsync.sync.client_ways import WAYS as CLIENT_WAYS
from hubsync.sync.matching import MatchRule, ReplyMatch, match_reply

if TYPE_CHECKING:
    from hubsync.sessions import Secret

# Verdicts besides the MatchRule of a logged message.
NEVER_LOG = "never-log"
UNREADABLE = "unreadable"
NO_MATCH = "no-match"
UNKNOWN = "unknown"
PENDING = "pending"  # a reply in a watched folder that the next sync logs
NOT_WATCHED = "folder-not-watched"  # a reply in a folder that sync does not read

_EXPLAIN_RULE = {
    MatchRule.SENT_BY_HUBSYNC: "It was sent by hubsync, which tracks every message it sends.",
    MatchRule.MANUAL: "It was logged by hand (`hubsync log`).",
    MatchRule.IN_REPLY_TO: "Its In-Reply-To header names {ref}, a message already in the log.",
    MatchRule.REFERENCES: "Its References header lists {ref}, a message already in the log "
    "(In-Reply-To did not match).",
}
MARKED = "marked for the log"  # how client_log's never-log events begin
_FROM_CLIENT = "It was logged from your mail client ({way}): {how}."


@dataclass
class WhyVerdict:
    """The answer of `hubsync why`. Optional fields are None where they do not apply."""

    message_id: str
    logged: bool
    rule: str  # a MatchRule value, or NEVER_LOG, NO_MATCH, UNKNOWN
    explanation: str
    ref: str | None = None
    thread_id: int | None = None
    attachments: str | None = None
    found_in: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready data; fields that do not apply are left out."""
        keep = ("message_id", "logged", "rule", "explanation")
        return {k: v for k, v in asdict(self).items() if k in keep or v is not None}


def why(store: Store, account: str, message_id: str, live: dict | None = None) -> WhyVerdict:
    """Whether and why a message was logged; ``live`` holds its headers read from the server
    when it is not in the log (in_reply_to, references, folder)."""
    message_id = _by_store_id(store, account, message_id)
    row = store.message(account, message_id)
    events = q.events_for(store, account, message_id)
    if row is not None:
        return _logged(message_id, row, events)
    broken = [e for e in events if e["kind"] == "message-error"]
    if broken:
        return WhyVerdict(
            message_id,
            False,
            UNREADABLE,
            f"It replies into a tracked thread, but it could not be read ({broken[-1]['detail']}),"
            " so nothing of it was kept; the messages after it were synced.",
        )
    never = [e for e in events if e["reason"] == NEVER_LOG]
    if never:
        detail = never[-1]["detail"]
        if detail.startswith(MARKED):  # one of the ways of logging from a mail client
            said = f"It was {detail}; never_log overrides that way"
        else:
            said = f"It replies into a tracked thread, but {detail}; never_log overrides matching"
        return WhyVerdict(message_id, False, NEVER_LOG, f"{said}, so nothing of it was kept.")
    if live is not None:
        refs = [*([live["in_reply_to"]] if live["in_reply_to"] else []), *live["references"]]
        irt = [live["in_reply_to"]] if live["in_reply_to"] else []
        found = match_reply(irt, live["references"], store.tracked_ids(account))
        if found is not None:
            return _reply_not_yet_logged(message_id, live, found)
        if not live.get("watched", True):
            return WhyVerdict(
                message_id,
                False,
                NO_MATCH,
                f"It sits in {live['folder']}, which sync does not read, and none of its "
                "threading headers names a message in the log, so it is not part of a tracked "
                "thread; nothing of it was kept.",
                found_in=live["folder"],
            )
        explanation = (
            "None of its threading headers names a message in the log "
            f"(In-Reply-To/References: {', '.join(refs)}), so it is not part of a tracked "
            "thread and nothing of it was kept."
            if refs
            else "It carries no In-Reply-To or References header, so it starts no tracked "
            "thread; nothing of it was kept."
        )
        return WhyVerdict(message_id, False, NO_MATCH, explanation, found_in=live["folder"])
    return WhyVerdict(
        message_id,
        False,
        UNKNOWN,
        "It is not in the log and was not found in the watched folders. Unrelated mail "
        "leaves no trace, so hubsync cannot say more; if it is a reply, run `hubsync sync` "
        "and ask again.",
    )


def _reply_not_yet_logged(message_id: str, live: dict, found: ReplyMatch) -> WhyVerdict:
    """A reply to a tracked message that is not in the log yet: it waits for the next sync
    in a watched folder, or sits where sync never looks (then say how to watch it)."""
    header = "In-Reply-To" if found.rule == MatchRule.IN_REPLY_TO else "References"
    names = (
        f"Its {header} header names {found.ref}, a message in the log (thread {found.thread_id})"
    )
    folder = live["folder"]
    if live.get("watched", True):
        return WhyVerdict(
            message_id,
            False,
            PENDING,
            f"{names}, so the next sync logs it: it waits in {folder}, a watched folder. "
            "Run `hubsync sync` (or keep `hubsync sync --watch` running).",
            ref=found.ref,
            thread_id=found.thread_id,
            found_in=folder,
        )
    return WhyVerdict(
        message_id,
        False,
        NOT_WATCHED,
        f"{names}, but it sits in {folder}, which sync does not read, so it will not be "
        f"logged. Read every folder a reply can land in with `hubsync accounts set --folders "
        f"all` (or add {folder} to the list), then run `hubsync sync`.",
        ref=found.ref,
        thread_id=found.thread_id,
        found_in=folder,
    )


def _logged(message_id: str, row: dict, events: list[dict]) -> WhyVerdict:
    rule = row["match_rule"]
    template = _EXPLAIN_RULE.get(rule, "Matched by rule {rule}.")
    explanation = template.format(ref=row["match_ref"], rule=rule)
    if rule in CLIENT_WAYS:
        said = [e["detail"] for e in events if e["kind"] == "logged" and e["reason"] == rule]
        how = said[0].partition(": ")[2] if said else "in a folder sync reads"
        explanation = _FROM_CLIENT.format(way=rule, how=how)
    if rule in (MatchRule.MANUAL, *CLIENT_WAYS) and row["match_ref"]:
        explanation += f" It also replies into a tracked thread through {row['match_ref']}."
    skipped = [e["detail"] for e in events if e["kind"] == "attachments-skipped"]
    if skipped:
        attachments = "skipped: " + "; ".join(skipped)
    else:
        attachments = "as sent" if row["origin"] == Origin.SENT else "stored"
    return WhyVerdict(
        message_id,
        True,
        rule,
        explanation,
        ref=row["match_ref"],
        thread_id=row["thread_id"],
        attachments=attachments,
    )


def _by_store_id(store: Store, account: str, ref: str) -> str:
    """The Message-ID for ``ref``: a logged message's id as `messages` and `threads` show it
    (digits only), else ``ref`` itself as a Message-ID (with or without <>)."""
    if ref.strip().isdigit():
        row = store._one(
            "SELECT message_id FROM messages WHERE account = ? AND id = ?", account, int(ref)
        )
        if row:
            return row["message_id"]
    return normalize_message_id(ref)


def why_with_server(
    store: Store, account: cfg.Account, password: Callable[[], "Secret"], message_id: str
) -> WhyVerdict:
    """``why``, looking the message up in the watched folders when it is not in the log
    (``password`` is asked for only then)."""
    verdict = why(store, account.name, message_id)
    if verdict.rule != UNKNOWN:
        return verdict
    live = _find_live(store, account, password(), verdict.message_id)
    return why(store, account.name, message_id, live) if live else verdict


def _find_live(
    store: Store, account: cfg.Account, password: "Secret", message_id: str
) -> dict | None:
    """Read the threading headers of a message (not stored): from the folders sync reads
    first, then from every other selectable folder, saying which."""
    from hubsync.mail.fetch_scanner import header_fields_value  # only for this path
    from hubsync.mail.imap import list_folders
    from hubsync.mail.parse import parse
    from hubsync.mail.reply_folders import reply_folders
    from hubsync.sync.engine import session

    with session(account, password, store) as client:
        listing = list_folders(client)  # one LIST serves the watch plan and the others
        watched = reply_folders(
            listing, account.watched_folders, account.sent_folder, account.excluded_folders
        ).folders
        others = [f.name for f in listing if f.selectable and f.name not in watched]
        for folder in [*watched, *others]:
            try:
                client.select_folder(folder, readonly=True)
            except imapclient.exceptions.IMAPClientAbortError:
                raise
            except imapclient.exceptions.IMAPClientError:
                continue  # listed but not selectable after all: look in the others
            uids = client.search(["HEADER", "Message-ID", message_id])
            if not uids:
                continue
            data = client.fetch(uids[:1], [f"BODY.PEEK[{_WHY_FIELDS}]"])
            header = header_fields_value(next(iter(data.values()), {}))
            p = parse(header, with_body=False)
            return {
                "in_reply_to": p.in_reply_to,
                "references": p.references,
                "folder": folder,
                "watched": folder in watched,
            }
    return None


_WHY_FIELDS = "HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES FROM DATE SUBJECT)"
