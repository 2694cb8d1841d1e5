"""A loopback TCP proxy that adds latency, for the benchmarks "at a distance" (issue 15).

::

    with LatencyProxy(registry.port, 0.010) as proxy:   # 10 ms each way: 20 ms round trips
        subprocess.run(["polyarch", "inspect", f"{proxy.host}/bench/src:tag"])

    python benchmarks/latency_proxy.py --selftest

Every connection accepted on a free ``127.0.0.1`` port is forwarded to
``127.0.0.1:UPSTREAM``. Each chunk read from either side is queued with its arrival time
and written to the other side once ``arrival + delay`` has passed: any number of chunks
are in flight at once, so the delay adds latency and never limits throughput (up to
:data:`MAX_IN_FLIGHT` bytes read and not yet written, per direction of a connection).

With ``handshake`` (the default) a new connection also pays the round trip a TCP
handshake would cost at that distance: nothing goes either way before ``accept + 2 *
delay``, so the first request on a new connection takes two round trips and the next ones
one. TLS is not modeled (the registries speak plain HTTP). A half-close (EOF) is forwarded
as a half-close, delayed like the data; a reset or error on one side, delayed likewise,
ends both. Delay 0 still proxies, through the same code.

asyncio in one background thread per proxy; stdlib only. :meth:`LatencyProxy.stop` closes
the listener and every connection and joins the thread, every wait bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import socket
import socketserver
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

LOOPBACK = "127.0.0.1"
#: The most one read takes from a socket (asyncio's own receive size is 256 KiB).
CHUNK = 256 * 1024
#: StreamReader buffer limit: reading pauses above twice this.
STREAM_LIMIT = 1024 * 1024
#: Bytes read and not yet written, per direction of a connection, before reading waits:
#: far above what loopback moves in a delay, so never the bottleneck; a bound on memory.
MAX_IN_FLIGHT = 128 * 1024 * 1024
START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0


class _Flow:
    """Bytes in flight in one direction; the reader waits while there are too many."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.bytes = 0
        self._room = asyncio.Event()

    async def take(self, n: int) -> None:
        self.bytes += n
        while self.bytes > self.limit:
            self._room.clear()
            await self._room.wait()

    def give(self, n: int) -> None:
        self.bytes -= n
        self._room.set()


class LatencyProxy:
    """Forwards ``127.0.0.1:PORT`` to ``127.0.0.1:upstream_port``, ``delay_s`` each way.

    :param upstream_port: where every connection goes.
    :param delay_s: seconds added to every chunk, in each direction (0 still proxies).
    :param handshake: a new connection costs one round trip before its first bytes.
    """

    def __init__(self, upstream_port: int, delay_s: float, *, handshake: bool = True) -> None:
        if delay_s < 0:
            raise ValueError(f"delay must be >= 0, got {delay_s}")
        self.upstream_port = upstream_port
        self.delay_s = delay_s
        self.handshake = handshake
        self.connections = 0
        """Connections accepted so far (read from any thread: a plain int)."""
        self.bytes_up = 0
        """Bytes written upstream so far."""
        self.bytes_down = 0
        """Bytes written back to clients so far."""
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    def __repr__(self) -> str:
        state = f"port={self._port}" if self.running else "stopped"
        return f"<LatencyProxy -> {self.upstream_port} {self.delay_s * 1000:g} ms {state}>"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the proxy has not been started")
        return self._port

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry part of an image reference, through the proxy."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._port is not None

    # -- the thread ----------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on a free loopback port; returns once connections are accepted.

        :raises RuntimeError: if it is running already, or did not start in time.
        """
        if self._thread is not None:
            raise RuntimeError(f"{self!r} is already started")
        self._ready.clear()
        self._error = None
        self._closing = False
        self._port = None
        self._thread = threading.Thread(
            target=self._run, name=f"latency-proxy-{self.upstream_port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT) or self._port is None:
            why = self._error or f"not listening after {START_TIMEOUT} s"
            self.stop()
            raise RuntimeError(f"latency proxy to port {self.upstream_port} did not start: {why}")
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Close the listener and every connection, join the thread. Safe to call twice."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed already
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        if thread.is_alive():
            # A daemon thread: it goes with the process. Say so rather than hang.
            print(f"warning: {self!r} did not stop within {timeout} s", file=sys.stderr)
        self._thread = None
        self._port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as err:  # reported by start(), or lost with the thread
            self._error = err
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(
            self._connection, LOOPBACK, 0, limit=STREAM_LIMIT, backlog=1024
        )
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            self._closing = True
            server.close()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=STOP_TIMEOUT)

    # -- one connection ------------------------------------------------------------------

    async def _connection(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        task = asyncio.current_task()
        if self._closing or task is None:
            client_writer.transport.abort()
            return
        self._tasks.add(task)
        self.connections += 1
        try:
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(
                    LOOPBACK, self.upstream_port, limit=STREAM_LIMIT
                )
            except OSError:
                client_writer.transport.abort()
                return
            opens = accepted + (2 * self.delay_s if self.handshake else 0.0)
            pipes = [
                asyncio.create_task(self._pipe(client_reader, upstream_writer, opens, up=True)),
                asyncio.create_task(self._pipe(upstream_reader, client_writer, opens, up=False)),
            ]
            clean = False
            try:
                done, _ = await asyncio.wait(pipes, return_when=asyncio.FIRST_EXCEPTION)
                clean = len(done) == 2 and all(p.exception() is None for p in done)
            finally:
                for pipe in pipes:
                    pipe.cancel()
                await asyncio.gather(*pipes, return_exceptions=True)
                for writer in (client_writer, upstream_writer):
                    if clean:
                        writer.close()  # everything was written: flush and close
                    else:
                        writer.transport.abort()
        except asyncio.CancelledError:
            # stop(): the connection is closed above. Not re-raised: a handler task that
            # ends cancelled makes asyncio's stream callback (3.11) log a traceback.
            pass
        finally:
            self._tasks.discard(task)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        opens: float,
        *,
        up: bool,
    ) -> None:
        """Copy ``reader`` to ``writer``, each chunk written ``delay`` after it arrived."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()
        flow = _Flow(MAX_IN_FLIGHT)
        receiver = asyncio.create_task(self._receive(reader, queue, flow, opens))
        try:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    raise ConnectionResetError("the other side reset the connection")
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                if writer.is_closing():
                    raise ConnectionResetError("the receiving side has gone")
                writer.write(data)
                if up:
                    self.bytes_up += len(data)
                else:
                    self.bytes_down += len(data)
                await writer.drain()
                flow.give(len(data))
        finally:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)

    async def _receive(
        self,
        reader: asyncio.StreamReader,
        queue: asyncio.Queue[tuple[float, bytes | None]],
        flow: _Flow,
        opens: float,
    ) -> None:
        """Queue every chunk with the time it may be written; ``b""`` is EOF, ``None`` an
        error (both delayed like data, behind what was read before them)."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await reader.read(CHUNK)
                queue.put_nowait((max(loop.time(), opens) + self.delay_s, data))
                if not data:
                    return
                await flow.take(len(data))
        except OSError:
            queue.put_nowait((max(loop.time(), opens) + self.delay_s, None))


# -- the self-test ---------------------------------------------------------------------


class _TestHandler(socketserver.BaseRequestHandler):
    """One byte picks what to do: ``p`` answers ``p`` (and reads the next byte); ``e``
    echoes the rest until EOF, then half-closes; ``s`` reads the rest until EOF and answers
    its size and SHA-256."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                command = sock.recv(1)
                if command == b"p":
                    sock.sendall(b"p")
                elif command == b"e":
                    while data := sock.recv(CHUNK):
                        sock.sendall(data)
                    sock.shutdown(socket.SHUT_WR)
                    return
                elif command == b"s":
                    digest, size = hashlib.sha256(), 0
                    while data := sock.recv(CHUNK):
                        digest.update(data)
                        size += len(data)
                    sock.sendall(f"{size} {digest.hexdigest()}\n".encode())
                    return
                else:
                    return
        except OSError:
            return


class _TestServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def _connect(proxy: LatencyProxy) -> socket.socket:
    sock = socket.create_connection((LOOPBACK, proxy.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _recv_all(sock: socket.socket) -> bytes:
    chunks = []
    while data := sock.recv(CHUNK):
        chunks.append(data)
    return b"".join(chunks)


def _ping(sock: socket.socket) -> float:
    start = time.perf_counter()
    sock.sendall(b"p")
    if sock.recv(1) != b"p":
        raise ConnectionError("no answer to a ping")
    return time.perf_counter() - start


def _round_trips(proxy: LatencyProxy, count: int = 21) -> tuple[float, float]:
    """(first ping on a new connection, median of the next ``count``), in seconds."""
    with _connect(proxy) as sock:
        first = _ping(sock)
        return first, statistics.median(_ping(sock) for _ in range(count))


def _concurrent(proxy: LatencyProxy, count: int) -> tuple[float, int]:
    """``count`` connections at once, each connects and pings: (wall s, how many worked)."""
    barrier = threading.Barrier(count + 1)
    worked: list[bool] = []

    def one() -> None:
        barrier.wait()
        try:
            with _connect(proxy) as sock:
                _ping(sock)
            worked.append(True)
        except OSError:
            worked.append(False)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join(30)
    return time.perf_counter() - start, sum(worked)


def _echo(proxy: LatencyProxy, payload: bytes) -> bool:
    """Send ``payload`` (then EOF) to the echo, read until its EOF: the same bytes back?"""
    with _connect(proxy) as sock:
        received: list[bytes] = []
        reader = threading.Thread(target=lambda: received.append(_recv_all(sock)), daemon=True)
        reader.start()
        sock.sendall(b"e" + payload)
        sock.shutdown(socket.SHUT_WR)
        reader.join(30)
        return bool(received) and received[0] == payload


def _upload(proxy: LatencyProxy, payload: bytes) -> tuple[float, bool]:
    """Seconds to send ``payload`` and EOF on an established connection and get the sink's
    answer back (one round trip more than the transfer), and whether it is right."""
    expected = f"{len(payload)} {hashlib.sha256(payload).hexdigest()}\n".encode()
    with _connect(proxy) as sock:
        _ping(sock)  # pays the handshake: what follows is the transfer
        start = time.perf_counter()
        sock.sendall(b"s")
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        answer = _recv_all(sock)
        return time.perf_counter() - start, answer == expected


def _stop_closes(port: int) -> tuple[float, bool, bool]:
    """Stop a proxy holding an idle connection: (seconds stop took, the client saw the
    connection end, the thread has gone)."""
    proxy = LatencyProxy(port, 0.010).start()
    thread = proxy._thread
    sock = _connect(proxy)
    try:
        _ping(sock)
        start = time.perf_counter()
        proxy.stop()
        took = time.perf_counter() - start
        sock.settimeout(2)
        try:
            ended = sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            ended = True
        except TimeoutError:
            ended = False
    finally:
        sock.close()
    return took, ended, thread is not None and not thread.is_alive()


def selftest(mib: int = 64, repeat: int = 3) -> int:
    load_before = os.getloadavg()[0]
    lines: list[str] = []
    checks: list[tuple[bool, str]] = []
    server = _TestServer((LOOPBACK, 0), _TestHandler)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    port = server.server_address[1]
    try:
        for delay_ms in (0, 10):
            with LatencyProxy(port, delay_ms / 1000) as proxy:
                first, median = _round_trips(proxy)
            lines.append(
                f"  round trip, {delay_ms:>2} ms proxy: median {median * 1000:.1f} ms "
                f"(first on a new connection, with the handshake: {first * 1000:.1f} ms)"
            )
        checks.append(
            (
                0.019 <= median <= 0.025,
                f"round trip through a 10 ms proxy {median * 1000:.1f} ms (target ~20: 19..25)",
            )
        )
        checks.append(
            (
                0.039 <= first <= 0.050,
                f"first round trip on a new connection {first * 1000:.1f} ms (handshake "
                "included: target ~40, 39..50)",
            )
        )

        with LatencyProxy(port, 0.010) as proxy:
            count = 64
            wall, worked = _concurrent(proxy, count)
            intact = _echo(proxy, os.urandom(4 * 1024 * 1024))
            served = proxy.connections
        lines.append(
            f"  {count} connections at once through a 10 ms proxy, each connect + ping: "
            f"{wall * 1000:.0f} ms in all, {worked} answered ({served} accepted in all)"
        )
        checks.append(
            (
                worked == count and wall <= 0.2,
                f"{count} concurrent connections: {worked} answered, {wall * 1000:.0f} ms "
                f"(target: all, <= 200 ms; one after another would take {count * 40} ms)",
            )
        )
        checks.append((intact, "4 MiB echoed back intact, EOF forwarded both ways (half-close)"))

        payload = os.urandom(mib * 1024 * 1024)
        walls: dict[int, float] = {}
        right = True
        for delay_ms in (0, 50):
            times = []
            with LatencyProxy(port, delay_ms / 1000) as proxy:
                for _ in range(repeat):
                    seconds, ok = _upload(proxy, payload)
                    times.append(seconds)
                    right = right and ok
            walls[delay_ms] = statistics.median(times)
            lines.append(
                f"  {mib} MiB upload + answer, {delay_ms:>2} ms proxy: median "
                f"{walls[delay_ms]:.3f} s of {repeat} ({mib / walls[delay_ms]:.0f} MiB/s; "
                f"{min(times):.3f}..{max(times):.3f})"
            )
        # One round trip more than through 0 ms, give or take how the three parties (all
        # in this process) share the CPUs; a window-limited proxy would take ~1000 more.
        extra = walls[50] - walls[0]
        checks.append(
            (
                walls[50] >= 0.100 and extra <= 0.25,
                f"{mib} MiB through a 50 ms proxy takes {extra:+.3f} s more than through "
                "0 ms (target ~+0.1 s, one round trip: at most +0.25, and >= 0.1 s in all)",
            )
        )
        checks.append((right, f"every {mib} MiB upload arrived intact"))

        took, ended, joined = _stop_closes(port)
        checks.append(
            (
                ended and joined and took < STOP_TIMEOUT,
                f"stop() with a connection open: {took * 1000:.0f} ms, the client saw it end: "
                f"{ended}, thread joined: {joined}",
            )
        )
    finally:
        server.shutdown()
        server.server_close()
        serving.join(STOP_TIMEOUT)
    print(
        f"latency proxy self-test: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print("\n".join(lines))
    print("checks:")
    for ok, text in checks:
        print(f"  [{'PASS' if ok else 'FAIL'}] {text}")
    return 0 if all(ok for ok, _ in checks) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--selftest", action="store_true", help="measure the proxy itself")
    parser.add_argument("--mib", type=int, default=64, help="self-test transfer size")
    parser.add_argument("--repeat", type=int, default=3, help="self-test transfers (median)")
    args = parser.parse_args(argv)
    if not args.selftest:
        parser.error("nothing to do: the proxy is a module; run with --selftest")
    if args.mib < 1 or args.repeat < 1:
        parser.error("--mib and --repeat must be at least 1")
    return selftest(args.mib, args.repeat)


if __name__ == "__main__":
    sys.exit(main())
