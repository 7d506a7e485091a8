"""A PostgreSQL server for the team-store tests: initdb into a temporary directory, a loopback
port, started and stopped by the suite (as root it runs as the ``postgres`` user, which
initdb and postgres require)."""

import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from sandbox import cleanup
from sandbox.ports import free_port

DATABASE = "hubsync"
USER = "hubsync"


def bin_dir() -> Path | None:
    """The directory of initdb and postgres (Debian keeps them per version)."""
    for version in sorted(Path("/usr/lib/postgresql").glob("*"), reverse=True):
        if (version / "bin" / "postgres").exists():
            return version / "bin"
    found = shutil.which("postgres") or shutil.which("initdb")
    return Path(found).parent if found else None


def available() -> bool:
    return bin_dir() is not None


@dataclass
class Postgres:
    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """A connection URL for the test database (trust authentication on loopback)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self, timeout: float = 60.0) -> None:
        """initdb, start, create the user and database; wait until it accepts connections."""
        binaries = bin_dir()
        if binaries is None:
            raise RuntimeError("PostgreSQL is not installed: run scripts/install")
        data = self.directory / "data"
        self.directory.mkdir(parents=True, exist_ok=True)
        as_postgres = _as_postgres(self.directory)
        subprocess.run(
            [str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
             "--no-sync", "-E", "UTF8", "--locale=C"],
            check=True, capture_output=True, preexec_fn=as_postgres, timeout=120,
        )  # fmt: skip
        self._launch(binaries, as_postgres, timeout)
        self._psql(binaries, f"CREATE USER {USER}")
        self._psql(binaries, f"CREATE DATABASE {DATABASE} OWNER {USER}")

    def _launch(self, binaries: Path, as_postgres, timeout: float) -> None:
        data = self.directory / "data"
        log = self.directory / "postgres.log"
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [str(binaries / "postgres"), "-D", str(data), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.directory}",
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "max_connections=600"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True, preexec_fn=as_postgres,
            )  # fmt: skip
        cleanup.record(self.directory.parent, self.process.pid, "postgres", group=True)
        deadline = time.monotonic() + timeout
        while not self._ready(binaries):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"PostgreSQL did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)

    def restart(self, down_for: float = 0.0, timeout: float = 60.0) -> None:
        """A fast shutdown (as `pg_ctl restart -m fast`: every session is cut), ``down_for``
        seconds with no server, then the same server on the same port again."""
        self.process.send_signal(signal.SIGINT)  # "fast" shutdown
        self.process.wait(timeout=timeout)
        time.sleep(down_for)
        self._launch(bin_dir(), _as_postgres(self.directory), timeout)

    def terminate_sessions(self) -> int:
        """pg_terminate_backend of every client session of the test database (as a failing
        network or an administrator would); the number cut."""
        sql = (
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "  # noqa: S608
            f"WHERE datname = '{DATABASE}' AND pid <> pg_backend_pid()"
        )
        done = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
             "-At", "-c", sql],
            check=True, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return int(done.stdout.strip() or 0)

    def _ready(self, binaries: Path) -> bool:
        done = subprocess.run(
            [str(binaries / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
        )
        return done.returncode == 0

    def _psql(self, binaries: Path, sql: str) -> None:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
             "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def reset(self) -> None:
        """An empty database again (between tests): drop and recreate the schema."""
        self._psql_db(f"DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION {USER}")

    def _psql_db(self, sql: str) -> None:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", DATABASE,
             "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def stop(self) -> None:
        cleanup.stop_group(self.process)


def _as_postgres(directory: Path):
    """A preexec function that drops to the postgres user when running as root."""
    if os.geteuid() != 0:
        return None
    user = pwd.getpwnam("postgres")
    for path in (directory, *directory.rglob("*")):
        os.chown(path, user.pw_uid, user.pw_gid)

    def drop() -> None:
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return drop
