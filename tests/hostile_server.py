"""A scripted hostile IMAP server on loopback (TLS with a test CA), for robustness tests.

It speaks just enough IMAP for a login and a sync, then misbehaves in one chosen way:
``endless-greeting`` (endless untagged lines from the first command on), ``endless-login``
(endless lines in answer to LOGIN), ``lying-size`` (announces RFC822.SIZE 100, then streams a
huge BODY[] literal), ``endless-fetch`` (endless FETCH responses to the header scan),
``close-mid-literal``, ``silence`` (greets, then says nothing), ``echo-login`` (refuses
LOGIN quoting the command back, password included, as some servers' BAD/NO texts do), and
``trickle-greeting`` / ``trickle-select`` (a line without its end, a byte every 0.2 s,
forever: a per-read timeout never fires).
"""

import contextlib
import re
import socket
import ssl
import threading
import time
from pathlib import Path

TRACKED = "<root@example.test>"
REPLY = b"Message-ID: <reply@customer.test>\r\nIn-Reply-To: " + TRACKED.encode() + b"\r\n\r\n"


class HostileServer:
    def __init__(self, behaviour: str, cert: Path, key: Path) -> None:
        self.behaviour = behaviour
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(str(cert), str(key))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sent = 0  # bytes pushed at the client
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(timeout=10)

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._session, args=(raw,), daemon=True).start()

    def _session(self, raw: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError, ValueError):
            conn = self.context.wrap_socket(raw, server_side=True)
            conn.settimeout(30)
            reader = conn.makefile("rb")
            if self.behaviour == "trickle-greeting":
                self._trickle(conn)
            self._send(conn, b"* OK [CAPABILITY IMAP4rev1 UIDPLUS IDLE] hostile ready\r\n")
            while not self.stop.is_set():
                line = reader.readline()
                if not line:
                    return
                tag, _, rest = line.decode().strip().partition(" ")
                command = rest.upper()
                self._answer(conn, tag, command, rest)
            conn.close()

    def _send(self, conn: ssl.SSLSocket, data: bytes) -> None:
        conn.sendall(data)
        self.sent += len(data)

    def _endless(self, conn, line: bytes = b"* OK still talking\r\n") -> None:
        chunk = line * 2000
        while not self.stop.is_set():
            self._send(conn, chunk)

    def _trickle(self, conn) -> None:
        self._send(conn, b"* OK ")
        while not self.stop.is_set():
            self._send(conn, b"z")
            time.sleep(0.2)

    def _answer(self, conn, tag: str, command: str, rest: str = "") -> None:
        ok = f"{tag} OK done\r\n".encode()
        if self.behaviour == "endless-greeting" or (
            self.behaviour == "endless-login" and command.startswith("LOGIN")
        ):
            self._endless(conn)
        if self.behaviour == "silence":
            time.sleep(60)
            return
        if self.behaviour == "echo-login" and command.startswith("LOGIN"):
            self._send(conn, f"{tag} NO [AUTHENTICATIONFAILED] refused: {rest}\r\n".encode())
        elif command.startswith("CAPABILITY"):
            self._send(conn, b"* CAPABILITY IMAP4rev1 UIDPLUS IDLE\r\n" + ok)
        elif command.startswith(("LOGIN", "LOGOUT", "NOOP", "ID")):
            self._send(conn, ok)
        elif command.startswith(("EXAMINE", "SELECT")) and self.behaviour == "trickle-select":
            self._trickle(conn)
        elif command.startswith(("EXAMINE", "SELECT")):
            self._send(
                conn,
                b"* 1 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 2] ok\r\n" + ok,
            )
        elif command.startswith("UID FETCH") and "HEADER.FIELDS" in command:
            if self.behaviour == "endless-fetch":
                item = b"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (MESSAGE-ID)] {2}\r\n\r\n)\r\n"
                self._endless(conn, item)
            literal = b"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO)] {%d}\r\n"
            self._send(conn, literal % len(REPLY) + REPLY + b")\r\n" + ok)
        elif command.startswith("UID FETCH") and "RFC822.SIZE" in command:
            self._send(conn, b"* 1 FETCH (UID 1 RFC822.SIZE 100)\r\n" + ok)
        elif command.startswith("UID FETCH") and re.search(r"BODY\.PEEK\[\]", command):
            if self.behaviour == "close-mid-literal":  # as announced, but cut short
                self._send(conn, b"* 1 FETCH (UID 1 BODY[] {100}\r\n" + REPLY[:10])
                conn.close()
                return
            size = 1024 * 1024 * 1024  # announced 100 bytes, sends a gigabyte
            self._send(conn, b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % size)
            self._endless(conn, b"x" * 80 + b"\r\n")
        else:
            self._send(conn, f"{tag} BAD unknown\r\n".encode())
