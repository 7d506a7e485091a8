"""A minimal line-oriented connection for talking to servers that speak first.

Every read and write is bounded by a deadline, so a silent listener cannot hang the tool.
"""

import socket
import ssl
import time

from hubsync.mail.failures import connection_failure


class Silent(Exception):
    """The peer sent nothing before the deadline."""


class LineConnection:
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buffer = b""

    @classmethod
    def open(
        cls, host: str, port: int, timeout: float, address: str | None = None
    ) -> "LineConnection":
        """Connect to ``address`` (an IP found for ``host``) or ``host`` itself."""
        deadline = time.monotonic() + timeout
        try:
            sock = socket.create_connection((address or host, port), timeout=timeout)
        except OSError as exc:
            raise connection_failure(exc, host, port, "", timeout) from None
        return cls(sock, deadline)

    def _remaining(self, limit: float | None = None) -> float:
        left = self.deadline - time.monotonic()
        if limit is not None:
            left = min(left, limit)
        if left <= 0:
            raise Silent()
        return left

    def readline(self, limit: float | None = None) -> bytes:
        """Read one line (CRLF included); raise Silent if none arrives in time."""
        while b"\n" not in self.buffer:
            self.sock.settimeout(self._remaining(limit))
            try:
                chunk = self.sock.recv(4096)
            except (TimeoutError, ssl.SSLWantReadError):
                raise Silent() from None
            if not chunk:
                if self.buffer:
                    break
                raise ConnectionResetError("connection closed by the server")
            self.buffer += chunk
            if len(self.buffer) > 65536:
                break
        line, sep, rest = self.buffer.partition(b"\n")
        self.buffer = rest
        return line + sep

    def write(self, data: bytes) -> None:
        """Send ``data`` within the deadline."""
        self.sock.settimeout(self._remaining())
        self.sock.sendall(data)

    def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """Upgrade to TLS; anything buffered before the handshake is discarded (RFC 3207 4.2)."""
        self.buffer = b""
        self.sock.settimeout(self._remaining())
        try:
            self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        except TimeoutError:
            raise Silent() from None

    def close(self) -> None:
        """Close the socket, ignoring a connection that is already gone."""
        try:
            self.sock.close()
        except OSError:
            pass
