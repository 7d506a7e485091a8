"""`hubsync completion SHELL`: the shell completion script (commands, options, account,
folder and template names)."""

import typer

SHELLS = ("bash", "zsh", "fish")


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

    from hubsync.cli import COMPLETE_VAR
    from hubsync.errors import UsageError

    if shell not in SHELLS:
        raise UsageError(f"Completion is available for {', '.join(SHELLS)}, not {shell!r}.")
    script = get_completion_script(prog_name="hubsync", complete_var=COMPLETE_VAR, shell=shell)
    typer.echo(script)
