"""Why a login failed, in words a user can act on (RFC 5530 codes plus provider knowledge)."""

import re

from hubsync.errors import AuthFailure
from hubsync.mail.providers import Provider

_RFC5530 = {
    "AUTHENTICATIONFAILED": (
        "auth-failed",
        "The server rejected the user name or password.",
        "Check the password (and the user name: often the full address). "
        "Run `hubsync connect` again with the right one; hubsync does not "
        "retry a rejected password.",
    ),
    "AUTHORIZATIONFAILED": (
        "auth-not-authorized",
        "The credentials are valid, but this user may not use this mailbox.",
        "Ask IT to grant access to the mailbox.",
    ),
    "EXPIRED": (
        "auth-expired",
        "The password or token has expired.",
        "Change the password (or create a new app password), then run `hubsync connect` again.",
    ),
    "PRIVACYREQUIRED": (
        "auth-privacy-required",
        "The server wants an encrypted connection before login.",
        "Use port 993 with SSL/TLS (or STARTTLS).",
    ),
    "UNAVAILABLE": (
        "auth-unavailable",
        "The server is temporarily unable to log you in "
        "(for Dovecot this also means too many connections).",
        "Try again in a few minutes; close other mail clients if it persists.",
    ),
    "CONTACTADMIN": (
        "auth-contact-admin",
        "The server asks you to contact your administrator.",
        "Contact IT with the server's message shown above.",
    ),
    "LIMIT": (
        "auth-limit",
        "A server limit was reached (connections or rate).",
        "Close other clients or wait, then try again.",
    ),
    "OVERQUOTA": (
        "auth-over-quota",
        "The mailbox is over its quota.",
        "Delete or archive mail, or ask IT for more space.",
    ),
    "INUSE": (
        "auth-in-use",
        "The mailbox is in use elsewhere and locked.",
        "Close other sessions and try again.",
    ),
}

_PATTERNS = (
    (
        r"application-specific password required|app password",
        "auth-app-password",
        "The provider requires an app password instead of your normal password.",
    ),
    (
        r"web ?browser|WEBALERT|signin|sign in",
        "auth-web-signin",
        "The provider blocked this sign-in until you confirm it on the web.",
    ),
    (
        r"basicauthblocked|basic auth|5\.7\.139|SmtpClientAuthentication",
        "auth-basic-disabled",
        "The provider has basic (password) authentication turned off.",
    ),
    (
        r"too many simultaneous|too many connections",
        "auth-too-many-connections",
        "Too many connections are open to this mailbox.",
    ),
)


def diagnose_login(
    server_text: str, provider: Provider | None = None, protocol: str = "IMAP"
) -> AuthFailure:
    """Turn a server's login refusal into an AuthFailure with a reason code and a fix."""
    text = server_text.strip()
    alert = _alert(text)
    code = _response_code(text)
    reason, summary, fix = _RFC5530.get(
        code,
        (
            "auth-failed",
            f"The {protocol} server refused the login.",
            "Check the user name and password, then run `hubsync connect` again.",
        ),
    )
    for pattern, pat_reason, pat_summary in _PATTERNS:
        if re.search(pattern, text, re.IGNORECASE):
            reason, summary = pat_reason, pat_summary
            break
    if provider:
        fix = f"{fix} {provider.name}: {provider.login_hint}"
    message = f"{protocol} login failed: {summary}"
    if alert:
        message += f"\nServer alert: {alert}"
    message += f"\nServer said: {text}" if text and not alert else ""
    return AuthFailure(
        message, fix=fix, reason=reason, details={"server_text": text, "response_code": code}
    )


def _alert(text: str) -> str:
    match = re.search(r"\[ALERT\]\s*(.*)", text, re.IGNORECASE)
    return match.group(1).strip() if match else ""


def _response_code(text: str) -> str:
    """The RFC 5530 response code in brackets, upper-cased (atoms are case-insensitive:
    some servers write ``[authenticationfailed]``); "" when there is none."""
    match = re.search(r"\[([A-Za-z-]+)[^\]]*\]", text)
    return match.group(1).upper() if match else ""


def oauth_refused(
    protocol: str,
    server_text: str,
    error: dict,
    mechanism: str,
    provider: Provider | None = None,
) -> AuthFailure:
    """A server's refusal of an OAuth2 token (after one refresh), with the JSON error the
    server sent in its challenge (RFC 7628: ``status``, ``scope``)."""
    text = server_text.strip()
    status = error.get("status", "")
    scope = error.get("scope", "")
    said = ", ".join(f"{k}={v}" for k, v in error.items()) or "no details"
    fix = (
        "Check that the user name is the address you signed in as, and that the sign-in "
        "granted the mail scopes; then run `hubsync connect NAME --auth oauth2` again to "
        "sign in afresh."
    )
    if provider:
        fix += f" {provider.name}: {provider.login_hint}"
    return AuthFailure(
        f"{protocol} refused the OAuth2 token ({mechanism}; the server said: {said}).\n"
        f"Server said: {text}",
        fix=fix,
        reason="oauth-token-refused",
        details={
            "server_text": text,
            "response_code": _response_code(text),
            "mechanism": mechanism,
            "oauth_status": status,
            "oauth_scope": scope,
            "oauth_error": error,
        },
    )


def oauth_unsupported(protocol: str, advertised: list[str]) -> AuthFailure:
    """The server offers neither XOAUTH2 nor OAUTHBEARER."""
    offered = ", ".join(advertised) or "none advertised"
    return AuthFailure(
        f"The {protocol} server does not offer OAuth2 login (mechanisms: {offered}).",
        fix="Use --auth password for this server, or check the host: Gmail and Microsoft 365 "
        "offer XOAUTH2.",
        reason="oauth-not-offered",
        details={"mechanisms": advertised},
    )


def oauth_no_token() -> AuthFailure:
    """No access token could be had (none stored, no refresh token, an empty command)."""
    return AuthFailure(
        "No OAuth2 access token is available for this account.",
        fix="Run `hubsync connect NAME --auth oauth2` to sign in.",
        reason="oauth-no-token",
    )
