"""A Courier-IMAP server (Debian's courier-imap 5.0, unpacked into a private root).

Courier reads /etc/courier and /run/courier, so it runs in a private mount namespace that
bind-mounts this instance's own copies over both. The shell that sets the namespace up stays
the parent of every Courier process: stopping the instance kills that process group only.

What it differs in from Dovecot, all allowed by RFC 3501: the INBOX. namespace with "."
separators, no SPECIAL-USE, no UIDNEXT in SELECT, quoted field names in FETCH response keys,
APPEND refused to a folder selected read-only, IDLE that polls about once a minute, and a new
UIDVALIDITY on every EXAMINE of a maildir never opened read-write.
"""

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sandbox import cleanup
from sandbox.ports import free_port, wait_for_port

PRIVATE_ROOT = Path(os.environ.get("HUBSYNC_SANDBOX_ROOT", "/opt/hubsync-sandbox"))
IMAPD = PRIVATE_ROOT / "usr/bin/imapd"
IMAPLOGIN = PRIVATE_ROOT / "usr/lib/courier/courier/imaplogin"
FOLDERS = ("Sent", "Drafts", "Trash")


def available() -> bool:
    """Whether scripts/install has unpacked Courier-IMAP and installed its helpers."""
    return IMAPD.exists() and shutil.which("couriertcpd") and shutil.which("authdaemond")


@dataclass
class Courier:
    directory: Path
    cert: Path
    key: Path
    uid: int
    gid: int
    port: int = 0  # IMAP over implicit TLS
    process: subprocess.Popen | None = None

    def mail_dir(self, address: str) -> Path:
        return self.directory / "mail" / address / "Maildir"

    def start(self, users: dict[str, str]) -> None:
        etc, run = self.directory / "etc", self.directory / "run"
        shutil.copytree("/etc/courier", etc, dirs_exist_ok=True)
        for name in ("imapd", "imapd-ssl"):
            shutil.copy(PRIVATE_ROOT / "etc/courier" / name, etc / name)
        (run / "authdaemon").mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        pem = etc / "imapd.pem"
        pem.write_bytes(self.key.read_bytes() + self.cert.read_bytes())
        (etc / "authdaemonrc").write_text(
            'authmodulelist="authuserdb"\ndaemons=3\nauthdaemonvar=/run/courier/authdaemon\n'
            'DEBUG_LOGIN=0\nDEFAULTOPTIONS=""\nLOGGEROPTS=""\n'
        )
        self._write_users(etc / "userdb", users)
        subprocess.run(["chown", "-R", "courier:courier", str(pem), str(run)], check=True)
        pem.chmod(0o600)
        script = self.directory / "run.sh"
        script.write_text(self._script())
        self.process = cleanup.start_group(
            ["unshare", "-m", "--propagation", "private", "sh", str(script)],
            self.directory / "courier.log",
        )
        try:
            wait_for_port(self.port)
        except RuntimeError:
            self.stop()
            raise RuntimeError(
                "Courier did not start: " + (self.directory / "courier.log").read_text()
            ) from None

    def _write_users(self, path: Path, users: dict[str, str]) -> None:
        lines = []
        for address, password in users.items():
            maildir = self.mail_dir(address)
            for folder in ("", *(f".{f}" for f in FOLDERS)):
                for sub in ("cur", "new", "tmp"):
                    (maildir / folder / sub).mkdir(parents=True, exist_ok=True)
            (maildir / "courierimapsubscribed").write_text("".join(f"INBOX.{f}\n" for f in FOLDERS))
            hashed = subprocess.run(
                ["openssl", "passwd", "-1", password], capture_output=True, text=True, check=True
            ).stdout.strip()
            home = maildir.parent
            subprocess.run(["chown", "-R", f"{self.uid}:{self.gid}", str(home)], check=True)
            lines.append(
                f"{address}\tuid={self.uid}|gid={self.gid}|home={home}|mail={maildir}"
                f"|systempw={hashed}"
            )
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)

    def _script(self) -> str:
        d = self.directory
        return f"""set -e
mount --bind {d}/etc /etc/courier
mount --bind {d}/run /run/courier
makeuserdb
/usr/lib/courier/courier-authlib/authdaemond &
set -a
. /etc/courier/imapd
. /etc/courier/imapd-ssl
IMAP_TLS=1
TLS_CERTFILE=/etc/courier/imapd.pem
TLS_CACHEFILE=
TLS_PROTOCOL=TLS1_2+
IMAP_IDLE_TIMEOUT=5
sleep 0.3
exec couriertcpd -address=127.0.0.1 -maxprocs=40 -maxperip=40 -nodnslookup \\
  -noidentlookup {self.port} /usr/bin/couriertls -server -tcpd -user=courier \\
  {IMAPLOGIN} {IMAPD} Maildir
"""

    def stop(self) -> None:
        """Stop exactly the processes this instance started (its process group)."""
        cleanup.stop_group(self.process)
