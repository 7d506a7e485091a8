"""The few HTTP calls OAuth2 needs (metadata, token, device authorization, revocation),
within a byte and time budget, TLS verified, never over plain HTTP except to this machine."""

import contextlib
import http.client
import ipaddress
import json
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request

from hubsync.errors import NetworkError, ProtocolFailure, UsageError
from hubsync.mail.tls import client_context

MAX_BYTES = 1024 * 1024  # an OAuth answer is a few KB
TIMEOUT = 30.0  # each network wait
DEADLINE_STEPS = 2  # a whole request (connect, TLS, answer) may take two such waits


def check_url(url: str, what: str) -> str:
    """``url`` when it is https, or http to a loopback address (a local provider, RFC 8252);
    a UsageError otherwise: tokens are never sent in clear over a network."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return url
    raise UsageError(
        f"The {what} {url!r} is not an https:// URL.",
        fix="OAuth2 endpoints must use https (plain http is accepted only on this machine).",
        reason="oauth-insecure-url",
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def get_json(url: str, cafile: str | None = None, timeout: float = TIMEOUT) -> dict:
    """GET a JSON object; errors say which URL failed and why."""
    check_url(url, "OAuth2 endpoint")
    request = urllib.request.Request(url)  # noqa: S310 (https, or loopback http: checked)
    status, body = _call(request, cafile, timeout)
    if status != 200:
        raise ProtocolFailure(f"{url} answered HTTP {status}.", reason="oauth-metadata-unavailable")
    return body


def post_form(
    url: str,
    fields: dict[str, str],
    cafile: str | None = None,
    timeout: float = TIMEOUT,
) -> tuple[int, dict]:
    """POST a form (RFC 6749's token-endpoint encoding); return (status, JSON object). An
    OAuth error answer (400/401 with ``error``) is returned, not raised: the caller knows
    what each error means."""
    data = urllib.parse.urlencode(fields).encode()
    check_url(url, "OAuth2 endpoint")
    request = urllib.request.Request(  # noqa: S310 (https, or loopback http: checked)
        url,
        data=data,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    return _call(request, cafile, timeout)


class _Deadline:
    """Cuts every socket of one request when its whole time is up: ``timeout`` bounds each
    wait, so a provider that trickles a byte a second would otherwise never be cut."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self.sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True

    def connect(self, *args, **kwargs) -> socket.socket:
        sock = socket.create_connection(*args, **kwargs)
        self.sockets.append(sock)  # before TLS: a trickled handshake is cut too
        return sock

    def _cut(self) -> None:
        self.expired = True
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()


def _opener(cafile: str | None, deadline: _Deadline) -> urllib.request.OpenerDirector:
    context = client_context(cafile)

    class Https(http.client.HTTPSConnection):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = deadline.connect

    class Plain(http.client.HTTPConnection):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = deadline.connect

    class HttpsHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(Https, req, context=context)

    class PlainHandler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(Plain, req)

    return urllib.request.build_opener(HttpsHandler(), PlainHandler(), _NoRedirect())


def _call(request: urllib.request.Request, cafile: str | None, timeout: float) -> tuple[int, dict]:
    url = request.full_url
    check_url(url, "OAuth2 endpoint")
    request.add_header("Accept", "application/json")
    try:
        with _Deadline(DEADLINE_STEPS * timeout) as deadline:
            try:
                with _opener(cafile, deadline).open(request, timeout=timeout) as response:
                    status, raw = response.status, response.read(MAX_BYTES + 1)
            except urllib.error.HTTPError as exc:
                status, raw = exc.code, exc.read(MAX_BYTES + 1)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        if deadline.expired:
            raise _too_slow(url, deadline) from None
        reason = getattr(exc, "reason", exc)
        raise NetworkError(
            f"Could not reach the sign-in server {_origin(url)}: {reason}.",
            fix="Check the network (and --oauth-issuer); `hubsync doctor` shows more.",
            reason="oauth-unreachable",
        ) from None
    if deadline.expired:  # cut while reading an answer without a length: what came is partial
        raise _too_slow(url, deadline)
    if len(raw) > MAX_BYTES:
        raise ProtocolFailure(
            f"{_origin(url)} sent more than {MAX_BYTES // 1024} KB; hubsync stopped reading.",
            reason="oauth-response-too-large",
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise ProtocolFailure(
            f"{_origin(url)} answered HTTP {status} without a JSON object.",
            fix="Check the issuer URL: it must be an OAuth2 / OpenID Connect server.",
            reason="oauth-bad-response",
        )
    return status, body


def _too_slow(url: str, deadline: _Deadline) -> NetworkError:
    return NetworkError(
        f"The sign-in server {_origin(url)} kept its answer coming for more than "
        f"{deadline.seconds:g} s; hubsync stopped waiting.",
        fix="Try again later; `hubsync doctor` shows whether the server answers.",
        reason="oauth-too-slow",
    )


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Token requests are never redirected (a redirect could carry the form elsewhere)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None
