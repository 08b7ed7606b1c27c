"""A TCP forwarder on loopback that behaves like a long-distance link in front of a
server: every byte is delivered RTT/2 after it was sent, in each direction; a new
connection costs one RTT before its first byte (the TCP handshake the client would
wait for); and each direction is a bottleneck link of `mbit` Mbit/s shared by all
connections (bytes queue behind each other, as on a real link).

usage (as a module): `with LatencyProxy(upstream_port, rtt_ms, mbit) as port: ...`
Binds 127.0.0.1 only; sends nothing anywhere but the upstream loopback port."""
import asyncio
import socket
import threading
import time

CHUNK = 64 * 1024


class Link:
    """One direction of the bottleneck: when the last queued byte leaves."""

    def __init__(self, mbit):
        self.bytes_per_s = mbit * 1e6 / 8
        self.free_at = 0.0

    def depart(self, now, n):
        """When `n` bytes that arrive at `now` have left the link."""
        self.free_at = max(self.free_at, now) + n / self.bytes_per_s
        return self.free_at


class LatencyProxy:
    def __init__(self, upstream_port, rtt_ms, mbit=200):
        self.upstream = upstream_port
        self.half = rtt_ms / 2000.0
        self.up = Link(mbit)
        self.down = Link(mbit)
        self.port = None
        self.connections = 0
        self._loop = None
        self._thread = None
        self._ready = threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self.port

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, sock=sock, backlog=512))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.set_exception_handler(lambda loop, context: None)
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

    async def _serve(self, creader, cwriter):
        self.connections += 1
        accepted = time.monotonic()
        try:
            ureader, uwriter = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            cwriter.close()
            return
        # The handshake: the client's first byte leaves one RTT after it connected.
        start_at = accepted + 2 * self.half
        try:
            await asyncio.gather(
                self._pump(creader, uwriter, self.up, start_at),
                self._pump(ureader, cwriter, self.down, 0.0),
                return_exceptions=True,
            )
        except asyncio.CancelledError:
            pass

    async def _pump(self, reader, writer, link, not_before):
        queue = asyncio.Queue()

        async def deliver():
            while True:
                due, data = await queue.get()
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if data is None:
                    try:
                        writer.write_eof()
                    except (OSError, RuntimeError):
                        pass
                    return
                writer.write(data)
                try:
                    await writer.drain()
                except OSError:
                    return

        task = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(CHUNK)
                now = max(time.monotonic(), not_before)
                if not data:
                    await queue.put((now + self.half, None))
                    break
                await queue.put((link.depart(now, len(data)) + self.half, data))
        except OSError:
            await queue.put((0.0, None))
        await task
        try:
            writer.close()
        except OSError:
            pass
