"""IMAP sessions over imapclient: verified TLS, bounded timeouts, diagnosed failures.

Credentials are only sent after TLS is up (implicit TLS, or STARTTLS that must succeed).
"""

import contextlib
import socket
import time
from collections.abc import Callable, Iterator

import imapclient
from imapclient import imap4, tls
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from hubsync.errors import (
    ConnectionDropped,
    NotImap,
    ResponseTooLarge,
    SendFailure,
    ServerTooSlow,
)
from hubsync.mail import dns as maildns
from hubsync.mail.diagnosis import diagnose_login, oauth_no_token, oauth_refused, oauth_unsupported
from hubsync.mail.endpoint import Endpoint
from hubsync.mail.failures import connection_failure, no_starttls
from hubsync.mail.providers import Provider
from hubsync.mail.sent_folder import Folder
from hubsync.mail.tls import client_context
from hubsync.oauth import sasl

RESPONSE_BYTES = 32 * 1024 * 1024  # what the server may send in answer to one command
RESPONSE_SECONDS = 120.0  # the most one command may take (a trickling server is cut)
COMMAND_STEPS = 4  # ... or this many network steps (--timeout), when that is shorter
LOGOUT_SECONDS = 5.0  # and for how long (IDLE excepted: it lasts until DONE)


class _Budgeted:
    """Mixed into imaplib's IMAP4 classes: every byte read counts against the command that
    is running, and the command has a deadline. A server that sends endless untagged lines,
    a body far larger than it announced, or a trickle that never ends is stopped with an
    error that says so (imaplib itself would read for as long as the server liked)."""

    max_bytes = RESPONSE_BYTES
    max_seconds: float | None = RESPONSE_SECONDS
    _used = 0
    _deadline: float | None = None

    def send(self, data: bytes) -> None:
        self._used = 0
        idle = data.rstrip().upper().endswith(b" IDLE")
        self._deadline = (
            None if idle or not self.max_seconds else time.monotonic() + self.max_seconds
        )
        super().send(data)

    def spend(self, count: int) -> None:
        """Count ``count`` bytes read for the running command; raise when over budget (and
        cut the connection: what the server sends next cannot be trusted either)."""
        self._used += count
        if self._used > self.max_bytes:
            self._cut()
            raise ResponseTooLarge(
                f"The IMAP server sent more than {_size(self.max_bytes)} in answer to one "
                "command (endless responses, or a message far larger than announced); "
                "hubsync stopped reading.",
                fix="Tell the server's administrator; `hubsync doctor` shows which server it is.",
            )
        if self._deadline is not None and time.monotonic() > self._deadline:
            self._cut()
            raise ServerTooSlow(
                f"The IMAP server kept answering one command for more than "
                f"{self.max_seconds:g} s; hubsync stopped waiting.",
                fix="Try again later; if it keeps happening, `hubsync doctor` shows the server.",
            )

    def _cut(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def open(self, host: str = "", port: int = 143, timeout: float | None = None) -> None:
        """Connect; the greeting, read before any command is sent, has the deadline too."""
        super().open(host, port, timeout)
        self._used = 0
        self._deadline = time.monotonic() + self.max_seconds if self.max_seconds else None

    def readline(self) -> bytes:
        # Piece by piece as bytes arrive, never a blocking readline: a server that trickles
        # a line without its end, a byte a second, must still meet the deadline (the
        # socket's timeout only bounds each wait).
        line = bytearray()
        while True:
            self.spend(0)  # the deadline, before each wait
            data = self.file.peek(1)
            if not data:
                break
            end = data.find(b"\n")
            take = len(data) if end < 0 else end + 1
            line += self.file.read(take)
            self.spend(take)
            if end >= 0:
                break
        return bytes(line)

    def read(self, size: int) -> bytes:
        if self._used + size > self.max_bytes:  # a literal announced over the budget:
            self.spend(size)  # refuse before allocating it
        data = bytearray()
        while len(data) < size:
            self.spend(0)
            chunk = self.file.read1(size - len(data))
            if not chunk:
                break
            data += chunk
            self.spend(len(chunk))
        return bytes(data)


def _size(count: int) -> str:
    return f"{count / 1048576:g} MB" if count >= 1048576 else f"{count // 1024:,} KB"


@contextlib.contextmanager
def response_budget(client: imapclient.IMAPClient, max_bytes: int) -> Iterator[None]:
    """Allow the commands in the block ``max_bytes`` (e.g. the sizes the server announced for
    the messages being fetched, plus a little): never trust an announced size further."""
    imap = client._imap
    previous = getattr(imap, "max_bytes", None)
    if previous is None:
        yield
        return
    imap.max_bytes = max_bytes
    try:
        yield
    finally:
        imap.max_bytes = previous


class _Client(imapclient.IMAPClient):
    """IMAPClient that may connect to an address found through HUBSYNC_DNS, while TLS still
    verifies the certificate against the host name, and that reads within a budget. The
    address belongs to the instance, so sessions to different hosts can open at once in one
    process."""

    def __init__(self, *args, connect_address: str | None = None, **kwargs) -> None:
        self.connect_address = connect_address  # read by _create_IMAP4 during __init__
        super().__init__(*args, **kwargs)

    def _create_IMAP4(self):  # noqa: N802 (imapclient's name)
        timeout = getattr(self._timeout, "connect", None)
        address = self.connect_address
        step = getattr(self._timeout, "read", None) or timeout
        # One command (the greeting too) may take COMMAND_STEPS network steps, at least
        # RESPONSE_SECONDS with the default step; a shorter --timeout shortens it.
        deadline = min(RESPONSE_SECONDS, COMMAND_STEPS * step) if step else RESPONSE_SECONDS

        if self.ssl:

            class Tls(_Budgeted, tls.IMAP4_TLS):
                max_seconds = deadline

                def _create_socket(self, timeout=None):
                    sock = socket.create_connection(
                        (address or self.host, self.port), timeout=timeout or self._timeout
                    )
                    return tls.wrap_socket(sock, self.ssl_context, self.host)

            return Tls(self.host, self.port, self.ssl_context, timeout)

        class Plain(_Budgeted, imap4.IMAP4WithTimeout):
            max_seconds = deadline

            def _create_socket(self, timeout=None):
                return socket.create_connection(
                    (address or self.host, self.port), timeout or self._timeout
                )

        return Plain(self.host, self.port, timeout)


def open_session(endpoint: Endpoint) -> imapclient.IMAPClient:
    """A connected client with TLS up (implicit or STARTTLS); no credentials are sent here."""
    context = client_context(endpoint.cafile)
    try:
        client = _Client(
            endpoint.host,
            endpoint.port,
            ssl=endpoint.security == "ssl",
            ssl_context=context,
            timeout=endpoint.timeout,
            connect_address=maildns.address_for(endpoint.host),
        )
        if endpoint.security == "starttls":
            caps = {c.upper() for c in client.capabilities()}
            if b"STARTTLS" not in caps:
                client.shutdown()
                raise no_starttls(endpoint.host, endpoint.port, 993, "--imap-security")
            client.starttls(context)
    except imapclient.exceptions.IMAPClientAbortError as exc:
        raise dropped(endpoint, exc) from None
    except imapclient.exceptions.IMAPClientError as exc:
        raise NotImap(f"{endpoint} did not speak IMAP: {exc}") from None
    except OSError as exc:
        raise connection_failure(
            exc,
            endpoint.host,
            endpoint.port,
            "IMAP",
            endpoint.timeout,
            " (993 is SSL/TLS, 143 STARTTLS)",
        ) from None
    return client


RETRY_FIX = (
    "Nothing was lost: the sync position only moves after messages are logged, and a "
    "sent message is never submitted twice. Run the command again; if it keeps "
    "happening, `hubsync doctor` shows why."
)


def dropped(endpoint: Endpoint, exc: BaseException | str) -> ConnectionDropped:
    """The error for a session that was cut while open."""
    return ConnectionDropped(f"The connection to {endpoint} was lost: {exc}.", fix=RETRY_FIX)


@contextlib.contextmanager
def session_guard(endpoint: Endpoint) -> Iterator[None]:
    """While a session is open, the server or the network may drop it at any point: turn
    every form that takes (a socket error, imaplib's abort, the fast reader's EOF) into one
    ConnectionDropped that says nothing was lost."""
    try:
        yield
    except imapclient.exceptions.IMAPClientAbortError as exc:
        raise dropped(endpoint, exc) from None
    except ConnectionDropped as exc:
        raise dropped(endpoint, exc.message.rstrip(".")) from None
    except OSError as exc:
        raise dropped(endpoint, exc) from None


@contextlib.contextmanager
def logged_in(
    endpoint: Endpoint,
    login: Callable[[imapclient.IMAPClient], None],
    on_connected: Callable[[], None] | None = None,
) -> Iterator[imapclient.IMAPClient]:
    """A logged-in session for one piece of work: TLS first, then ``login`` (a password or
    an OAuth2 login); a dropped connection becomes ConnectionDropped, and the session is
    always closed.

    ``on_connected`` is called once TLS is up, before any credential is sent (for callers
    that report each step).
    """
    client = open_session(endpoint)
    try:
        with session_guard(endpoint):
            if on_connected:
                on_connected()
            login(client)
            yield client
    finally:
        close(client)


def login(
    client: imapclient.IMAPClient, username: str, password: str, provider: Provider | None = None
) -> None:
    """LOGIN; a refusal becomes the diagnosed AuthFailure (with the provider's own fix).
    A user name or password beyond ASCII goes through AUTHENTICATE PLAIN, which carries UTF-8
    (RFC 4616); LOGIN's quoted strings cannot."""
    try:
        if (username + password).isascii():
            client.login(username, password)
        else:
            client.plain_login(username, password)
    except IMAPClientError as exc:
        _raise_if_cut(exc)
        raise diagnose_login(_text(exc), provider) from None


def _raise_if_cut(exc: IMAPClientError) -> None:
    """A connection cut during LOGIN or AUTHENTICATE is a network event, not a refusal:
    imapclient wraps imaplib's abort ("socket error: EOF") in a LoginError, so look at what
    it wrapped. Only a tagged NO or BAD from the server is a refused login."""
    cause = exc if isinstance(exc, IMAPClientAbortError) else exc.__context__
    if isinstance(cause, IMAPClientAbortError | OSError):
        raise ConnectionDropped(
            f"The connection was cut during login ({_text(cause)}); the server did not "
            "refuse the credentials.",
            fix=RETRY_FIX,
        ) from None


def oauth_login(
    client: imapclient.IMAPClient,
    username: str,
    token: Callable[[bool], str | None],
    preferred: str = "",
    provider: Provider | None = None,
) -> str:
    """AUTHENTICATE with XOAUTH2 or OAUTHBEARER (RFC 7628), whichever the server offers
    (``preferred`` first); returns the mechanism used. ``token(False)`` gives the current
    access token, ``token(True)`` a new one after a refusal (or None): one retry, no more.

    On a refusal the server first sends a JSON error challenge; hubsync answers it as the
    mechanism requires (empty for XOAUTH2, ^A for OAUTHBEARER) and reports that JSON.
    """
    advertised = [c[5:] for c in capability_names(client) if c.upper().startswith("AUTH=")]
    mechanism = sasl.choose(advertised, preferred)
    if mechanism is None:
        raise oauth_unsupported("IMAP", advertised)

    def attempt(access_token: str) -> Exception | None:
        error: dict = {}
        try:
            exchange = _sasl_exchange(mechanism, username, access_token, error)
            client._command_and_check("authenticate", mechanism, exchange)
        except IMAPClientError as exc:  # imaplib's error: a NO or BAD to AUTHENTICATE
            _raise_if_cut(exc)
            return oauth_refused("IMAP", _text(exc), error, mechanism, provider)
        return None

    sasl.with_one_refresh(token, attempt, oauth_no_token())
    return mechanism


def _sasl_exchange(mechanism: str, username: str, token: str, error: dict):
    """imaplib's authenticator callback: the initial response to the empty challenge, the
    specified answer to an error challenge (whose JSON is kept in ``error``)."""
    sent = False

    def answer(challenge: bytes) -> bytes:
        nonlocal sent
        if not sent:
            sent = True
            return sasl.initial_response(mechanism, username, token)
        error.update(sasl.parse_error(challenge))
        return sasl.error_reply(mechanism)

    return answer


def list_folders(client: imapclient.IMAPClient) -> list[Folder]:
    """Every folder with its attributes; asks ``RETURN (SPECIAL-USE)`` (RFC 6154) when both
    SPECIAL-USE and LIST-EXTENDED are advertised, and reads attributes from a plain LIST too."""
    caps = {c.upper() for c in client.capabilities()}
    listing = None
    if b"SPECIAL-USE" in caps and b"LIST-EXTENDED" in caps:
        # imapclient has no RETURN option; reuse its LIST plumbing with the extra arguments.
        imap = client._imap
        typ, data = imap._simple_command("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)")
        if typ == "OK":
            typ, data = imap._untagged_response(typ, data, "LIST")
            listing = client._proc_folder_list(data)
    if listing is None:
        listing = client.list_folders()
    folders = []
    for flags, delimiter, name in listing:
        if isinstance(delimiter, bytes):
            delimiter = delimiter.decode()
        folders.append(
            Folder(
                name=str(name),
                flags=tuple(f.decode() if isinstance(f, bytes) else str(f) for f in flags),
                delimiter=delimiter or "",
            )
        )
    return folders


def capability_names(client: imapclient.IMAPClient) -> list[str]:
    """The server's capabilities as text."""
    return [c.decode() if isinstance(c, bytes) else str(c) for c in client.capabilities()]


def close(client: imapclient.IMAPClient | None) -> None:
    """LOGOUT, or just drop the socket when the connection is already gone."""
    if client is None:
        return
    try:
        # LOGOUT is answered at once by a live server; a dead connection (the reason for
        # many a close) must not hold the caller for a whole read time-out.
        client.socket().settimeout(
            min(client.socket().gettimeout() or LOGOUT_SECONDS, LOGOUT_SECONDS)
        )
        client.logout()
    except (IMAPClientError, OSError):
        with contextlib.suppress(IMAPClientError, OSError):
            client.shutdown()


def _text(exc: Exception) -> str:
    text = str(exc)
    if text.startswith(("b'", 'b"')):
        text = text[2:-1]
    return text


def find_message_id(
    client: imapclient.IMAPClient,
    folder: str,
    message_id: str,
    wait: float = 0.0,
    interval: float = 0.3,
) -> bool:
    """Whether ``folder`` holds a message with ``message_id``, polling up to ``wait`` seconds.

    The folder is left selected read-only; APPEND only after ``unselect`` (some servers,
    Courier among them, refuse to add to a mailbox the session holds read-only).
    """
    deadline = time.monotonic() + wait
    client.select_folder(folder, readonly=True)
    while True:
        if client.search(["HEADER", "Message-ID", message_id]):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
        client.noop()


def append_message(client: imapclient.IMAPClient, folder: str, raw: bytes, when) -> str:
    """APPEND with \\Seen and the message's date; returns the server's response text."""
    try:
        return _text(client.append(folder, raw, flags=(imapclient.SEEN,), msg_time=when))
    except IMAPClientError as exc:
        raise append_failure(folder, _text(exc)) from None


def unselect(client: imapclient.IMAPClient) -> None:
    """Leave the selected folder without expunging: UNSELECT (RFC 3691) where offered, else
    CLOSE, which expunges nothing on a folder opened read-only (RFC 3501 6.4.2)."""
    if client.has_capability("UNSELECT"):
        client.unselect_folder()
    else:
        client.close_folder()


def append_failure(folder: str, text: str) -> SendFailure:
    """The diagnosed error for a refused APPEND (missing folder, too big, no permission)."""
    upper = text.upper()
    if "TRYCREATE" in upper or "NONEXISTENT" in upper or "DOESN'T EXIST" in upper:
        return SendFailure(
            f"The Sent folder '{folder}' does not exist on the server ({text}).",
            fix="Recreate it, or set another with `hubsync connect ... "
            "--sent-folder NAME`; then `hubsync outbox --retry`.",
            reason="sent-folder-missing",
        )
    if "TOOBIG" in upper or "APPENDLIMIT" in upper:
        return SendFailure(
            f"The server refused the Sent copy as too big ({text}).", reason="sent-copy-too-big"
        )
    if "NOPERM" in upper or "PERMISSION" in upper:
        return SendFailure(
            f"No permission to add to '{folder}' ({text}).", reason="sent-folder-no-permission"
        )
    return SendFailure(f"Filing the Sent copy in '{folder}' failed: {text}", reason="append-failed")
