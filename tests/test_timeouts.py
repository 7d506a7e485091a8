"""--timeout: a server that accepts and then says nothing is given up on after the time the
user chose, with an error that says so (not after the 30-second default)."""

import socket
import threading

import pytest


@pytest.fixture
def silent_port():
    """A loopback listener that accepts connections and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    listener.close()


@pytest.mark.parametrize("command", [["sync"], ["threads", "--folder", "INBOX"]])
def test_timeout_option_bounds_a_silent_server(run_cli, silent_port, monkeypatch, command):
    run_cli.home.mkdir(parents=True, exist_ok=True)
    (run_cli.home / "config.toml").write_text(
        '[accounts.a]\nemail = "a@example.test"\nusername = "a"\nimap_host = "127.0.0.1"\n'
        f'imap_port = {silent_port}\ncredential_source = "none"\n'
    )
    monkeypatch.setenv("HUBSYNC_PASSWORD", "pw")
    result = run_cli(*command, "--timeout", "1", "--json")
    assert result.code == 4  # unreachable: a retry may help
    assert result.json()["error"] == "timeout"
    assert "within 1s" in result.json()["message"]


def test_a_timeout_in_config_applies_and_the_option_is_not_saved(run_cli, silent_port, monkeypatch):
    run_cli.home.mkdir(parents=True, exist_ok=True)
    config = run_cli.home / "config.toml"
    config.write_text(
        '[accounts.a]\nemail = "a@example.test"\nusername = "a"\nimap_host = "127.0.0.1"\n'
        f'imap_port = {silent_port}\ncredential_source = "none"\ntimeout = 1.5\n'
    )
    monkeypatch.setenv("HUBSYNC_PASSWORD", "pw")
    result = run_cli("sync", "--json")
    assert result.code == 4 and "within 1.5s" in result.json()["message"]
    bad = config.read_text().replace("timeout = 1.5", "timeout = 0")
    config.write_text(bad)
    assert run_cli("sync").code == 1  # a config error, said as such
    assert "timeout" in run_cli("sync").stderr


@pytest.fixture
def trickling_port():
    """A loopback listener that answers every connection with ``trickle.first`` and then one
    more byte every 0.1 s, forever: each wait is short, the answer never ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()
    state = {"first": b""}

    def serve(conn: socket.socket) -> None:
        try:
            conn.sendall(state["first"])
            while not stop.is_set():
                conn.sendall(b"x")
                stop.wait(0.1)
        except OSError:
            pass
        finally:
            conn.close()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn = listener.accept()[0]
            except OSError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1], state
    stop.set()
    listener.close()


# A TLS handshake record announcing 16 KB that then trickles: the client waits for the rest.
HANDSHAKE = b"\x16\x03\x03\x40\x00"


@pytest.mark.parametrize(
    ("protocol", "security", "first", "reason", "limit"),
    [
        # Python's ssl bounds a whole handshake by the socket's timeout (0.5 s here).
        ("imap", "ssl", HANDSHAKE, "timeout", "0.5s"),
        ("smtp", "ssl", HANDSHAKE, "timeout", "0.5s"),
        # A reply has four such waits at most: the trickled greeting is cut at 2 s.
        ("smtp", "starttls", b"220 mail.example.test ", "smtp-too-slow", "more than 2 s"),
    ],
)
def test_a_trickled_handshake_or_greeting_is_cut_at_the_step_deadline(
    trickling_port, protocol, security, first, reason, limit
):
    """#23 item 2: every network step has a whole-step deadline, not only a per-read one."""
    import time

    from hubsync.errors import HubsyncError
    from hubsync.mail import imap, smtp
    from hubsync.mail.endpoint import Endpoint

    port, state = trickling_port
    state["first"] = first
    endpoint = Endpoint("127.0.0.1", port, security).with_timeout(0.5)
    started = time.monotonic()
    with pytest.raises(HubsyncError) as slow:
        (imap if protocol == "imap" else smtp).open_session(endpoint)
    took = time.monotonic() - started
    assert slow.value.reason == reason, slow.value.message
    assert limit in slow.value.message
    assert took < 6, f"{took:.1f} s"
