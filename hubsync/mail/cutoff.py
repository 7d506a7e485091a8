"""A whole-step deadline for a socket: the socket's own timeout bounds each wait, so a peer
that trickles a byte a second would never be cut. ``cut_after`` shuts the socket down when a
step (a TLS handshake, an SMTP reply) runs past its time; the step then fails at once and
``fired`` says why."""

import contextlib
import socket
import threading
from collections.abc import Iterator


class Cutoff:
    """Whether the deadline of one step fired."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False


@contextlib.contextmanager
def cut_after(sock: socket.socket | None, seconds: float | None) -> Iterator[Cutoff]:
    """Run the block with ``sock`` shut down after ``seconds`` (no deadline when either is
    None)."""
    cutoff = Cutoff(seconds or 0.0)
    if sock is None or not seconds:
        yield cutoff
        return

    def cut() -> None:
        cutoff.fired = True
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(seconds, cut)
    timer.daemon = True
    timer.start()
    try:
        yield cutoff
    finally:
        timer.cancel()
