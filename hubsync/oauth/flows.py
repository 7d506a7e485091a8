"""Getting a grant: the browser flow (authorization code with PKCE on a loopback redirect,
RFC 7636 and RFC 8252) and the device flow (RFC 8628).

Both end in a TokenSet; neither prints anything itself. The caller shows the URL or the user
code through ``on_url`` / ``on_code`` (on stderr, and as JSON with ``--json``).
"""

import base64
import hashlib
import html
import http.server
import secrets
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from hubsync.errors import UsageError
from hubsync.oauth import http as oauth_http
from hubsync.oauth.discovery import Endpoints
from hubsync.oauth.tokens import (
    Client,
    OAuthError,
    TokenSet,
    error_from,
    from_response,
    request_tokens,
)

BROWSER_TIMEOUT = 300.0  # how long the user has to sign in and consent
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MAX_DEVICE_WAIT = 1800.0  # seconds, whatever the provider says its code lives
MAX_INTERVAL = 60.0  # seconds between polls, at most
MIN_INTERVAL = 1.0  # seconds between polls, at least (a provider answered 0.001)


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> "Pkce":
        """A fresh verifier (86 characters of 64 random bytes) and its S256 challenge."""
        verifier = secrets.token_urlsafe(64)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


def authorization_url(
    endpoints: Endpoints,
    client: Client,
    redirect_uri: str,
    state: str,
    pkce: Pkce,
    extra: dict[str, str] | None = None,
) -> str:
    """The URL the user opens to sign in and consent."""
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(client.scopes),
        "state": state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        **(extra or {}),
    }
    joiner = "&" if "?" in endpoints.authorization else "?"
    return endpoints.authorization + joiner + urllib.parse.urlencode(params)


class _Callback(http.server.BaseHTTPRequestHandler):
    """Receives the one redirect back from the provider; other paths get 404. A request
    without this sign-in's ``state`` (another program on this machine, a web page that found
    the port) is answered with an error page and ignored: the listener keeps waiting for the
    real redirect until its deadline."""

    timeout = 10  # a client that connects and says nothing cannot hold the listener
    result: dict[str, str] | None = None
    state: str = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        parts = urllib.parse.urlsplit(self.path)
        if parts.path != "/callback":
            self.send_error(404)
            return
        try:
            query = dict(urllib.parse.parse_qsl(parts.query, max_num_fields=20))
        except ValueError:  # more fields than any provider sends
            self._page(400, "This is not a sign-in answer; it was ignored.")
            return
        if not secrets.compare_digest(query.get("state", ""), type(self).state):
            self._page(400, "This answer is not for this sign-in; it was ignored.")
            return
        type(self).result = query
        ok = "code" in query
        text = (
            "Signed in. You can close this window and return to the terminal."
            if ok
            else f"Sign-in did not finish: {query.get('error', 'no code')}. Return to the terminal."
        )
        self._page(200 if ok else 400, text)

    def _page(self, status: int, text: str) -> None:
        body = f"<!DOCTYPE html><title>hubsync</title><p>{html.escape(text)}</p>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's name)
        pass  # the query holds the authorization code: never log it


class _Listener(http.server.HTTPServer):
    """The loopback listener: a broken request is dropped without a traceback on the user's
    terminal (http.server prints one by default)."""

    def handle_error(self, request, client_address) -> None:
        pass


def browser_flow(
    endpoints: Endpoints,
    client: Client,
    account: str,
    on_url: Callable[[str], None],
    open_browser: bool = True,
    extra: dict[str, str] | None = None,
    timeout: float = BROWSER_TIMEOUT,
    cafile: str | None = None,
) -> TokenSet:
    """Sign in through the browser: listen on 127.0.0.1 (random port, path /callback), show
    the authorization URL, wait for the redirect, check ``state``, exchange the code with
    its PKCE verifier."""
    state, pkce = secrets.token_urlsafe(24), Pkce.new()
    handler = type("Callback", (_Callback,), {"result": None, "state": state})
    server = _Listener(("127.0.0.1", 0), handler)
    try:
        redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/callback"
        url = authorization_url(endpoints, client, redirect_uri, state, pkce, extra)
        on_url(url)
        if open_browser:
            _open(url)
        deadline = time.monotonic() + timeout
        while handler.result is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OAuthError(
                    f"No sign-in arrived within {timeout:g} s.",
                    fix="Run the command again and finish signing in in the browser; on a "
                    "machine without a browser use --oauth-flow device.",
                    reason="oauth-timeout",
                )
            server.timeout = min(1.0, remaining)
            server.handle_request()
    finally:
        server.server_close()
    query = handler.result
    if not secrets.compare_digest(query.get("state", ""), state):
        raise OAuthError(
            "The sign-in answer did not carry this request's state; it was ignored.",
            fix="Run the command again (another program may have answered on the port).",
            reason="oauth-state-mismatch",
        )
    if "error" in query:
        raise error_from(400, query, account, "sign-in")
    if not query.get("code"):
        raise OAuthError("The sign-in answer carried no code.", reason="oauth-refused")
    fields = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": redirect_uri,
        "code_verifier": pkce.verifier,
    }
    return request_tokens(endpoints.token, fields, client, account, "sign-in", cafile=cafile)


def _open(url: str) -> None:
    import webbrowser

    try:
        webbrowser.open(url)
    except webbrowser.Error:
        pass  # the URL was shown; the user can open it by hand


@dataclass(frozen=True)
class DeviceCode:
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    interval: float
    expires_in: float

    def to_dict(self) -> dict:
        return {
            "event": "device-code",
            "user_code": self.user_code,
            "verification_uri": self.verification_uri,
            "verification_uri_complete": self.verification_uri_complete,
            "expires_in": self.expires_in,
        }


def device_flow(
    endpoints: Endpoints,
    client: Client,
    account: str,
    on_code: Callable[[DeviceCode], None],
    sleep: Callable[[float], None] = time.sleep,
    cafile: str | None = None,
) -> TokenSet:
    """Sign in on another device: show the verification URI and user code, then poll the
    token endpoint at the interval the server asks (5 s more after each ``slow_down``)."""
    if not endpoints.device_authorization:
        raise UsageError(
            f"{endpoints.issuer} offers no device sign-in.",
            fix="Use --oauth-flow browser.",
            reason="oauth-no-device-flow",
        )
    fields = {**client.credentials(), "scope": " ".join(client.scopes)}
    status, body = oauth_http.post_form(endpoints.device_authorization, fields, cafile)
    if status != 200 or "error" in body or "device_code" not in body:
        raise error_from(status, body, account, "device sign-in")
    code = DeviceCode(
        user_code=str(body.get("user_code", "")),
        verification_uri=str(body.get("verification_uri") or body.get("verification_url", "")),
        verification_uri_complete=str(body.get("verification_uri_complete", "")),
        # A provider cannot keep hubsync polling for days, or once an hour.
        interval=max(MIN_INTERVAL, min(_number(body.get("interval"), 5.0), MAX_INTERVAL)),
        expires_in=min(_number(body.get("expires_in"), 600.0), MAX_DEVICE_WAIT),
    )
    # Shown to the user: a provider's answer is untrusted (no http to another host).
    oauth_http.check_url(code.verification_uri, "device sign-in address")
    if code.verification_uri_complete:
        oauth_http.check_url(code.verification_uri_complete, "device sign-in address")
    on_code(code)
    interval, deadline = code.interval, time.monotonic() + code.expires_in
    poll = {**client.credentials(), "grant_type": DEVICE_GRANT, "device_code": body["device_code"]}
    while True:
        sleep(interval)
        status, answer = oauth_http.post_form(endpoints.token, poll, cafile)
        error = answer.get("error")
        if status == 200 and not error:
            return from_response(answer)
        if error == "authorization_pending" and time.monotonic() < deadline:
            continue
        if error == "slow_down" and time.monotonic() < deadline:
            interval = min(interval + 5, MAX_INTERVAL)
            continue
        if error in ("authorization_pending", "slow_down", "expired_token"):
            raise OAuthError(
                "The device code expired before the sign-in was finished.",
                fix="Run the command again and enter the code sooner.",
                reason="oauth-timeout",
            )
        raise error_from(status, answer, account, "device sign-in")


def _number(value: object, default: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default
