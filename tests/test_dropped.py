"""A connection that drops in the middle of a fetch: a clear error, and nothing lost."""

import socket
import subprocess
import threading
import time

import pytest
from helpers import connect_args
from test_doctor import edit_account
from test_sync import reply, sent_id, unique


class CuttingProxy:
    """Forwards TCP to a real server and cuts the connection after ``limit`` bytes from it."""

    def __init__(self, target_port: int, limit: int, upstream_limit: int | None = None) -> None:
        self.target_port, self.limit = target_port, limit
        self.upstream_limit = upstream_limit  # and after this many bytes from the client
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(
                target=self._pipe, args=(client, server, self.upstream_limit), daemon=True
            ).start()
            threading.Thread(
                target=self._pipe, args=(server, client, self.limit), daemon=True
            ).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while data := src.recv(4096):
                dst.sendall(data)
                sent += len(data)
                if limit is not None and sent >= limit:
                    break
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self.listener.close()


# Cut during the greeting and login, during EXAMINE, early in the scan, mid-scan.
@pytest.mark.parametrize("limit", [1_200, 1_800, 3_000, 30_000])
def test_connection_dropped_mid_sync_is_a_clear_error_and_loses_nothing(cli, sandbox, limit):
    assert cli(*connect_args(sandbox, "alice"), input="alice-sandbox-pw\n").code == 0
    parent = sent_id(cli, "dropped")
    folder = f"Dropped{time.time_ns()}"
    sandbox.main.doveadm("mailbox", "create", "-u", "alice@example.test", folder)
    cur = sandbox.main.mail_dir("alice@example.test") / "Maildir" / f".{folder}" / "cur"
    cur.mkdir(parents=True, exist_ok=True)
    for i in range(400):
        (cur / f"1700000000.M{i}P1.drop:2,").write_bytes(
            reply(
                "bob@customer.test",
                "alice@example.test",
                "<x@elsewhere.test>",
                "other",
                "x",
                f"<filler-{i}@customer.test>",
            ).as_bytes()
        )
    rid = unique("after-fillers")
    (cur / "1700000001.M9999P1.drop:2,").write_bytes(
        reply("bob@customer.test", "alice@example.test", parent, "Re: dropped", "y", rid).as_bytes()
    )
    subprocess.run(
        ["chown", "-R", f"{sandbox.main.uid}:{sandbox.main.gid}", str(cur.parent)], check=True
    )
    proxy = CuttingProxy(sandbox.main.ports.imaps, limit=limit)
    try:
        edit_account(cli, "alice", imap_port=proxy.port)
        failed = cli("sync", "--folder", folder)
    finally:
        proxy.close()
    assert failed.code == 4  # unreachable: a retry may help
    assert "Traceback" not in failed.stderr and "internal error" not in failed.stderr
    assert "connection to localhost" in failed.stderr and "was lost" in failed.stderr
    assert "Nothing was lost" in failed.stderr and "again" in failed.stderr

    edit_account(cli, "alice", imap_port=sandbox.main.ports.imaps)
    again = cli("sync", "--folder", folder, "--json")
    assert again.code == 0, again.stderr
    assert again.json()["logged"] == 1
    assert cli("why", rid, "--json").json()["logged"] is True
