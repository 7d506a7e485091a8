"""An account's OAuth2 grant and the access token each session logs in with.

The refresh token (and the current access token, and a client secret where the provider
issued one) live in the OS keyring as one JSON entry under the account's name: never in
config.toml, never in output. The access token is refreshed shortly before it expires and
once more when a server refuses it; a rotated refresh token is saved before it is used.
Refreshes are serialized between hubsync processes (a lock), so two commands never spend
the same single-use refresh token.

Accounts whose organisation hands out tokens another way name an ``oauth_token_command``
instead: it is run for each login (and once more after a refusal) and prints the token.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hubsync import credentials, locking, redact
from hubsync.errors import CredentialError
from hubsync.oauth import tokens
from hubsync.oauth.tokens import Client, TokenSet

REFRESH_MARGIN = 60.0  # refresh when the access token has less than this left (seconds)
KIND = "oauth2"


@dataclass
class StoredGrant:
    tokens: TokenSet
    client_secret: str = field(default="", repr=False)

    def dumps(self) -> str:
        return json.dumps(
            {"kind": KIND, **self.tokens.to_dict(), "client_secret": self.client_secret}
        )

    @classmethod
    def loads(cls, text: str, account: str) -> "StoredGrant":
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise CredentialError(
                f"The keyring entry of {account!r} holds a password, not an OAuth2 sign-in.",
                fix=f"Run `hubsync connect {account} --auth oauth2` to sign in.",
                reason="oauth-not-signed-in",
            )
        grant = cls(
            TokenSet(
                access_token=str(data.get("access_token") or ""),
                expires_at=float(data.get("expires_at") or 0),
                refresh_token=str(data.get("refresh_token") or ""),
                scope=str(data.get("scope") or ""),
            ),
            client_secret=str(data.get("client_secret") or ""),
        )
        for secret in (grant.tokens.access_token, grant.tokens.refresh_token, grant.client_secret):
            redact.register(secret)
        return grant


def save(account: str, grant: StoredGrant) -> None:
    """Write the grant to the keyring (refusing unsafe backends, as for passwords)."""
    credentials.store(account, grant.dumps())


def load(account: str) -> StoredGrant:
    """The account's grant from the keyring; a clear error when there is none."""
    text = credentials.from_keyring(account)
    if text is None:
        raise CredentialError(
            f"No OAuth2 sign-in is stored for account {account!r}.",
            fix=f"Run `hubsync connect {account} --auth oauth2` to sign in.",
            reason="secret-missing",
        )
    return StoredGrant.loads(text, account)


class TokenSource:
    """The access token for one account's logins. ``token()`` gives a current one;
    ``token(refresh=True)`` a new one after a server refused the last (None when no new one
    can be had: a token command's token, or a grant without a refresh token)."""

    def __init__(
        self,
        account: str,
        client: Client | None = None,
        token_url: str = "",
        command: list[str] | None = None,
        cafile: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account = account
        self.client = client
        self.token_url = token_url
        self.command = command or []
        self.cafile = cafile
        self.clock = clock
        self.source = "command" if self.command else "keyring"
        self.refreshed = 0  # how many refreshes this source made (doctor reports it)
        self.last: TokenSet | None = None
        self.pending: StoredGrant | None = None  # a sign-in not yet saved (connect)

    @classmethod
    def unsaved(
        cls, account: str, client: Client, token_url: str, signed_in: StoredGrant, cafile=None
    ) -> "TokenSource":
        """A source for a fresh sign-in that ``connect`` saves only after every step passed:
        its tokens (refreshed ones too) stay in memory until then."""
        source = cls(account, client, token_url, cafile=cafile)
        source.pending = signed_in
        return source

    def _load(self) -> StoredGrant:
        return self.pending if self.pending is not None else load(self.account)

    def _save(self, stored: StoredGrant) -> None:
        if self.pending is not None:
            self.pending = stored
        else:
            save(self.account, stored)

    def __repr__(self) -> str:
        return f"TokenSource(account={self.account!r}, source={self.source!r})"

    def token(self, refresh: bool = False) -> str | None:
        """A current access token (refreshing when it is close to expiry), or after a
        refusal (``refresh=True``) a fresh one, or None when none can be had."""
        if self.command:
            value = credentials.run_password_command(self.command)
            redact.register(value)
            return value
        grant = self._load()
        if not refresh and grant.tokens.access_token:
            if not grant.tokens.expires_within(REFRESH_MARGIN, self.clock()):
                self.last = grant.tokens
                return grant.tokens.access_token
        if not grant.tokens.refresh_token or not self.client or not self.token_url:
            return None if refresh else grant.tokens.access_token or None
        return self._refresh(grant, stale=grant.tokens.access_token if refresh else "")

    def _refresh(self, grant: StoredGrant, stale: str) -> str:
        with locking.waiting_lock(f"oauth-{self.account}"):
            grant = self._load()  # another process may have refreshed meanwhile
            current = grant.tokens
            fresh_enough = current.access_token and current.access_token != stale
            if fresh_enough and not current.expires_within(REFRESH_MARGIN, self.clock()):
                self.last = current
                return current.access_token
            client = Client(self.client.client_id, self.client.scopes, grant.client_secret)
            new = tokens.refresh(
                self.token_url, client, current.refresh_token, self.account, self.cafile
            )
            if not new.scope:
                new.scope = current.scope
            self._save(StoredGrant(new, grant.client_secret))  # rotation: saved at once
            self.refreshed += 1
            self.last = new
            return new.access_token


def source_for(account) -> TokenSource:
    """The TokenSource of an OAuth2 account (``account``: a config.Account)."""
    client = (
        Client(account.oauth_client_id, tuple(account.oauth_scopes))
        if account.oauth_client_id
        else None
    )
    return TokenSource(
        account.name,
        client=client,
        token_url=account.oauth_token_url,
        command=account.oauth_token_command or None,
        cafile=account.cafile or None,
    )
