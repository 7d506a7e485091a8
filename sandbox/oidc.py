"""A local OpenID Connect provider (npm ``oidc-provider`` on Node), for OAuth2 logins.

Dovecot's ``oauth2`` passdb checks each token by introspection at this provider, and Postfix
authenticates through that Dovecot, so XOAUTH2 and OAUTHBEARER work on IMAP and SMTP
exactly as with a real provider. Its port is chosen before Dovecot starts (Dovecot's
configuration names it); the provider itself starts only when a test asks for it.

Clients: ``hubsync-desktop`` (public, PKCE, refresh tokens, device flow) and
``hubsync-short-lived`` (the same with 2-second access tokens); ``dovecot`` introspects.
"""

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox import cleanup
from sandbox.ports import free_port

MODULES = Path(os.environ.get("HUBSYNC_SANDBOX_ROOT", "/opt/hubsync-sandbox")) / "oidc"
SCRIPT = Path(__file__).with_name("oidc") / "provider.mjs"
DESKTOP_CLIENT = "hubsync-desktop"
SHORT_LIVED_CLIENT = "hubsync-short-lived"
SCOPES = ("openid", "email", "mail", "offline_access")


def available() -> bool:
    """Whether Node and the oidc-provider package are installed (scripts/install)."""
    return (
        shutil.which("node") is not None and (MODULES / "node_modules" / "oidc-provider").is_dir()
    )


@dataclass
class OidcProvider:
    directory: Path
    port: int = 0
    introspection_secret: str = ""
    process: object = None

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.introspection_secret = self.introspection_secret or secrets.token_urlsafe(16)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def introspection_url(self) -> str:
        """The URL Dovecot posts tokens to, with its client credentials."""
        return (
            f"http://dovecot:{self.introspection_secret}@127.0.0.1:{self.port}/token/introspection"
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, users: dict[str, str], timeout: float = 20.0) -> None:
        """Start node with the sandbox's users; wait until it listens."""
        if self.running:
            return
        if not available():
            raise RuntimeError("oidc-provider is not installed: run scripts/install")
        self.directory.mkdir(parents=True, exist_ok=True)
        settings = self.directory / "settings.json"
        settings.write_text(
            json.dumps(
                {
                    "port": self.port,
                    "issuer": self.issuer,
                    "users": users,
                    "introspection_secret": self.introspection_secret,
                    "cookie_key": secrets.token_urlsafe(24),
                }
            )
        )
        settings.chmod(0o600)
        log = self.directory / "provider.log"
        self.process = cleanup.start_group(
            ["node", str(SCRIPT), str(settings)],
            log,
            env={"HUBSYNC_OIDC_MODULES": str(MODULES / "node_modules")},
        )
        cleanup.record(self.directory.parent, self.process.pid, "provider.mjs", group=True)
        deadline = time.monotonic() + timeout
        while b"listening" not in log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"oidc-provider did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        cleanup.stop_group(self.process)
