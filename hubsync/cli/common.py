"""Small pieces every command needs: the chosen account, its password, the store."""

import contextlib

from hubsync import config as cfg
from hubsync import credentials, environment, redact
from hubsync.errors import UsageError
from hubsync.oauth import grant
from hubsync.sessions import Secret
from hubsync.store import Store, open_configured


def account(name: str | None, timeout: float | None = None) -> cfg.Account:
    """The named account, or the default one; ``timeout`` (from --timeout) applies to this
    run's network steps."""
    acc = cfg.load().account(name)
    if timeout:
        acc.timeout = timeout
    return acc


def accounts(name: str | None, every: bool, timeout: float | None = None) -> list[cfg.Account]:
    """The accounts a command with ``--all`` works on: every account, or the one named (or
    the default)."""
    if every and name:
        raise UsageError("Give --account or --all, not both.")
    if not every:
        return [account(name, timeout)]
    config = cfg.load()
    config.account(None)  # no account at all: the usual "connect one first" error
    chosen = list(config.accounts.values())
    for acc in chosen:
        acc.timeout = timeout or acc.timeout
    return chosen


def password_for(acc: cfg.Account) -> Secret:
    """The account's login secret: its password from its sources (registered for
    redaction), or for an OAuth2 account the source of its access tokens."""
    if acc.auth == "oauth2":
        return grant.source_for(acc)
    if acc.credential_source == "store" and not (
        environment.current().password or acc.password_command
    ):
        from hubsync.team import secrets  # a team account: the encrypted secret in the store

        with contextlib.closing(store()) as opened:
            return secrets.get(opened, acc.name)
    secret = credentials.resolve(
        acc.name, acc.password_command or None, use_keyring=acc.credential_source != "none"
    )
    redact.register(secret.value)
    return secret.value


def store() -> Store:
    """The open store."""
    return open_configured()
