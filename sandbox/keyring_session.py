"""A private D-Bus session with gnome-keyring's Secret Service, for the real keyring backend."""

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class KeyringSession:
    directory: Path
    address: str = ""
    pids: list[int] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """Environment variables that point ``keyring`` at this session's Secret Service."""
        return {
            "DBUS_SESSION_BUS_ADDRESS": self.address,
            "HOME": str(self.directory / "home"),
            "XDG_RUNTIME_DIR": str(self.directory / "runtime"),
        }

    def start(self) -> None:
        home, runtime = self.directory / "home", self.directory / "runtime"
        home.mkdir(parents=True, exist_ok=True)
        runtime.mkdir(parents=True, exist_ok=True)
        runtime.chmod(0o700)
        done = subprocess.run(
            [
                "dbus-daemon",
                "--session",
                "--fork",
                "--print-address=1",
                "--print-pid=1",
                f"--address=unix:path={runtime}/bus",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        address, pid = done.stdout.split()[:2]
        self.address, self.pids = address, [int(pid)]
        env = {**os.environ, **self.env()}
        # No trailing newline: it would become part of the unlock password.
        daemon = subprocess.run(
            ["gnome-keyring-daemon", "--unlock", "--components=secrets", "--daemonize"],
            input="sandbox-keyring",
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=30,
        )
        for line in daemon.stdout.splitlines():
            if line.startswith("GNOME_KEYRING_PID="):
                self.pids.append(int(line.split("=", 1)[1]))

    def stop(self) -> None:
        for pid in reversed(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
