"""A hand-written dispatch for the hottest command lines, so they do not pay for Typer.

`hubsync sync` run by cron or a script every few minutes spent most of its time importing
Typer (which imports pydantic) and Rich before any mail was read. The command lines below
are parsed here and run through the same code the Typer command calls
(``hubsync.cli.sync_once``); anything else, including every --help, a misspelt option, a
value that needs checking and shell completion, is left to the Typer app, which stays the
one definition of the CLI (its help, reference and completion are generated from it).

Known here: ``[--debug] sync`` with ``--account/-a NAME``, ``--folder/-f FOLDER``
(repeatable), ``--timeout SECONDS`` (0.5 to 3600), ``--all`` and ``--json``, each as
``--name value`` or ``--name=value``.
"""

import os

COMPLETE_VAR = "_HUBSYNC_COMPLETE"

_VALUE_OPTIONS = {"--account": "account", "-a": "account", "--folder": "folders",
                  "-f": "folders", "--timeout": "timeout"}  # fmt: skip
_FLAGS = {"--all": "every", "--json": "json_out"}
TIMEOUT_RANGE = (0.5, 3600.0)  # --timeout's bounds, here and in the Typer option (options.py)


def parse_sync(args: list[str]) -> dict | None:
    """The arguments of `sync ARGS` as ``sync_once``'s keywords, or None when they are not
    all of the known, well-formed kind (the Typer app then parses them, and says what is
    wrong)."""
    found: dict = {"account": None, "every": False, "timeout": None, "folders": [],
                   "json_out": False}  # fmt: skip
    words = iter(args)
    for word in words:
        if word in _FLAGS:
            found[_FLAGS[word]] = True
            continue
        name, sep, value = word.partition("=")
        if name not in _VALUE_OPTIONS or (sep and name.startswith("-") and len(name) == 2):
            return None  # unknown, --help, a positional, or "-a=x" (click reads "=x")
        if not sep:
            value = next(words, None)
            if value is None or value.startswith("-"):
                return None  # a missing value: Typer's error message says so
        key = _VALUE_OPTIONS[name]
        if key == "folders":
            found["folders"].append(value)
        elif key == "timeout":
            try:
                seconds = float(value)
            except ValueError:
                return None
            if not TIMEOUT_RANGE[0] <= seconds <= TIMEOUT_RANGE[1]:
                return None
            found["timeout"] = seconds
        else:
            found[key] = value
    return found


def run(args: list[str]) -> int | None:
    """Run ``args`` when they are a command line known here and return the exit code; None
    when the Typer app must run them."""
    if COMPLETE_VAR in os.environ:
        return None
    debug = args[:1] == ["--debug"]
    command = args[1:] if debug else args
    if command[:1] != ["sync"]:
        return None
    keywords = parse_sync(command[1:])
    if keywords is None:
        return None
    from hubsync import environment
    from hubsync.cli.failures import RunContext, exit_code_for

    context = RunContext.for_args(args)
    os.umask(0o077)  # everything hubsync creates (SQLite's -wal and -shm too) is private
    try:
        from hubsync.cli.sync_once import sync_once

        with environment.use(context.env):
            return sync_once(**keywords)
    except BaseException as exc:  # noqa: BLE001 - rendered, or re-raised when not a failure
        code = exit_code_for(exc, context)
        if code is None:
            raise
        return code
