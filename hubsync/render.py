"""Output for people (Rich) and for scripts (JSON), shared by every command.

Human-readable output goes to stdout; with ``--json`` stdout carries only JSON and every
message goes to stderr. Rich turns colour off by itself when stdout is not a terminal or
``NO_COLOR`` is set. Rich is imported on the first thing printed for people: a command
that prints only JSON never loads it.
"""

import dataclasses
import json
import os
import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text


class OutputClosed(Exception):
    """The reader of stdout went away (`hubsync threads | head -1`): it has all it wanted,
    which is not a failure. Not an OSError on purpose: click would turn that into exit 1."""


class _TrimmedLines:
    """A pipe's stream without the spaces Rich pads each line with to the layout's width, so
    `grep`, `cut` and diff see only the text."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._pending = ""

    @property
    def _stream(self):  # looked up each time: tests swap sys.stdout
        return sys.stderr if self._stderr else sys.stdout

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        if lines:
            self._stream.write("".join(line.rstrip(" ") + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(self._pending)
            self._pending = ""
        self._stream.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._stream.fileno()


def _console(stderr: bool = False) -> "Console":
    """A terminal gets Rich's layout at its width; a pipe or file gets lines that are never
    hard-wrapped (a Message-ID is never split) and tables as wide as their content, unless
    COLUMNS asks for a width: then lines wrap at word boundaries there, and are never cut."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True  # Rich would exit 1 here
            raise OutputClosed

    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty()
    unbounded = not terminal and not os.environ.get("COLUMNS")
    return _Console(
        stderr=stderr,
        file=None if terminal else _TrimmedLines(stderr),
        highlight=False,
        soft_wrap=unbounded,
        width=100_000 if unbounded else None,
    )


class _LazyConsole:
    """The Rich console of stdout or stderr, made on first use (and so is Rich imported)."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def made(self) -> "Console":
        """The console itself (made now if not yet)."""
        if self._console is None:
            self._console = _console(self._stderr)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.made(), name)


def console(lazy: "Console") -> "Console":
    """The Rich console behind ``out`` or ``err``, for Rich objects that are handed one (a
    progress bar uses it as a context manager, which a stand-in cannot be)."""
    return lazy.made() if isinstance(lazy, _LazyConsole) else lazy


out: "Console" = _LazyConsole(stderr=False)  # type: ignore[assignment]
err: "Console" = _LazyConsole(stderr=True)  # type: ignore[assignment]


def table(title: str | None = None, *columns: str, right: tuple[str, ...] = ()) -> "Table":
    """A table whose cells fold rather than truncate (names and ids are shown whole); with
    borders on a terminal, plain columns in a pipe."""
    from rich import box
    from rich.table import Table

    made = Table(title=title, box=box.SQUARE if out.is_terminal else box.SIMPLE_HEAD)
    for name in columns:
        made.add_column(name, overflow="fold", justify="right" if name in right else "left")
    return made


def show(made: "Table") -> None:
    """Print a table; where the screen is too narrow for it as it is, as one `column: value`
    record per row instead: Rich would squeeze the columns and break words inside cells
    ("alice@ex / ample.te / st"), whatever each cell's shortest fit."""
    from rich.text import Text

    real = console(out)
    needed = made.__rich_measure__(real, real.options).maximum
    if needed <= real.width:
        real.print(made)
        return
    if made.title:
        out.print(
            Text.from_markup(made.title, style="bold")
            if isinstance(made.title, str)
            else made.title
        )
    columns = [(f"{_plain(c.header)}:", list(c.cells)) for c in made.columns]
    for index in range(made.row_count):
        out.print()
        for label, cells in columns:
            out.print(hanging(label, cells[index], 2))


def _plain(header: Any) -> str:
    from rich.text import Text

    return header.plain if isinstance(header, Text) else str(header)


def hanging(label: str, text: "str | Text", indent: int) -> "Table":
    """``label`` (markup) at ``indent`` columns, then ``text`` (markup) beside it; lines that
    ``text`` wraps to start under its first word, not under the label."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid()
    grid.add_column(width=indent, no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    value = Text.from_markup(text) if isinstance(text, str) else text
    grid.add_row("", Text.from_markup(label + " "), value)
    return grid


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
    from rich.markup import escape

    return escape(_UNSAFE.sub("", "" if value is None else str(value)))


def status(message: str, quiet: bool = False):
    """A spinner with ``message`` on stderr while the block waits on the network, shown
    from the first moment on a terminal; nothing in a pipe or when ``quiet`` (--json)."""
    import contextlib

    if quiet or not err.is_terminal:
        return contextlib.nullcontext()
    return err.status(safe(message), spinner="dots")


COMPACT_JSON_FROM = 1 << 20  # bytes: larger documents are printed without indentation
SCHEMA = 2  # the JSON vocabulary's version, in every object (docs/schema/, CHANGELOG.md)


def _versioned(data: Any) -> Any:
    if isinstance(data, dict) and "schema" not in data:
        return {"schema": SCHEMA, **data}
    return data


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (the only thing there under --json): indented, or
    compact when it is over 1 MB (Python encodes indented JSON in pure Python, several
    times slower: a second for the thread list of a 100,000-message folder)."""
    data = _versioned(data)
    text = json.dumps(data, default=_default, ensure_ascii=False)
    if len(text) < COMPACT_JSON_FROM:
        text = json.dumps(data, indent=2, default=_default, ensure_ascii=False)
    _write(text + "\n")


def emit_json_streamed(data: dict, streams: dict[str, Iterable], at_least: int) -> None:
    """``emit_json(data)`` with each ``data[key]`` the list of ``streams[key]``'s items,
    written as the items are made instead of held whole: the same text, when ``at_least``
    (a lower bound of the items' JSON size) shows the document is over COMPACT_JSON_FROM.
    Smaller documents are made whole (their indentation depends on their exact size)."""
    if at_least < COMPACT_JSON_FROM:
        emit_json({**data, **{key: list(items) for key, items in streams.items()}})
        return
    encode = json.JSONEncoder(default=_default, ensure_ascii=False).encode
    opening = "{"
    for key, value in _versioned(data).items():
        if key not in streams:
            _write(f"{opening}{encode(key)}: {encode(value)}")
        else:
            _write(f"{opening}{encode(key)}: [")
            _write_items(encode, streams[key])
            _write("]")
        opening = ", "
    _write("}\n")


def _write_items(encode, items: Iterable) -> None:
    """``items`` as the inside of a JSON list, encoded a batch at a time (one call of the
    encoder per batch: the text of a list is its items' texts joined by ", ")."""
    batch: list = []
    separator = ""
    for item in items:
        batch.append(item)
        if len(batch) == 4096:
            _write(separator + encode(batch)[1:-1])
            batch, separator = [], ", "
    if batch:
        _write(separator + encode(batch)[1:-1])


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise OutputClosed from None


def emit_json_line(data: Any) -> None:
    """Print ``data`` as one line of JSON on stdout (an event of a command still running)."""
    _write(json.dumps(_versioned(data), default=_default, ensure_ascii=False) + "\n")


def status_style(status: str) -> str:
    """The Rich colour for a check status (pass, warn, fail)."""
    return {"pass": "green", "ok": "green", "warn": "yellow", "fail": "red"}.get(status, "")


def mark(ok: bool) -> str:
    """A green tick or a red cross."""
    return "[green]✔[/green]" if ok else "[red]✘[/red]"


def interactive() -> bool:
    """True when a person is at a terminal (progress bars and prompts allowed)."""
    return out.is_terminal and sys.stdin.isatty()
