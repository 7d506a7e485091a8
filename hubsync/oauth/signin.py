"""``connect --auth oauth2``: which issuer, client and scopes; which flow; the sign-in.

For providers in the table (Gmail, Microsoft 365) the issuer, scopes and SASL mechanism are
known, so only a client ID is needed: ``--oauth-client-id``, else ``HUBSYNC_OAUTH_CLIENT_ID``,
else ``oauth_client_ids`` in config.toml, else the account's earlier one.
"""

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from hubsync import config as cfg
from hubsync import environment
from hubsync.errors import UsageError
from hubsync.mail import providers
from hubsync.oauth import discovery, flows
from hubsync.oauth.grant import StoredGrant, TokenSource
from hubsync.oauth.tokens import Client

FLOWS = ("browser", "device")


@dataclass
class OAuthRequest:
    """What the user asked for on the command line (None / empty: not given)."""

    flow: str | None = None
    issuer: str | None = None
    client_id: str | None = None
    client_secret: str = field(default="", repr=False)
    scopes: list[str] = field(default_factory=list)
    mechanism: str | None = None
    token_command: list[str] = field(default_factory=list)
    open_browser: bool = True
    timeout: float = flows.BROWSER_TIMEOUT


def configure(account: cfg.Account, request: OAuthRequest, config: cfg.Config) -> None:
    """Set the account's OAuth2 settings from the request, its provider and config; a
    UsageError naming what is missing and where to get it."""
    provider = providers.by_key(account.provider)
    known = provider.oauth if provider else None
    account.auth = "oauth2"
    account.oauth_token_command = request.token_command or account.oauth_token_command
    if request.mechanism:
        account.oauth_mechanism = request.mechanism.upper()
    if account.oauth_token_command and not request.client_id:
        return  # tokens come from the command: no issuer or client needed
    account.oauth_issuer = request.issuer or account.oauth_issuer or (known.issuer if known else "")
    if not account.oauth_issuer:
        raise UsageError(
            f"hubsync does not know the OAuth2 issuer of {account.imap_host}.",
            fix="Give it with --oauth-issuer URL (the URL before "
            "/.well-known/openid-configuration), or use --oauth-token-command.",
            reason="oauth-issuer-missing",
        )
    account.oauth_client_id = (
        request.client_id
        or environment.current().oauth_client_id
        or (config.oauth_client_ids.get(provider.key, "") if provider else "")
        or account.oauth_client_id
    )
    if not account.oauth_client_id:
        where = f" for {provider.name} ({known.registration})" if known else ""
        raise UsageError(
            f"OAuth2 needs a registered client ID{where}.",
            fix="Give it with --oauth-client-id, HUBSYNC_OAUTH_CLIENT_ID, or "
            f'oauth_client_ids = {{ {provider.key if provider else "provider"} = "ID" }} in '
            "config.toml; docs/oauth.md shows how to register one.",
            reason="oauth-client-id-missing",
        )
    scopes = request.scopes or account.oauth_scopes or list(known.scopes if known else ())
    if not scopes:
        raise UsageError(
            "No OAuth2 scopes are known for this server.",
            fix="Give them with --scope (repeatable), as the provider's documentation says.",
            reason="oauth-scopes-missing",
        )
    account.oauth_scopes = list(scopes)


def choose_flow(requested: str | None, open_browser: bool, device_allowed: bool) -> str:
    """The flow to use: the requested one; else the browser on a desktop, the device flow
    where there is no display or with --no-browser (when the provider's device flow can
    grant mail access at all)."""
    if requested:
        if requested not in FLOWS:
            raise UsageError("--oauth-flow must be browser or device.", reason="usage")
        return requested
    if open_browser and _has_display():
        return "browser"
    return "device" if device_allowed else "browser"


def _has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def sign_in(
    account: cfg.Account,
    request: OAuthRequest,
    on_url: Callable[[str], None],
    on_code: Callable[[flows.DeviceCode], None],
) -> TokenSource:
    """Get a grant by the chosen flow; return a TokenSource that holds it unsaved."""
    if account.oauth_token_command and not request.client_id:
        return TokenSource(account.name, command=account.oauth_token_command)
    provider = providers.by_key(account.provider)
    known = provider.oauth if provider else None
    cafile = account.cafile or None
    endpoints = discovery.discover(account.oauth_issuer, cafile)
    account.oauth_token_url = endpoints.token
    client = Client(account.oauth_client_id, tuple(account.oauth_scopes), request.client_secret)
    flow = choose_flow(request.flow, request.open_browser, known.device_flow if known else True)
    if flow == "device":
        tokens = flows.device_flow(endpoints, client, account.name, on_code, cafile=cafile)
    else:
        extra = dict(known.extra_params) if known else {}
        extra["login_hint"] = account.email
        tokens = flows.browser_flow(
            endpoints,
            client,
            account.name,
            on_url,
            open_browser=request.open_browser,
            extra=extra,
            timeout=request.timeout,
            cafile=cafile,
        )
    grant = StoredGrant(tokens, request.client_secret)
    return TokenSource.unsaved(account.name, client, endpoints.token, grant, cafile)
