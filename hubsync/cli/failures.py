"""How a run of the CLI ends when something goes wrong: the one place an expected failure
becomes a message (and JSON under --json) and an exit code. Shared by the Typer app and the
hand-written dispatch of the hottest commands (``hubsync.cli.quick``); imports neither Typer
nor Rich until there is something to say."""

import os
import sys
import traceback
from dataclasses import dataclass, field

from hubsync.environment import Environment
from hubsync.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, HubsyncError
from hubsync.redact import scrub
from hubsync.render import OutputClosed, emit_json, emit_json_line, err, safe


@dataclass
class RunContext:
    """One run of the CLI: what the user asked for globally and the environment it runs in.
    Made by ``main`` and handed to the commands as the Typer context's ``obj``."""

    env: Environment = field(default_factory=Environment)
    json: bool = False  # --json anywhere: errors are printed as JSON too
    json_lines: bool = False  # a long-running command's JSON Lines: an error is one line too
    debug: bool = False  # --debug: tracebacks (secrets redacted) for failures

    @classmethod
    def for_args(cls, args: list[str]) -> "RunContext":
        return cls(
            env=Environment.from_mapping(os.environ),
            json="--json" in args,
            json_lines="--json" in args and streams_events(args),
            debug=bool(args) and args[0] == "--debug",
        )


def streams_events(args: list[str]) -> bool:
    """Whether the command writes JSON Lines (one object per line while it runs): `worker`
    and `sync --watch`; their errors must stay one line too."""
    command = next((a for a in args if not a.startswith("-")), "")
    return command == "worker" or (command == "sync" and "--watch" in args)


def say_failure(exc: HubsyncError, about: str = "") -> None:
    """An expected failure for people, on stderr: the message (of ``about``) and its fix."""
    subject = f"{safe(about)}: " if about else ""
    err.print(f"[bold red]Error:[/bold red] {subject}{safe(scrub(exc.message))}", markup=True)
    if exc.fix:
        err.print(f"[bold]Fix:[/bold] {safe(scrub(exc.fix))}", markup=True)


def render_failure(exc: HubsyncError, run: RunContext) -> None:
    """The one place an expected failure becomes a message (and JSON under --json)."""
    if run.debug:
        sys.stderr.write(scrub("".join(traceback.format_exception(exc))))
    say_failure(exc)
    if run.json:
        data = exc.to_dict()
        if run.json_lines:  # the last event of a stream: what ended it
            data = {"event": "error", **data}
        emit = emit_json_line if run.json_lines else emit_json
        emit({k: scrub(v) if isinstance(v, str) else v for k, v in data.items()})


def exit_code_for(exc: BaseException, run: RunContext) -> int | None:
    """Say what ended the run and return its exit code; None for an exit already decided
    (SystemExit). The CLI framework's usage errors and aborts are its caller's to handle
    first."""
    if isinstance(exc, HubsyncError):
        render_failure(exc, run)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        err.print("Interrupted.")
        return EXIT_INTERRUPTED
    if isinstance(exc, (OutputClosed, BrokenPipeError)):  # `hubsync threads | head -1`
        quiet_closed_stdout()
        return EXIT_OK
    if isinstance(exc, Exception):
        # the one top-level handler for a bug: said plainly, secrets redacted
        err.print(
            f"[red]hubsync hit an internal error:[/red] {scrub(type(exc).__name__)}", markup=True
        )
        sys.stderr.write(scrub("".join(traceback.format_exception(exc))))
        return EXIT_FAILED
    return None


def quiet_closed_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of the closed pipe does
    not print "Exception ignored ... BrokenPipeError" on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests): nothing to flush
        pass
