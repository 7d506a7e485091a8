"""A full disk: a clear error, nothing lost, and the next sync (with space) logs everything."""

import os
import subprocess

import pytest
from helpers import connect_args
from test_sync import reply, sent_id, unique


@pytest.fixture
def small_disk(cli):
    """HUBSYNC_HOME on a 2 MB tmpfs (the suite runs as root, as CI does)."""
    cli.home.mkdir(parents=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(cli.home)], check=True
    )
    yield cli.home
    subprocess.run(["umount", "-l", str(cli.home)], check=False)


def test_full_disk_during_sync_loses_nothing(cli, sandbox, small_disk):
    assert cli(*connect_args(sandbox, "alice"), input="alice-sandbox-pw\n").code == 0
    parent = sent_id(cli, "full disk")
    rid = unique("big-on-small-disk")
    sandbox.deliver(
        reply(
            "bob@customer.test",
            "alice@example.test",
            parent,
            "Re: full disk",
            "see attachment",
            rid,
            os.urandom(3 * 1024 * 1024),
        ).as_bytes(),
        "alice@example.test",
    )
    failed = cli("sync")
    assert failed.code == 1
    assert "full" in failed.stderr and "Free some space" in failed.stderr
    assert "Traceback" not in failed.stderr

    subprocess.run(["mount", "-o", "remount,size=32m", str(small_disk)], check=True)
    retried = cli("sync", "--json")
    assert retried.code == 0, retried.stderr
    data = retried.json()
    assert data["logged"] == 1 and data["attachments_logged"] == 1
    assert cli("why", rid, "--json").json()["logged"] is True
