"""Secrets in connection URLs (a team's ``store_url``): where they hide, and the URL without
them for every error, event and JSON field.

A libpq URL carries a password in its user info (``postgresql://user:secret@host/db``) or
in query parameters (``?password=secret``, ``?sslpassword=secret``, in any letter case).
"""

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


def secret_in_url(url: str) -> str | None:
    """Where ``url`` carries a secret ("user info", or the query parameter's name), or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.password is not None:
        return "user info"
    for key, _ in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in SECRET_PARAMETERS:
            return key
    return None


def redact_url(url: str) -> str:
    """``url`` without its secrets: no password in the user info, secret query parameters
    left out. Something that does not parse is shown as "(unreadable URL)"."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unreadable URL)"
    user = f"{quote(parts.username, safe='')}@" if parts.username else ""
    if ":" in host:
        host = f"[{host}]"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in SECRET_PARAMETERS
    ]
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, urlencode(query), ""))
