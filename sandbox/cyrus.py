"""A Cyrus IMAP 3.6 server (Debian's cyrus-imapd, unpacked into a private root; cyrus-common
installed), run by its own cyrmaster from this instance's directory.

What it differs in from Dovecot: Sent at the top level (altnamespace), its special-use
attribute sent in lower case (``\\sent``), and IDLE through the idled daemon.
"""

import imaplib
import os
import shutil
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox import cleanup
from sandbox.ports import free_port, wait_for_port

PRIVATE_ROOT = Path(os.environ.get("HUBSYNC_SANDBOX_ROOT", "/opt/hubsync-sandbox"))
BIN = PRIVATE_ROOT / "usr/lib/cyrus/bin"
COMMON_BIN = Path("/usr/lib/cyrus/bin")
ADMIN, ADMIN_PASSWORD = "cyrus", "cyrus-admin-pw"  # noqa: S105 - a throw-away test server
FOLDERS = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash"}


def available() -> bool:
    """Whether scripts/install has unpacked cyrus-imapd and installed cyrus-common."""
    return (BIN / "imapd").exists() and (COMMON_BIN / "master").exists()


@dataclass
class Cyrus:
    directory: Path
    cert: Path
    key: Path
    port: int = 0  # IMAP over implicit TLS
    process: subprocess.Popen | None = None

    @property
    def conf(self) -> Path:
        return self.directory / "imapd.conf"

    def start(self, users: dict[str, str], cafile: Path) -> None:
        d = self.directory
        for sub in ("config", "spool", "socket", "run", "tls", "sieve"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy(self.cert, d / "tls/cert.pem")
        shutil.copy(self.key, d / "tls/key.pem")
        self.port = free_port()
        self.conf.write_text(self._imapd_conf())
        (d / "cyrus.conf").write_text(self._cyrus_conf())
        sasldb = d / "config/sasldb2"
        for address, password in {ADMIN: ADMIN_PASSWORD, **users}.items():
            # SASL splits a login at its last "@" into user and realm.
            name, _, realm = address.rpartition("@") if "@" in address else (address, "", "")
            subprocess.run(
                ["saslpasswd2", "-f", str(sasldb), "-u", realm or "localhost", "-c", "-p", name],
                input=password.encode(),
                check=True,
                capture_output=True,
            )
        subprocess.run(["chown", "-R", "cyrus:mail", str(d)], check=True)
        (d / "tls/key.pem").chmod(0o600)
        self.process = cleanup.start_group(
            [
                str(COMMON_BIN / "master"),
                "-C",
                str(self.conf),
                "-M",
                str(d / "cyrus.conf"),
                "-p",  # its own pid file: the default one would allow a single instance
                str(d / "run/master.pid"),
            ],
            d / "cyrus.log",
        )
        try:
            wait_for_port(self.port)
            self._create_mailboxes(users, cafile)
        except BaseException:
            self.stop()
            raise

    def _create_mailboxes(self, users: dict[str, str], cafile: Path) -> None:
        """One admin session creates every user's folders (autocreate in parallel imapd
        processes gave two users the same INBOX)."""
        context = ssl.create_default_context(cafile=str(cafile))
        deadline = time.monotonic() + 15
        while True:
            try:
                admin = imaplib.IMAP4_SSL("localhost", self.port, ssl_context=context, timeout=15)
                break
            except (OSError, imaplib.IMAP4.abort):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        try:
            admin.login(ADMIN, ADMIN_PASSWORD)
            for address in users:
                local, _, domain = address.partition("@")
                _ok(admin.create(f"user/{local}@{domain}"))
                for folder, attr in FOLDERS.items():
                    name = f"user/{local}/{folder}@{domain}"
                    _ok(admin._simple_command("CREATE", name, f"(USE ({attr}))"))
        finally:
            admin.logout()

    def _imapd_conf(self) -> str:
        d = self.directory
        return f"""configdirectory: {d}/config
partition-default: {d}/spool
sievedir: {d}/sieve
admins: {ADMIN}
servername: localhost
virtdomains: userid
unixhierarchysep: yes
altnamespace: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {d}/config/sasldb2
sasl_mech_list: PLAIN LOGIN
allowplaintext: yes
tls_server_cert: {d}/tls/cert.pem
tls_server_key: {d}/tls/key.pem
idlesocket: {d}/socket/idle
notifysocket: {d}/socket/notify
lmtpsocket: {d}/socket/lmtp
mboxname_lockpath: {d}/run/lock
proc_path: {d}/run/proc
statuscache: off
imapidlepoll: 1
syslog_prefix: hubsync-cyrus
"""

    def _cyrus_conf(self) -> str:
        return f"""START {{
  recover cmd="{COMMON_BIN}/ctl_cyrusdb -r -C {self.conf}"
}}
SERVICES {{
  imaps cmd="{BIN}/imapd -s -C {self.conf}" listen="127.0.0.1:{self.port}" prefork=0
}}
DAEMON {{
  idled cmd="{BIN}/idled -C {self.conf}"
}}
"""

    def stop(self) -> None:
        """Stop exactly the processes this instance started (its process group)."""
        cleanup.stop_group(self.process)


def _ok(response) -> None:
    typ, data = response
    if typ != "OK":
        raise RuntimeError(f"Cyrus refused: {data}")
