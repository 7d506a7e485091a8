"""A TCP proxy on loopback that holds every chunk for a fixed time in each direction: a
long-distance link (TLS passes through untouched) for benchmarks of round trips.

``DelayProxy(target_port, rtt=0.150)`` listens on a free loopback port (``.port``) and
forwards to ``127.0.0.1:target_port``, each chunk ``rtt / 2`` later than it arrived, in order.
Bandwidth is not limited. Runs its own event loop in a thread; ``close()`` stops it.
"""

import asyncio
import threading
import time


class DelayProxy:
    def __init__(self, target_port: int, rtt: float = 0.150) -> None:
        self.target_port = target_port
        self.delay = rtt / 2
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self.port = self.server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    async def _serve(self, client_reader, client_writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            self._pump(client_reader, up_writer),
            self._pump(up_reader, client_writer),
            return_exceptions=True,
        )

    async def _pump(self, reader, writer) -> None:
        """Read chunks as they come; a second task writes each one ``delay`` after it came."""
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    writer.close()
                    return
                writer.write(chunk)
                await writer.drain()

        sender = asyncio.ensure_future(deliver())
        try:
            while chunk := await reader.read(1 << 16):
                queue.put_nowait((time.monotonic() + self.delay, chunk))
        finally:
            queue.put_nowait((time.monotonic() + self.delay, b""))
            await sender

    def close(self) -> None:
        """Stop listening, end every connection's pumps, stop the loop."""

        async def shutdown() -> None:
            self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
