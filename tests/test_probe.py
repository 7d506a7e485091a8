"""`hubsync probe` against the real Dovecot and Postfix servers."""

import socket
import time

import pytest


def by_port(report: dict) -> dict[int, dict]:
    return {p["port"]: p for p in report["ports"]}


def test_main_server_gives_imap_verdict_and_tells_tls_modes(cli, sandbox):
    m, smtp = sandbox.main.ports, sandbox.postfix
    ports = [m.imaps, m.imap, smtp.submissions_port, smtp.submission_port]
    result = cli(
        "probe",
        "localhost",
        *sum((["--port", str(p)] for p in ports), []),
        "--cafile",
        str(sandbox.ca.cert_path),
        "--json",
    )
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["verdict"] == "imap"
    ports_seen = by_port(report)
    assert ports_seen[m.imaps]["protocol"] == "imap"
    assert ports_seen[m.imaps]["tls"] == "implicit"
    assert ports_seen[m.imap]["protocol"] == "imap"
    assert ports_seen[m.imap]["tls"] == "starttls"
    assert ports_seen[smtp.submissions_port]["protocol"] == "smtp"
    assert ports_seen[smtp.submissions_port]["tls"] == "implicit"
    assert ports_seen[smtp.submission_port]["protocol"] == "smtp"
    assert ports_seen[smtp.submission_port]["tls"] == "starttls"
    # capabilities are those after TLS: no STARTTLS left, and IMAP shows IDLE
    assert "IDLE" in ports_seen[m.imaps]["capabilities"]
    assert "STARTTLS" not in ports_seen[m.imap]["capabilities"]
    assert report["recommended"]["imap"] == {"port": m.imaps, "security": "ssl"}
    assert report["recommended"]["smtp"]["port"] == smtp.submissions_port


def test_pop3_only_server_is_explained_and_exits_1(cli, sandbox):
    p = sandbox.pop3only.ports
    result = cli(
        "probe",
        "localhost",
        "--port",
        str(p.pop3s),
        "--port",
        str(p.pop3),
        "--cafile",
        str(sandbox.ca.cert_path),
    )
    assert result.code == 1
    assert "Verdict: pop3-only" in result.stdout
    text = " ".join(result.stdout.split())
    assert "POP3 downloads mail and removes it from the server" in text
    assert "enable IMAP" in text

    as_json = cli("probe", "localhost", "--port", str(p.pop3s), "--json")
    assert as_json.code == 1
    assert as_json.json()["verdict"] == "pop3-only"
    assert by_port(as_json.json())[p.pop3s]["tls"] == "implicit"


def test_unknown_ca_is_untrusted_without_cafile_and_trusted_with_it(cli, sandbox):
    port = sandbox.main.ports.imaps
    plain = cli("probe", "localhost", "--port", str(port), "--json").json()
    cert = by_port(plain)[port]["certificate"]
    assert cert["trusted"] is False
    assert "issuer" in cert["verify_error"]
    assert cert["issuer"] == "CN=hubsync test CA"

    with_ca = cli(
        "probe", "localhost", "--port", str(port), "--cafile", str(sandbox.ca.cert_path), "--json"
    ).json()
    cert = by_port(with_ca)[port]["certificate"]
    assert cert["trusted"] is True
    assert cert["matches_host"] is True


def test_closed_port_and_silent_listener_are_reported_within_the_timeout(offline_cli):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)  # the kernel accepts; nobody ever speaks
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        started = time.monotonic()
        result = offline_cli(
            "probe",
            "127.0.0.1",
            "--port",
            str(silent.getsockname()[1]),
            "--port",
            str(closed_port),
            "--timeout",
            "3",
            "--json",
        )
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert result.code == 1
    report = result.json()
    ports = by_port(report)
    assert ports[closed_port]["open"] is False
    assert ports[closed_port]["reason"] == "refused"
    quiet = next(p for p in report["ports"] if p["port"] != closed_port)
    assert quiet["open"] is True
    assert quiet["protocol"] in ("", "unknown")
    assert quiet["reason"] == "silent"
    assert quiet["elapsed_ms"] <= 3500
    assert elapsed < 3 + 5  # the port's bound plus interpreter start
    assert report["verdict"] == "none"


def test_json_stdout_is_only_json(cli, sandbox):
    result = cli("probe", "localhost", "--port", str(sandbox.main.ports.imaps), "--json")
    import json

    json.loads(result.stdout)  # raises if anything else is on stdout
    assert result.stdout.lstrip().startswith("{")


@pytest.mark.parametrize(
    "greeting,expected",
    [
        (b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n", "imap"),
        (b"* OK Gimap ready for requests\r\n", "imap"),
        (b"* PREAUTH IMAP4rev1 server logged in\r\n", "imap"),
        (b"+OK POP3 server ready\r\n", "pop3"),
        (b"-ERR too many connections\r\n", "pop3"),
        (b"220 smtp.example.com ESMTP\r\n", "smtp"),
        (b"SSH-2.0-OpenSSH_9.2\r\n", "unknown"),
    ],
)
def test_greetings_are_classified(greeting, expected):
    from hubsync.mail.probe import classify

    assert classify(greeting) == expected


def test_imap_without_tls_is_its_own_verdict_with_no_recommendation():
    from hubsync.mail.probe import IMAP, POP3, SMTP, PortReport, judge

    reports = [
        PortReport(143, True, IMAP, "none", "* OK IMAP4rev1 ready"),
        PortReport(110, True, POP3, "none", "+OK POP3 ready"),
        PortReport(25, True, SMTP, "none", "220 mail ESMTP"),
    ]
    report = judge("mail.example.test", reports)
    assert report.verdict == "imap-without-tls"
    assert report.explanation == (
        "IMAP answers, but offers no TLS. hubsync never sends a password without TLS: "
        "ask IT to enable IMAPS (port 993) or STARTTLS."
    )
    data = report.to_dict()
    assert data["recommended"]["imap"] is None and data["recommended"]["smtp"] is None
    # the same server with STARTTLS on 143 is usable
    reports[0].tls = "starttls"
    assert judge("mail.example.test", reports).verdict == "imap"
