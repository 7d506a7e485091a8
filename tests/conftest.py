"""Real servers for the suite: one sandbox (Dovecot x3, Postfix, gnome-keyring, dnsmasq) per run."""

import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox import Sandbox

NEEDED = ("dovecot", "doveadm", "postfix", "gnome-keyring-daemon", "dbus-daemon", "dnsmasq")


def pytest_collection_modifyitems(items):
    """Every test that uses the sandbox (directly or through `cli`, `alice`, ...) is marked
    `servers`, so `pytest -m "not servers"` runs the fast, in-process tier."""
    for item in items:
        if "sandbox" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.servers)


@pytest.fixture
def home(tmp_path):
    """An in-process hubsync home: the environment points every file at ``tmp_path``."""
    from hubsync import environment

    with environment.use(environment.Environment(home=tmp_path)):
        yield tmp_path


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the team store, started once per run."""
    import tempfile

    from sandbox import cleanup
    from sandbox.postgres import Postgres, available

    if not available():
        pytest.fail("PostgreSQL is not installed; run `bash .ci/run` once, or see README.md")
    root = Path(tempfile.mkdtemp(prefix=cleanup.PREFIX))
    root.chmod(0o755)  # the postgres user must reach its data directory
    cleanup.claim(root)
    server = Postgres(root / "postgres")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.servers)],
)
def store(home, request):
    """A real store in a temporary home: SQLite, and (server tier) PostgreSQL, emptied
    before each test, so every store behaviour is proven on both databases."""
    from hubsync.store import open_store

    if request.param == "postgresql":
        server = request.getfixturevalue("postgres")
        server.reset()
        opened = open_store(url=server.url)
    else:
        opened = open_store()
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def sandbox():
    missing = [tool for tool in NEEDED if not shutil.which(tool)]
    if missing:
        pytest.fail(
            f"the real test servers are not installed ({', '.join(missing)}); "
            "run `bash .ci/run` once, or see README.md"
        )
    box = Sandbox.create()
    yield box
    box.remove()


@pytest.fixture(scope="session")
def oidc(sandbox):
    """The sandbox's OpenID Connect provider, started once for the session on first use."""
    from sandbox.oidc import available

    if not available():
        pytest.fail("oidc-provider (Node) is not installed; run `bash scripts/install`")
    return sandbox.start_oidc()


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


class Cli:
    """Run the real `hubsync` entry point in a subprocess with an isolated HUBSYNC_HOME."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env

    def __call__(
        self, *args: str, input: str | None = None, env: dict | None = None, timeout: float = 120
    ) -> CliResult:
        full_env = {**self.env, **(env or {})}
        done = subprocess.run(
            [sys.executable, "-m", "hubsync", *args],
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)


def base_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HUBSYNC_", "DBUS_", "PYTHON_KEYRING"))
    }
    env.update(
        {
            "HUBSYNC_HOME": str(home),
            "NO_COLOR": "1",
            "COLUMNS": "200",
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        }
    )
    return env


@pytest.fixture
def cli(tmp_path, sandbox) -> Cli:
    """A CLI wired to the sandbox's keyring and DNS, with its own empty HUBSYNC_HOME."""
    home = tmp_path / "hubsync-home"
    env = base_env(home)
    env.update(sandbox.keyring.env())
    env["HUBSYNC_DNS"] = f"127.0.0.1:{sandbox.dns.port}"
    return Cli(home, env)


@pytest.fixture
def run_cli(tmp_path, monkeypatch, capsys):
    """The CLI in this process (fast): ``run_cli(*args)`` returns its CliResult."""
    from hubsync.cli import main

    home = tmp_path / "hubsync-home"
    for key in [k for k in os.environ if k.startswith("HUBSYNC_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HUBSYNC_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str, input: str = "") -> CliResult:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(input.encode())))
        capsys.readouterr()
        umask = os.umask(0o022)  # main() makes everything private; the test process is shared
        os.umask(umask)
        try:
            main(list(args))
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 0
        finally:
            os.umask(umask)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    run.home = home
    return run


@pytest.fixture
def offline_cli(tmp_path) -> Cli:
    """A CLI with no servers, no keyring session and its own HUBSYNC_HOME."""
    home = tmp_path / "hubsync-home"
    return Cli(home, base_env(home))


@pytest.fixture
def alice(cli, sandbox) -> Cli:
    """A CLI with alice's account connected to the main server (implicit TLS, STARTTLS SMTP)."""
    from helpers import connect_args

    result = cli(*connect_args(sandbox, "alice"), input="alice-sandbox-pw\n")
    assert result.code == 0, f"connect failed: {result.stderr}"
    return cli
