"""Output for people (Rich) and for scripts (JSON), shared by every command.

Human-readable output goes to stdout; with ``--json`` stdout carries only JSON and every
message goes to stderr. Rich turns colour off by itself when stdout is not a terminal or
``NO_COLOR`` is set.
"""

import dataclasses
import json
import os
import re
import sys
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text


def _console(stderr: bool = False) -> Console:
    """A terminal gets Rich's layout at its width; a pipe or file gets lines that are never
    hard-wrapped (a Message-ID is never split) and tables as wide as their content."""
    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty()
    wide = None if terminal or os.environ.get("COLUMNS") else 100_000
    return Console(stderr=stderr, highlight=False, soft_wrap=not terminal, width=wide)


out = _console()
err = _console(stderr=True)


def table(title: str | None = None, *columns: str, right: tuple[str, ...] = ()) -> Table:
    """A table whose cells fold rather than truncate (names and ids are shown whole); with
    borders on a terminal, plain columns in a pipe."""
    made = Table(title=title, box=box.SQUARE if out.is_terminal else box.SIMPLE_HEAD)
    for name in columns:
        made.add_column(name, overflow="fold", justify="right" if name in right else "left")
    return made


def show(made: Table) -> None:
    """Print a table: as Rich lays it out on a terminal; in a pipe without the spaces that
    pad each line to the table's width (so `grep`, `cut` and diff see only the text)."""
    if out.is_terminal:
        out.print(made)
        return
    with out.capture() as captured:
        out.print(made)
    text = "\n".join(line.rstrip() for line in captured.get().splitlines())
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def indented(text: str, by: int) -> Padding:
    """``text`` (markup) indented by ``by`` columns on every line it wraps to."""
    return Padding(Text.from_markup(text), (0, 0, 0, by), expand=False)


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and
# isolates that can make "invoice\u202efdp.exe" display as "invoiceexe.pdf".
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe(value: Any) -> str:
    """Text from mail, servers or the user, ready for Rich: control and bidi-override
    characters removed (no terminal escapes reach the screen) and markup escaped (a subject
    like "[/]" is shown, not interpreted). JSON output keeps text exact; use this only for
    people."""
    return escape(_UNSAFE.sub("", "" if value is None else str(value)))


def status(message: str, quiet: bool = False):
    """A spinner with ``message`` on stderr while the block waits on the network, shown
    from the first moment on a terminal; nothing in a pipe or when ``quiet`` (--json)."""
    import contextlib

    if quiet or not err.is_terminal:
        return contextlib.nullcontext()
    return err.status(escape(message), spinner="dots")


COMPACT_JSON_FROM = 1 << 20  # bytes: larger documents are printed without indentation


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (the only thing there under --json): indented, or
    compact when it is over 1 MB (Python encodes indented JSON in pure Python, several
    times slower: a second for the thread list of a 100,000-message folder)."""
    text = json.dumps(data, default=_default, ensure_ascii=False)
    if len(text) < COMPACT_JSON_FROM:
        text = json.dumps(data, indent=2, default=_default, ensure_ascii=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def emit_json_line(data: Any) -> None:
    """Print ``data`` as one line of JSON on stdout (an event of a command still running)."""
    sys.stdout.write(json.dumps(data, default=_default, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def status_style(status: str) -> str:
    """The Rich colour for a check status (pass, warn, fail)."""
    return {"pass": "green", "ok": "green", "warn": "yellow", "fail": "red"}.get(status, "")


def mark(ok: bool) -> str:
    """A green tick or a red cross."""
    return "[green]✔[/green]" if ok else "[red]✘[/red]"


def interactive() -> bool:
    """True when a person is at a terminal (progress bars and prompts allowed)."""
    return out.is_terminal and sys.stdin.isatty()
