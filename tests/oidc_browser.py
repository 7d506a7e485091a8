"""The browser and the user, for OAuth2 tests: plain HTTP requests against the sandbox
provider's own sign-in, consent and device pages (no mock of the provider)."""

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request


class Browser:
    """A cookie-keeping HTTP client that follows redirects, as a browser would."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.url = ""
        self.status = 0

    def get(self, url: str) -> str:
        return self._open(urllib.request.Request(url))

    def post(self, url: str, fields: dict[str, str]) -> str:
        data = urllib.parse.urlencode(fields).encode()
        return self._open(urllib.request.Request(url, data=data, method="POST"))

    def _open(self, request: urllib.request.Request) -> str:
        try:
            with self.opener.open(request, timeout=30) as response:
                self.url, self.status = response.url, response.status
                return response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            self.url, self.status = exc.url, exc.code
            return exc.read().decode(errors="replace")

    def submit(self, page: str, form_id: str, fields: dict[str, str] | None = None) -> str:
        """Post the form ``form_id`` of ``page`` with its hidden fields and ``fields``."""
        match = re.search(
            rf'<form id="{re.escape(form_id)}"[^>]*action="([^"]+)"(.*?)</form>', page, re.S
        )
        if not match:
            raise AssertionError(f"no form {form_id!r} on {self.url}: {page[:500]}")
        action, body = match.groups()
        hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', body))
        return self.post(urllib.parse.urljoin(self.url, action), {**hidden, **(fields or {})})

    def sign_in(self, page: str, login: str, password: str, consent: bool = True) -> str:
        """Sign in on a provider page, then allow (or deny) access; returns the last page."""
        if 'id="login"' in page:
            page = self.submit(page, "login", {"login": login, "password": password})
        if 'id="consent"' in page:
            page = self.submit(page, "consent" if consent else "abort")
        return page

    def authorize(self, url: str, login: str, password: str, consent: bool = True) -> str:
        """Open an authorization URL and go through sign-in and consent; the redirect to
        hubsync's loopback listener happens at the end, as in a browser."""
        return self.sign_in(self.get(url), login, password, consent)

    def enter_device_code(
        self, verification_uri: str, user_code: str, login: str, password: str, consent: bool = True
    ) -> str:
        """Type the user code on the device page, confirm, sign in and consent."""
        page = self.get(verification_uri)
        page = self.submit(page, "op.deviceInputForm", {"user_code": user_code})
        page = self.submit(page, "op.deviceConfirmForm")
        return self.sign_in(page, login, password, consent)
