"""`hubsync send`, `hubsync outbox` and `hubsync templates ...`."""

import sys
from pathlib import Path

import typer

from hubsync import render, sending
from hubsync import templates as tpl
from hubsync.cli import common, options
from hubsync.errors import UsageError
from hubsync.mail import compose
from hubsync.render import emit_json, err, out, safe, status

templates_app = typer.Typer(help="Message templates with {placeholders}.", no_args_is_help=True)
SENT_COPY_MODES = tuple(m.value for m in sending.SentCopyMode)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("send")(send_command)
    app.command("outbox")(outbox_command)
    app.add_typer(templates_app, name="templates")


def send_command(
    to: list[str] = typer.Option(None, "--to", metavar="ADDRESS", help="Recipient (repeatable)."),
    cc: list[str] = typer.Option(
        None, "--cc", metavar="ADDRESS", help="Copy recipient (repeatable)."
    ),
    bcc: list[str] = typer.Option(
        None,
        "--bcc",
        metavar="ADDRESS",
        help="Blind copy (repeatable; kept only in your Sent copy).",
    ),
    subject: str = typer.Option(None, "--subject", "-s", metavar="TEXT", help="The subject line."),
    body: str = typer.Option(None, "--body", metavar="TEXT", help="The text of the message."),
    body_file: str = typer.Option(
        None, "--body-file", metavar="FILE", help="Read the text from FILE (- for standard input)."
    ),
    template: str = options.template(),
    var: list[str] = typer.Option(
        None, "--var", metavar="KEY=VALUE", help="KEY=VALUE for the template (repeatable)."
    ),
    attach: list[Path] = typer.Option(
        None, "--attach", metavar="FILE", help="Attach a file (repeatable)."
    ),
    in_reply_to: str = typer.Option(
        None,
        "--in-reply-to",
        metavar="MESSAGE-ID",
        help="Message-ID this replies to; In-Reply-To and References come from the stored thread.",
    ),
    sent_copy: str = typer.Option(
        None, "--sent-copy", metavar="auto|always|never", help="auto (default), always or never."
    ),
    account: str = options.account(),
    timeout: float = options.timeout(),
    idempotency_key: str = typer.Option(
        None,
        "--idempotency-key",
        metavar="KEY",
        help="A key of your choice (e.g. the CSV row): a second send with the same key sends "
        "nothing and prints the first send's result.",
    ),
    campaign: str = typer.Option(
        None,
        "--campaign",
        metavar="NAME",
        help="Tag the thread with a campaign; `hubsync report --campaign NAME` lists who replied.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show the message (headers, body, parts) and send nothing."
    ),
    json_out: bool = options.json_out(),
) -> None:
    """Send a message over SMTP, then file one copy in the Sent folder.

    The message is journalled before submission: a crash never leads to a second delivery,
    and a copy that could not be filed is retried by the next send (or `hubsync outbox
    --retry`).
    """
    acc = common.account(account, timeout)
    mode = sent_copy or acc.sent_copy or sending.SentCopyMode.AUTO
    if mode not in SENT_COPY_MODES:
        raise UsageError("--sent-copy must be auto, always or never.")
    subject, text = _content(subject, body, body_file, template, var or [])
    store = common.store()
    refs: list[str] = []
    if in_reply_to:
        in_reply_to, refs = sending.reply_headers(store, acc.name, in_reply_to)
    draft = compose.Draft(
        sender=acc.email,
        sender_name=acc.display_name,
        to=to or [],
        cc=cc or [],
        bcc=bcc or [],
        subject=subject,
        body=text,
        attachments=attach or [],
        in_reply_to=in_reply_to,
        references=refs,
    )
    if dry_run:
        _show_dry_run(draft, acc, mode, json_out)
        return
    with status(f"Sending through {acc.smtp_host}…", quiet=json_out):
        result = sending.send(
            store, acc, draft, common.password_for(acc), mode, idempotency_key, campaign
        )
    if json_out:
        emit_json(result.to_dict())
    else:
        _show_result(result)
    # Submitted is success: a copy still owed is filed later, and a script that retried on
    # the exit code would send the message twice.
    done = (
        sending.OutboxState.FILED,
        sending.OutboxState.FILING_FAILED,
        sending.OutboxState.AWAITING_COPY,
    )
    raise typer.Exit(0 if result.state in done else 1)


def _content(subject, body, body_file, template, variables) -> tuple[str, str]:
    sources = [x for x in (body, body_file, template) if x is not None]
    if len(sources) != 1:
        raise UsageError("Give exactly one of --body, --body-file or --template.")
    if template:
        values = {}
        for item in variables:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise UsageError(f"--var {item!r} must look like KEY=VALUE.")
            values[key] = value
        t_subject, text = tpl.load(template).render(values)
        return subject or t_subject, text
    if subject is None:
        raise UsageError("Give a --subject.", reason="no-subject")
    if body_file == "-":
        return subject, sys.stdin.read()
    if body_file:
        try:
            return subject, Path(body_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"Cannot read {body_file}: {exc}.") from None
    return subject, body


def _show_dry_run(draft, acc, mode, json_out) -> None:
    msg = compose.build(draft, acc.domain)
    data = compose.describe(msg)
    data["sent_folder"] = acc.sent_folder
    data["sent_copy_mode"] = mode
    data["would_submit_to"] = f"{acc.smtp_host}:{acc.smtp_port} ({acc.smtp_security})"
    data["envelope_recipients"] = draft.recipients
    data["body"] = draft.body
    if json_out:
        emit_json(data)
        return
    for key, value in data["headers"].items():
        out.print(f"[bold]{safe(key)}:[/bold] {safe(value)}")
    out.print()
    out.print(draft.body, markup=False, highlight=False)
    out.print("[bold]MIME structure:[/bold]")
    for part in data["structure"]:
        name = f" {safe(part['filename'])}" if part["filename"] else ""
        indent = "  " * (part["depth"] + 1)
        out.print(f"{indent}{safe(part['type'])}{name} ({part['size']} bytes)")
    out.print(
        f"Would submit to {data['would_submit_to']} for {', '.join(draft.recipients)}; "
        f"Sent copy: {mode} into '{acc.sent_folder}'. Nothing was sent."
    )


def _show_result(result: sending.SendResult) -> None:
    if result.replayed:
        out.print(
            f"Already sent with this idempotency key: {safe(result.message_id)} "
            f"({result.state}); nothing was sent again."
        )
        return
    for item in result.retried:
        out.print(f"Earlier message {safe(item['message_id'])}: {item['state']}")
    out.print(
        f"[green]Sent[/green] {safe(result.message_id)} to {safe(', '.join(result.accepted))}"
    )
    for rcpt, why in result.refused.items():
        out.print(f"[red]Refused[/red] {safe(rcpt)}: {safe(why)}")
    copy = {
        sending.SentCopy.APPENDED: f"copy filed in '{safe(result.sent_folder)}'",
        sending.SentCopy.ALREADY_PRESENT: f"the server filed its own copy in "
        f"'{safe(result.sent_folder)}'",
        sending.SentCopy.SKIPPED: "no Sent copy (--sent-copy never)",
        sending.SentCopy.AWAITING: f"the server files its own copy in "
        f"'{safe(result.sent_folder)}'; the next sync checks that it did (hubsync files one "
        "only if none came)",
    }.get(result.sent_copy)
    if copy:
        out.print(f"Sent folder: {copy}.")
    else:
        err.print(
            f"[yellow]Warning: the message was sent once, but filing the Sent copy failed:"
            f"[/yellow] {safe(result.error)}\nThe copy is pending: `hubsync outbox --retry` "
            "files it (so does the next send). The message will never be sent again."
        )


def outbox_command(
    account: str = options.account(),
    timeout: float = options.timeout(),
    retry: bool = typer.Option(False, "--retry", help="Retry filing the Sent copies owed."),
    show_all: bool = typer.Option(False, "--all", help="Also list filed and failed messages."),
    json_out: bool = options.json_out(),
) -> None:
    """List sent messages whose Sent copy is still owed, or whose outcome is uncertain.

    With --retry, exit 1 when a copy still could not be filed.
    """
    acc = common.account(account, timeout)
    store = common.store()
    retried = sending.retry_filing(store, acc, common.password_for(acc)) if retry else []
    failed = any(item["state"] != sending.OutboxState.FILED for item in retried)
    states = () if show_all else sending.PENDING
    items = store.outbox(acc.name, states)
    if json_out:
        emit_json({"account": acc.name, "retried": retried, "items": items})
        raise typer.Exit(1 if failed else 0)
    for item in retried:
        out.print(f"Retried {safe(item['message_id'])}: {item['state']}")
        if item.get("error"):
            err.print(f"  {safe(item['error'])}")
    if not items:
        out.print("The outbox is empty: every sent message has its Sent copy.")
    else:
        table = render.table(
            f"Outbox of {safe(acc.name)}", *("message", "subject", "state", "updated", "error")
        )
        for item in items:
            table.add_row(
                safe(item["message_id"]),
                safe(item["subject"] or ""),
                item["state"],
                item["updated"],
                safe(item["error"] or ""),
            )
        render.show(table)
    raise typer.Exit(1 if failed else 0)


@templates_app.command("add")
def templates_add(
    name: str = options.template_name(),
    file: Path = typer.Option(
        None, "--file", metavar="FILE", help="File: 'Subject: ...' line, blank line, body."
    ),
    subject: str = typer.Option(
        None, "--subject", "-s", metavar="TEXT", help="The subject line (with --body-file)."
    ),
    body_file: Path = typer.Option(
        None, "--body-file", metavar="FILE", help="The body, with {placeholders}."
    ),
    force: bool = typer.Option(False, "--force", help="Replace a template of the same name."),
    json_out: bool = options.json_out(),
) -> None:
    """Save a template. Placeholders look like {first_name}. An existing template is kept
    unless --force is given."""
    if file:
        t_subject, body = tpl.parse_file(file.read_text(encoding="utf-8"))
        subject = subject or t_subject
    elif body_file:
        body = body_file.read_text(encoding="utf-8")
    else:
        raise UsageError("Give --file FILE, or --subject S --body-file FILE.")
    template = tpl.Template(name, subject or "", body)
    replaced = tpl.exists(name)
    if replaced and not force:
        raise UsageError(
            f"A template named {name!r} exists already.",
            fix="Give --force to replace it, or choose another name.",
            reason="template-exists",
        )
    path = tpl.save(template)
    if json_out:
        emit_json(
            {
                "name": name,
                "subject": template.subject,
                "variables": template.variables,
                "path": str(path),
                "replaced": replaced,
            }
        )
        return
    out.print(
        f"Saved template {safe(name)} ({safe(path)}); variables: "
        f"{safe(', '.join(template.variables) or 'none')}"
    )


@templates_app.command("list")
def templates_list(json_out: bool = options.json_out()) -> None:
    """List templates with their variables."""
    items = [
        {"name": t.name, "subject": t.subject, "variables": t.variables}
        for t in tpl.all_templates()
    ]
    if json_out:
        emit_json({"templates": items})
        return
    for item in items:
        out.print(
            f"[bold]{safe(item['name'])}[/bold]: {safe(item['subject'])} "
            f"({safe(', '.join(item['variables']) or 'no variables')})"
        )
    if not items:
        out.print("No templates yet: `hubsync templates add NAME --file FILE`.")


@templates_app.command("show")
def templates_show(
    name: str = options.template_name(),
    json_out: bool = options.json_out(),
) -> None:
    """Show a template."""
    t = tpl.load(name)
    if json_out:
        emit_json({"name": t.name, "subject": t.subject, "body": t.body, "variables": t.variables})
        return
    out.print(f"Subject: {t.subject}\n\n{t.body}", markup=False)


@templates_app.command("remove")
def templates_remove(name: str = options.template_name()) -> None:
    """Delete a template."""
    tpl.remove(name)
    out.print(f"Removed template {safe(name)}")
