"""Accounts and settings in config.toml (read with tomllib, written with tomli-w).

No secret is ever stored here: passwords live in the keyring or come from a password command.
An unknown key is an error that names the key and the file, so typos never pass silently.
"""

import tomllib
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

import tomli_w

from hubsync import paths
from hubsync.errors import ConfigError, UnknownAccount, UsageError
from hubsync.mail.endpoint import SECURITY_MODES, Endpoint
from hubsync.urls import secret_in_url


@dataclass
class Account:
    name: str
    email: str
    username: str
    imap_host: str
    imap_port: int
    imap_security: str = "ssl"
    smtp_host: str = ""
    smtp_port: int = 465
    smtp_security: str = "ssl"
    display_name: str = ""
    cafile: str = ""
    sent_folder: str = ""
    sent_folder_rule: str = ""
    sent_copy: str = "auto"
    # Where the provider files its own Sent copy: how long to wait for it before hubsync
    # files one (and learns that it does not).
    sent_copy_grace_minutes: float = 15.0
    password_command: list[str] = field(default_factory=list)
    credential_source: str = "keyring"
    provider: str = ""
    # ["*"]: every folder a reply can land in (mail/reply_folders.py); else these names.
    watched_folders: list[str] = field(default_factory=lambda: ["INBOX"])
    excluded_folders: list[str] = field(default_factory=list)
    never_log: list[str] = field(default_factory=list)
    log_attachments: bool = True
    attachment_limit_mb: float = 50.0
    auth: str = "password"  # or "oauth2"
    oauth_issuer: str = ""
    oauth_client_id: str = ""
    oauth_scopes: list[str] = field(default_factory=list)
    oauth_mechanism: str = ""  # XOAUTH2 or OAUTHBEARER to try first; "" = provider's/server's
    oauth_token_url: str = ""  # the issuer's token endpoint, found at sign-in
    oauth_token_command: list[str] = field(default_factory=list)
    timeout: float = 0.0  # seconds per network step (connect, TLS, one command); 0: default
    # Logging from the user's own mail client (sync/client_ways.py); "" turns a way off.
    log_folder: str = "CRM"  # a folder whose messages are logged (where the user made it)
    log_keyword: str = "$CRM"  # a keyword (a Thunderbird tag) that marks a message for the log
    log_address: str = ""  # a plus-address the user BCCs, e.g. alice+crm@example.com
    track_sent: str = "off"  # "contacts" or "all": mail sent from another client is tracked
    track_sent_since: str = ""  # ISO date-time: Sent mail older than this is never tracked

    def to_toml(self) -> dict:
        """The account's table in config.toml (empty values left out)."""
        data = asdict(self)
        data.pop("name")
        if data["auth"] == "password":
            data.pop("auth")  # the default; written only for OAuth2 accounts
        if not data["timeout"]:
            data.pop("timeout")
        if data["sent_copy_grace_minutes"] == 15.0:
            data.pop("sent_copy_grace_minutes")  # the default
        if data["track_sent"] == "off":
            data.pop("track_sent")
        keep = ("never_log", "log_folder", "log_keyword")  # "" there means "off", not unset
        return {k: v for k, v in data.items() if v not in ("", [], None) or k in keep}

    @property
    def domain(self) -> str:
        """The part of the address after the "@"."""
        return self.email.rpartition("@")[2]

    def imap_endpoint(self, timeout: float | None = None) -> Endpoint:
        """Where this account's IMAP server listens (``timeout``: per operation)."""
        endpoint = Endpoint(self.imap_host, self.imap_port, self.imap_security, self.cafile or None)
        timeout = timeout or self.timeout
        return endpoint.with_timeout(timeout) if timeout else endpoint

    def smtp_endpoint(self, timeout: float | None = None) -> Endpoint:
        """Where this account submits mail (``timeout``: per operation)."""
        endpoint = Endpoint(self.smtp_host, self.smtp_port, self.smtp_security, self.cafile or None)
        timeout = timeout or self.timeout
        return endpoint.with_timeout(timeout) if timeout else endpoint


ACCOUNT_KEYS = {f.name for f in fields(Account)} - {"name"}
TOP_KEYS = {"default_account", "accounts", "oauth_client_ids", "store_url"}
_REQUIRED = ("email", "username", "imap_host", "imap_port")


@dataclass
class Config:
    path: Path
    default_account: str = ""
    accounts: dict[str, Account] = field(default_factory=dict)
    # A registered OAuth2 client ID per provider key ("gmail", "microsoft"): not a secret.
    oauth_client_ids: dict[str, str] = field(default_factory=dict)
    # The team's shared store (postgresql://user@host:port/db); "" = the local SQLite file.
    store_url: str = ""

    def account(self, name: str | None = None) -> Account:
        """The named account, or the default one; a clear error when there is none."""
        if not self.accounts:
            raise UsageError(
                "No account is connected yet.",
                fix="Run `hubsync connect you@example.com` first.",
                reason="no-account",
            )
        name = name or self.default_account or next(iter(self.accounts))
        if name not in self.accounts:
            known = ", ".join(sorted(self.accounts))
            raise UnknownAccount(f"No account named {name!r} (known: {known}).")
        return self.accounts[name]

    def save(self) -> None:
        """Write config.toml atomically, private to the user."""
        data: dict = {}
        if self.default_account:
            data["default_account"] = self.default_account
        if self.oauth_client_ids:
            data["oauth_client_ids"] = dict(self.oauth_client_ids)
        if self.store_url:
            data["store_url"] = self.store_url
        data["accounts"] = {name: acc.to_toml() for name, acc in self.accounts.items()}
        paths.write_private_file(self.path, tomli_w.dumps(data).encode())


def _store_url(value, path: Path) -> str:
    """``store_url`` as written, refused when it is not a string or carries a password."""
    if not isinstance(value, str):
        raise ConfigError(f"{path}: 'store_url' must be a string.", reason="config-invalid")
    where = secret_in_url(value)
    if where:
        raise ConfigError(
            f"{path}: store_url holds a password ({where}); config.toml never keeps secrets.",
            fix="Remove the password from store_url and put it in ~/.pgpass (or PGPASSWORD, "
            "or HUBSYNC_STORE_URL in the service's environment).",
            reason="config-invalid",
        )
    return value


def _refuse_if_others_can_write(path: Path) -> None:
    """config.toml runs commands (``password_command``, ``oauth_token_command``): a file that
    another user can change, or that another user owns, is refused, with the exact fix."""
    problem = paths.others_can_change(path)  # a symlinked config is judged by its target
    if problem is not None:
        what, fix = problem
        raise ConfigError(
            f"{path} {what}; it may run commands (password_command), so hubsync does not read it.",
            fix=fix if fix.startswith("chmod") else f"{fix} (or use your own config).",
            reason="config-unsafe",
        )


def load(path: Path | None = None) -> Config:
    """Read config.toml; a missing file is an empty configuration."""
    path = path or paths.config_file()
    if not path.exists():
        return Config(path=path)
    _refuse_if_others_can_write(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", fix="Correct the file.") from None
    for key in raw:
        if key not in TOP_KEYS:
            raise _unknown_key(key, path, "top level", TOP_KEYS)
    config = Config(path=path, default_account=str(raw.get("default_account", "")))
    client_ids = raw.get("oauth_client_ids", {})
    if not isinstance(client_ids, dict) or not all(isinstance(v, str) for v in client_ids.values()):
        raise ConfigError(
            f"{path}: 'oauth_client_ids' must be a table of strings.",
            fix='For example: oauth_client_ids = { gmail = "1234-abc.apps.googleusercontent.com" }',
            reason="config-invalid",
        )
    config.oauth_client_ids = dict(client_ids)
    config.store_url = _store_url(raw.get("store_url", ""), path)
    accounts = raw.get("accounts", {})
    if not isinstance(accounts, dict):
        raise ConfigError(f"{path}: 'accounts' must be a table.", reason="config-invalid")
    for name, table in accounts.items():
        config.accounts[name] = _account_from_table(name, table, path)
    return config


def _account_from_table(name: str, table: object, path: Path) -> Account:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [accounts.{name}] must be a table.")
    for key in table:
        if key not in ACCOUNT_KEYS:
            raise _unknown_key(key, path, f"[accounts.{name}]", ACCOUNT_KEYS)
    _check_types(name, table, path)
    missing = [k for k in _REQUIRED if k not in table]
    if missing:
        raise ConfigError(
            f"{path}: [accounts.{name}] lacks {', '.join(missing)}.",
            fix=f"Run `hubsync connect` again for {name}, or add the keys.",
        )
    try:
        account = Account(name=name, **table)
    except TypeError as exc:
        raise ConfigError(f"{path}: [accounts.{name}]: {exc}") from None
    return account


_STRINGS = "a list of strings"
# What each key must hold, in words for the error, and the test.
_TYPES: dict[str, tuple[str, object]] = {
    "port": ("a whole number from 1 to 65535", lambda v: _is_int(v) and 1 <= v <= 65535),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "str": ("a string", lambda v: isinstance(v, str)),
    "strings": (_STRINGS, lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)),
    "seconds": (
        "a number of seconds from 0.5 to 3600",
        lambda v: (_is_int(v) or isinstance(v, float)) and 0.5 <= v <= 3600,
    ),
    "minutes": (
        "a number of minutes from 0 to 1440",
        lambda v: (_is_int(v) or isinstance(v, float)) and 0 <= v <= 1440,
    ),
    "size": (
        "a number of megabytes above 0",
        lambda v: (_is_int(v) or isinstance(v, float)) and 0 < v <= 1_000_000,
    ),
}
_KEY_TYPES = {
    "imap_port": "port",
    "smtp_port": "port",
    "log_attachments": "bool",
    "attachment_limit_mb": "size",
    "timeout": "seconds",
    "sent_copy_grace_minutes": "minutes",
    "password_command": "strings",
    "watched_folders": "strings",
    "excluded_folders": "strings",
    "never_log": "strings",
    "oauth_scopes": "strings",
    "oauth_token_command": "strings",
}
_CHOICES = {
    "imap_security": SECURITY_MODES,
    "smtp_security": SECURITY_MODES,
    "sent_copy": ("auto", "always", "never"),
    "credential_source": ("keyring", "none", "store"),
    "auth": ("password", "oauth2"),
    "oauth_mechanism": ("XOAUTH2", "OAUTHBEARER"),
    "track_sent": ("off", "contacts", "all"),
}
_EXAMPLES = {
    "password_command": 'password_command = ["pass", "show", "mail/work"]',
    "never_log": 'never_log = ["hr.example.com", "lawyer@example.org"]',
    "watched_folders": 'watched_folders = ["*"] (every folder) or ["INBOX", "Customers"]',
    "excluded_folders": 'excluded_folders = ["Newsletters"]',
    "log_address": 'log_address = "alice+crm@example.com"',
    "track_sent_since": 'track_sent_since = "2026-12-01T00:00:00+00:00"',
}


def toml_line(key: str, value: object) -> str:
    """``key = value`` in TOML on one line (``["INBOX", "Sent"]``, ``true``, quoted strings)."""
    if isinstance(value, list):
        items = ", ".join(toml_line("v", item).split(" = ", 1)[1] for item in value)
        return toml_line(key, 0).rsplit(" = ", 1)[0] + f" = [{items}]"
    return tomli_w.dumps({key: value}).strip()


def toml_key(name: str) -> str:
    """An account name as a TOML table key (bare when it can be, else quoted)."""
    return toml_line(name, 0).rsplit(" = ", 1)[0]


# Settings `accounts set --set` may not change: who the account is, and what hubsync
# records itself (connect finds them; --unset or a new connect resets them).
_NOT_SETTABLE = {"email"}


def apply_setting(account: Account, key: str, text: str) -> None:
    """Set one account setting from the text a person typed (`accounts set --set KEY=VALUE`),
    checked as config.toml's value would be. Lists: a TOML array (``["a", "b"]``), or commas
    (``a, b``); a command (password_command) is split as a shell would. UsageError for an
    unknown key or a bad value, naming what is expected."""
    import shlex

    if key not in ACCOUNT_KEYS or key in _NOT_SETTABLE:
        settable = ", ".join(sorted(ACCOUNT_KEYS - _NOT_SETTABLE))
        raise UsageError(
            f"{key!r} is not an account setting that can be set.",
            fix=f"Settable keys: {settable}.",
            reason="bad-option",
        )
    kind = _KEY_TYPES.get(key, "str")
    value: object = text
    stripped = text.strip()
    if kind == "strings":
        if stripped.startswith("["):
            value = _toml_value(key, stripped)
        elif key.endswith("_command"):
            value = shlex.split(stripped)
        else:
            value = [part.strip() for part in stripped.split(",") if part.strip()]
    elif kind == "bool":
        value = {"true": True, "yes": True, "on": True, "false": False, "no": False}.get(
            stripped.lower(), stripped
        )
    elif kind == "port":
        value = int(stripped) if stripped.isdigit() else stripped
    elif kind in ("seconds", "minutes", "size"):
        try:
            value = float(stripped)
        except ValueError:
            value = stripped
    expected = _expected_if_wrong(key, value)
    if expected:
        raise UsageError(
            f"[accounts.{account.name}] {key} = {value!r} must be {expected}.",
            fix=_fix_for(key),
            reason="bad-option",
        )
    setattr(account, key, value)


def _toml_value(key: str, text: str) -> object:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError as exc:
        msg = f"{key}: {text!r} is not a TOML value ({exc})."
        raise UsageError(msg, reason="bad-option") from None


def reset_setting(account: Account, key: str) -> None:
    """Put one setting back to its default (`accounts set --unset KEY`)."""
    defaults = {f.name: f for f in fields(Account)}
    if key not in ACCOUNT_KEYS or key in _NOT_SETTABLE or key in _REQUIRED:
        raise UsageError(f"{key!r} cannot be unset.", reason="bad-option")
    spec = defaults[key]
    default = spec.default_factory() if callable(spec.default_factory) else spec.default
    setattr(account, key, default)


def parse_since(value: str) -> datetime | None:
    """``track_sent_since`` as an aware date-time (UTC when no zone is given), else None."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_types(name: str, table: dict, path: Path) -> None:
    """Every value of an account table has the type and range its key needs; the error names
    the key, the file, what was found and what is expected."""
    for key, value in table.items():
        expected = _expected_if_wrong(key, value)
        if expected:
            raise ConfigError(
                f"{path}: [accounts.{name}] {key} = {value!r} must be {expected}.",
                fix=_fix_for(key),
                reason="config-invalid",
                details={"key": key, "file": str(path), "expected": expected},
            )


def _expected_if_wrong(key: str, value: object) -> str:
    """What ``key`` needs, when ``value`` is not that ("" when it is fine)."""
    expected, valid = _TYPES[_KEY_TYPES.get(key, "str")]
    if key in _CHOICES and isinstance(value, str):
        expected = "one of " + ", ".join(_CHOICES[key])
        ok = value in _CHOICES[key]
    else:
        ok = valid(value)
    if (key == "email" or (key == "log_address" and value)) and ok and "@" not in value:
        expected, ok = "an email address", False
    if key == "track_sent_since" and ok and value and parse_since(value) is None:
        expected, ok = "an ISO 8601 date-time", False
    return "" if ok else expected


def _fix_for(key: str) -> str:
    example = _EXAMPLES.get(key)
    return f"Correct it, e.g. {example}." if example else "Correct the value."


def _unknown_key(key: str, path: Path, where: str, known: set[str]) -> ConfigError:
    return ConfigError(
        f"Unknown key {key!r} in {where} of {path}.",
        fix=f"Remove or correct it. Known keys there: {', '.join(sorted(known))}.",
        reason="config-unknown-key",
        details={"key": key, "file": str(path)},
    )
