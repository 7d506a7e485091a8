"""dnsmasq on a loopback port, answering SRV, A and MX queries for the sandbox domains."""

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sandbox.ports import free_port


@dataclass
class Dnsmasq:
    directory: Path
    records: list[str]  # dnsmasq options such as "--srv-host=..."
    port: int = 0

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        subprocess.run(
            [
                "dnsmasq",
                f"--port={self.port}",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--user=root",
                f"--pid-file={self.directory / 'dnsmasq.pid'}",
                *self.records,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )

    def stop(self) -> None:
        pid_file = self.directory / "dnsmasq.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
