"""Pure functions behind connect and sync: login diagnosis, autoconfig XML, message bodies."""

import pytest

from hubsync.errors import MessageError
from hubsync.mail import parse, providers
from hubsync.mail.diagnosis import diagnose_login
from hubsync.mail.discovery import parse_autoconfig


@pytest.mark.parametrize(
    "text,reason",
    [
        ("[AUTHENTICATIONFAILED] Authentication failed.", "auth-failed"),
        ("[UNAVAILABLE] Maximum number of connections from user+IP exceeded", "auth-unavailable"),
        ("[PRIVACYREQUIRED] Plaintext authentication disallowed", "auth-privacy-required"),
        ("[EXPIRED] Password expired", "auth-expired"),
        (
            "[ALERT] Application-specific password required: https://support.google.com/...",
            "auth-app-password",
        ),
        ("[ALERT] Please log in via your web browser", "auth-web-signin"),
        (
            "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
            "Tenant.",
            "auth-basic-disabled",
        ),
    ],
)
def test_login_failures_get_a_reason(text, reason):
    assert diagnose_login(text).reason == reason


def test_alert_text_is_shown_verbatim_and_provider_hint_added():
    failure = diagnose_login(
        "[ALERT] Please log in via your web browser: https://x.test/s", providers.by_key("gmail")
    )
    assert "Please log in via your web browser: https://x.test/s" in failure.message
    assert "app password" in failure.fix


def test_microsoft_hint_names_basic_authentication():
    failure = diagnose_login("LOGIN failed.", providers.by_key("microsoft"))
    assert failure.reason == "auth-failed"
    assert "basic (password) authentication" in failure.fix


AUTOCONFIG = b"""<?xml version="1.0"?>
<clientConfig version="1.1"><emailProvider id="x.test">
  <incomingServer type="imap"><hostname>imap.x.test</hostname><port>993</port>
    <socketType>SSL</socketType></incomingServer>
  <incomingServer type="imap"><hostname>plain.x.test</hostname><port>143</port>
    <socketType>plain</socketType></incomingServer>
  <incomingServer type="pop3"><hostname>pop.x.test</hostname><port>995</port>
    <socketType>SSL</socketType></incomingServer>
  <outgoingServer type="smtp"><hostname>smtp.x.test</hostname><port>587</port>
    <socketType>STARTTLS</socketType></outgoingServer>
</emailProvider></clientConfig>"""


def test_autoconfig_offers_only_tls_servers():
    found = [(c.kind, c.host, c.port, c.security) for c in parse_autoconfig(AUTOCONFIG)]
    assert found == [
        ("imap", "imap.x.test", 993, "ssl"),
        ("pop3", "pop.x.test", 995, "ssl"),
        ("smtp", "smtp.x.test", 587, "starttls"),
    ]


def test_autoconfig_with_entities_is_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><clientConfig>&b;</clientConfig>'
    )
    with pytest.raises(ValueError):
        parse_autoconfig(bomb)


def test_html_only_body_becomes_readable_text():
    raw = (
        b"From: Bob <bob@x.test>\r\nTo: a@y.test\r\nSubject: Hi\r\nMessage-ID: <h@x.test>\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><body><p>Thanks <b>Alice</b>,</p><p>signed.</p></body></html>\r\n"
    )
    body = parse.parse(raw).body
    assert "Thanks **Alice**" in body and "signed." in body and "<p>" not in body


def test_encoded_names_are_decoded_and_missing_message_id_gets_a_stable_one():
    raw = (
        b"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <jorg@x.test>\r\nTo: a@y.test\r\n"
        b"Subject: =?utf-8?b?w5xiZXJzaWNodA==?=\r\nDate: Tue, 1 Dec 2026 10:00:00 +0100"
        b"\r\n\r\nbody\r\n"
    )
    first, second = parse.parse(raw), parse.parse(raw)
    assert (first.from_name, first.subject) == ("Jörg Müller", "Übersicht")
    assert first.synthetic_id and first.message_id == second.message_id


def test_text_that_is_not_mail_is_refused():
    with pytest.raises(MessageError):
        parse.parse(b"just some notes\nnothing else\n")
