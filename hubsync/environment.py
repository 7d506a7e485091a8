"""The process environment hubsync reads, in one place.

Every ``HUBSYNC_*`` variable is read here and nowhere else. The CLI builds one ``Environment``
from ``os.environ`` at start and makes it current for the run; Python callers and in-process
tests build their own (``Environment(home=tmp_path)``) and run code under ``use(env)``. The
current environment is a context variable, so threads and workers that set their own do not
see each other's.
"""

import contextlib
import contextvars
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

HOME = "HUBSYNC_HOME"
PASSWORD = "HUBSYNC_PASSWORD"  # noqa: S105 - the variable's name, not a secret
DNS = "HUBSYNC_DNS"
FAULT = "HUBSYNC_FAULT"
PAUSE = "HUBSYNC_PAUSE"
OAUTH_CLIENT_ID = "HUBSYNC_OAUTH_CLIENT_ID"
STORE_URL = "HUBSYNC_STORE_URL"
SECRET_KEY_FILE = "HUBSYNC_SECRET_KEY_FILE"  # noqa: S105 - the variable's name, not a secret


@dataclass(frozen=True)
class Environment:
    """What the outside world told this run. Empty values mean "not set"."""

    home: Path | None = None  # all files under this folder instead of the platform's
    password: str = ""  # the password from HUBSYNC_PASSWORD
    dns: str = ""  # HOST:PORT of a DNS server that also resolves hosts before connecting
    fault: str = ""  # crash-safety tests: the named point where the process dies
    pause: str = ""  # race tests: NAME=SECONDS, a point where the process waits
    oauth_client_id: str = ""  # a registered OAuth2 client ID for `connect --auth oauth2`
    store_url: str = ""  # the team store (postgresql://...) instead of config's store_url
    secret_key_file: str = ""  # the key that decrypts secrets kept in the team store

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> "Environment":
        """The environment described by ``env`` (normally ``os.environ``)."""
        home = env.get(HOME, "")
        return cls(
            home=Path(home) if home else None,
            password=env.get(PASSWORD, ""),
            dns=env.get(DNS, ""),
            fault=env.get(FAULT, ""),
            pause=env.get(PAUSE, ""),
            oauth_client_id=env.get(OAUTH_CLIENT_ID, ""),
            store_url=env.get(STORE_URL, ""),
            secret_key_file=env.get(SECRET_KEY_FILE, ""),
        )

    def __repr__(self) -> str:  # never print the password, even in a traceback's locals
        return f"Environment(home={self.home!r}, dns={self.dns!r}, fault={self.fault!r})"


_current: contextvars.ContextVar[Environment | None] = contextvars.ContextVar(
    "hubsync_environment", default=None
)


def current() -> Environment:
    """The environment of this run: the one made current with ``use``, else ``os.environ``."""
    env = _current.get()
    return env if env is not None else Environment.from_mapping(os.environ)


@contextlib.contextmanager
def use(env: Environment) -> Iterator[Environment]:
    """Run the block with ``env`` as the current environment."""
    token = _current.set(env)
    try:
        yield env
    finally:
        _current.reset(token)


def fault_point(name: str) -> None:
    """Crash-safety tests set HUBSYNC_FAULT to kill the process at a named point, as a power
    cut would (for example between submitting a message and recording it, or between logging
    a reply and moving the sync position)."""
    if current().fault == name:
        os._exit(137)


def pause_point(name: str) -> None:
    """Race tests set HUBSYNC_PAUSE=NAME=SECONDS to hold the process at a named point (for
    example between a sync and the start of IDLE) while they change the mailbox."""
    wanted, _, seconds = current().pause.partition("=")
    if wanted == name:
        import time

        time.sleep(float(seconds or 1))
