"""`hubsync attachments save`."""

from pathlib import Path

import typer

from hubsync.cli import common, options
from hubsync.render import emit_json, out, safe

attachments_app = typer.Typer(help="Stored attachments.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(attachments_app, name="attachments")


@attachments_app.command("save")
def save_command(
    ref: str = typer.Argument(
        ...,
        metavar="ID|SHA256",
        help="The attachment's id or sha256 (or its first 8+ hex digits), as shown by "
        "`threads --json` or `contacts ADDRESS --json`.",
    ),
    to: Path = typer.Option(
        Path("."), "--to", metavar="DIR", help="The folder to write it into (default: here)."
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
