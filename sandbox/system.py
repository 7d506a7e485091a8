"""The whole sandbox: a CA, three Dovecot servers, Postfix, gnome-keyring and dnsmasq."""

import json
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from sandbox import cleanup
from sandbox import courier as courier_server
from sandbox import cyrus as cyrus_server
from sandbox.ca import CertAuthority
from sandbox.dnsmasq import Dnsmasq
from sandbox.dovecot import Dovecot
from sandbox.keyring_session import KeyringSession
from sandbox.oidc import OidcProvider
from sandbox.postfix import Postfix

MAIL_USER = "hubsync-vmail"
DOMAINS = ("example.test", "customer.test", "partner.test")


@dataclass
class SandboxUser:
    address: str
    password: str
    name: str


USERS = (
    SandboxUser("alice@example.test", "alice-sandbox-pw", "Alice Seller"),
    SandboxUser("bob@customer.test", "bob-sandbox-pw", "Bob Buyer"),
    SandboxUser("carol@partner.test", "carol-sandbox-pw", "Carol Partner"),
    SandboxUser("dave@example.test", "dave-sandbox-pw", "Dave Archivist"),
)

SPECIAL_USE_FOLDERS = {
    "Sent": "\\Sent",
    "Drafts": "\\Drafts",
    "Trash": "\\Trash",
    "Junk": "\\Junk",
    "Sentinel reports": None,
}
# A server without RFC 6154 attributes, whose sent folder has a German name, beside decoys.
LOCALIZED_FOLDERS = {
    "Consent forms": None,
    "Sentinel reports": None,
    "Gesendete Elemente": None,
    "Entwürfe": None,
}
# A Gmail-like server with a Swedish interface: a virtual "[Gmail]/Alla mail" (\\All) over
# every folder but spam and trash, under a \\Noselect "[Gmail]" parent; localized special-use
# folders; a user label that "skip the inbox" filters file replies into.
GMAIL_FOLDERS = {
    "Skickat": "\\Sent",
    "Skräppost": "\\Junk",
    "Papperskorgen": "\\Trash",
    "Utkast": "\\Drafts",
    "Kunder": None,
}
GMAIL_ALL_MAIL = "[Gmail]/Alla mail"


class Sandbox:
    """Start with ``Sandbox.create()``; stop with ``stop()``. ``describe()`` is JSON-ready."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.users = {u.address: u for u in USERS}
        self.ca: CertAuthority | None = None
        self.main: Dovecot | None = None
        self.localized: Dovecot | None = None
        self.gmail: Dovecot | None = None
        self.pop3only: Dovecot | None = None
        self.expired: Dovecot | None = None
        self.postfix: Postfix | None = None
        self.keyring: KeyringSession | None = None
        self.dns: Dnsmasq | None = None
        self.cyrus: cyrus_server.Cyrus | None = None
        self.courier: courier_server.Courier | None = None
        self.oidc: OidcProvider | None = None

    @classmethod
    def create(cls, root: Path | None = None) -> "Sandbox":
        cleanup.reap_leftovers()  # servers of earlier runs that were killed
        root = root or Path(tempfile.mkdtemp(prefix=cleanup.PREFIX))
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)  # the mail user must traverse into its maildirs
        cleanup.claim(root)
        box = cls(root)
        try:
            box.start()
        except BaseException:
            box.stop()
            raise
        return box

    def start(self) -> None:
        uid, gid = _mail_user()
        self.ca = CertAuthority(self.root / "tls")
        cert, key = self.ca.issue("server")
        passwords = {u.address: u.password for u in USERS}
        # The OAuth2 provider's port is fixed now (Dovecot names it); it starts on demand.
        self.oidc = OidcProvider(self.root / "oidc")
        self.main = Dovecot(
            "main",
            self.root / "main",
            cert,
            key,
            uid,
            gid,
            folders=SPECIAL_USE_FOLDERS,
            oauth_introspection_url=self.oidc.introspection_url,
        )
        self.main.start(passwords)
        self.localized = Dovecot(
            "localized",
            self.root / "loc",
            cert,
            key,
            uid,
            gid,
            protocols=("imap",),
            folders=LOCALIZED_FOLDERS,
        )
        self.localized.start(passwords)
        self.gmail = Dovecot(
            "gmail",
            self.root / "gmail",
            cert,
            key,
            uid,
            gid,
            protocols=("imap",),
            folders=GMAIL_FOLDERS,
            all_mail=GMAIL_ALL_MAIL,
        )
        self.gmail.start(passwords)
        self.pop3only = Dovecot(
            "pop3only", self.root / "pop", cert, key, uid, gid, protocols=("pop3",)
        )
        self.pop3only.start(passwords)
        expired_cert, expired_key = self.ca.issue("expired", expired=True)
        self.expired = Dovecot(
            "expired",
            self.root / "exp",
            expired_cert,
            expired_key,
            uid,
            gid,
            protocols=("imap",),
            folders={"Sent": "\\Sent"},
        )
        self.expired.start(passwords)
        self.postfix = Postfix(
            self.root / "postfix", cert, key, self.main.ports.lmtp, self.main.ports.auth, DOMAINS
        )
        self.postfix.start()
        self.keyring = KeyringSession(self.root / "keyring")
        self.keyring.start()
        for pid, marker in zip(self.keyring.pids, ("dbus-daemon", "gnome-keyring"), strict=False):
            cleanup.record(self.root, pid, marker)
        self.dns = Dnsmasq(self.root / "dns", self._dns_records())
        self.dns.start()
        pid_file = self.root / "dns" / "dnsmasq.pid"
        if pid_file.exists():
            cleanup.record(self.root, int(pid_file.read_text().strip()), "dnsmasq")
        if cyrus_server.available():
            self.cyrus = cyrus_server.Cyrus(self.root / "cyrus", cert, key)
            self.cyrus.start(passwords, self.ca.cert_path)
            cleanup.record(self.root, self.cyrus.process.pid, "master", group=True)
        if courier_server.available():
            self.courier = courier_server.Courier(self.root / "courier", cert, key, uid, gid)
            self.courier.start(passwords)
            cleanup.record(self.root, self.courier.process.pid, "couriertcpd", group=True)

    def start_oidc(self) -> OidcProvider:
        """Start the OpenID Connect provider (once), with the sandbox users as its accounts."""
        self.oidc.start({u.address: u.password for u in self.users.values()})
        return self.oidc

    def imap_port(self, server: str) -> int:
        """The implicit-TLS IMAP port of "dovecot" (the main server), "cyrus" or "courier"."""
        if server == "dovecot":
            return self.main.ports.imaps
        instance = {"cyrus": self.cyrus, "courier": self.courier}[server]
        if instance is None:
            raise RuntimeError(f"{server} is not installed: run scripts/install")
        return instance.port

    def append(self, server: str, address: str, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message into a user's folder on any of the IMAP servers (as delivery would)."""
        import imaplib
        import ssl
        import time

        context = ssl.create_default_context(cafile=str(self.ca.cert_path))
        conn = imaplib.IMAP4_SSL(
            "localhost", self.imap_port(server), ssl_context=context, timeout=30
        )
        try:
            conn.login(address, self.users[address].password)
            typ, data = conn.append(folder, None, imaplib.Time2Internaldate(time.time()), raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND to {server} {folder} failed: {data}")
        finally:
            conn.logout()

    def _dns_records(self) -> list[str]:
        m, p, pf = self.main.ports, self.pop3only.ports, self.postfix
        return [
            "--address=/mail.example.test/127.0.0.1",
            "--address=/smtp.example.test/127.0.0.1",
            "--address=/pop.pop3only.test/127.0.0.1",
            "--address=/autoconf.test/127.0.0.1",  # autoconfig.autoconf.test too
            f"--srv-host=_imaps._tcp.example.test,mail.example.test,{m.imaps},0,1",
            f"--srv-host=_imap._tcp.example.test,mail.example.test,{m.imap},0,1",
            f"--srv-host=_submissions._tcp.example.test,smtp.example.test,{pf.submissions_port},0,1",
            f"--srv-host=_submission._tcp.example.test,smtp.example.test,{pf.submission_port},0,1",
            "--mx-host=example.test,mail.example.test,10",
            f"--srv-host=_pop3s._tcp.pop3only.test,pop.pop3only.test,{p.pop3s},0,1",
            "--srv-host=_imaps._tcp.pop3only.test",  # target "." : IMAP not offered
            "--mx-host=pop3only.test,pop.pop3only.test,10",
            "--mx-host=bigcorp.test,bigcorp-test.mail.protection.outlook.com,10",
        ]

    def stop(self) -> None:
        for part in (
            self.oidc,
            self.courier,
            self.cyrus,
            self.dns,
            self.keyring,
            self.postfix,
            self.expired,
            self.pop3only,
            self.gmail,
            self.localized,
            self.main,
        ):
            if part is not None:
                part.stop()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def set_password(self, address: str, password: str) -> None:
        """Change a user's password on every server (as an IT department would)."""
        self.users[address].password = password
        passwords = {u.address: u.password for u in self.users.values()}
        for server in (self.main, self.localized, self.gmail, self.pop3only, self.expired):
            server.write_users(passwords)
        self._wait_for_login(address, password)

    def _wait_for_login(self, address: str, password: str, timeout: float = 15.0) -> None:
        """Dovecot re-reads a changed passwd-file at most once a second: wait until the main
        server accepts the new password, so a test sees the change it made."""
        import imaplib
        import ssl
        import time

        context = ssl.create_default_context(cafile=str(self.ca.cert_path))
        deadline = time.monotonic() + timeout
        while True:
            conn = imaplib.IMAP4_SSL(
                "localhost", self.main.ports.imaps, ssl_context=context, timeout=10
            )
            try:
                conn.login(address, password)
            except imaplib.IMAP4.error:
                conn.shutdown()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the new password of {address} was not taken") from None
                time.sleep(0.2)
                continue
            conn.logout()
            return

    def describe(self) -> dict:
        m, loc, pop, pf = self.main.ports, self.localized.ports, self.pop3only.ports, self.postfix
        return {
            "root": str(self.root),
            "cafile": str(self.ca.cert_path),
            "host": "127.0.0.1",
            "main_imap": {
                "imaps": m.imaps,
                "imap_starttls": m.imap,
                "pop3": m.pop3,
                "pop3s": m.pop3s,
                "lmtp": m.lmtp,
            },
            "localized_imap": {"imaps": loc.imaps, "imap_starttls": loc.imap},
            "gmail_like_imap": {"imaps": self.gmail.ports.imaps},
            "pop3_only": {"pop3": pop.pop3, "pop3s": pop.pop3s},
            "expired_certificate_imap": {"imaps": self.expired.ports.imaps},
            "cyrus_imap": {"imaps": self.cyrus.port} if self.cyrus else None,
            "courier_imap": {"imaps": self.courier.port} if self.courier else None,
            "smtp": {
                "submission_starttls": pf.submission_port,
                "submissions": pf.submissions_port,
                "submissions_files_sent_copy": pf.filing_port,
            },
            "dns": f"127.0.0.1:{self.dns.port}",
            "oauth_issuer": self.oidc.issuer if self.oidc and self.oidc.running else None,
            "dbus_session_bus_address": self.keyring.address,
            "keyring_env": self.keyring.env(),
            "users": [asdict(u) for u in self.users.values()],
        }

    def save_state(self) -> Path:
        path = self.root / "sandbox.json"
        path.write_text(json.dumps(self.describe(), indent=2))
        return path

    def deliver(
        self, raw: bytes, recipient: str, folder: str = "INBOX", server: str = "main"
    ) -> None:
        """Store a message straight into a user's folder on the main (or "gmail") server."""
        dovecot = self.gmail if server == "gmail" else self.main
        subprocess.run(
            ["doveadm", "-c", str(dovecot.config_path), "save", "-u", recipient, "-m", folder],
            input=raw,
            check=True,
            capture_output=True,
        )


def _mail_user() -> tuple[int, int]:
    """The unprivileged owner of the maildirs (Dovecot refuses uid 0)."""
    try:
        entry = pwd.getpwnam(MAIL_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", MAIL_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(MAIL_USER)
    return entry.pw_uid, entry.pw_gid
