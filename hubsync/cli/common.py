"""Small pieces every command needs: the chosen account, its password, the store."""

from hubsync import config as cfg
from hubsync import credentials, redact
from hubsync.store import Store, open_store


def account(name: str | None) -> cfg.Account:
    return cfg.load().account(name)


def password_for(acc: cfg.Account) -> str:
    secret = credentials.resolve(acc.name, acc.password_command or None)
    redact.register(secret.value)
    return secret.value


def store() -> Store:
    return open_store()
