"""`hubsync threads`, `hubsync report`, `hubsync contacts` and `hubsync why`."""

import typer
from rich.tree import Tree

from hubsync import collector, render, reports
from hubsync.cli import common, options
from hubsync.errors import EXIT_FAILED, UsageError
from hubsync.logbook import COUNT_NAMES, Direction
from hubsync.logbook import label as column_label
from hubsync.render import emit_json, out, safe

threads_app = typer.Typer(
    help="Logged threads as trees, with unrelated emails flagged.", invoke_without_command=True
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(threads_app, name="threads")
    app.command("report")(report_command)
    app.command("contacts")(contacts_command)
    app.command("why")(why_command)


@threads_app.callback()
def threads_command(
    ctx: typer.Context,
    account: str = options.account(),
    timeout: float = options.timeout(),
    contact: str = typer.Option(
        None, "--contact", metavar="ADDRESS", help="Only threads with this address."
    ),
    since: str = typer.Option(
        None, "--since", metavar="DATE", help="Only messages from this date (YYYY-MM-DD)."
    ),
    folder: str = typer.Option(
        None,
        "--folder",
        metavar="FOLDER",
        help="Audit this live folder instead (read-only, nothing stored).",
        autocompletion=options.complete_folder,
    ),
    subject_grouping: str = typer.Option(
        "participants",
        "--subject-grouping",
        metavar="participants|rfc5256|off",
        help="Join messages without threading headers by subject only when they also share "
        "a participant (default), by subject alone as RFC 5256 does, or never.",
    ),
    json_out: bool = options.json_out(),
) -> None:
    """Logged threads: who wrote to whom, when, direction, attachments. A message chained to
    an old thread it has nothing to do with (new subject, nobody in common) is flagged.

    `hubsync threads split MESSAGE-ID` moves such a message into a thread of its own.
    """
    if ctx.invoked_subcommand:
        return
    acc = common.account(account, timeout)
    if subject_grouping not in ("participants", "rfc5256", "off"):
        raise UsageError("--subject-grouping must be participants, rfc5256 or off.")
    if folder:
        collector.off_until_exit()  # a short-lived command around one large graph
        password = common.password_for(acc)
        audit = reports.audit_folder(common.store(), acc, password, folder, subject_grouping)
        _show_audit(audit, json_out)
        return
    views = reports.thread_report(
        common.store(), acc.name, acc.email, contact, since, subject_grouping
    )
    if json_out:
        emit_json({"account": acc.name, "threads": [v.to_dict() for v in views]})
        return
    if not views:
        out.print("No logged threads yet.")
    for view in views:
        tree = Tree(
            f"[bold]Thread {view.thread_id}[/bold]: {safe(view.subject)}"
            + (f" (split from {view.split_from})" if view.split_from else "")
        )
        nodes = {None: tree}
        for m in view.messages:
            files = "".join(
                f"\n  📎 {safe(a['filename'])} ({a['size']:,} bytes)"
                f" [dim]attachment {a['id']}[/dim]"
                for a in m.attachments
            )
            if m.attachments_note:  # attachments that were not stored, and why
                files += f"\n  [yellow]📎 {safe(m.attachments_note)}[/yellow]"
            flag = ""
            if m.suspected_unrelated:
                flag = (
                    "\n  [yellow]⚠ suspected unrelated email: "
                    + safe("; ".join(m.why_flagged))
                    + "[/yellow]"
                )
            label = (
                f"{'→' if m.sent else '←'} {safe(m.date[:16] if m.date else '?')} "
                f"{safe(m.sender)} → {safe(', '.join(m.to + m.cc))}: {safe(m.subject)}"
                f"\n  [dim]id {m.id} · {safe(m.message_id)}[/dim]{files}{flag}"
            )
            parent = nodes.get(m.parent_id, tree)
            nodes[m.message_id] = parent.add(label)
        out.print(tree)
    if any(v.suspected_unrelated for v in views):
        out.print(
            "[yellow]Flagged messages were written by replying to (or forwarding) an old "
            "email.[/yellow] Start new conversations fresh or from a template (`hubsync "
            "templates`); fix the log with `hubsync threads split MESSAGE-ID`."
        )


@threads_app.command("split")
def split_command(
    message_id: str = typer.Argument(..., metavar="MESSAGE-ID", help="The message to detach."),
    account: str = options.account(),
    json_out: bool = options.json_out(),
) -> None:
    """Detach a message (and replies under it) into a thread of its own; later syncs keep it."""
    acc = common.account(account)
    result = reports.split(common.store(), acc.name, message_id)
    if json_out:
        emit_json(result.to_dict())
    else:
        out.print(
            f"Moved {len(result.moved)} message(s) from thread {result.from_thread} "
            f"to new thread {result.new_thread}."
        )


def _show_audit(audit: reports.FolderAudit, json_out: bool) -> None:
    if json_out:
        streams = {
            "suspected_unrelated": audit.suspected_unrelated(),
            "thread_list": audit.thread_lists(),
        }
        render.emit_json_streamed(audit.to_dict(lists=False), streams, audit.json_size_at_least())
        return
    out.print(
        f"[bold]{safe(audit.folder)}[/bold]: {audit.messages:,} messages in {audit.threads:,} "
        f"threads; largest: {audit.largest_thread['messages']} messages "
        f"({safe(audit.largest_thread['subject'])}); {audit.without_message_id} without a "
        "Message-ID."
    )
    for s in audit.suspected_unrelated():
        out.print(
            f"[yellow]⚠ {safe(s['message_id'])}[/yellow] (replies to {safe(s['parent_id'])}): "
            + safe("; ".join(s["reasons"]))
        )
    out.print("Nothing was stored.")


def report_command(
    account: str = options.account(),
    since: str = typer.Option(None, "--since", metavar="DATE", help="From this date (YYYY-MM-DD)."),
    campaign: str = typer.Option(
        None,
        "--campaign",
        metavar="NAME",
        help="Instead: everyone written to in this campaign (send --campaign), and who replied.",
    ),
    team: bool = typer.Option(
        False, "--team", help="Sum over every account of the store (a team's shared log)."
    ),
    json_out: bool = options.json_out(),
) -> None:
    """The logging report: what was logged, skipped and why, by contact and by day. With
    --campaign, who was written to in a campaign and who replied; with --team, every account
    of the store summed up."""
    if team:
        data = reports.team_report(common.store(), since)
    else:
        acc = common.account(account)
        if campaign:
            _campaign(reports.campaign_report(common.store(), acc.name, campaign), json_out)
            return
        data = reports.logging_report(common.store(), acc.name, since)
    if json_out:
        emit_json(data.to_dict())
        return
    who = f"the team ({len(data.accounts)} accounts)" if team else data.account
    title = f"Logging report for {safe(who)}" + (f" since {safe(since)}" if since else "")
    table = render.table(title, "what", "count", right=("count",))
    for label, count in (
        ("Emails sent", data.emails_sent),
        ("Replies logged", data.replies_logged),
        ("Logged by hand", data.logged_by_hand),
        *((f"Logged from your mail client: {w}", n) for w, n in data.logged_from_client.items()),
        ("Attachments logged", data.attachments_logged),
        ("Never-log hits", data.never_log_hits),
        ("Contacts created", data.contacts_created),
        ("Emails with attachments not stored", len(data.skipped_attachments)),
        ("Errors", len(data.errors)),
    ):
        table.add_row(label, str(count))
    render.show(table)
    for s in data.skipped_attachments:
        out.print(f"Skipped attachments of {safe(s['message_id'])}: {safe(s['detail'])}")
    for e in data.errors:
        out.print(f"[red]{e['at']} {e['kind']} {safe(e['reason'])}[/red]: {safe(e['detail'])}")
    for title, first, counts in (
        ("By day", "day", data.by_day),
        ("By contact", "contact", data.by_contact),
    ):
        names = list(COUNT_NAMES.values())
        by = render.table(title, first, *(column_label(n) for n in names))
        for key, c in counts.items():
            by.add_row(safe(key), *(str(c.get(n, 0)) for n in names))
        render.show(by)
    out.print(data.statement)


def _campaign(data: reports.CampaignReport, json_out: bool) -> None:
    if json_out:
        emit_json(data.to_dict())
        return
    table = render.table(
        f"Campaign {safe(data.campaign)} of {safe(data.account)}",
        *("contact", "replied", "replies", "last reply", "thread"),
    )
    for r in data.recipients:
        table.add_row(
            safe(r.address),
            "yes" if r.replied else "no",
            str(r.replies),
            (r.last_reply or "")[:16],
            str(r.thread_id),
        )
    render.show(table)
    out.print(f"{data.replied} of {len(data.recipients)} replied.")


def contacts_command(
    address: str = typer.Argument(None, metavar="ADDRESS", help="Show this contact's record."),
    account: str = options.account(),
    full: bool = typer.Option(False, "--full", help="Include message bodies."),
    json_out: bool = options.json_out(),
) -> None:
    """Contacts with message counts and last activity; one contact's timeline and
    attachments."""
    acc = common.account(account)
    store = common.store()
    if address:
        _show_contact(reports.contact_record(store, acc.name, address, full), full, json_out)
        return
    rows = reports.contact_list(store, acc.name)
    if json_out:
        emit_json({"account": acc.name, "contacts": [r.to_dict() for r in rows]})
        return
    table = render.table(
        f"Contacts of {safe(acc.name)}", *("contact", "name", "messages", "last seen")
    )
    for r in rows:
        table.add_row(
            safe(r.address), safe(r.name or ""), str(r.message_count), (r.last_seen or "")[:16]
        )
    render.show(table)


def _show_contact(record: reports.ContactRecord, full: bool, json_out: bool) -> None:
    if json_out:
        emit_json(record.to_dict())
        return
    out.print(
        f"[bold]{safe(record.display)}[/bold] — {record.message_count} message(s), first seen "
        f"{record.first_seen[:10]}, last {record.last_seen[:10]}"
    )
    for item in record.timeline:
        arrow = "→" if item["direction"] == Direction.SENT else "←"
        out.print(
            f"  {arrow} {safe(str(item['date'])[:16])} {safe(item['subject'])} "
            f"[dim]id {item['id']} · {safe(item['message_id'])}[/dim]"
        )
        if item.get("attachments_note"):
            out.print(f"    [yellow]📎 {safe(item['attachments_note'])}[/yellow]")
        if full:
            out.print("    " + safe(item.get("body") or "").replace("\n", "\n    "))
    out.print("[bold]Attachments[/bold]" if record.attachments else "No attachments.")
    for a in record.attachments:
        out.print(
            f"  📎 {safe(a['filename'])} ({a['size']:,} bytes, {safe(a['mime_type'])}) "
            f"[dim]attachment {a['id']}[/dim]"
        )
    if len(record.inboxes) > 1:  # a team's shared store: whose inboxes they are in
        seen = ", ".join(
            f"{i['account']} (last {str(i['last_seen'])[:10]})" for i in record.inboxes
        )
        out.print(f"In the inboxes of: {safe(seen)}")


def why_command(
    message_id: str = typer.Argument(
        ...,
        metavar="MESSAGE-ID|ID",
        help="The Message-ID, with or without <>, or a logged message's id (`messages`, "
        "`threads`).",
    ),
    account: str = options.account(),
    timeout: float = options.timeout(),
    offline: bool = typer.Option(
        False, "--offline", help="Do not look the message up on the server."
    ),
    json_out: bool = options.json_out(),
) -> None:
    """Explain whether and why a message was logged (which rule, which reference), or why not."""
    acc = common.account(account, timeout)
    store = common.store()
    if offline:
        verdict = reports.why(store, acc.name, message_id)
    else:
        verdict = reports.why_with_server(store, acc, lambda: common.password_for(acc), message_id)
    if json_out:
        emit_json(verdict.to_dict())
    else:
        state = "[green]logged[/green]" if verdict.logged else "[yellow]not logged[/yellow]"
        out.print(f"{safe(verdict.message_id)}: {state} (rule: {safe(verdict.rule)})")
        out.print(safe(verdict.explanation))
        if verdict.attachments:
            out.print(f"Attachments: {safe(verdict.attachments)}")
    if verdict.rule == reports.UNKNOWN_MESSAGE:  # neither in the log nor found: a failure
        raise typer.Exit(EXIT_FAILED)
