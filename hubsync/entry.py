"""The `hubsync` command's entry point: `--version` answers without importing the CLI
framework (typer, rich) or any command; everything else goes to ``hubsync.cli.main``."""

import sys


def main() -> None:
    """Run hubsync."""
    if sys.argv[1:] in (["--version"], ["-V"]):
        from hubsync import __version__

        sys.stdout.write(f"hubsync {__version__}\n")
        return
    from hubsync.cli import main as cli_main

    cli_main()
