"""The command-line layer: parse arguments, call the core, render results. Nothing else.

``main`` first offers the arguments to ``quick`` (a hand-written dispatch for the hottest
command lines, e.g. a cron job's `hubsync sync --json`, which would otherwise spend most of
its time importing Typer); everything else, and every --help and completion, goes to the
Typer app in ``application``. Importing this package imports neither Typer nor Rich.
"""

import sys


def main(argv: list[str] | None = None) -> None:
    """Entry point: the quick path when it knows the command line, else the Typer app."""
    from hubsync.cli import quick

    args = sys.argv[1:] if argv is None else argv
    code = quick.run(args)
    if code is None:
        from hubsync.cli import application  # Typer, only now

        application.main(args)
        return
    sys.exit(code)
