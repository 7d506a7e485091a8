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
    assert result.code == 1
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
    assert result.code == 1 and "within 1.5s" in result.json()["message"]
    bad = config.read_text().replace("timeout = 1.5", "timeout = 0")
    config.write_text(bad)
    assert run_cli("sync").code == 1  # a config error, said as such
    assert "timeout" in run_cli("sync").stderr
