"""The Typer application: every command, its options, its help and completion. Commands not
run through ``hubsync.cli.quick`` (and every --help) start here."""

import os
import sys

import typer

try:  # typer >= 0.19 vendors click as typer._click; older typer uses click itself
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover
    from click import exceptions as click_errors

from hubsync import __version__, environment
from hubsync.cli.failures import RunContext, exit_code_for
from hubsync.cli.quick import COMPLETE_VAR
from hubsync.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE
from hubsync.render import emit_json, emit_json_line, err

app = typer.Typer(
    name="hubsync",
    help="Connect an email inbox to a local CRM log, and audit it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hubsync {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks (secrets redacted) for failures."
    ),
) -> None:
    """Connect an email inbox to a local CRM log, and audit it.

    Exit codes: 0 success (found nothing included), 1 the operation failed, 2 usage error
    (an unknown account too), 3 authentication refused or consent revoked (a person must act),
    4 server or network unreachable (a retry may help), 5 busy (another hubsync holds the
    account), 130 interrupted.
    """
    if isinstance(ctx.obj, RunContext):
        ctx.obj.debug = debug


# Which module registers which top-level command. Only the module of the command being run
# is imported, so a no-op `hubsync sync` starts in a fraction of the time (see benchmarks/).
COMMAND_MODULES = {
    "probe": "probe",
    "discover": "accounts",
    "connect": "accounts",
    "accounts": "accounts",
    "send": "send",
    "outbox": "send",
    "templates": "send",
    "sync": "sync",
    "log": "sync",
    "threads": "reports",
    "report": "reports",
    "contacts": "reports",
    "why": "reports",
    "messages": "messages",
    "doctor": "doctor",
    "completion": "completion",
    "service": "service",
    "attachments": "attachments",
    "worker": "team",
    "team": "team",
}


_registered: set[str] = set()


def _register_commands(args: list[str]) -> None:
    import importlib

    wanted = next((a for a in args if not a.startswith("-")), None)
    if wanted is None and any(a in ("--version", "-V") for a in args):
        return  # the version needs no command
    names = [COMMAND_MODULES[wanted]] if wanted in COMMAND_MODULES else COMMAND_MODULES.values()
    for name in dict.fromkeys(names):
        if name not in _registered:  # main() may run more than once in one process (tests)
            importlib.import_module(f"hubsync.cli.{name}").register(app)
            _registered.add(name)
    _reflow_help(app)


def _reflow(text: str | None) -> str | None:
    """Docstring paragraphs as single lines, so help text wraps at the terminal's width
    instead of breaking where the source code did."""
    if not text:
        return text
    import inspect

    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def _first_sentence(text: str | None) -> str | None:
    """A command's line in a command list: its first sentence, whole (click would cut the
    first paragraph to the width and end it with "...")."""
    if not text:
        return text
    paragraph = text.split("\n\n")[0]
    head, dot, _ = paragraph.partition(". ")
    return head + dot.strip() if dot else paragraph


def _reflow_help(typer_app: typer.Typer) -> None:
    for info in typer_app.registered_commands:
        if info.help is None and info.callback is not None:
            info.help = _reflow(info.callback.__doc__)
        if info.short_help is None:
            info.short_help = _first_sentence(info.help)
    for group in typer_app.registered_groups:
        sub = group.typer_instance
        if sub.info.help:
            sub.info.help = _reflow(sub.info.help)
        if not sub.info.short_help:
            sub.info.short_help = _first_sentence(sub.info.help)
        _reflow_help(sub)


def _plain_help() -> None:
    """Help shows a placeholder only where a value is expected: not "<bool>" on a flag, no
    "[x>=0.5]" type ranges (the help text says the range in words), and arguments in the
    usage line as HOST or [ADDRESS], never {HOST}, which reads like a template placeholder."""
    from typer.core import TyperArgument, TyperOption

    def usage_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 and not name.endswith("...") else "")

    TyperArgument._usage_display_name = usage_name
    TyperArgument.display_type_rich = lambda self, ctx: None  # its name says what it is

    original = TyperOption.display_type_rich

    def display_type_rich(self, ctx):
        return None if self.is_flag else original(self, ctx)

    TyperOption.display_type_rich = display_type_rich
    TyperOption._get_number_range_help_str = lambda self: None
    _whole_words_in_help()


def _whole_words_in_help() -> None:
    """click wraps help text with textwrap's defaults, which break "--include-folder" and
    "MESSAGE-ID" at their hyphens and cut a long path in two: wrap at spaces only."""
    try:
        from typer._click import _textwrap
    except ImportError:  # pragma: no cover - older typer uses click itself
        from click import _textwrap

    import textwrap

    original = _textwrap.TextWrapper.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.break_on_hyphens = False
        self.break_long_words = False

    _textwrap.TextWrapper.__init__ = init
    # click's own version cuts a long word whatever break_long_words says; the standard one
    # puts it on a line of its own instead
    _textwrap.TextWrapper._handle_long_word = textwrap.TextWrapper._handle_long_word


_plain_help()


def main(argv: list[str] | None = None) -> None:
    """Run the Typer app and render every expected failure in one place."""
    args = sys.argv[1:] if argv is None else argv
    run = RunContext.for_args(args)
    os.umask(0o077)  # everything hubsync creates (SQLite's -wal and -shm too) is private
    if COMPLETE_VAR in os.environ:  # the shell asks what to complete (see `hubsync completion`)
        from typer._completion_classes import completion_init

        from hubsync.cli.completion import use_safe_completion

        completion_init()
        use_safe_completion()
        args = []  # the words come from the environment; every command must be known
    _register_commands(args)
    _fit_help_to_width()
    try:
        with environment.use(run.env):
            code = app(args=args, prog_name="hubsync", standalone_mode=False, obj=run)
    except typer.Abort as exc:  # "no" at a confirmation, or Ctrl-C / end of input at a prompt
        # click raises Abort "from None" for both; the interrupt is still its __context__
        if isinstance(exc.__context__, KeyboardInterrupt):
            err.print("Interrupted.")
            sys.exit(EXIT_INTERRUPTED)
        err.print("Aborted; nothing was changed.")
        sys.exit(EXIT_FAILED)
    except click_errors.ClickException as exc:
        _hint_global_option(exc)
        exc.show()
        code = EXIT_USAGE if isinstance(exc, click_errors.UsageError) else exc.exit_code
        if run.json:  # under --json a usage error is JSON too
            usage = {"error": "usage", "message": exc.format_message(), "fix": None}
            (emit_json_line if run.json_lines else emit_json)(usage)
        sys.exit(code)
    except BaseException as exc:  # noqa: BLE001 - rendered, or re-raised when not a failure
        failed = exit_code_for(exc, run)
        if failed is None:
            raise
        sys.exit(failed)
    sys.exit(code if isinstance(code, int) else 0)


RICH_HELP_FROM_COLUMNS = 100


def _fit_help_to_width() -> None:
    """Rich's help panels squeeze long option names to "--oauth-client-…" when the screen is
    narrow; click's plain layout never cuts a name (its help moves to the next line instead).
    So the panels only on a terminal at least RICH_HELP_FROM_COLUMNS wide."""
    import shutil

    wide = sys.stdout.isatty() and shutil.get_terminal_size().columns >= RICH_HELP_FROM_COLUMNS
    app.rich_markup_mode = "rich" if wide else None


GLOBAL_OPTIONS = ("--debug", "--version", "-V")


def _hint_global_option(exc: Exception) -> None:
    """`hubsync sync --debug`: say where a global option goes instead of only "No such
    option"."""
    name = getattr(exc, "option_name", "")
    if isinstance(exc, click_errors.NoSuchOption) and name in GLOBAL_OPTIONS:
        path = exc.ctx.command_path.split(None, 1) if exc.ctx else []
        command = path[1] if len(path) > 1 else "COMMAND"
        exc.message = (
            f"{name} is a global option: give it before the command, as in "
            f"`hubsync {name} {command}`."
        )
