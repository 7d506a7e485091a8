"""The quick dispatch (hubsync/cli/quick.py) against the Typer app it stands in for: every
command line it takes, it reads exactly as Typer does; every other one it leaves to Typer;
and the sync it runs does not load Typer."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubsync.cli import quick

ROOT = Path(__file__).resolve().parents[1]

WORDS = st.sampled_from(
    ["--account", "-a", "--folder", "-f", "--timeout", "--json", "--all", "--watch",
     "--help", "-h", "--poll", "--debug", "--", "-x", "INBOX", "Sent", "alice", "0.4",
     "1", "3600", "3601", "nan", "", "x=y", "--account=bob", "--folder=Archive/2026",
     "--timeout=2.5", "--timeout=0", "-a=bob", "--json=1", "--folders"]
)  # fmt: skip


def _typer_reading(args: list[str]) -> dict | None:
    """What the Typer app's `sync` makes of ``args``: the command's parameters, or None
    for a usage error (or --help, which ends parsing)."""
    from hubsync.cli.application import _register_commands, app

    _register_commands(["sync"])
    import typer.main

    command = typer.main.get_command(app).commands["sync"]
    try:
        context = command.make_context("sync", list(args), resilient_parsing=False)
    except Exception:  # noqa: BLE001 - usage errors and the --help exit alike
        return None
    params = context.params
    return {
        "account": params["account"],
        "every": params["every"],
        "timeout": params["timeout"],
        "folders": list(params["folder"] or []),
        "json_out": params["json_out"],
        "watch": params["watch_mode"],
    }


@settings(max_examples=400, deadline=None)
@given(st.lists(WORDS, max_size=6))
def test_every_command_line_it_takes_is_read_as_typer_reads_it(args):
    mine = quick.parse_sync(args)
    if mine is None:
        return  # left to Typer: always allowed
    theirs = _typer_reading(args)
    assert theirs is not None, f"quick took {args} that Typer refuses"
    assert theirs.pop("watch") is False
    assert mine == theirs


@pytest.mark.parametrize(
    "args",
    [
        ["sync", "--help"],
        ["sync", "--watch"],
        ["sync", "--timeout", "0.1"],
        ["sync", "--account"],
        ["sync", "--bogus"],
        ["sync", "extra"],
        ["log", "x.eml"],
        ["--version"],
        [],
    ],
)
def test_what_it_does_not_know_goes_to_typer(args):
    assert quick.run(args) is None


def test_shell_completion_always_goes_to_typer(monkeypatch):
    monkeypatch.setenv(quick.COMPLETE_VAR, "complete_bash")
    assert quick.run(["sync", "--json"]) is None


def test_its_sync_does_not_load_typer():
    """`hubsync sync --json` (a cron job's command line) on an account that is not there:
    the JSON error comes out, and neither Typer nor what it brings (click, pydantic) was imported."""
    probe = (
        "import sys\n"
        "from hubsync.cli import quick\n"
        "code = quick.run(['sync', '--json', '--account', 'nobody'])\n"
        "loaded = sorted(m for m in ('typer', 'click', 'pydantic') if m in sys.modules)\n"
        "print('LOADED', loaded, code, file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HUBSYNC_HOME": "/nonexistent/hubsync-home"}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert '"error"' in done.stdout
    assert "LOADED [] 2" in done.stderr, done.stderr
