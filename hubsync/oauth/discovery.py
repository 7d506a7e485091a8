"""An issuer's endpoints, from ``/.well-known/openid-configuration`` (OpenID Connect
Discovery) or ``/.well-known/oauth-authorization-server`` (RFC 8414)."""

from dataclasses import dataclass

from hubsync.errors import HubsyncError, ProtocolFailure
from hubsync.oauth import http


@dataclass(frozen=True)
class Endpoints:
    issuer: str
    authorization: str
    token: str
    device_authorization: str = ""
    revocation: str = ""


def discover(issuer: str, cafile: str | None = None) -> Endpoints:
    """The issuer's endpoints; a clear error when it publishes no usable metadata."""
    base = http.check_url(issuer.rstrip("/"), "issuer")
    last: HubsyncError | None = None
    for suffix in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        try:
            meta = http.get_json(base + suffix, cafile)
        except ProtocolFailure as exc:
            last = exc
            continue
        return from_metadata(meta, issuer)
    raise ProtocolFailure(
        f"{issuer} publishes no OAuth2 metadata ({last.message if last else 'none'}).",
        fix="Check --oauth-issuer: it is the URL before /.well-known/openid-configuration.",
        reason="oauth-metadata-unavailable",
    )


def from_metadata(meta: dict, issuer: str) -> Endpoints:
    """Endpoints from a metadata document; every URL checked (https, or loopback http)."""
    for key in ("authorization_endpoint", "token_endpoint"):
        if not isinstance(meta.get(key), str):
            raise ProtocolFailure(
                f"{issuer}'s metadata has no {key}.", reason="oauth-metadata-unavailable"
            )

    def url(key: str) -> str:
        value = meta.get(key)
        return http.check_url(value, key) if isinstance(value, str) and value else ""

    return Endpoints(
        issuer=str(meta.get("issuer") or issuer),
        authorization=url("authorization_endpoint"),
        token=url("token_endpoint"),
        device_authorization=url("device_authorization_endpoint"),
        revocation=url("revocation_endpoint"),
    )
