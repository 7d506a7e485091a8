"""`hubsync doctor` against the real servers: each way a connection breaks, found and explained."""

import subprocess
import time
import tomllib

import pytest
import tomli_w
from helpers import connect_args, imap_login

ALICE = "alice-sandbox-pw\n"


def connected(cli, sandbox, user: str, account: str):
    args = connect_args(sandbox, account)
    args[1] = user
    assert cli(*args, input=sandbox.users[user].password + "\n").code == 0
    return cli


def edit_account(cli, account: str, **changes) -> None:
    path = cli.home / "config.toml"
    data = tomllib.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            data["accounts"][account].pop(key, None)
        else:
            data["accounts"][account][key] = value
    path.write_text(tomli_w.dumps(data))


def checks(cli, *args) -> tuple[int, dict]:
    result = cli("doctor", *args, "--json")
    data = result.json()
    return result.code, {c["id"]: c for c in data["accounts"][0]["checks"]}


def test_healthy_account_passes_every_check(cli, sandbox):
    connected(cli, sandbox, "alice@example.test", "alice")
    assert cli("sync").code == 0
    code, found = checks(cli)
    assert code == 0
    bad = {k: (c["status"], c["evidence"]) for k, c in found.items() if c["status"] != "pass"}
    assert bad == {}
    for expected in (
        "config",
        "keyring",
        "secret",
        "store",
        "imap-tls",
        "imap-login",
        "imap-capabilities",
        "sent-folder",
        "folder-sizes",
        "smtp-auth",
        "history",
        "imap-server",
    ):
        assert expected in found
    assert "Dovecot" in found["imap-server"]["evidence"]
    assert "Healthy" in cli("doctor").stdout


def test_changed_password_fails_login_and_history_shows_failed_syncs(cli, sandbox):
    connected(cli, sandbox, "carol@partner.test", "carol")
    assert cli("sync").code == 0
    sandbox.set_password("carol@partner.test", "changed-by-it")
    try:
        for _ in range(2):
            failed = cli("sync")
            assert failed.code == 3 and "IMAP login failed" in failed.stderr
        code, found = checks(cli)
        assert code == 1
        assert found["imap-login"]["status"] == "fail"
        assert found["imap-login"]["reason"] == "auth-failed"
        assert "hubsync connect" in found["imap-login"]["fix"]
        assert found["history"]["status"] == "fail"
        assert "2 failed connection(s)" in found["history"]["evidence"]
    finally:
        sandbox.set_password("carol@partner.test", "carol-sandbox-pw")


def test_stopped_server_is_reported_unreachable_within_the_bound(cli, sandbox):
    connected(cli, sandbox, "alice@example.test", "alice")
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    dead_port = sock.getsockname()[1]
    sock.close()
    edit_account(cli, "alice", imap_port=dead_port, smtp_port=dead_port)
    started = time.monotonic()
    code, found = checks(cli)
    assert time.monotonic() - started < 20
    assert code == 1
    assert found["imap-reachable"]["status"] == "fail"
    assert found["imap-reachable"]["reason"] == "refused"
    assert found["smtp-reachable"]["status"] == "fail"


def test_folder_over_100000_messages_warns(cli, sandbox):
    user = "dave@example.test"
    connected(cli, sandbox, user, "dave")
    folder = "Archive"
    sandbox.main.doveadm("mailbox", "create", "-u", user, folder)
    cur = sandbox.main.mail_dir(user) / "Maildir" / f".{folder}" / "cur"
    for i in range(100_001):
        (cur / f"1700000000.M{i}P1.big:2,S").write_bytes(
            b"From: a@b.test\r\nSubject: s\r\nMessage-ID: <m%d@b.test>\r\n\r\nx\r\n" % i
        )
    subprocess.run(
        ["chown", "-R", f"{sandbox.main.uid}:{sandbox.main.gid}", str(cur.parent)], check=True
    )
    code, found = checks(cli)
    assert code == 0  # a warning is not a failure
    check = found["folder-sizes"]
    assert check["status"] == "warn" and check["reason"] == "large-folder"
    assert "Archive (100,001)" in check["evidence"]
    assert "yearly folders" in check["fix"]


def test_untrusted_certificate_fails_with_advice(cli, sandbox):
    connected(cli, sandbox, "alice@example.test", "alice")
    edit_account(cli, "alice", cafile=None)
    code, found = checks(cli)
    assert code == 1
    assert found["imap-tls"]["reason"] == "tls-untrusted"
    assert "--cafile" in found["imap-tls"]["fix"]


def test_expired_certificate_fails_with_advice(cli, sandbox):
    connected(cli, sandbox, "alice@example.test", "alice")
    edit_account(cli, "alice", imap_port=sandbox.expired.ports.imaps)
    code, found = checks(cli)
    assert code == 1
    assert found["imap-tls"]["reason"] == "tls-expired"
    assert "renewed" in found["imap-tls"]["fix"]


def test_pop3_only_server_fails_with_explanation(cli, sandbox):
    connected(cli, sandbox, "alice@example.test", "alice")
    edit_account(cli, "alice", imap_port=sandbox.pop3only.ports.pop3s)
    code, found = checks(cli)
    assert code == 1
    assert found["imap-available"]["reason"] == "pop3-only"
    assert "POP3 downloads mail and removes it" in found["imap-available"]["fix"]


def test_deleted_sent_folder_fails_with_the_fix(cli, sandbox):
    connected(cli, sandbox, "carol@partner.test", "carol")
    conn = imap_login(sandbox, "carol@partner.test")
    conn.delete("Sent")
    conn.logout()
    try:
        code, found = checks(cli)
        assert code == 1
        assert found["sent-folder"]["reason"] == "sent-folder-missing"
        assert "--sent-folder" in found["sent-folder"]["fix"]
    finally:
        conn = imap_login(sandbox, "carol@partner.test")
        conn.create("Sent")
        conn.logout()


def test_corrupted_attachment_is_found_by_the_store_check(cli, sandbox, tmp_path):
    connected(cli, sandbox, "alice@example.test", "alice")
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Bob Buyer <bob@customer.test>"
    msg["To"] = "alice@example.test"
    msg["Subject"] = "Contract"
    msg["Message-ID"] = "<contract-doctor@customer.test>"
    msg.set_content("attached")
    msg.add_attachment(
        b"%PDF original", maintype="application", subtype="pdf", filename="contract.pdf"
    )
    (tmp_path / "c.eml").write_bytes(msg.as_bytes())
    assert cli("log", str(tmp_path / "c.eml")).code == 0
    code, found = checks(cli, "--offline")
    assert code == 0 and found["attachments"]["status"] == "pass"
    [stored] = [p for p in (cli.home / "data" / "attachments").rglob("*") if p.is_file()]
    stored.write_bytes(b"%PDF tampered")
    code, found = checks(cli, "--offline")
    assert code == 1
    assert found["attachments"]["reason"] == "attachment-corrupt"
    assert "contract.pdf" in found["attachments"]["evidence"]
    assert "imap-login" not in found  # --offline stays local


def test_missing_config_account_is_a_clear_error(offline_cli):
    result = offline_cli("doctor")
    assert result.code == 2
    assert "hubsync connect" in result.stderr


@pytest.mark.parametrize("args", [["--offline"]])
def test_offline_doctor_finishes_without_servers(cli, sandbox, args):
    connected(cli, sandbox, "alice@example.test", "alice")
    edit_account(cli, "alice", imap_host="unreachable.invalid")
    code, found = checks(cli, *args)
    assert "imap-dns" not in found
    assert found["history"]["reason"] == "never-synced"
    # a warning (never synced) with every local check passing: exit 0
    assert [c["status"] for c in found.values() if c["status"] != "pass"] == ["warn"]
    assert code == 0
