"""Where a mail server listens and how to reach it: one type for IMAP, SMTP and providers."""

from dataclasses import dataclass, replace

SECURITY_MODES = ("ssl", "starttls")  # implicit TLS (993/465), or STARTTLS (143/587)
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Endpoint:
    """A server's host, port and TLS mode, with the CA file and time budget to use."""

    host: str
    port: int
    security: str = "ssl"  # one of SECURITY_MODES
    cafile: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def with_timeout(self, timeout: float) -> "Endpoint":
        """The same endpoint with another time budget per network operation."""
        return replace(self, timeout=timeout)

    @property
    def mode(self) -> str:
        """The TLS mode as people name it: "SSL/TLS" or "STARTTLS"."""
        return "SSL/TLS" if self.security == "ssl" else "STARTTLS"

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"
