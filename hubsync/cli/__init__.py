"""The command-line layer: parse arguments, call the core, render results. Nothing else.

``main`` first offers the arguments to ``quick`` (a hand-written dispatch for the hottest
command lines, e.g. a cron job's `hubsync sync --json`, which would otherwise spend most of
its time importing Typer); everything else, and every --help and completion, goes to the
Typer app in ``application``. Importing this package imports neither Typer nor Rich.
"""

import sys


def main(argv: list[str] | None = None) -> None:
    """Entry point: the quick path when it knows the command line, else the Typer app."""
    import importlib

    quick = importlib.import_module("hubsync.cli.quick")
    args = sys.argv[1:] if argv is None else argv
    code = quick.run(args)
    if code is None:
        importlib.import_module("hubsync.cli.application").main(args)
        return
    sys.exit(code)


def __getattr__(name: str):
    """``app``, ``say_failure``, ``COMMAND_MODULES`` and the rest, from the modules that own
    them (loaded on first use)."""
    import importlib

    home = _FORWARDED.get(name)
    if home is None:  # a submodule not imported yet, or no such name
        raise AttributeError(f"module 'hubsync.cli' has no attribute {name!r}")
    return getattr(importlib.import_module(f"hubsync.cli.{home}"), name)


_FORWARDED = {
    "say_failure": "failures",
    "RunContext": "failures",
    "app": "application",
    "COMMAND_MODULES": "application",
    "COMPLETE_VAR": "quick",
    "_register_commands": "application",
}
