"""`hubsync connect`, `discover` and `accounts` against the real servers."""

import tomllib

import keyring
import keyring.core
from helpers import connect_args, redetect_keyring

from sandbox.autoconfig import TEMPLATE, AutoconfigServer

PASSWORD = "alice-sandbox-pw\n"


def stored_secret(sandbox, monkeypatch, account):
    for key, value in sandbox.keyring.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    redetect_keyring()  # viability is cached from the first look
    keyring.core.init_backend()
    try:
        return keyring.get_password("hubsync", account)
    finally:
        keyring.core._keyring_backend = None


def files_containing(root, needle: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_connect_special_use_server_through_dns_discovery(cli, sandbox, monkeypatch):
    result = cli(
        "connect",
        "alice@example.test",
        "--account",
        "dns-main",
        "--cafile",
        str(sandbox.ca.cert_path),
        "--password-stdin",
        "--json",
        input=PASSWORD,
    )
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["sent_folder"] == "Sent"
    assert data["sent_folder_rule"] == "special-use"
    assert data["imap"] == {
        "host": "mail.example.test",
        "port": sandbox.main.ports.imaps,
        "security": "ssl",
    }  # implicit TLS preferred over STARTTLS
    assert [s["ok"] for s in data["steps"]] == [True] * 8  # Logging from your mail client too
    # A new account reads every folder a reply can land in, and connect says which.
    assert data["watched_folders"][0] == "INBOX" and "Sent" in data["watched_folders"]
    watched = next(s for s in data["steps"] if s["name"] == "Watched folders")
    assert "IDLE on INBOX" in watched["detail"]
    config = tomllib.loads((cli.home / "config.toml").read_text())
    assert config["accounts"]["dns-main"]["watched_folders"] == ["*"]
    assert config["default_account"] == "dns-main"
    assert "password" not in (cli.home / "config.toml").read_text().lower()
    assert stored_secret(sandbox, monkeypatch, "dns-main") == "alice-sandbox-pw"
    assert files_containing(cli.home, "alice-sandbox-pw") == []


def test_connect_localized_server_finds_sent_by_name_not_decoys(cli, sandbox):
    result = cli(
        *connect_args(sandbox, "loc", server="localized", security="starttls"),
        "--json",
        input=PASSWORD,
    )
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["sent_folder"] == "Gesendete Elemente"
    assert data["sent_folder_rule"] == "name"
    assert "Sentinel reports" not in data["sent_folder_candidates"]
    assert "Consent forms" not in data["sent_folder_candidates"]


def test_wrong_password_writes_nothing(cli, sandbox, monkeypatch):
    result = cli(*connect_args(sandbox, "wrongpw"), input="not-the-password\n")
    assert result.code == 3
    assert "IMAP login failed" in result.stderr
    assert "rejected the user name or password" in result.stderr
    assert "✘ IMAP login" in result.stdout
    assert "not-the-password" not in result.stdout + result.stderr
    assert not (cli.home / "config.toml").exists()
    assert stored_secret(sandbox, monkeypatch, "wrongpw") is None


def test_pop3_only_domain_is_refused_with_explanation(cli, sandbox):
    result = cli(
        "connect",
        "alice@pop3only.test",
        "--cafile",
        str(sandbox.ca.cert_path),
        "--password-stdin",
        input=PASSWORD,
    )
    assert result.code == 1
    text = " ".join(result.stderr.split())
    assert "POP3 downloads mail and removes it from the server" in text
    assert not (cli.home / "config.toml").exists()


def test_pop3_port_given_as_imap_is_refused_with_explanation(cli, sandbox):
    args = connect_args(sandbox, "pop")
    args[args.index("--imap-port") + 1] = str(sandbox.pop3only.ports.pop3s)
    result = cli(*args, input=PASSWORD)
    assert result.code == 1
    assert "is a POP3 server" in result.stderr
    assert "enable IMAP" in " ".join(result.stderr.split())


def test_unknown_ca_is_refused_with_cafile_advice(cli, sandbox):
    args = connect_args(sandbox, "noca")
    i = args.index("--cafile")
    del args[i : i + 2]
    result = cli(*args, input=PASSWORD)
    assert result.code == 1
    assert "not trusted" in result.stderr
    assert "--cafile" in result.stderr
    assert not (cli.home / "config.toml").exists()


def test_no_password_without_terminal_names_the_option(cli, sandbox):
    args = [a for a in connect_args(sandbox, "nopw") if a != "--password-stdin"]
    result = cli(*args, "--yes")
    assert result.code == 2
    assert "--password-stdin" in result.stderr


def test_discover_through_srv_records(cli, sandbox):
    result = cli("discover", "alice@example.test", "--cafile", str(sandbox.ca.cert_path), "--json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["imap"]["source"] == "srv"
    assert data["imap"]["port"] == sandbox.main.ports.imaps
    assert data["smtp"]["port"] == sandbox.postfix.submissions_port
    # unverifiable guesses (imap.example.test:993 ...) are not kept
    kept = data["candidates"]
    assert [c for c in kept if c["source"] == "guess" and not c["verified"]] == []
    assert any(c["source"] == "srv" and c["verified"] for c in kept)  # the list is not empty


def test_discover_through_autoconfig_xml(cli, sandbox):
    cert, key = sandbox.root / "tls" / "server.crt", sandbox.root / "tls" / "server.key"
    xml = TEMPLATE.format(
        domain="autoconf.test",
        imap_host="mail.example.test",
        imap_port=sandbox.main.ports.imaps,
        smtp_host="smtp.example.test",
        smtp_port=sandbox.postfix.submission_port,
    )
    with AutoconfigServer(cert, key, xml) as server:
        result = cli(
            "discover", "someone@autoconf.test", "--cafile", str(sandbox.ca.cert_path), "--json"
        )
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["imap"]["source"] == "autoconfig"
    assert data["imap"]["verified"] is True
    assert data["smtp"]["security"] == "starttls"
    assert server.requests[0].startswith("/mail/config-v1.1.xml?emailaddress=someone")


def test_pop3_only_discovery_is_reported(cli, sandbox):
    result = cli("discover", "x@pop3only.test", "--cafile", str(sandbox.ca.cert_path), "--json")
    assert result.code == 1
    data = result.json()
    assert data["pop3_only"] is True
    assert "_imaps._tcp" in data["not_offered"]


def test_accounts_list_show_default_and_remove(cli, sandbox, monkeypatch):
    assert cli(*connect_args(sandbox, "first"), input=PASSWORD).code == 0
    assert cli(*connect_args(sandbox, "second"), input=PASSWORD).code == 0
    listing = cli("accounts", "list", "--json").json()
    assert listing["default"] == "first"
    assert {a["account"] for a in listing["accounts"]} == {"first", "second"}
    assert cli("accounts", "default", "second").code == 0
    assert cli("accounts", "list", "--json").json()["default"] == "second"
    shown = cli("accounts", "show", "second", "--json").json()
    assert shown["password"] == "in keyring"
    assert "alice-sandbox-pw" not in cli("accounts", "show", "second").stdout

    refused = cli("accounts", "remove", "second")  # no terminal to ask at, and no --yes
    assert refused.code == 2 and "--yes" in refused.stderr
    removed = cli("accounts", "remove", "second", "--yes", "--json").json()
    assert removed == {"schema": 2, "removed": "second", "secret_deleted": True}
    assert stored_secret(sandbox, monkeypatch, "second") is None
    assert [a["account"] for a in cli("accounts", "list", "--json").json()["accounts"]] == ["first"]
    assert cli("accounts", "show", "second").code == 2  # an unknown account is a usage error


def test_reconnect_updates_the_account(cli, sandbox):
    assert cli(*connect_args(sandbox, "again"), input=PASSWORD).code == 0
    args = connect_args(sandbox, "again", security="starttls")
    assert cli(*args, input=PASSWORD).code == 0
    shown = cli("accounts", "show", "again", "--json").json()
    assert shown["imap"]["security"] == "starttls"


def test_unknown_config_key_is_reported_by_the_cli(offline_cli):
    offline_cli.home.mkdir(parents=True)
    (offline_cli.home / "config.toml").write_text("[accounts.x]\nemial = 'a@b.c'\n")
    result = offline_cli("accounts", "list")
    assert result.code == 1
    assert "emial" in result.stderr and "config.toml" in result.stderr


def test_a_non_ascii_password_is_sent_as_utf8_and_refused_cleanly(cli, sandbox):
    result = cli(*connect_args(sandbox, "umlaut"), input="pässwörd-ß\n")
    assert result.code == 3, result.stderr
    assert "IMAP login failed" in result.stderr and "internal error" not in result.stderr
    assert "pässwörd" not in result.stdout + result.stderr


def test_without_the_ca_file_connect_names_the_untrusted_certificate(cli, sandbox):
    """Discovery finds the servers; their certificates come from a CA the system does not
    trust. The error says so and names --cafile, not "ask IT for a host"."""
    result = cli("connect", "alice@example.test", "--password-stdin", "--json", input="x\n")
    assert result.code == 1, result.stderr
    error = result.json()
    assert error["error"] == "imap-not-found" and error["cause"] == "certificate-untrusted"
    assert "certificate does not verify" in error["message"]
    assert "mail.example.test" in error["message"] and "--cafile" in error["fix"]
    listed = cli("discover", "alice@example.test")
    assert "none verified: mail.example.test" in " ".join(listed.stdout.split())
