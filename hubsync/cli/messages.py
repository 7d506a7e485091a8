"""`hubsync messages`: what was logged, in the order it was logged (for people and scripts)."""

import typer

from hubsync import logged_messages, render
from hubsync.cli import common, options
from hubsync.logbook import display
from hubsync.render import emit_json, out, safe
from hubsync.reports.period import since_date


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("messages")(messages_command)


def messages_command(
    account: str = options.account(),
    every: bool = options.all_accounts("List the messages of"),
    since: str = typer.Option(
        None,
        "--since",
        metavar="DATE",
        help="Only messages whose Date header is from this date or time (YYYY-MM-DD or ISO).",
    ),
    logged_since: str = typer.Option(
        None,
        "--logged-since",
        metavar="DATETIME",
        help="Only messages hubsync logged at or after this moment (ISO, e.g. "
        "2026-11-01T09:00:00+01:00): a late reply with an old Date header is still listed.",
    ),
    json_out: bool = options.json_out(),
) -> None:
    """Logged messages in the order hubsync logged them: when, from or to whom, subject, and
    the ids other commands take (`why MESSAGE-ID`, `attachments save ID`).

    For an hourly job: remember the `logged_at` of the last message you handled and pass it
    to --logged-since next time (nothing else to keep).
    """
    since_value = since_date(since)
    logged_value = since_date(logged_since, "--logged-since")
    found = []
    for acc in common.accounts(account, every):
        found += logged_messages.logged(
            common.store(), acc.name, since=since_value, logged_since=logged_value
        )
    found.sort(key=lambda m: (m.logged_at, m.id))
    if json_out:
        emit_json({"messages": [m.to_dict() for m in found]})
        return
    if not found:
        out.print("No logged messages" + (" in that period." if since or logged_since else "."))
        return
    table = render.table(None, "logged at", "id", "direction", "contact", "subject", "Message-ID")
    for m in found:
        contact = display(m.contact["name"] or "", m.contact["address"] or "")
        table.add_row(
            safe(m.logged_at),
            str(m.id),
            "from" if m.direction == "received" else "to",
            safe(contact),
            safe(m.subject or ""),
            safe(m.message_id),
        )
    render.show(table)
