"""A fault-injecting HTTP proxy on loopback, in front of a real registry, for tests.

::

    with FaultProxy(registry.url) as proxy:              # http://127.0.0.1:PORT -> registry
        proxy.add(Status(503), method="GET", path=r"/manifests/", count=2)
        proxy.add(Rewrite(wrong_bytes), path=r"/blobs/sha256:")
        ...                                              # a client talks to proxy.host
        proxy.seen                                       # every request, and what it got

A request goes to the first rule that matches its method and path (regular expressions,
``re.search`` on the path with its query) and has hits left; a rule without ``count``
matches every time. Faults act at one of two moments:

``before`` the registry is asked       :class:`Reset`, :class:`Close`, :class:`Status`,
                                       :class:`Delay` (then forwards), :class:`Forward`
                                       (forwards, without some request headers)
``after`` the registry answered 2xx    :class:`Rewrite` (any change to status, headers,
                                       body, declared length), :class:`Endless`,
                                       :class:`Redirect` (to a :class:`BlobServer`)

An ``after`` rule lets every other answer through untouched without spending a hit, so a
401 challenge of an htpasswd registry is never what a rule hits.

:class:`BlobServer` plays the storage a registry redirects blob downloads to (S3): on
another loopback address (127.0.0.2), it serves what :class:`Redirect` put there and
records the headers each request came with.

Everything is bounded: request bodies (``MAX_BODY``), endless answers (``ENDLESS_LIMIT``,
or until the client hangs up, or until the proxy stops), delays (cut short by a stop),
idle connections (``IDLE_TIMEOUT``). :meth:`FaultProxy.stop` closes every connection and
joins every thread it started, and raises if one would not end.

Header values that are credentials (``Authorization``, ``Cookie``) are never kept: a
recorded request has their scheme (``Basic``, ``Bearer``) only, so nothing a test asserts
or prints can show a password.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self

__all__ = [
    "BLOB_HOST",
    "BlobServer",
    "Close",
    "Delay",
    "Drip",
    "Endless",
    "Fault",
    "FaultProxy",
    "Forward",
    "Redirect",
    "Reply",
    "Reset",
    "Rewrite",
    "Rule",
    "Seen",
    "Status",
    "Upstream",
    "claim_digest",
    "cut_short",
    "lying_length",
    "not_json",
    "oversized",
    "replace_body",
    "truncated",
    "wrong_bytes",
]

LOOPBACK: Final = "127.0.0.1"
#: Where the blob server listens: another loopback address, hence another origin.
BLOB_HOST: Final = "127.0.0.2"
MAX_BODY: Final = 256 * 1024 * 1024
ENDLESS_LIMIT: Final = 2 * 1024 * 1024 * 1024
IDLE_TIMEOUT: Final = 30.0
UPSTREAM_TIMEOUT: Final = 30.0
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_SECRET_HEADERS: Final = frozenset({"authorization", "cookie", "proxy-authorization"})


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _redacted(headers: Any) -> dict[str, str]:
    """Lower-case names; credentials reduced to their scheme."""
    kept: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        kept[key] = value.split(" ", 1)[0] if key in _SECRET_HEADERS else value
    return kept


@dataclass
class Seen:
    """One request that reached the proxy (or the blob server), and what it got."""

    method: str
    target: str
    """Path and query, as sent."""
    headers: dict[str, str]
    """Lower-case names; credentials as their scheme only."""
    fault: str = "forward"
    status: int | None = None
    """The status sent back; None when the connection was cut first."""
    bytes_sent: int = 0
    """Body bytes written to the client (what it was sent, whether or not it read them)."""
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    """When the proxy was done answering (``time.monotonic``); None until then."""

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]


@dataclass
class Upstream:
    """The registry's whole answer, for a :class:`Rewrite` to change."""

    method: str
    target: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class Reply:
    """What a :class:`Rewrite` sends instead.

    :param length: the ``Content-Length`` to declare; ``None`` is the body's length. A
        longer one is followed by a hang-up (a body cut short), a shorter one by the whole
        body anyway.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    length: int | None = None


# -- faults ---------------------------------------------------------------------------------


class Fault:
    """What to do to a request; see the module docstring for ``phase``."""

    phase: str = "before"
    name: str = "fault"

    def serve(self, exchange: _Exchange) -> None:
        raise NotImplementedError


class Forward(Fault):
    """Forward, without the request headers named in ``drop`` (e.g. ``Range``: a registry
    that ignores range requests); ``after`` rules still apply to the answer."""

    name = "forward"

    def __init__(self, *, drop: tuple[str, ...] = ()) -> None:
        self.drop = frozenset(name.lower() for name in drop)

    def serve(self, exchange: _Exchange) -> None:
        exchange.relay(exchange.forward(drop=self.drop))


class Reset(Fault):
    """Reset the connection (TCP RST) before any answer."""

    name = "reset"

    def serve(self, exchange: _Exchange) -> None:
        exchange.cut(reset=True)


class Close(Fault):
    """Close the connection before any answer."""

    name = "close"

    def serve(self, exchange: _Exchange) -> None:
        exchange.cut(reset=False)


class Status(Fault):
    """Answer with an error status (distribution's JSON error body), ``Retry-After`` if
    given; the registry is not asked."""

    name = "status"

    def __init__(self, status: int, *, retry_after: str | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        self.name = f"status {status}"

    def serve(self, exchange: _Exchange) -> None:
        body = (
            b'{"errors":[{"code":"UNAVAILABLE","message":"injected by the fault proxy",'
            b'"detail":null}]}'
        )
        headers = [("Content-Type", "application/json")]
        if self.retry_after is not None:
            headers.append(("Retry-After", self.retry_after))
        exchange.send(Reply(self.status, headers, body))


class Delay(Fault):
    """Wait ``seconds`` (cut short when the proxy stops), then forward: a timeout for a
    client that waits less."""

    name = "delay"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def serve(self, exchange: _Exchange) -> None:
        if exchange.proxy.stopping.wait(self.seconds):
            exchange.cut(reset=False)
            return
        exchange.relay(exchange.forward())


class Drip(Fault):
    """The registry's answer, its body sent ``size`` bytes every ``every`` seconds: a
    registry that keeps the connection alive, each read within any timeout, and never
    finishes in any useful time. Stops when the client hangs up or the proxy stops."""

    phase = "after"
    name = "drip"

    def __init__(self, size: int = 16, every: float = 0.2) -> None:
        self.size = size
        self.every = every

    def serve(self, exchange: _Exchange) -> None:
        upstream = exchange.upstream
        assert upstream is not None
        exchange.send_slowly(upstream, self.size, self.every)


class Rewrite(Fault):
    """Change the registry's 2xx answer with ``change(upstream) -> Reply``; the connection
    is closed after it (a lying length leaves the stream unusable)."""

    phase = "after"

    def __init__(self, change: Callable[[Upstream], Reply], *, name: str | None = None) -> None:
        self.change = change
        self.name = name or getattr(change, "__name__", "rewrite")

    def serve(self, exchange: _Exchange) -> None:
        upstream = exchange.upstream
        assert upstream is not None
        exchange.send(self.change(upstream), close=True)


class Endless(Fault):
    """The registry's status and headers (or ``status`` and ``headers``: a redirect that
    never ends, say), then a body that never ends (chunked, no length): ``pattern`` again
    and again until the client hangs up, the proxy stops, or ``limit`` bytes were sent.
    ``prefix`` goes first (a manifest that starts well)."""

    phase = "after"
    name = "endless"

    def __init__(
        self,
        *,
        prefix: bytes = b"",
        pattern: bytes = b" " * 65536,
        limit: int = ENDLESS_LIMIT,
        status: int | None = None,
        headers: tuple[tuple[str, str], ...] | None = None,
    ) -> None:
        self.prefix = prefix
        self.pattern = pattern
        self.limit = limit
        self.status = status
        self.headers = headers

    def serve(self, exchange: _Exchange) -> None:
        upstream = exchange.upstream
        assert upstream is not None
        headers = (
            list(self.headers)
            if self.headers is not None
            else [
                (k, v)
                for k, v in upstream.headers
                if k.lower() not in ("content-length", "docker-content-digest")
            ]
        )
        status = self.status or upstream.status
        exchange.send_endless(status, headers, self.prefix, self.pattern, self.limit)


class Redirect(Fault):
    """Let the registry answer a blob GET (and authenticate it), then send the client
    to ``server`` for the bytes instead, as S3-backed registries do."""

    phase = "after"
    name = "redirect"

    def __init__(self, server: BlobServer, *, status: int = 307) -> None:
        self.server = server
        self.status = status

    def serve(self, exchange: _Exchange) -> None:
        upstream = exchange.upstream
        assert upstream is not None
        location = self.server.put(upstream.body)
        exchange.send(Reply(self.status, [("Location", location)], b""))


# -- rewrites ---------------------------------------------------------------------------------


def _headers(upstream: Upstream, **replace: str | None) -> list[tuple[str, str]]:
    """The upstream headers with some replaced (``None`` drops); names with ``_`` for ``-``."""
    wanted = {k.replace("_", "-").lower(): v for k, v in replace.items()}
    kept = [(k, v) for k, v in upstream.headers if k.lower() not in wanted]
    return kept + [(k, v) for k, v in wanted.items() if v is not None]


def wrong_bytes(upstream: Upstream) -> Reply:
    """Same length and headers, other bytes: the digest no longer holds."""
    body = bytes(b ^ 0x55 for b in upstream.body[:64]) + upstream.body[64:]
    return Reply(upstream.status, _headers(upstream), body)


def truncated(upstream: Upstream) -> Reply:
    """The first half of the body, with a Content-Length that says so."""
    return Reply(upstream.status, _headers(upstream), upstream.body[: len(upstream.body) // 2])


def cut_short(upstream: Upstream) -> Reply:
    """An honest Content-Length, then half the body and a hang-up: a connection that
    broke in the middle of an answer."""
    return Reply(
        upstream.status,
        _headers(upstream),
        upstream.body[: len(upstream.body) // 2],
        length=len(upstream.body),
    )


def lying_length(delta: int) -> Callable[[Upstream], Reply]:
    """The whole body under a Content-Length ``delta`` bytes off: longer means the body
    stops short (then the connection closes), shorter means bytes beyond the length."""

    def lying(upstream: Upstream) -> Reply:
        return Reply(
            upstream.status,
            _headers(upstream),
            upstream.body,
            length=max(0, len(upstream.body) + delta),
        )

    lying.__name__ = f"length {'+' if delta > 0 else ''}{delta}"
    return lying


def replace_body(
    body: bytes, *, media_type: str | None = None, digest: str | None = "match"
) -> Callable[[Upstream], Reply]:
    """Other bytes entirely. ``digest``: ``"match"`` sets Docker-Content-Digest to the new
    bytes' digest (the header agrees, the content is wrong), ``None`` drops it, anything
    else is sent as it is."""

    def replace(upstream: Upstream) -> Reply:
        claimed = _sha256(body) if digest == "match" else digest
        changes: dict[str, str | None] = {"Docker_Content_Digest": claimed}
        if media_type is not None:
            changes["Content_Type"] = media_type
        return Reply(upstream.status, _headers(upstream, **changes), body)

    replace.__name__ = "replace body"
    return replace


def not_json(upstream: Upstream) -> Reply:
    """An HTML page served as the manifest, its digest header agreeing with it."""
    return replace_body(b"<html><body>502 Bad Gateway</body></html>\n")(upstream)


def oversized(size: int) -> Callable[[Upstream], Reply]:
    """The manifest padded with whitespace to ``size`` bytes: still valid JSON, with an
    honest Content-Length and a digest header that agrees with it."""

    def pad(upstream: Upstream) -> Reply:
        body = upstream.body + b" " * max(0, size - len(upstream.body))
        return replace_body(body)(upstream)

    pad.__name__ = f"oversized {size}"
    return pad


def claim_digest(digest: str) -> Callable[[Upstream], Reply]:
    """The right bytes under a Docker-Content-Digest header that names ``digest``."""

    def claim(upstream: Upstream) -> Reply:
        return Reply(
            upstream.status, _headers(upstream, Docker_Content_Digest=digest), upstream.body
        )

    claim.__name__ = "digest header"
    return claim


# -- the proxy --------------------------------------------------------------------------------


@dataclass
class Rule:
    fault: Fault
    method: re.Pattern[str] | None
    path: re.Pattern[str] | None
    count: int | None
    hits: int = 0

    def matches(self, method: str, target: str) -> bool:
        return (
            (self.count is None or self.hits < self.count)
            and (self.method is None or self.method.fullmatch(method) is not None)
            and (self.path is None or self.path.search(target) is not None)
        )


class _Exchange:
    """One request at the proxy: its parts, the registry's answer, the ways to reply."""

    def __init__(self, handler: _ProxyHandler, seen: Seen, body: bytes) -> None:
        self.handler = handler
        self.proxy: FaultProxy = handler.server.owner  # type: ignore[attr-defined]
        self.seen = seen
        self.body = body
        self.upstream: Upstream | None = None

    def forward(self, *, drop: frozenset[str] = frozenset()) -> Upstream:
        """Ask the registry; its whole answer (bounded by MAX_BODY)."""
        handler = self.handler
        headers = {
            k: v
            for k, v in handler.headers.items()
            if k.lower() not in _HOP_BY_HOP
            and k.lower() not in drop
            and k.lower() != "content-length"
        }
        parts = urllib.parse.urlsplit(self.proxy.upstream)
        connection = http.client.HTTPConnection(
            parts.hostname or LOOPBACK, parts.port, timeout=UPSTREAM_TIMEOUT
        )
        try:
            body = self.body if self.body or handler.command in ("POST", "PUT", "PATCH") else None
            connection.request(handler.command, handler.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read(MAX_BODY + 1)
            if len(data) > MAX_BODY:
                raise RuntimeError(f"the registry's answer to {handler.path} is over {MAX_BODY}")
            return Upstream(
                handler.command,
                handler.path,
                response.status,
                response.reason,
                [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP],
                data,
            )
        finally:
            connection.close()

    def relay(self, upstream: Upstream) -> None:
        self.send(Reply(upstream.status, upstream.headers, upstream.body))

    def send(self, reply: Reply, *, close: bool = False) -> None:
        handler = self.handler
        declared = len(reply.body) if reply.length is None else reply.length
        head = handler.command == "HEAD"
        # A HEAD answer declares the length a GET would have; it has no body.
        if head:
            declared = next(
                (int(v) for k, v in reply.headers if k.lower() == "content-length"), declared
            )
        close = close or (not head and declared != len(reply.body))
        # Recorded before anything is sent: the client may look as soon as it has it.
        self.seen.status = reply.status
        handler.send_response(reply.status)
        for name, value in reply.headers:
            if name.lower() not in ("content-length", "connection"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(declared))
        if close:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        if not head and reply.status not in (204, 304):
            self._write(reply.body)

    def send_slowly(self, upstream: Upstream, size: int, every: float) -> None:
        handler = self.handler
        handler.close_connection = True
        self.seen.status = upstream.status
        handler.send_response(upstream.status)
        for name, value in upstream.headers:
            if name.lower() not in ("connection", "content-length"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(upstream.body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        if handler.command == "HEAD":
            return
        with contextlib.suppress(OSError):
            for start in range(0, len(upstream.body), size):
                handler.wfile.write(upstream.body[start : start + size])
                handler.wfile.flush()
                self.seen.bytes_sent += min(size, len(upstream.body) - start)
                if self.proxy.stopping.wait(every):
                    return

    def send_endless(
        self,
        status: int,
        headers: list[tuple[str, str]],
        prefix: bytes,
        pattern: bytes,
        limit: int,
    ) -> None:
        handler = self.handler
        handler.close_connection = True
        self.seen.status = status
        handler.send_response(status)
        for name, value in headers:
            if name.lower() not in ("connection", "content-length"):
                handler.send_header(name, value)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.send_header("Connection", "close")
        handler.end_headers()
        if handler.command == "HEAD":
            return
        with contextlib.suppress(OSError):
            if prefix:
                self._chunk(prefix)
            while self.seen.bytes_sent < limit and not self.proxy.stopping.is_set():
                self._chunk(pattern)

    def _chunk(self, data: bytes) -> None:
        self.handler.wfile.write(b"%x\r\n" % len(data))
        self._write(data)
        self.handler.wfile.write(b"\r\n")

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        for start in range(0, len(view), 65536):
            piece = view[start : start + 65536]
            # Counted first, for the same reason (a write that fails counts one piece).
            self.seen.bytes_sent += len(piece)
            self.handler.wfile.write(piece)

    def cut(self, *, reset: bool) -> None:
        """Hang up without an answer: an RST, or an orderly close."""
        handler = self.handler
        handler.close_connection = True
        sock = handler.connection
        with contextlib.suppress(OSError):
            if reset:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "polyarch-fault-proxy"
    timeout = IDLE_TIMEOUT

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection)  # type: ignore[attr-defined]

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.owner._untrack(self.connection)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                total += size
                if total > MAX_BODY:
                    raise RuntimeError(f"request body over {MAX_BODY} bytes")
                parts.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise RuntimeError(f"request body over {MAX_BODY} bytes")
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        proxy: FaultProxy = self.server.owner  # type: ignore[attr-defined]
        seen = Seen(self.command, self.path, _redacted(self.headers))
        proxy._record(seen)
        with proxy._answering():
            try:
                self._answer(proxy, seen)
            finally:
                seen.finished = time.monotonic()

    def _answer(self, proxy: FaultProxy, seen: Seen) -> None:
        exchange = _Exchange(self, seen, self._read_body())
        try:
            rule = proxy._take(self.command, self.path, "before")
            drop: frozenset[str] = frozenset()
            if isinstance(rule.fault if rule else None, Forward):
                # A changed request, then the answer as any other (``after`` rules apply).
                assert rule is not None
                drop = rule.fault.drop  # type: ignore[attr-defined]
            elif rule is not None:
                seen.fault = rule.fault.name
                rule.fault.serve(exchange)
                return
            upstream = exchange.forward(drop=drop)
            exchange.upstream = upstream
            rule = (
                proxy._take(self.command, self.path, "after")
                if 200 <= upstream.status < 300
                else None
            )
            if rule is None:
                exchange.relay(upstream)
                return
            seen.fault = rule.fault.name
            rule.fault.serve(exchange)
        except OSError:
            self.close_connection = True  # the client hung up: nothing to answer

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = False

    def __init__(self, address: tuple[str, int], handler: type, owner: Any) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (a TLS probe answered in plain HTTP) is no error here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Threads:
    """A server on a thread of its own, with every connection it holds tracked, so that
    stopping ends them all."""

    def __init__(self, server: _Server, name: str) -> None:
        self.server = server
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=False
        )

    def start(self) -> None:
        self._thread.start()

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.discard(sock)

    def stop(self, timeout: float = 15.0) -> None:
        self.server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        # Joins the handler threads (block_on_close); each ends once its socket is shut.
        closer = threading.Thread(target=self.server.server_close, daemon=True)
        closer.start()
        closer.join(timeout)
        self._thread.join(timeout)
        if closer.is_alive() or self._thread.is_alive():
            raise RuntimeError(f"{self._thread.name}: a thread did not end within {timeout}s")


class FaultProxy:
    """A proxy on ``127.0.0.1:<free port>`` to ``upstream`` (``http://127.0.0.1:PORT``),
    with rules of faults to inject; see the module docstring."""

    def __init__(self, upstream: str) -> None:
        host = urllib.parse.urlsplit(upstream).hostname
        if host is None or not host.startswith("127."):
            raise ValueError(f"the fault proxy forwards to loopback only, not {upstream!r}")
        self.upstream = upstream
        self.stopping = threading.Event()
        self.seen: list[Seen] = []
        #: Requests being answered now, and the most there were at once.
        self.in_flight = 0
        self.peak_in_flight = 0
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._threads = _Threads(_Server((LOOPBACK, 0), _ProxyHandler, self), "fault-proxy")

    @property
    def port(self) -> int:
        port: int = self._threads.server.server_address[1]
        return port

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: the registry part of references through the proxy."""
        return f"{LOOPBACK}:{self.port}"

    def add(
        self,
        fault: Fault,
        *,
        method: str | None = None,
        path: str | None = None,
        count: int | None = None,
    ) -> Rule:
        """Inject ``fault`` into requests of ``method`` (a regex, whole method) whose path
        and query match ``path`` (a regex, searched), ``count`` times (None: always)."""
        rule = Rule(
            fault,
            re.compile(method) if method is not None else None,
            re.compile(path) if path is not None else None,
            count,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forget the rules, the requests seen and the peak in flight."""
        with self._lock:
            self._rules.clear()
            self.seen.clear()
            self.peak_in_flight = self.in_flight

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        """The requests seen, of ``method`` and with ``path`` in their path, in order."""
        with self._lock:
            seen = list(self.seen)
        return [
            s
            for s in seen
            if (method is None or s.method == method)
            and (path is None or re.search(path, s.target))
        ]

    @property
    def bytes_sent(self) -> int:
        with self._lock:
            return sum(s.bytes_sent for s in self.seen)

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def _take(self, method: str, target: str, phase: str) -> Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.fault.phase == phase and rule.matches(method, target):
                    rule.hits += 1
                    return rule
        return None

    def _track(self, sock: socket.socket) -> None:
        self._threads.track(sock)

    def _untrack(self, sock: socket.socket) -> None:
        self._threads.untrack(sock)

    def start(self) -> Self:
        self._threads.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._threads.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# -- the blob server --------------------------------------------------------------------------


class _BlobHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "polyarch-blob-server"
    timeout = IDLE_TIMEOUT

    def setup(self) -> None:
        super().setup()
        self.server.owner._threads.track(self.connection)  # type: ignore[attr-defined]

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.owner._threads.untrack(self.connection)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        owner: BlobServer = self.server.owner  # type: ignore[attr-defined]
        seen = Seen(self.command, self.path, _redacted(self.headers))
        owner._record(seen)
        data = owner._blobs.get(self.path.partition("?")[0])
        if data is None:
            seen.status = 404  # recorded first, as the proxy does
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, body = 200, data
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match and int(match.group(1)) < len(data):
            status, body = 206, data[int(match.group(1)) :]
        seen.status = status
        seen.bytes_sent = len(body) if self.command == "GET" else 0
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header(
                "Content-Range", f"bytes {len(data) - len(body)}-{len(data) - 1}/{len(data)}"
            )
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)

    do_GET = do_HEAD = _serve


class BlobServer:
    """Storage on ``127.0.0.2:<free port>`` for redirected blob downloads; ``seen``
    records every request, headers redacted as the proxy's are."""

    def __init__(self, host: str = BLOB_HOST) -> None:
        if not host.startswith("127."):
            raise ValueError(f"the blob server listens on loopback only, not {host!r}")
        self.seen: list[Seen] = []
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._threads = _Threads(_Server((host, 0), _BlobHandler, self), "blob-server")

    @property
    def url(self) -> str:
        host, port = self._threads.server.server_address[:2]
        return f"http://{host}:{port}"

    def put(self, data: bytes) -> str:
        """Serve ``data`` at a new URL (signed-looking, as S3's are); return it."""
        path = f"/storage/{uuid.uuid4().hex}"
        with self._lock:
            self._blobs[path] = data
        return f"{self.url}{path}?X-Amz-Signature={uuid.uuid4().hex}"

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def start(self) -> Self:
        self._threads.start()
        return self

    def stop(self) -> None:
        self._threads.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
