"""A small HTTP server of the test suite: ``127.0.0.1:<free port>``, on a thread of its own.

The token service, the proxies that stand in front of the registry and the stand-in
registries of single tests each answer requests with a handler class; this runs one. The
handler reaches whatever it serves for as ``self.server.owner``.
"""

from __future__ import annotations

import contextlib
import json as _json
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = [
    "LOOPBACK",
    "Asked",
    "LoopbackServer",
    "RawServer",
    "Reply",
    "ScriptedServer",
    "names_on_loopback",
    "server_tls",
]

LOOPBACK = "127.0.0.1"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], owner: Any, tls: ssl.SSLContext | None
    ) -> None:
        self.owner = owner
        super().__init__((LOOPBACK, 0), handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (a TLS probe answered in plain HTTP) is no error here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def server_tls(certificate: str, key: str) -> ssl.SSLContext:
    """A server-side TLS context for a :class:`LoopbackServer` (PEM files, tests/tlsgen)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    return context


class LoopbackServer:
    """Serves ``handler`` on a free loopback port between :meth:`start` and :meth:`stop`
    (or as a context manager); the port is chosen when the object is made. With ``tls``
    (:func:`server_tls`) it speaks HTTPS."""

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        owner: Any = None,
        *,
        name: str = "server",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.scheme = "https" if tls is not None else "http"
        self._server: _Server | None = _Server(handler, owner, tls)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"{name}-{self.port}", daemon=True
        )

    @property
    def port(self) -> int:
        assert self._server is not None, "the server was stopped"
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call more than once."""
        server, self._server = self._server, None
        if server is None:
            return
        if self._thread.is_alive():
            server.shutdown()
        server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def names_on_loopback(*names: str, refuse_others: bool = False) -> Iterator[None]:
    """Resolve ``names`` (``registry.test``) to 127.0.0.1 in this process, so that the
    code under test sees a host that is not this machine while its connections stay on
    it (tests reach loopback only). Every other name resolves as usual, or, with
    ``refuse_others``, not at all unless it is this machine's."""
    real = socket.getaddrinfo
    mapped = {name.lower() for name in names}

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.lower() in mapped:
            host = LOOPBACK
        elif refuse_others and name not in (LOOPBACK, "localhost", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: not loopback, not resolved")
        return real(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.getaddrinfo = real  # type: ignore[assignment]


class RawServer:
    """A free loopback port whose connections are handed, as raw sockets (no HTTP), to
    ``handle`` on a thread each; ``stopping`` is set when the server stops."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self.handle = handle
        self.stopping = threading.Event()
        self.connections = 0
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(0.1)
        self._thread = threading.Thread(target=self._serve, name="raw-server", daemon=True)

    @property
    def host(self) -> str:
        return f"{LOOPBACK}:{self._listener.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._run, args=(connection,), daemon=True).start()

    def _run(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            self.handle(connection)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()


@dataclass(frozen=True)
class Asked:
    """A request a :class:`ScriptedServer` received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    """What a :class:`ScriptedServer` answers: a status, headers and a body (a
    ``Content-Length`` is added unless the headers name one)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(cls, document: object, status: int = 200, **headers: str) -> Reply:
        return cls(
            status, {"Content-Type": "application/json", **headers}, _json.dumps(document).encode()
        )


class _ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        owner: ScriptedServer = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        asked = Asked(self.command, self.path, dict(self.headers.items()), body)
        owner.asked.append(asked)
        reply = owner.respond(asked)
        self.send_response(reply.status)
        names = {name.lower() for name in reply.headers}
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _answer


class ScriptedServer:
    """A stand-in registry (or token service, or upload target, or a layer's host) on its
    own loopback port, so its own origin: ``respond(asked) -> Reply`` answers each request,
    and ``asked`` records them all, headers included. With ``tls``, over HTTPS."""

    def __init__(
        self,
        respond: Callable[[Asked], Reply],
        *,
        name: str = "scripted",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.respond = respond
        self.asked: list[Asked] = []
        self._server = LoopbackServer(_ScriptedHandler, self, name=name, tls=tls)

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return self._server.url

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()
