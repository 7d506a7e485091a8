"""A Postfix instance for submission (STARTTLS and implicit TLS) that delivers over LMTP."""

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sandbox.dovecot import _run_daemon
from sandbox.ports import free_port, wait_for_port

REFUSED_RECIPIENT = "nobody@customer.test"  # Postfix refuses it at RCPT time

# Only the services a submission-and-LMTP relay needs, none chrooted (the queue lives in a
# temporary directory, not /var/spool/postfix).
_MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

_SUBMISSION_OPTS = (
    " -o syslog_name=postfix/submission"
    " -o smtpd_sasl_auth_enable=yes"
    " -o smtpd_client_restrictions=permit_sasl_authenticated,reject"
)


@dataclass
class Postfix:
    directory: Path
    cert: Path
    key: Path
    lmtp_port: int
    sasl_port: int
    domains: tuple[str, ...]
    submission_port: int = 0  # STARTTLS, like 587
    submissions_port: int = 0  # implicit TLS, like 465
    filing_port: int = 0  # implicit TLS, and files a copy in the sender's Sent (like Gmail)

    def start(self) -> None:
        d = self.directory
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree("/etc/postfix", d)
        (d / "main.cf").write_text("compatibility_level = 3.6\n")
        self.submission_port, self.submissions_port = free_port(), free_port()
        self.filing_port = free_port()
        # A provider that files its own copy of submitted mail: Postfix BCCs the sender's
        # "+Sent" address, and Dovecot LMTP saves "+Sent" into the Sent folder.
        (d / "sender_bcc").write_text("/^([^+@]+)@(.+)$/ ${1}+Sent@${2}\n")
        _register_alternate_dir(d)
        queue = d / "queue"
        data = d / "data"
        queue.mkdir()
        data.mkdir()
        shutil.chown(data, "postfix", "postfix")
        settings = {
            "queue_directory": str(queue),
            "data_directory": str(data),
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "myhostname": "smtp.example.test",
            "mydestination": "",
            "mynetworks": "127.0.0.0/8",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "virtual_mailbox_domains": " ".join(self.domains),
            "virtual_transport": f"lmtp:inet:127.0.0.1:{self.lmtp_port}",
            "smtpd_sasl_type": "dovecot",
            "smtpd_sasl_path": f"inet:127.0.0.1:{self.sasl_port}",
            "smtpd_tls_cert_file": str(self.cert),
            "smtpd_tls_key_file": str(self.key),
            "smtpd_tls_security_level": "encrypt",
            "smtpd_tls_auth_only": "yes",
            # one address refused at RCPT time, for the "refused recipients" tests
            "smtpd_recipient_restrictions": f"check_recipient_access texthash:{d / 'refused'},"
            "permit_sasl_authenticated,reject_unauth_destination",
            "message_size_limit": str(200 * 1024 * 1024),
            "mailbox_size_limit": "0",
            "maillog_file": str(d / "maillog"),
            "maillog_file_prefixes": str(d),
            "smtputf8_enable": "no",
            "biff": "no",
            "delay_warning_time": "0",
        }
        (d / "refused").write_text(f"{REFUSED_RECIPIENT} REJECT 5.1.1 No such user here\n")
        subprocess.run(
            ["postconf", "-c", str(d), "-e", *[f"{k}={v}" for k, v in settings.items()]],
            check=True,
            capture_output=True,
        )
        master = _MASTER_CF
        master += f"127.0.0.1:{self.submission_port} inet n - n - - smtpd{_SUBMISSION_OPTS}\n"
        master += (
            f"127.0.0.1:{self.submissions_port} inet n - n - - smtpd{_SUBMISSION_OPTS}"
            " -o smtpd_tls_wrappermode=yes\n"
        )
        master += (
            f"127.0.0.1:{self.filing_port} inet n - n - - smtpd{_SUBMISSION_OPTS}"
            " -o smtpd_tls_wrappermode=yes -o cleanup_service_name=filingcleanup\n"
            "filingcleanup unix n - n - 0 cleanup"
            f" -o sender_bcc_maps=regexp:{d / 'sender_bcc'}\n"
        )
        (d / "master.cf").write_text(master)
        subprocess.run(
            ["postfix", "-c", str(d), "set-permissions", "create-missing"],
            check=True,
            capture_output=True,
        )
        try:
            _run_daemon(["postfix", "-c", str(d), "start"], d / "start.log")
        except RuntimeError as exc:
            log = (d / "maillog").read_text() if (d / "maillog").exists() else ""
            raise RuntimeError(f"{exc}\n{log}") from None
        wait_for_port(self.submission_port)
        wait_for_port(self.submissions_port)
        wait_for_port(self.filing_port)

    def stop(self) -> None:
        subprocess.run(
            ["postfix", "-c", str(self.directory), "stop"], capture_output=True, check=False
        )


def _register_alternate_dir(directory: Path) -> None:
    """Postfix refuses ``-c DIR`` unless the default config lists DIR as an alternate."""
    current = subprocess.run(
        ["postconf", "-c", "/etc/postfix", "-h", "alternate_config_directories"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dirs = [x for x in current.replace(",", " ").split() if Path(x).exists()]
    if str(directory) not in dirs:
        dirs.append(str(directory))
    subprocess.run(
        [
            "postconf",
            "-c",
            "/etc/postfix",
            "-e",
            f"alternate_config_directories = {' '.join(dirs)}",
        ],
        check=True,
        capture_output=True,
    )
