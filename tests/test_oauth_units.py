"""OAuth2 pieces that need no server: SASL messages, token answers, PKCE, URL checks, the
loopback listener's state check, and where a sign-in's settings come from."""

import base64
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest
from helpers import JsonEndpoint, serving

from hubsync import config as cfg
from hubsync import environment, render
from hubsync.errors import NetworkError, UsageError
from hubsync.oauth import flows, http, sasl, signin, tokens
from hubsync.oauth.discovery import Endpoints, from_metadata
from hubsync.oauth.grant import StoredGrant
from hubsync.oauth.tokens import Client, ConsentRevoked, OAuthError, TokenSet


def test_xoauth2_and_oauthbearer_initial_responses():
    assert sasl.initial_response("XOAUTH2", "a@b.test", "T0K") == (
        b"user=a@b.test\x01auth=Bearer T0K\x01\x01"
    )
    assert sasl.initial_response("OAUTHBEARER", "a@b.test", "T0K") == (
        b"n,a=a@b.test,\x01auth=Bearer T0K\x01\x01"
    )
    # RFC 5801: "," and "=" in the authorization identity are escaped
    assert sasl.initial_response("OAUTHBEARER", "a,b=c", "t").startswith(b"n,a=a=2Cb=3Dc,\x01")
    with pytest.raises(ValueError):
        sasl.initial_response("PLAIN", "a", "t")


def test_error_challenge_answers_follow_each_mechanism():
    assert sasl.error_reply("XOAUTH2") == b""
    assert sasl.error_reply("OAUTHBEARER") == b"\x01"


def test_error_challenge_json_is_read_decoded_or_encoded_and_junk_is_ignored():
    raw = b'{"status":"401","schemes":"bearer","scope":"mail"}'
    assert sasl.parse_error(raw) == {"status": "401", "schemes": "bearer", "scope": "mail"}
    assert sasl.parse_error(base64.b64encode(raw)) == sasl.parse_error(raw)
    assert sasl.parse_error(b"\xff\xfe not json") == {}
    assert sasl.parse_error(b"[1, 2]") == {}


def test_mechanism_choice():
    assert sasl.choose(["PLAIN", "XOAUTH2", "OAUTHBEARER"], "XOAUTH2") == "XOAUTH2"
    assert sasl.choose(["PLAIN", "XOAUTH2", "OAUTHBEARER"]) == "OAUTHBEARER"
    assert sasl.choose(["plain", "xoauth2"]) == "XOAUTH2"
    assert sasl.choose(["PLAIN"]) is None
    assert sasl.choose([], "xoauth2") == "XOAUTH2"  # nothing advertised: trust the table


def test_token_answer_keeps_the_old_refresh_token_unless_rotated():
    kept = tokens.from_response({"access_token": "a", "expires_in": 60}, "old", now=1000)
    assert (kept.refresh_token, kept.expires_at) == ("old", 1060)
    rotated = tokens.from_response({"access_token": "a", "refresh_token": "new"}, "old", now=0)
    assert rotated.refresh_token == "new" and rotated.expires_at == 0
    assert not rotated.expires_within(60, now=10**12)  # no lifetime said: never "expired"
    assert kept.expires_within(60, now=1000) and not kept.expires_within(30, now=1000)
    with pytest.raises(Exception, match="access_token"):
        tokens.from_response({"token_type": "bearer"})


def test_refresh_refused_with_invalid_grant_means_consent_is_gone():
    revoked = tokens.error_from(400, {"error": "invalid_grant"}, "work", "refresh")
    assert isinstance(revoked, ConsentRevoked)
    assert revoked.reason == "oauth-consent-revoked"
    assert "hubsync connect work --auth oauth2" in revoked.fix
    denied = tokens.error_from(400, {"error": "access_denied"}, "work", "sign-in")
    assert type(denied) is OAuthError and denied.reason == "oauth-access-denied"
    client = tokens.error_from(401, {"error": "invalid_client"}, "work", "sign-in")
    assert client.reason == "oauth-invalid-client"
    assert tokens.error_from(500, {}, "w", "refresh").details["oauth_error"] == "http-500"


def test_tokens_never_show_in_reprs():
    grant = StoredGrant(TokenSet("ACCESS-SECRET", 0, "REFRESH-SECRET"), "CLIENT-SECRET")
    text = repr(grant) + repr(Client("id", ("s",), "CLIENT-SECRET"))
    assert "SECRET" not in text


def test_stored_grant_round_trip_and_a_password_is_not_a_grant():
    grant = StoredGrant(TokenSet("a", 12.5, "r", "mail"), "cs")
    again = StoredGrant.loads(grant.dumps(), "work")
    assert again.tokens.to_dict() == grant.tokens.to_dict() and again.client_secret == "cs"
    with pytest.raises(Exception, match="holds a password"):
        StoredGrant.loads("hunter2", "work")


def test_pkce_challenge_is_s256_of_the_verifier():
    pkce = flows.Pkce.new()
    assert 43 <= len(pkce.verifier) <= 128
    import hashlib

    digest = hashlib.sha256(pkce.verifier.encode()).digest()
    assert pkce.challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert flows.Pkce.new().verifier != pkce.verifier


def test_urls_must_be_https_except_on_this_machine():
    assert http.check_url("https://login.example.com/token", "x")
    assert http.check_url("http://127.0.0.1:8080/token", "x")
    assert http.check_url("http://localhost/token", "x")
    for bad in ("http://login.example.com/token", "file:///etc/passwd", "ftp://x/y", "nope"):
        with pytest.raises(UsageError):
            http.check_url(bad, "x")


def test_metadata_with_an_insecure_endpoint_is_refused():
    meta = {
        "authorization_endpoint": "https://idp.test/auth",
        "token_endpoint": "http://idp.test/token",
    }
    with pytest.raises(UsageError):
        from_metadata(meta, "https://idp.test")
    meta["token_endpoint"] = "https://idp.test/token"
    assert from_metadata(meta, "https://idp.test").device_authorization == ""


ENDPOINTS = Endpoints("https://idp.test", "https://idp.test/auth?tenant=x", "http://127.0.0.1:9/t")


def _answer(url: str, **params) -> None:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    redirect = query["redirect_uri"][0]
    assert redirect.startswith("http://127.0.0.1:") and redirect.endswith("/callback")
    answer = {"state": query["state"][0], **params}
    target = redirect + "?" + urllib.parse.urlencode(answer)

    def call() -> None:
        try:
            urllib.request.urlopen(target, timeout=5).read()
        except OSError:
            pass

    threading.Thread(target=call, daemon=True).start()


def test_authorization_url_carries_pkce_state_and_extra_parameters():
    seen = []

    def on_url(url):
        seen.append(url)
        _answer(url, error="access_denied")

    with pytest.raises(OAuthError):
        flows.browser_flow(
            ENDPOINTS, Client("cid", ("a", "b")), "w", on_url, False, {"prompt": "consent"}, 5
        )
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(seen[0]).query)
    assert seen[0].startswith("https://idp.test/auth?tenant=x&")
    assert query["code_challenge_method"] == ["S256"] and query["scope"] == ["a b"]
    assert query["prompt"] == ["consent"] and query["response_type"] == ["code"]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def test_an_answer_with_another_state_is_ignored_and_the_real_one_still_arrives(capfd):
    """#23 item 7: one forged GET /callback ended the sign-in (and was told "Signed in");
    more than 20 query fields printed a traceback."""
    pages = []

    def on_url(url):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        redirect = query["redirect_uri"][0]

        def attack_then_answer():
            pages.append(_get(redirect + "?state=forged&code=stolen"))
            pages.append(_get(redirect + "?" + "&".join(f"f{i}=x" for i in range(30))))
            _answer(url, error="access_denied")

        threading.Thread(target=attack_then_answer, daemon=True).start()

    with pytest.raises(OAuthError) as caught:
        flows.browser_flow(ENDPOINTS, Client("cid", ("a",)), "w", on_url, False, None, 10)
    assert caught.value.reason == "oauth-access-denied"  # the real answer, after the forged
    assert [status for status, _ in pages] == [400, 400]
    assert "not for this sign-in" in pages[0][1] and "Signed in" not in pages[0][1]
    assert "Traceback" not in capfd.readouterr().err


def test_only_forged_answers_end_in_the_deadline_not_a_mismatch():
    def on_url(url):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        forged = url.replace(query["state"][0], "forged")
        _answer(forged, code="stolen")

    with pytest.raises(OAuthError) as caught:
        flows.browser_flow(ENDPOINTS, Client("cid", ("a",)), "w", on_url, False, None, 2)
    assert caught.value.reason == "oauth-timeout"


def test_denied_consent_is_reported_as_declined():
    with pytest.raises(OAuthError) as caught:
        flows.browser_flow(
            ENDPOINTS,
            Client("cid", ("a",)),
            "w",
            lambda url: _answer(url, error="access_denied"),
            False,
            None,
            5,
        )
    assert caught.value.reason == "oauth-access-denied"


def _account(**kw) -> cfg.Account:
    base = dict(name="w", email="me@gmail.com", username="me@gmail.com", imap_host="imap.gmail.com")
    return cfg.Account(imap_port=993, **{**base, **kw})


def test_known_provider_needs_only_a_client_id_and_says_where_to_get_one(tmp_path):
    config = cfg.Config(path=tmp_path / "c.toml")
    with pytest.raises(UsageError) as caught:
        signin.configure(_account(provider="gmail"), signin.OAuthRequest(), config)
    assert caught.value.reason == "oauth-client-id-missing"
    assert "Desktop app" in caught.value.message
    config.oauth_client_ids = {"gmail": "from-config"}
    account = _account(provider="gmail")
    signin.configure(account, signin.OAuthRequest(), config)
    assert account.oauth_client_id == "from-config"
    assert account.oauth_issuer == "https://accounts.google.com"
    assert account.oauth_scopes == ["https://mail.google.com/"]
    with environment.use(environment.Environment(oauth_client_id="from-env")):
        account = _account(provider="gmail")
        signin.configure(account, signin.OAuthRequest(), config)
        assert account.oauth_client_id == "from-env"
        signin.configure(account, signin.OAuthRequest(client_id="from-flag"), config)
        assert account.oauth_client_id == "from-flag"


def test_unknown_server_needs_an_issuer(tmp_path):
    config = cfg.Config(path=tmp_path / "c.toml")
    with pytest.raises(UsageError) as caught:
        signin.configure(_account(imap_host="mail.corp.test"), signin.OAuthRequest(), config)
    assert caught.value.reason == "oauth-issuer-missing"


def test_flow_choice(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert signin.choose_flow(None, True, device_allowed=True) == "device"
    assert signin.choose_flow(None, True, device_allowed=False) == "browser"  # Google
    monkeypatch.setenv("DISPLAY", ":0")
    assert signin.choose_flow(None, True, device_allowed=True) == "browser"
    assert signin.choose_flow(None, False, device_allowed=True) == "device"  # --no-browser
    assert signin.choose_flow("browser", False, device_allowed=True) == "browser"
    with pytest.raises(UsageError):
        signin.choose_flow("magic", True, True)


def test_oauth_settings_round_trip_through_config(tmp_path):
    path = tmp_path / "config.toml"
    config = cfg.Config(path=path, oauth_client_ids={"microsoft": "abc"})
    config.accounts["w"] = _account(
        auth="oauth2", oauth_client_id="abc", oauth_scopes=["x"], oauth_token_url="https://t"
    )
    config.save()
    loaded = cfg.load(path)
    assert loaded.oauth_client_ids == {"microsoft": "abc"}
    assert loaded.accounts["w"].auth == "oauth2" and loaded.accounts["w"].oauth_scopes == ["x"]
    path.write_text(path.read_text().replace('auth = "oauth2"', 'auth = "kerberos"'))
    with pytest.raises(Exception, match="password, oauth2"):
        cfg.load(path)


def test_one_refresh_after_a_refusal_and_no_more():
    asked, tried = [], []

    def token(refresh: bool):
        asked.append(refresh)
        return "fresh" if refresh else "stale"

    def refuse_stale(value: str):
        tried.append(value)
        return None if value == "fresh" else RuntimeError("refused")

    sasl.with_one_refresh(token, refuse_stale, LookupError("none"))
    assert (asked, tried) == ([False, True], ["stale", "fresh"])
    with pytest.raises(RuntimeError):  # refused twice: the second refusal is raised
        sasl.with_one_refresh(token, lambda v: RuntimeError(v), LookupError("none"))
    with pytest.raises(RuntimeError, match="stale"):  # nothing fresh to be had
        sasl.with_one_refresh(
            lambda refresh: None if refresh else "stale", lambda v: RuntimeError(v), LookupError()
        )
    with pytest.raises(LookupError):
        sasl.with_one_refresh(lambda refresh: None, lambda v: None, LookupError("no token"))


class _Provider(JsonEndpoint):
    """A hostile device-flow provider: a tiny interval, escape codes in the user code and
    the address; then it grants on the second poll."""

    device: dict = {}
    polls = 0

    def answer(self, path: str, form: dict) -> tuple[int, dict]:
        if path == "/device":
            return 200, self.device
        type(self).polls += 1
        if self.polls < 2:
            return 400, {"error": "authorization_pending"}
        return 200, {"access_token": "dev-tok", "expires_in": 60}


@pytest.fixture
def provider():
    _Provider.polls = 0
    with serving(_Provider) as base:
        yield Endpoints(
            base, f"{base}/auth", f"{base}/token", device_authorization=f"{base}/device"
        )


def test_a_device_flow_provider_cannot_make_hubsync_poll_fast_or_write_escapes(provider):
    """#23 item 6: interval=0.001 gave 158 polls in 5.5 s; the code and link were printed raw."""
    _Provider.device = {
        "device_code": "dc",
        "user_code": "\x1b[2JWDJB-MJHT",
        "verification_uri": "https://idp.test/device\x1b]0;pwned\x07",
        "interval": 0.001,
        "expires_in": 600,
    }
    slept, shown = [], []
    got = flows.device_flow(provider, Client("cid", ("a",)), "w", shown.append, slept.append)
    assert got.access_token == "dev-tok" and slept == [1.0, 1.0]
    printed = render.safe(f"{shown[0].verification_uri} {shown[0].user_code}")
    assert "\x1b" not in printed and "\x07" not in printed and "WDJB-MJHT" in printed


def test_a_device_flow_address_that_is_not_https_is_refused_before_it_is_shown(provider):
    _Provider.device = {
        "device_code": "dc",
        "user_code": "X",
        "verification_uri": "http://phish.example/device",
    }
    shown = []
    with pytest.raises(UsageError) as refused:
        flows.device_flow(provider, Client("cid", ("a",)), "w", shown.append, lambda s: None)
    assert refused.value.reason == "oauth-insecure-url" and shown == []


class _Trickle(BaseHTTPRequestHandler):
    """A provider that sends its answer a byte every 0.1 s, forever (headers or body)."""

    in_headers = False

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.in_headers:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        else:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{")
        try:
            while True:
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("in_headers", [False, True])
def test_a_trickling_token_endpoint_is_cut_at_the_request_deadline(in_headers):
    """#23 item 2 (OAuth): a provider sending a byte a second held `connect` (and every
    token refresh) for as long as it liked: the timeout was per read."""
    _Trickle.in_headers = in_headers
    with serving(_Trickle) as base:
        started = time.monotonic()
        with pytest.raises(NetworkError) as slow:
            http.post_form(f"{base}/token", {"grant_type": "x"}, timeout=1.0)
        took = time.monotonic() - started
    assert slow.value.reason == "oauth-too-slow" and "more than 2 s" in slow.value.message
    assert took < 5, f"{took:.1f} s"
