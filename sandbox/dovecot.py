"""A Dovecot instance run from its own configuration directory."""

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.ports import free_port, wait_for_port


@dataclass
class DovecotPorts:
    imap: int = 0
    imaps: int = 0
    pop3: int = 0
    pop3s: int = 0
    lmtp: int = 0
    auth: int = 0


@dataclass
class Dovecot:
    """One Dovecot server.

    ``folders`` maps mailbox names to a special-use attribute (or ``None``); leaving every
    attribute out gives a server without RFC 6154 attributes, for the name fallback.
    """

    name: str
    directory: Path
    cert: Path
    key: Path
    uid: int
    gid: int
    protocols: tuple[str, ...] = ("imap", "pop3", "lmtp")
    folders: dict[str, str | None] = field(default_factory=dict)
    ports: DovecotPorts = field(default_factory=DovecotPorts)
    # Where the OAuth2 provider introspects tokens: with it, XOAUTH2 and OAUTHBEARER
    # logins are checked there (passdb oauth2), passwords still by the passwd-file.
    oauth_introspection_url: str = ""
    # A Gmail-like "All Mail": a virtual mailbox (Dovecot's virtual plugin) over every other
    # folder but Trash and Junk, listed with \All under this name (e.g. "[Gmail]/Alla mail").
    all_mail: str = ""

    @property
    def config_path(self) -> Path:
        return self.directory / "dovecot.conf"

    @property
    def users_path(self) -> Path:
        return self.directory / "users"

    def mail_dir(self, address: str) -> Path:
        local, _, domain = address.partition("@")
        return self.directory / "mail" / domain / local

    def start(self, users: dict[str, str]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "mail").mkdir(exist_ok=True)
        for proto in self.protocols:
            if proto == "imap":
                self.ports.imap, self.ports.imaps = free_port(), free_port()
            elif proto == "pop3":
                self.ports.pop3, self.ports.pop3s = free_port(), free_port()
            elif proto == "lmtp":
                self.ports.lmtp, self.ports.auth = free_port(), free_port()
        self.write_users(users)
        if self.oauth_introspection_url:
            oauth = self.directory / "dovecot-oauth2.conf.ext"
            oauth.write_text(
                "introspection_mode = post\n"
                f"introspection_url = {self.oauth_introspection_url}\n"
                "force_introspection = yes\n"
                "active_attribute = active\n"
                "active_value = true\n"
                "username_attribute = email\n"
                "username_format = %Ln\n"
            )
            oauth.chmod(0o600)
        run = self.directory / "run"
        if run.exists():  # a stale auth-penalty socket stalls the first login for 5 s
            shutil.rmtree(run)
        self.config_path.write_text(self._config())
        _run_daemon(["dovecot", "-c", str(self.config_path)], self.directory / "start.log")
        for port in (self.ports.imap, self.ports.imaps, self.ports.pop3, self.ports.lmtp):
            if port:
                wait_for_port(port)
        if "imap" in self.protocols:
            for address in users:
                self.create_folders(address)
                self._write_all_mail(address)

    def create_folders(self, address: str) -> None:
        """Create the configured folders for a user (real mailboxes: deleting one sticks)."""
        for folder in self.folders:
            self.doveadm("mailbox", "create", "-s", "-u", address, folder)

    def _write_all_mail(self, address: str) -> None:
        """The virtual \\All mailbox's definition: every mailbox but Trash and Junk."""
        if not self.all_mail:
            return
        label = self.all_mail.rsplit("/", 1)[-1]
        folder = self.mail_dir(address) / "virtual" / label
        folder.mkdir(parents=True, exist_ok=True)
        skipped = [name for name, use in self.folders.items() if use in ("\\Trash", "\\Junk")]
        rules = ["*", *[f"-{name}" for name in skipped], "  all", ""]
        (folder / "dovecot-virtual").write_text("\n".join(rules))
        subprocess.run(
            ["chown", "-R", f"{self.uid}:{self.gid}", str(self.mail_dir(address) / "virtual")],
            check=True,
        )

    def write_users(self, users: dict[str, str]) -> None:
        """Write the passwd-file; Dovecot re-reads it when it changes (password changes)."""
        lines = []
        for address, password in users.items():
            home = self.mail_dir(address)
            home.mkdir(parents=True, exist_ok=True)
            subprocess.run(["chown", "-R", f"{self.uid}:{self.gid}", str(home.parent)], check=True)
            lines.append(f"{address}:{{PLAIN}}{password}:{self.uid}:{self.gid}::{home}::")
        tmp = self.users_path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(self.users_path)

    def stop(self) -> None:
        subprocess.run(
            ["doveadm", "-c", str(self.config_path), "stop"], capture_output=True, check=False
        )

    def doveadm(self, *args: str) -> str:
        """Run a doveadm command against this instance and return its output."""
        done = subprocess.run(
            ["doveadm", "-c", str(self.config_path), *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def _config(self) -> str:
        d = self.directory
        mailboxes = []
        for folder, attr in self.folders.items():
            mailboxes.append(f'  mailbox "{folder}" {{')
            if attr:
                mailboxes.append(f"    special_use = {attr}")
            mailboxes.append("  }")
        services = []
        if "imap" in self.protocols:
            services.append(f"""service imap-login {{
  inet_listener imap {{
    port = {self.ports.imap}
  }}
  inet_listener imaps {{
    port = {self.ports.imaps}
    ssl = yes
  }}
}}""")
        if "pop3" in self.protocols:
            services.append(f"""service pop3-login {{
  inet_listener pop3 {{
    port = {self.ports.pop3}
  }}
  inet_listener pop3s {{
    port = {self.ports.pop3s}
    ssl = yes
  }}
}}""")
        if "lmtp" in self.protocols:
            services.append(f"""service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.ports.lmtp}
  }}
}}
service auth {{
  inet_listener {{
    address = 127.0.0.1
    port = {self.ports.auth}
  }}
}}""")
        newline = "\n"
        return f"""# hubsync sandbox: {self.name}
instance_name = hubsync-{self.name}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
protocols = {" ".join(self.protocols)}
listen = 127.0.0.1
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{self.key}
auth_mechanisms = plain login{" xoauth2 oauthbearer" if self.oauth_introspection_url else ""}
auth_failure_delay = 0
first_valid_uid = {self.uid}
mail_location = maildir:~/Maildir
mail_max_userip_connections = 200
# 256 MB (the default) is too little for Dovecot to SELECT a folder of 1,000,000 messages
# (benchmarks/sync_large.py --sizes 1000000)
default_vsz_limit = 4G
# hundreds of IDLE sessions at once (benchmarks/team_workers.py): the default is 100 processes
default_process_limit = 1000
default_client_limit = 4000
imap_idle_notify_interval = 1 secs
recipient_delimiter = +
lmtp_save_to_detail_mailbox = yes
{self._oauth_passdb()}passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.users_path}
}}
userdb {{
  driver = passwd-file
  args = {self.users_path}
}}
namespace inbox {{
  inbox = yes
  separator = /
{newline.join(mailboxes)}
}}
{self._all_mail_namespace()}protocol imap {{
  mail_max_userip_connections = 200
}}
{newline.join(services)}
"""

    def _all_mail_namespace(self) -> str:
        if not self.all_mail:
            return ""
        prefix, _, label = self.all_mail.rpartition("/")
        return f"""mail_plugins = $mail_plugins virtual
namespace virtual {{
  prefix = {prefix}/
  separator = /
  location = virtual:~/virtual
  mailbox "{label}" {{
    special_use = \\All
  }}
}}
"""

    def _oauth_passdb(self) -> str:
        """Tokens checked by introspection; no failed-login penalty (a refused token would
        otherwise delay the next logins from 127.0.0.1 by seconds, past a short token's
        lifetime)."""
        if not self.oauth_introspection_url:
            return ""
        return f"""passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {self.directory}/dovecot-oauth2.conf.ext
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def _run_daemon(args: list[str], log: Path) -> None:
    """Run a command that forks a daemon; the daemon keeps our pipes open, so use a file."""
    with open(log, "wb") as out:
        done = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed to start: {log.read_text()}")
