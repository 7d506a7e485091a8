"""The generated part of the command reference: every command's usage and options, read
from the Typer app. `python -m hubsync.cli.reference > docs/reference.md` writes it; a test
fails when the file is stale."""

from typer.main import get_command

from hubsync.cli.application import _register_commands, app

HEADER = (
    "# Command options (generated)\n\n"
    "Generated from the command definitions by `python -m hubsync.cli.reference > "
    "docs/reference.md`; a test fails when it is out of date. What each command does, its "
    "JSON fields and exit codes: [commands.md](commands.md).\n"
)


def _walk(command, path: str):
    yield path, command
    for name in sorted(getattr(command, "commands", {}) or {}):
        yield from _walk(command.commands[name], f"{path} {name}".strip())


def _option_row(param) -> str:
    names = ", ".join(f"`{o}`" for o in param.opts)
    if not getattr(param, "is_flag", False) and param.metavar:
        names += f" `{param.metavar}`"
    default = param.default
    shown = ""
    if default not in (None, False, (), []) and not callable(default):
        shown = f" (default: {default})"
    text = " ".join((param.help or "").split()).replace("|", "\\|")
    return f"| {names} | {text}{shown} |"


def markdown() -> str:
    """The reference as Markdown."""
    _register_commands([])
    root = get_command(app)
    parts = [HEADER]
    for path, command in _walk(root, ""):
        title = f"hubsync {path}".strip()
        summary = (command.help or "").strip().split("\n\n")[0]
        parts.append(f"\n## {title}\n\n{' '.join(summary.split())}\n")
        args = [p for p in command.params if p.param_type_name == "argument"]
        options = [p for p in command.params if p.param_type_name == "option"]
        usage = " ".join([title] + [p.metavar or p.name.upper() for p in args])
        parts.append(f"\n`{usage}`\n")
        if args:
            parts.append("\n| argument | meaning |\n|---|---|")
            for p in args:
                text = " ".join((p.help or "").split()).replace("|", "\\|")
                parts.append(f"| `{p.metavar or p.name.upper()}` | {text} |")
        if options:
            parts.append("\n| option | meaning |\n|---|---|")
            parts.extend(_option_row(p) for p in options)
            parts.append("| `-h`, `--help` | Show the help and exit. |")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
