"""`hubsync attachments list` and `hubsync attachments save`."""

from pathlib import Path

import typer

from hubsync import render
from hubsync.cli import common, options
from hubsync.render import emit_json, out, safe
from hubsync.store import queries

attachments_app = typer.Typer(help="Stored attachments.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(attachments_app, name="attachments")


@attachments_app.command("list")
def list_command(
    contact: str = typer.Option(
        None, "--contact", metavar="ADDRESS", help="Only attachments of mail with this address."
    ),
    thread: int = typer.Option(
        None, "--thread", metavar="ID", help="Only those of this thread (ids: `threads`)."
    ),
    message: int = typer.Option(
        None, "--message", metavar="ID", help="Only those of this message (ids: `messages`)."
    ),
    account: str = options.account(),
    json_out: bool = options.json_out(),
) -> None:
    """Stored attachments with the id `attachments save` takes, their message and thread."""
    acc = common.account(account)
    rows = queries.attachment_list(common.store(), acc.name, contact, thread, message)
    if json_out:
        emit_json({"account": acc.name, "attachments": rows})
        return
    if not rows:
        out.print("No stored attachments" + (" match." if contact or thread or message else "."))
        return
    table = render.table(
        None, "id", "file", "size", "sha256", "message", "thread", "from", right=("size",)
    )
    for r in rows:
        table.add_row(
            str(r["id"]),
            safe(r["filename"] or "(no name)"),
            f"{r['size']:,}",
            r["sha256"][:12],
            str(r["message"]),
            str(r["thread_id"]),
            safe(r["from_addr"] or ""),
        )
    render.show(table)


@attachments_app.command("save")
def save_command(
    ref: str = typer.Argument(
        ...,
        metavar="ID|SHA256",
        help="The attachment's id or sha256 (or its first 8+ hex digits), as shown by "
        "`attachments list`, `threads` and `contacts ADDRESS`.",
    ),
    to: Path = typer.Option(
        Path("."),
        "--to",
        metavar="DIR",
        help="An existing folder to write it into (default: here).",
    ),
    account: str = options.account(),
    json_out: bool = options.json_out(),
) -> None:
    """Write a stored attachment under its original name (made safe; an existing file is
    never overwritten: "name (2).pdf")."""
    from hubsync.attachment_export import save_to

    acc = common.account(account)
    saved = save_to(common.store(), acc.name, ref, to)
    if json_out:
        emit_json(saved.to_dict())
        return
    out.print(f"Saved {safe(saved.filename)} ({saved.size:,} bytes) to {safe(saved.path)}")
