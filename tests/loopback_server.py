"""A small HTTP server of the test suite: ``127.0.0.1:<free port>``, on a thread of its own.

The token service, the proxies that stand in front of the registry and the stand-in
registries of single tests each answer requests with a handler class; this runs one. The
handler reaches whatever it serves for as ``self.server.owner``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["LOOPBACK", "LoopbackServer", "names_on_loopback"]

LOOPBACK = "127.0.0.1"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], owner: Any) -> None:
        self.owner = owner
        super().__init__((LOOPBACK, 0), handler)


class LoopbackServer:
    """Serves ``handler`` on a free loopback port between :meth:`start` and :meth:`stop`
    (or as a context manager); the port is chosen when the object is made."""

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], owner: Any = None, *, name: str = "server"
    ) -> None:
        self._server: _Server | None = _Server(handler, owner)
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
        return f"http://{self.host}"

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
def names_on_loopback(*names: str) -> Iterator[None]:
    """Resolve ``names`` (``registry.test``) to 127.0.0.1 in this process, so that the
    code under test sees a host that is not this machine while its connections stay on
    it (tests reach loopback only). Every other name resolves as usual."""
    real = socket.getaddrinfo
    mapped = {name.lower() for name in names}

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.lower() in mapped:
            host = LOOPBACK
        return real(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.getaddrinfo = real  # type: ignore[assignment]
