"""`hubsync completion SHELL`: the shell completion script (commands, options, account,
folder and template names)."""

import typer

SHELLS = ("bash", "zsh", "fish")


def zsh_word(text: str) -> str:
    """``text`` inside the double quotes of the `_arguments` spec that zsh evaluates: a
    backslash first (Typer's own escaping leaves it, so ``w\\$(touch x)`` became live), then
    '"' (Typer doubles it, which drops it), then what Typer escapes; control characters (a
    line break would end the completion) become "?"."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("'", "''")
        .replace("$", "\\$")
        .replace("`", "\\`")
        .replace(":", r"\\:")
    )


def use_safe_completion() -> None:
    """Answer zsh with every candidate escaped by ``zsh_word`` (Typer's zsh class, fixed)."""
    from typer._completion_classes import ZshComplete, _sanitize_help_text, add_completion_class

    class SafeZshComplete(ZshComplete):
        def format_completion(self, item) -> str:
            if item.help:
                return f'"{zsh_word(item.value)}":"{_sanitize_help_text(zsh_word(item.help))}"'
            return f'"{zsh_word(item.value)}"'

    add_completion_class(SafeZshComplete, "zsh")


def register(app: typer.Typer) -> None:
    """Add this module's command to ``app``."""
    app.command("completion")(completion_command)


def completion_command(
    shell: str = typer.Argument(..., metavar="bash|zsh|fish", help="The shell to complete in."),
) -> None:
    """Print the completion script for SHELL. Load it in your shell's start-up file:

    bash: `eval "$(hubsync completion bash)"` in ~/.bashrc;
    zsh: `eval "$(hubsync completion zsh)"` in ~/.zshrc;
    fish: `hubsync completion fish > ~/.config/fish/completions/hubsync.fish`.
    """
    from typer._completion_shared import get_completion_script

    from hubsync.cli.quick import COMPLETE_VAR
    from hubsync.errors import UsageError

    if shell not in SHELLS:
        raise UsageError(f"Completion is available for {', '.join(SHELLS)}, not {shell!r}.")
    script = get_completion_script(prog_name="hubsync", complete_var=COMPLETE_VAR, shell=shell)
    typer.echo(script)
