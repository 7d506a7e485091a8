"""XOAUTH2 and OAUTHBEARER (RFC 7628) messages, and the server's error challenge.

Pure functions: the IMAP and SMTP modules put these on the wire.
"""

import base64
import binascii
import json

XOAUTH2 = "XOAUTH2"
OAUTHBEARER = "OAUTHBEARER"
MECHANISMS = (XOAUTH2, OAUTHBEARER)


def initial_response(mechanism: str, username: str, token: str) -> bytes:
    """The client's first message (before base64): who, and the bearer token."""
    if mechanism == OAUTHBEARER:
        # gs2 header with the authorization identity; "," in it must be escaped (RFC 5801).
        user = username.replace("=", "=3D").replace(",", "=2C")
        return f"n,a={user},\x01auth=Bearer {token}\x01\x01".encode()
    if mechanism == XOAUTH2:
        return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()
    raise ValueError(f"not an OAuth2 SASL mechanism: {mechanism}")


def error_reply(mechanism: str) -> bytes:
    """What the client answers to an error challenge so the server can finish with NO/535:
    an empty response for XOAUTH2, a single ^A for OAUTHBEARER (RFC 7628 3.2.3)."""
    return b"\x01" if mechanism == OAUTHBEARER else b""


def parse_error(challenge: bytes) -> dict:
    """The server's JSON error (``status``, ``scope``, ``schemes``), from a challenge that is
    already base64-decoded or still encoded; ``{}`` when it is not JSON (never raises)."""
    text = challenge.strip()
    for candidate in (text, _unbase64(text)):
        try:
            value = json.loads(candidate)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items() if isinstance(v, (str, int))}
    return {}


def _unbase64(data: bytes) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return b""


def choose(advertised: list[str], preferred: str = "") -> str | None:
    """The mechanism to use: ``preferred`` (the provider table's) when the server offers it,
    else OAUTHBEARER (the standard) before XOAUTH2. A server that offers neither gets
    ``preferred`` anyway when there is one (some list mechanisms only after TLS or not at
    all); otherwise None."""
    offered = {m.upper() for m in advertised}
    if preferred and preferred.upper() in offered:
        return preferred.upper()
    for mechanism in (OAUTHBEARER, XOAUTH2):
        if mechanism in offered:
            return mechanism
    return preferred.upper() or None


def with_one_refresh(token, attempt, no_token: Exception) -> None:
    """Log in with the current access token and, after a refusal, once more with a fresh one.

    ``token(refresh)`` gives a token (None when none can be had); ``attempt(token)`` returns
    None on success or the refusal (an exception), which is raised when no retry is left.
    """
    current = token(False)
    if not current:
        raise no_token
    refusal = attempt(current)
    if refusal is None:
        return
    fresh = token(True)
    if fresh:
        refusal = attempt(fresh)
        if refusal is None:
            return
    raise refusal
