"""The token endpoint: a code or device grant exchanged for tokens, and refreshes.

Every OAuth error answer becomes an ``OAuthError`` with the provider's own ``error`` code and
a fix; ``invalid_grant`` on a refresh means the user's consent is gone (revoked, expired, or
the password changed) and becomes ``ConsentRevoked``.
"""

import time
from dataclasses import dataclass, field

from hubsync import redact
from hubsync.errors import AuthFailure, ProtocolFailure


class OAuthError(AuthFailure):
    """The authorization server refused (its ``error`` code is in details)."""

    reason = "oauth-refused"


class ConsentRevoked(OAuthError):
    """The refresh token is no longer accepted: only a new sign-in helps."""

    reason = "oauth-consent-revoked"


@dataclass(frozen=True)
class Client:
    """The application registration: the client ID (and, for Google's "Desktop app"
    clients, a secret that is not really secret) and the scopes to ask for."""

    client_id: str
    scopes: tuple[str, ...]
    client_secret: str = field(default="", repr=False)

    def credentials(self) -> dict[str, str]:
        """The client's fields of a token request (public clients send only their ID)."""
        fields = {"client_id": self.client_id}
        if self.client_secret:
            fields["client_secret"] = self.client_secret
        return fields


@dataclass
class TokenSet:
    access_token: str = field(repr=False)
    expires_at: float  # epoch seconds; 0 when the server did not say
    refresh_token: str = field(default="", repr=False)
    scope: str = ""

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        """Whether the access token is expired, or will be within ``seconds``."""
        if not self.expires_at:
            return False
        return (now if now is not None else time.time()) + seconds >= self.expires_at

    def to_dict(self) -> dict:
        return {
            "access_token": self.access_token,
            "expires_at": self.expires_at,
            "refresh_token": self.refresh_token,
            "scope": self.scope,
        }


def from_response(body: dict, previous_refresh: str = "", now: float | None = None) -> TokenSet:
    """A TokenSet from a successful token response. A response without a new refresh token
    keeps the old one; one with a new one replaces it (rotation: the old one may be dead)."""
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise ProtocolFailure(
            "The token endpoint answered without an access_token.", reason="oauth-bad-response"
        )
    lifetime = body.get("expires_in")
    try:
        lifetime = float(lifetime) if lifetime is not None else 0.0
    except (TypeError, ValueError):
        lifetime = 0.0
    started = now if now is not None else time.time()
    refresh = body.get("refresh_token")
    tokens = TokenSet(
        access_token=access,
        expires_at=started + lifetime if lifetime > 0 else 0.0,
        refresh_token=refresh if isinstance(refresh, str) and refresh else previous_refresh,
        scope=str(body.get("scope") or ""),
    )
    redact.register(tokens.access_token)
    if tokens.refresh_token:
        redact.register(tokens.refresh_token)
    return tokens


_FIXES = {
    "invalid_client": (
        "oauth-invalid-client",
        "The client ID (or its secret) is not one this provider knows.",
    ),
    "unauthorized_client": (
        "oauth-invalid-client",
        "This client may not use this kind of sign-in (check its registration: a desktop or "
        "public client with the loopback redirect, or with the device flow allowed).",
    ),
    "invalid_scope": (
        "oauth-invalid-scope",
        "The provider refused the scopes asked for (check --scope and the client's API "
        "permissions).",
    ),
    "access_denied": ("oauth-access-denied", "The sign-in was declined."),
    "consent_required": ("oauth-consent-required", "The provider wants consent again."),
    "interaction_required": ("oauth-consent-required", "The provider wants a new sign-in."),
}


def error_from(status: int, body: dict, account: str, during: str) -> OAuthError:
    """The OAuthError for an error answer of the token endpoint."""
    code = str(body.get("error") or f"http-{status}")
    description = str(body.get("error_description") or "")
    details = {"oauth_error": code, "oauth_error_description": description, "status": status}
    again = f"Run `hubsync connect {account} --auth oauth2` again to sign in."
    if code == "invalid_grant" and during == "refresh":
        return ConsentRevoked(
            "The provider no longer accepts this account's sign-in: consent was revoked, or "
            f"it expired ({code}: {description or 'no description'}).",
            fix=f"Consent was revoked: {again}",
            details=details,
        )
    reason, summary = _FIXES.get(code, ("oauth-refused", "The provider refused the request."))
    return OAuthError(
        f"OAuth2 {during} failed: {summary} ({code}: {description or 'no description'})",
        fix=again if during == "refresh" else "Check the client ID, scopes and issuer.",
        reason=reason,
        details=details,
    )


def request_tokens(
    token_url: str,
    fields: dict[str, str],
    client: Client,
    account: str,
    during: str,
    previous_refresh: str = "",
    cafile: str | None = None,
) -> TokenSet:
    """POST a grant to the token endpoint; the TokenSet, or the provider's error."""
    from hubsync.oauth import http  # urllib only when a token is really requested

    status, body = http.post_form(token_url, {**fields, **client.credentials()}, cafile)
    if status != 200 or "error" in body:
        raise error_from(status, body, account, during)
    return from_response(body, previous_refresh)


def refresh(
    token_url: str, client: Client, refresh_token: str, account: str, cafile: str | None = None
) -> TokenSet:
    """A new access token (and maybe a rotated refresh token) for ``refresh_token``."""
    fields = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return request_tokens(token_url, fields, client, account, "refresh", refresh_token, cafile)
