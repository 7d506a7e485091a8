"""The token endpoint's decisions (oauth/tokens.py): when a token counts as expired, what a
token answer becomes, which error a refusal is, and what a refresh sends. The endpoint is a
real HTTP server on loopback in this process (plain http is allowed only there)."""

import pytest
from helpers import JsonEndpoint, serving

from hubsync import redact
from hubsync.errors import ProtocolFailure
from hubsync.oauth import tokens
from hubsync.oauth.tokens import Client, ConsentRevoked, OAuthError, TokenSet


def test_a_public_client_sends_only_its_id_and_a_desktop_client_its_secret_too():
    assert Client("abc", ("s",)).credentials() == {"client_id": "abc"}
    assert Client("abc", ("s",), "shh").credentials() == {
        "client_id": "abc",
        "client_secret": "shh",
    }


@pytest.mark.parametrize(
    ("expires_at", "seconds", "now", "expired"),
    [
        (0, 10**9, 10**9, False),  # no lifetime stated: never expired
        (1000, 0, 999, False),
        (1000, 0, 1000, True),  # at the second it expires
        (1000, 60, 939, False),
        (1000, 60, 940, True),  # within the margin
        (1000, 60, 5000, True),
    ],
)
def test_expiry_is_judged_with_the_margin_and_inclusive(expires_at, seconds, now, expired):
    assert TokenSet("a", expires_at).expires_within(seconds, now=now) is expired


def test_expiry_without_a_clock_given_uses_the_real_one():
    assert TokenSet("a", 1.0).expires_within(0)  # 1970 is long past
    assert not TokenSet("a", 4e9).expires_within(60)  # 2096 is not


def test_a_token_set_round_trips_to_the_stored_form():
    data = TokenSet("acc", 123.5, "ref", "mail").to_dict()
    assert data == {
        "access_token": "acc",
        "expires_at": 123.5,
        "refresh_token": "ref",
        "scope": "mail",
    }


@pytest.mark.parametrize(
    ("lifetime", "expires_at"),
    [
        (3600, 4600.0),
        ("3600", 4600.0),
        (0.5, 1000.5),
        (None, 0.0),
        ("soon", 0.0),
        (0, 0.0),
        (-5, 0.0),
        ([1], 0.0),
    ],
)
def test_the_lifetime_is_read_leniently_and_a_bad_one_means_unknown(lifetime, expires_at):
    body = {"access_token": "tok", "expires_in": lifetime}
    assert tokens.from_response(body, now=1000).expires_at == expires_at


@pytest.mark.parametrize("access", [None, "", 42, ["a"]])
def test_an_answer_without_an_access_token_is_a_protocol_failure(access):
    with pytest.raises(ProtocolFailure) as raised:
        tokens.from_response({"access_token": access, "refresh_token": "r"})
    assert raised.value.reason == "oauth-bad-response"


def test_rotation_scope_and_redaction_of_a_token_answer():
    body = {"access_token": "ACCESS-zz9", "refresh_token": "REFRESH-zz9", "scope": None}
    got = tokens.from_response(body, "OLD", now=0)
    assert (got.refresh_token, got.scope) == ("REFRESH-zz9", "")
    assert redact.scrub("a ACCESS-zz9 b REFRESH-zz9") == "a *** b ***"
    kept = tokens.from_response({"access_token": "x1y", "refresh_token": 7}, "OLD", now=0)
    assert kept.refresh_token == "OLD"  # a non-string refresh token is not a rotation
    none = tokens.from_response({"access_token": "x2y", "scope": "a b"}, now=0)
    assert (none.refresh_token, none.scope) == ("", "a b")


@pytest.mark.parametrize(
    ("code", "reason", "words"),
    [
        ("invalid_client", "oauth-invalid-client", "client ID"),
        ("unauthorized_client", "oauth-invalid-client", "registration"),
        ("invalid_scope", "oauth-invalid-scope", "scopes"),
        ("access_denied", "oauth-access-denied", "declined"),
        ("consent_required", "oauth-consent-required", "consent again"),
        ("interaction_required", "oauth-consent-required", "new sign-in"),
        ("invalid_grant", "oauth-refused", "refused the request"),  # not during a refresh
        ("temporarily_unavailable", "oauth-refused", "refused the request"),
    ],
)
def test_each_provider_error_has_its_reason_and_words(code, reason, words):
    error = tokens.error_from(400, {"error": code, "error_description": "why"}, "work", "sign-in")
    assert type(error) is OAuthError and error.reason == reason
    assert words in error.message and f"({code}: why)" in error.message
    assert error.message.startswith("OAuth2 sign-in failed: ")
    assert error.fix == "Check the client ID, scopes and issuer."
    assert error.details == {"oauth_error": code, "oauth_error_description": "why", "status": 400}


def test_a_refused_refresh_tells_to_sign_in_again_and_invalid_grant_is_revoked_consent():
    refused = tokens.error_from(400, {"error": "invalid_scope"}, "work", "refresh")
    assert refused.fix == "Run `hubsync connect work --auth oauth2` again to sign in."
    assert "(invalid_scope: no description)" in refused.message
    revoked = tokens.error_from(400, {"error": "invalid_grant"}, "work", "refresh")
    assert isinstance(revoked, ConsentRevoked) and revoked.reason == "oauth-consent-revoked"
    assert revoked.fix.startswith("Consent was revoked: Run `hubsync connect work")
    assert "(invalid_grant: no description)" in revoked.message
    assert revoked.details["status"] == 400
    blank = tokens.error_from(503, {"error": "", "error_description": None}, "w", "refresh")
    assert blank.details == {
        "oauth_error": "http-503",
        "oauth_error_description": "",
        "status": 503,
    }


class _Endpoint(JsonEndpoint):
    answers: list[tuple[int, dict]] = []

    def answer(self, path: str, form: dict) -> tuple[int, dict]:
        return self.answers.pop(0)


@pytest.fixture
def endpoint():
    _Endpoint.answers, _Endpoint.seen = [], []
    with serving(_Endpoint) as base:
        yield f"{base}/token"


def test_a_refresh_sends_the_grant_and_the_client_and_keeps_the_old_refresh_token(endpoint):
    _Endpoint.answers = [(200, {"access_token": "new-access", "expires_in": 60})]
    got = tokens.refresh(endpoint, Client("cid", ("mail",), "sec"), "old-refresh", "work")
    assert _Endpoint.seen == [
        {
            "grant_type": "refresh_token",
            "refresh_token": "old-refresh",
            "client_id": "cid",
            "client_secret": "sec",
        }
    ]
    assert (got.access_token, got.refresh_token) == ("new-access", "old-refresh")
    assert got.expires_at > 0


@pytest.mark.parametrize("status", [400, 200])
def test_an_error_answer_is_raised_whatever_the_status(endpoint, status):
    _Endpoint.answers = [(status, {"error": "invalid_grant", "access_token": "ignored"})]
    with pytest.raises(ConsentRevoked):
        tokens.refresh(endpoint, Client("cid", ("mail",)), "r", "work")


def test_a_failed_status_without_an_error_code_is_still_refused(endpoint):
    _Endpoint.answers = [(500, {"access_token": "looks-fine"})]
    with pytest.raises(OAuthError) as raised:
        tokens.request_tokens(endpoint, {"grant_type": "x"}, Client("c", ()), "w", "sign-in")
    assert raised.value.details["oauth_error"] == "http-500"
    assert "client_secret" not in _Endpoint.seen[0]
