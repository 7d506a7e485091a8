"""Doctor's OAuth2 checks: the stored sign-in (local), then a refresh at the provider that
shows the token's lifetime and granted scopes, or the provider's exact refusal and its fix."""

import time

from hubsync import config as cfg
from hubsync.doctor import Check, fail, from_error, ok, warn
from hubsync.errors import HubsyncError
from hubsync.oauth import grant
from hubsync.oauth.grant import TokenSource


def stored_check(account: cfg.Account) -> tuple[Check, TokenSource | None]:
    """Whether a sign-in (refresh token) or a token command is there; no network."""
    source = grant.source_for(account)
    if account.oauth_token_command:
        return ok(
            "oauth", f"access tokens from oauth_token_command {account.oauth_token_command[0]!r}"
        ), source
    try:
        stored = grant.load(account.name)
    except HubsyncError as exc:
        return from_error("oauth", exc), None
    if not stored.tokens.refresh_token:
        return (
            warn(
                "oauth",
                "oauth-no-refresh-token",
                "the sign-in holds no refresh token: logins stop when the access token expires",
                f"Sign in again with `hubsync connect {account.name} --auth oauth2` (Google: "
                "the client must ask for access_type=offline; Microsoft: scope offline_access).",
            ),
            source,
        )
    if not account.oauth_client_id or not account.oauth_token_url:
        return (
            fail(
                "oauth",
                "oauth-incomplete",
                "the account lacks oauth_client_id or oauth_token_url in config.toml",
                f"Run `hubsync connect {account.name} --auth oauth2` again.",
            ),
            None,
        )
    return ok("oauth", "refresh token stored in the keyring"), source


def refresh_check(account: cfg.Account, source: TokenSource) -> tuple[Check, TokenSource | None]:
    """Refresh now: proves the grant is alive, and shows lifetime and scopes."""
    if account.oauth_token_command:
        return ok("oauth-refresh", "tokens come from a command; nothing to refresh"), source
    started = time.time()
    try:
        source.token(refresh=True)
    except HubsyncError as exc:
        return from_error("oauth-refresh", exc), None
    tokens = source.last
    if tokens is None:
        return fail("oauth-refresh", "oauth-no-token", "no access token could be had", ""), None
    lifetime = f"{tokens.expires_at - started:.0f} s" if tokens.expires_at else "unknown"
    granted = set(tokens.scope.split())
    missing = [s for s in account.oauth_scopes if s not in granted and s not in _IMPLIED]
    if granted and missing:
        return (
            fail(
                "oauth-refresh",
                "oauth-scope-missing",
                f"refresh works, but the grant lacks {', '.join(missing)} (granted: "
                f"{tokens.scope})",
                f"Sign in again with `hubsync connect {account.name} --auth oauth2` and allow "
                "every permission asked for (an admin may have to consent for the tenant).",
            ),
            source,
        )
    scopes = f"; scopes {tokens.scope}" if tokens.scope else ""
    return ok("oauth-refresh", f"refresh works; access token valid for {lifetime}{scopes}"), source


# Scopes a provider grants but does not echo back in the token response.
_IMPLIED = {"offline_access", "openid"}
