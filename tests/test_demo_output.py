"""The demo's output can be copied and run by hand (arguments quoted as a shell needs them)
and holds no terminal escape codes when written to a file."""

import os
import shlex

from sandbox import demo


def test_demo_steps_echo_quoted_commands_without_escape_codes(capsys, tmp_path):
    env = {**os.environ, "HUBSYNC_HOME": str(tmp_path)}
    demo.step("A title", "--version", "Quote for Bob's team", env=env, expect=(0, 1, 2))
    out = capsys.readouterr().out
    assert "\033[" not in out  # captured, not a terminal: no bold codes in a file
    line = next(text for text in out.splitlines() if text.startswith("$ "))
    assert shlex.split(line[2:]) == ["hubsync", "--version", "Quote for Bob's team"]
