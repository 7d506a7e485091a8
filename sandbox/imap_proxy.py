"""An IMAP proxy on loopback, in front of a real server, that fails the way networks and
servers do: it can swallow the untagged EXISTS/RECENT that IDLE should deliver (a server whose
IDLE never notifies), hold every open connection silently (a NAT that forgot the path), go
down (new connections are accepted and never answered, as when packets are dropped), cut the
next connections during the TLS handshake or at LOGIN, rewrite UIDNEXT once (a server
that misreports), and leave ``\\*`` out of PERMANENTFLAGS (a server that keeps no new
keywords). Used by the tests and by the team benchmark's outage.

It terminates TLS with the sandbox's certificate (so it sees the IMAP text) and talks TLS to
the server behind it. Every connection is a pair of threads; ``close()`` ends them all.
"""

import contextlib
import re
import socket
import ssl
import threading
from pathlib import Path

_IDLE_NEWS = re.compile(rb"^\* \d+ (EXISTS|RECENT)\r\n", re.IGNORECASE)
_UIDNEXT = re.compile(rb"UIDNEXT \d+", re.IGNORECASE)
_PERMANENT = re.compile(rb"\[PERMANENTFLAGS \(([^)]*)\)", re.IGNORECASE)


def system_flags_only(line: bytes) -> bytes:
    """PERMANENTFLAGS with only the system flags: no keyword kept, none can be made."""

    def keep(match: re.Match) -> bytes:
        flags = [f for f in match.group(1).split() if f.startswith(b"\\") and f != b"\\*"]
        return b"[PERMANENTFLAGS (" + b" ".join(flags) + b")"

    return _PERMANENT.sub(keep, line)


class ImapProxy:
    def __init__(self, upstream_port: int, cert: Path, key: Path, cafile: Path) -> None:
        self.upstream_port = upstream_port
        self.server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_context.load_cert_chain(str(cert), str(key))
        self.client_context = ssl.create_default_context(cafile=str(cafile))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.silent_idle = False  # swallow EXISTS/RECENT while the client idles
        self.cut_tls = 0  # close this many next connections in the TLS handshake
        self.cut_login = 0  # close this many next connections when the client logs in
        self.uidnext_claim: int | None = None  # the next UIDNEXT the server says becomes this
        self.down = False  # new connections are swallowed: nothing answers (an outage)
        self.no_new_keywords = False  # PERMANENTFLAGS without \\*: no keyword can be made
        self._swallowed: list[socket.socket] = []
        self.swallowed = 0  # EXISTS/RECENT lines kept from the client
        self.connections = 0  # connections that reached the server
        self._open: list[tuple[socket.socket, socket.socket]] = []
        self._held_pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    # -- what a test does --------------------------------------------------------------------

    def hold_open_connections(self) -> None:
        """Every connection open now stops passing bytes, both ways, without closing:
        the client sees silence, as after a NAT timeout. New connections work."""
        with self._lock:
            held, self._open = self._open, []
        for pair in held:
            self._held_pairs.append(pair)

    def reset_open_connections(self) -> None:
        """Close every open connection at once (a network flap)."""
        with self._lock:
            pairs, self._open = self._open, []
        for client, server in pairs:
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self.reset_open_connections()
        for pair in self._held_pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.close()
        for sock in self._swallowed:
            with contextlib.suppress(OSError):
                sock.close()
        self._thread.join(timeout=5)

    # -- the proxy -----------------------------------------------------------------------------

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._session, args=(raw,), daemon=True).start()

    def outage(self, down: bool) -> None:
        """Start (``down``) or end a network outage: while down, every open connection goes
        silent and new ones get no answer; when it ends, new connections work again (the
        silent ones stay dead, as after a real outage)."""
        self.down = down
        if down:
            self.hold_open_connections()

    def _session(self, raw: socket.socket) -> None:
        if self.down:
            with self._lock:
                self._swallowed.append(raw)  # kept open, never answered
            return
        with self._lock:
            cut_tls = self.cut_tls > 0
            self.cut_tls -= cut_tls
        if cut_tls:
            with contextlib.suppress(OSError):
                raw.recv(1)  # the ClientHello has started: cut in the middle of the handshake
                raw.shutdown(socket.SHUT_RDWR)
            raw.close()
            return
        try:
            client = self.server_context.wrap_socket(raw, server_side=True)
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            server = self.client_context.wrap_socket(upstream, server_hostname="localhost")
        except (OSError, ssl.SSLError):
            raw.close()
            return
        client.settimeout(None)
        server.settimeout(None)
        pair = (client, server)
        with self._lock:
            self._open.append(pair)
            self.connections += 1
        state = {"idle": False}
        threading.Thread(
            target=self._pump, args=(client, server, pair, state, True), daemon=True
        ).start()
        self._pump(server, client, pair, state, False)

    def _pump(self, source, target, pair, state, from_client: bool) -> None:
        reader = source.makefile("rb")
        try:
            while not self._stop.is_set():
                line = reader.readline()
                if not line:
                    break
                if self._is_held(pair):
                    continue  # silence: nothing passes, nothing closes
                if from_client:
                    line = self._from_client(line, state, pair)
                    if line is None:
                        return
                else:
                    line = self._from_server(line, state)
                if line:
                    target.sendall(line)
                    # A literal follows "{n}\r\n": pass its bytes through unchanged.
                    literal = re.search(rb"\{(\d+)\+?\}\r\n$", line)
                    if literal:
                        target.sendall(reader.read(int(literal.group(1))))
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                if pair in self._open:
                    self._open.remove(pair)
            if not self._is_held(pair):
                for sock in pair:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

    def _is_held(self, pair) -> bool:
        return pair in self._held_pairs

    def _from_client(self, line: bytes, state: dict, pair) -> bytes | None:
        words = line.split()
        command = words[1].upper() if len(words) > 1 else b""
        if command in (b"LOGIN", b"AUTHENTICATE"):
            with self._lock:
                cut = self.cut_login > 0
                self.cut_login -= cut
            if cut:
                for sock in pair:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return None
        if command == b"IDLE":
            state["idle"] = True
        elif line.strip().upper() == b"DONE":
            state["idle"] = False
        return line

    def _from_server(self, line: bytes, state: dict) -> bytes:
        if self.no_new_keywords:
            line = system_flags_only(line)
        if state["idle"] and self.silent_idle and _IDLE_NEWS.match(line):
            self.swallowed += 1
            return b""
        if self.uidnext_claim is not None and _UIDNEXT.search(line):
            claim, self.uidnext_claim = self.uidnext_claim, None
            return _UIDNEXT.sub(b"UIDNEXT %d" % claim, line)
        return line
