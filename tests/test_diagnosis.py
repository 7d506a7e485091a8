"""What a user reads when a login is refused: message, fix, reason and the JSON details."""

import pytest

from hubsync.mail import providers
from hubsync.mail.diagnosis import diagnose_login, oauth_no_token, oauth_refused, oauth_unsupported

GENERIC_FIX = "Check the user name and password, then run `hubsync connect` again."


def test_a_plain_refusal_shows_the_servers_words_and_the_generic_fix():
    failure = diagnose_login("  LOGIN failed.  ")
    assert failure.message == (
        "IMAP login failed: The IMAP server refused the login.\nServer said: LOGIN failed."
    )
    assert failure.fix == GENERIC_FIX
    assert failure.reason == "auth-failed"
    assert failure.details == {"server_text": "LOGIN failed.", "response_code": ""}
    assert failure.to_dict()["server_text"] == "LOGIN failed."


def test_smtp_refusals_name_smtp_and_silence_adds_no_server_line():
    failure = diagnose_login("", protocol="SMTP")
    assert failure.message == "SMTP login failed: The SMTP server refused the login."


def test_an_rfc5530_code_picks_summary_fix_and_is_reported_in_upper_case():
    failure = diagnose_login("[authenticationfailed] Authentication failed.")
    assert failure.reason == "auth-failed"
    assert failure.message == (
        "IMAP login failed: The server rejected the user name or password.\n"
        "Server said: [authenticationfailed] Authentication failed."
    )
    assert failure.details["response_code"] == "AUTHENTICATIONFAILED"
    over = diagnose_login("[OVERQUOTA] Mailbox is full")
    assert (over.reason, over.fix) == (
        "auth-over-quota",
        "Delete or archive mail, or ask IT for more space.",
    )


def test_an_alert_is_shown_instead_of_the_raw_text():
    failure = diagnose_login("[ALERT]   Your account is locked; call the helpdesk ")
    assert failure.message == (
        "IMAP login failed: The IMAP server refused the login.\n"
        "Server alert: Your account is locked; call the helpdesk"
    )
    assert "Server said" not in failure.message
    assert failure.details["response_code"] == "ALERT"
    lower = diagnose_login("[alert] Quota policy changed")
    assert lower.message.endswith("\nServer alert: Quota policy changed")


@pytest.mark.parametrize(
    "text, reason",
    [
        ("NO app password needed", "auth-app-password"),
        ("NO [ALERT] Please sign in via https://x.test", "auth-web-signin"),
        ("NO BasicAuthBlocked", "auth-basic-disabled"),
        ("NO Too many connections from your IP", "auth-too-many-connections"),
    ],
)
def test_provider_wording_overrides_the_code(text, reason):
    assert diagnose_login(text).reason == reason


def test_a_provider_adds_its_hint_to_the_fix():
    gmail = providers.by_key("gmail")
    failure = diagnose_login("[AUTHENTICATIONFAILED] Invalid credentials", gmail)
    assert failure.fix.startswith("Check the password (and the user name")
    assert failure.fix.endswith(f" {gmail.name}: {gmail.login_hint}")


def test_an_oauth_refusal_reports_the_servers_json_error():
    error = {"status": "invalid_token", "scope": "https://mail.test/"}
    failure = oauth_refused("IMAP", " NO [AUTHENTICATIONFAILED] bad token ", error, "XOAUTH2")
    assert failure.reason == "oauth-token-refused"
    assert failure.message == (
        "IMAP refused the OAuth2 token (XOAUTH2; the server said: "
        "status=invalid_token, scope=https://mail.test/).\n"
        "Server said: NO [AUTHENTICATIONFAILED] bad token"
    )
    assert failure.fix == (
        "Check that the user name is the address you signed in as, and that the sign-in "
        "granted the mail scopes; then run `hubsync connect NAME --auth oauth2` again to "
        "sign in afresh."
    )
    assert failure.details == {
        "server_text": "NO [AUTHENTICATIONFAILED] bad token",
        "response_code": "AUTHENTICATIONFAILED",
        "mechanism": "XOAUTH2",
        "oauth_status": "invalid_token",
        "oauth_scope": "https://mail.test/",
        "oauth_error": error,
    }


def test_an_oauth_refusal_without_details_says_so_and_adds_the_provider_hint():
    microsoft = providers.by_key("microsoft")
    failure = oauth_refused("SMTP", "535 nope", {}, "OAUTHBEARER", microsoft)
    assert "(OAUTHBEARER; the server said: no details)" in failure.message
    assert failure.details["oauth_status"] == "" and failure.details["oauth_scope"] == ""
    assert failure.details["response_code"] == ""
    assert failure.fix.endswith(f"sign in afresh. {microsoft.name}: {microsoft.login_hint}")


def test_a_server_without_oauth_lists_what_it_offers():
    failure = oauth_unsupported("IMAP", ["PLAIN", "LOGIN"])
    assert failure.message == (
        "The IMAP server does not offer OAuth2 login (mechanisms: PLAIN, LOGIN)."
    )
    assert failure.fix == (
        "Use --auth password for this server, or check the host: Gmail and Microsoft 365 "
        "offer XOAUTH2."
    )
    assert failure.reason == "oauth-not-offered"
    assert failure.details == {"mechanisms": ["PLAIN", "LOGIN"]}
    assert "(mechanisms: none advertised)" in oauth_unsupported("SMTP", []).message


def test_no_token_says_how_to_sign_in():
    failure = oauth_no_token()
    assert (failure.message, failure.fix, failure.reason) == (
        "No OAuth2 access token is available for this account.",
        "Run `hubsync connect NAME --auth oauth2` to sign in.",
        "oauth-no-token",
    )
