"""`hubsync threads`, `hubsync report`, `hubsync contacts` and `hubsync why`."""

import typer
from rich.table import Table
from rich.tree import Tree

from hubsync import reports
from hubsync.cli import common
from hubsync.mail import parse
from hubsync.render import emit_json, out
from hubsync.store import queries
from hubsync.sync import engine
from hubsync.sync.fetch import folder_headers

threads_app = typer.Typer(
    help="Logged threads as trees, with unrelated emails flagged.", invoke_without_command=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(threads_app, name="threads")
    app.command("report")(report_command)
    app.command("contacts")(contacts_command)
    app.command("why")(why_command)


@threads_app.callback()
def threads_command(
    ctx: typer.Context,
    account: str = typer.Option(None, "--account", "-a"),
    contact: str = typer.Option(None, "--contact", help="Only threads with this address."),
    since: str = typer.Option(None, "--since", help="Only messages from this date (YYYY-MM-DD)."),
    folder: str = typer.Option(
        None, "--folder", help="Audit this live folder instead (read-only, nothing stored)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Logged threads: who wrote to whom, when, direction, attachments. A message chained to
    an old thread it has nothing to do with (new subject, nobody in common) is flagged.

    `hubsync threads split MESSAGE-ID` moves such a message into a thread of its own.
    """
    if ctx.invoked_subcommand:
        return
    acc = common.account(account)
    if folder:
        _audit(acc, folder, json_out)
        return
    data = reports.thread_report(common.store(), acc.name, acc.email, contact, since)
    if json_out:
        emit_json({"account": acc.name, "threads": data})
        return
    if not data:
        out.print("No logged threads yet.")
    for t in data:
        tree = Tree(
            f"[bold]Thread {t['thread_id']}[/bold]: {t['subject']}"
            + (f" (split from {t['split_from']})" if t["split_from"] else "")
        )
        nodes = {None: tree}
        for m in t["messages"]:
            arrow = "→" if m["direction"] == "sent" else "←"
            files = "".join(
                f"\n  📎 {a['filename']} ({a['size']:,} bytes)" for a in m["attachments"]
            )
            flag = ""
            if m["suspected_unrelated"]:
                flag = (
                    "\n  [yellow]⚠ suspected unrelated email: "
                    + "; ".join(m["why_flagged"])
                    + "[/yellow]"
                )
            label = (
                f"{arrow} {m['date'][:16] if m['date'] else '?'} {m['from']} → "
                f"{', '.join(m['to'] + m['cc'])}: {m['subject']}{files}{flag}"
            )
            parent = nodes.get(m["parent_id"], tree)
            nodes[m["message_id"]] = parent.add(label)
        out.print(tree)
    if any(t["suspected_unrelated"] for t in data):
        out.print(
            "[yellow]Flagged messages were written by replying to (or forwarding) an old "
            "email.[/yellow] Start new conversations fresh or from a template (`hubsync "
            "templates`); fix the log with `hubsync threads split MESSAGE-ID`."
        )


@threads_app.command("split")
def split_command(
    message_id: str = typer.Argument(..., help="The message to detach."),
    account: str = typer.Option(None, "--account", "-a"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Detach a message (and replies under it) into a thread of its own; later syncs keep it."""
    acc = common.account(account)
    result = reports.split(common.store(), acc.name, message_id.strip())
    if json_out:
        emit_json(result)
    else:
        out.print(
            f"Moved {len(result['moved'])} message(s) from thread {result['from_thread']} "
            f"to new thread {result['new_thread']}."
        )


def _audit(acc, folder: str, json_out: bool) -> None:
    store = common.store()
    with engine.session(acc, common.password_for(acc), store) as client:
        records = list(folder_headers(client, folder))
    data = reports.audit(records, acc.email)
    data["folder"] = folder
    if json_out:
        emit_json(data)
        return
    out.print(
        f"[bold]{folder}[/bold]: {data['messages']:,} messages in {data['threads']:,} "
        f"threads; largest: {data['largest_thread']['messages']} messages "
        f"({data['largest_thread']['subject']}); {data['without_message_id']} without a "
        "Message-ID."
    )
    for s in data["suspected_unrelated"]:
        out.print(
            f"[yellow]⚠ {s['message_id']}[/yellow] (replies to {s['parent_id']}): "
            + "; ".join(s["reasons"])
        )
    out.print("Nothing was stored.")


def report_command(
    account: str = typer.Option(None, "--account", "-a"),
    since: str = typer.Option(None, "--since", help="From this date (YYYY-MM-DD)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """The logging report: what was logged, skipped and why, by contact and by day."""
    acc = common.account(account)
    data = reports.logging_report(common.store(), acc.name, since)
    if json_out:
        emit_json(data)
        return
    table = Table(title=f"Logging report for {acc.name}" + (f" since {since}" if since else ""))
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, key in (
        ("Emails sent", "emails_sent"),
        ("Replies logged", "replies_logged"),
        ("Logged by hand", "logged_by_hand"),
        ("Attachments logged", "attachments_logged"),
        ("Never-log hits", "never_log_hits"),
        ("Contacts created", "contacts_created"),
    ):
        table.add_row(label, str(data[key]))
    table.add_row("Attachments skipped", str(len(data["attachments_skipped"])))
    table.add_row("Errors", str(len(data["errors"])))
    out.print(table)
    for s in data["attachments_skipped"]:
        out.print(f"Skipped attachments of {s['message_id']}: {s['detail']}")
    for e in data["errors"]:
        out.print(f"[red]{e['at']} {e['kind']} {e['reason']}[/red]: {e['detail']}")
    by_day = Table(title="By day")
    for col in ("day", "sent", "replies", "by hand"):
        by_day.add_column(col)
    for day, c in data["by_day"].items():
        by_day.add_row(day, str(c.get("sent", 0)), str(c.get("reply", 0)), str(c.get("manual", 0)))
    out.print(by_day)
    by_contact = Table(title="By contact")
    for col in ("contact", "sent to", "replies from", "by hand"):
        by_contact.add_column(col)
    for who, c in data["by_contact"].items():
        by_contact.add_row(
            who, str(c.get("sent", 0)), str(c.get("reply", 0)), str(c.get("manual", 0))
        )
    out.print(by_contact)
    out.print(data["statement"])


def contacts_command(
    address: str = typer.Argument(None, help="Show this contact's record."),
    account: str = typer.Option(None, "--account", "-a"),
    full: bool = typer.Option(False, "--full", help="Include message bodies."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Contacts with message counts and last activity; one contact's timeline and
    attachments."""
    acc = common.account(account)
    store = common.store()
    if address:
        record = reports.contact_record(store, acc.name, address, full)
        if json_out:
            emit_json(record)
            return
        out.print(
            f"[bold]{reports.display(record['name'] or '', record['address'])}[/bold] — "
            f"{record['messages']} message(s), first seen {record['first_seen'][:10]}, "
            f"last {record['last_seen'][:10]}"
        )
        for item in record["timeline"]:
            arrow = "→" if item["direction"] == "sent" else "←"
            out.print(f"  {arrow} {str(item['date'])[:16]} {item['subject']}")
            if full:
                out.print("    " + (item.get("body") or "").replace("\n", "\n    "), markup=False)
        out.print("[bold]Attachments[/bold]" if record["attachments"] else "No attachments.")
        for a in record["attachments"]:
            out.print(f"  📎 {a['filename']} ({a['size']:,} bytes, {a['mime_type']})")
        return
    rows = queries.contacts(store, acc.name)
    if json_out:
        emit_json({"account": acc.name, "contacts": rows})
        return
    table = Table(title=f"Contacts of {acc.name}")
    for col in ("contact", "name", "messages", "last activity"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["address"], r["name"] or "", str(r["messages"]), (r["last_activity"] or "")[:16]
        )
    out.print(table)


def why_command(
    message_id: str = typer.Argument(..., help="The Message-ID, with or without <>."),
    account: str = typer.Option(None, "--account", "-a"),
    offline: bool = typer.Option(
        False, "--offline", help="Do not look the message up on the server."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Explain whether and why a message was logged (which rule, which reference), or why not."""
    acc = common.account(account)
    store = common.store()
    result = reports.why(store, acc.name, message_id)
    if result["rule"] == "unknown" and not offline:
        live = _find_live(acc, store, result["message_id"])
        if live:
            result = reports.why(store, acc.name, message_id, live)
    if json_out:
        emit_json(result)
        return
    verdict = "[green]logged[/green]" if result["logged"] else "[yellow]not logged[/yellow]"
    out.print(f"{result['message_id']}: {verdict} (rule: {result['rule']})")
    out.print(result["explanation"])
    if result.get("attachments"):
        out.print(f"Attachments: {result['attachments']}")


_WHY_FIELDS = "HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES FROM DATE SUBJECT)"


def _find_live(acc, store, message_id: str) -> dict | None:
    """Read the threading headers of a message from the watched folders (not stored)."""
    with engine.session(acc, common.password_for(acc), store) as client:
        for folder in engine.watched_folders(acc):
            client.select_folder(folder, readonly=True)
            uids = client.search(["HEADER", "Message-ID", message_id])
            if uids:
                data = client.fetch(uids[:1], [f"BODY.PEEK[{_WHY_FIELDS}]"])
                header = next(iter(data.values()))[f"BODY[{_WHY_FIELDS}]".encode()]
                p = parse.parse(header, with_body=False)
                return {"in_reply_to": p.in_reply_to, "references": p.references, "folder": folder}
    return None
