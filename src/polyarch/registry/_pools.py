"""Connection pools for one registry client: direct, or through the proxy the environment
names; connections whose response head has a deadline; urllib3's log without queries.
"""

from __future__ import annotations

import http.client
import io
import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from typing import Any, Final, NamedTuple, TypeVar
from urllib.parse import unquote

import urllib3
from urllib3.exceptions import LocationParseError
from urllib3.util import Url
from urllib3.util import parse_url as _urllib3_parse_url

from polyarch.errors import InvalidInputError
from polyarch.registry._flight import InFlight
from polyarch.registry._http import Request, Response, TransportError
from polyarch.registry._meter import RequestMeter
from polyarch.registry._url import Origin, is_loopback

__all__ = ["Proxy", "Transport"]

#: Retries and redirects are the client's business (client.py), never urllib3's.
_NO_RETRIES: Final = urllib3.Retry(total=False, redirect=False, raise_on_redirect=False)
#: A request body up to this long adds no measurable time to its round trip.
_SMALL_BODY: Final = 64 * 1024


class _Body:
    """A streamed request body that remembers what its source raised: urllib3 reports an
    ``OSError`` from the body as a broken connection, but a source that failed (a layout
    file that cannot be read) is the source's failure, and is raised as it is.

    Before its first chunk is asked for, its request moves from the requests in flight to
    the bodies (``flight``): the source may send a request of its own to the same host (a
    blob streamed from the same registry), which must not wait for this one's place."""

    __slots__ = ("_chunks", "_flight", "error", "streamed")

    def __init__(self, chunks: Iterable[bytes], flight: InFlight | None) -> None:
        self._chunks = chunks
        self._flight = flight
        self.streamed = False
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[bytes]:
        if self._flight is not None and not self.streamed:
            self._flight.streaming()
            self.streamed = True
        try:
            yield from self._chunks
        except BaseException as err:
            self.error = err
            raise


# -- the response head has a deadline -----------------------------------------------------


class _HeadDeadline(io.RawIOBase):
    """The socket as the response reads it, the status line and headers within one
    deadline: each read waits at most what is left of it, so a server that drips its head
    a byte at a time, each within the read timeout, is given up like a silent one."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        # A SocketIO keeps the socket open while the response reads from it, even after
        # http.client closed the connection (Connection: close): the fd must outlive it.
        self._raw = sock.makefile("rb", buffering=0)
        self._timeout = sock.gettimeout()
        self._deadline = None if self._timeout is None else time.monotonic() + self._timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        if self._deadline is not None:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the status line and headers took longer than the timeout")
            self._sock.settimeout(min(left, self._timeout or left))
        return self._raw.readinto(buffer)

    def lift(self) -> None:
        """The head is in: the body's reads wait the timeout each (and MIN_RATE applies)."""
        if self._deadline is not None:
            self._deadline = None
            self._sock.settimeout(self._timeout)

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        self._raw.close()
        super().close()


class _SocketWithHeadDeadline:
    """What http.client's response is handed instead of the socket: it only asks for
    ``makefile("rb")``."""

    def __init__(self, sock: socket.socket) -> None:
        self.head = _HeadDeadline(sock)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self.head)


class _HeadBoundResponse(http.client.HTTPResponse):
    """http.client's response whose status line and headers must arrive within one read
    timeout in all (the CONNECT answer of a proxy tunnel too)."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        wrapped = _SocketWithHeadDeadline(sock)
        self._head = wrapped.head
        super().__init__(wrapped, *args, **kwargs)  # type: ignore[arg-type]

    def begin(self) -> None:
        try:
            super().begin()
        finally:
            self._head.lift()


class _HTTPConnection(urllib3.connection.HTTPConnection):
    response_class = _HeadBoundResponse


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    response_class = _HeadBoundResponse


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOL_CLASSES: Final = {"http": _HTTPPool, "https": _HTTPSPool}


# -- urllib3's own log shows no query --------------------------------------------------------


class _WithoutQueries(logging.Filter):
    """Cuts the query off every URL urllib3 logs (``--debug``): a presigned blob URL's
    signature or an upload's state is the server's secret, not a message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(arg, str) and "?" in arg for arg in record.args
        ):
            record.args = tuple(
                arg.partition("?")[0] if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def _scrub_urllib3_logs() -> None:
    # A filter on a logger sees only the records logged to it by name: one on each.
    scrub = _WithoutQueries()
    for name in list(logging.Logger.manager.loggerDict):
        if name == "urllib3" or name.startswith("urllib3."):
            logging.getLogger(name).addFilter(scrub)


_scrub_urllib3_logs()


# -- the pools -----------------------------------------------------------------------------


class Proxy(NamedTuple):
    """A proxy the environment names: its URL (user information left out) and the
    ``Proxy-Authorization`` header that user information makes."""

    url: Url
    authorization: str | None

    @property
    def host(self) -> str:
        return self.url.host or ""

    def __str__(self) -> str:
        return self.url.url


class Transport:
    """Connection pools for one registry client, thread-safe.

    Requests go direct, or through the proxy that ``HTTP_PROXY`` / ``HTTPS_PROXY`` /
    ``ALL_PROXY`` name for their scheme unless ``NO_PROXY`` exempts the host (either case
    of each name; the standard library's rules), and never to this machine (``localhost``,
    127.0.0.0/8, ``::1``: Go's rule, so a loopback registry's traffic stays on the
    machine). Nothing is retried or redirected here: the client decides that.

    :param ssl_context: verifies HTTPS hosts (and carries client certificates).
    :param insecure: ``ssl_context`` does not verify, on the user's word.
    :param unverified: an origin on this machine reached with ``unverified_context``
        instead (a loopback registry with no CA configured, docker's rule); whether it is
        this machine is checked again on every request's URL, so no other host is ever
        spoken to unverified unless ``insecure``.
    :param meter: counts each request before it goes (and may refuse it), and reads the
        rate limit of each answer.
    :param max_in_flight: the most requests in flight to one host at once (``--jobs``);
        below it, each host's bound fits its distance (:mod:`._flight`). A request is in
        flight until its status line and headers are in (an upload's body sent included);
        an upload's body, as it is sent, counts among the bodies in flight, under the
        same bound, and a body read after the head holds no place. A token exchange
        holds none: requests wait for it, it must never wait for them.
    """

    def __init__(
        self,
        *,
        ssl_context: Any,
        timeout: float,
        connect_timeout: float,
        max_connections: int,
        user_agent: str,
        insecure: bool = False,
        unverified: Origin | None = None,
        unverified_context: Any = None,
        meter: RequestMeter | None = None,
        max_in_flight: int | None = None,
    ) -> None:
        self._meter = meter
        self._max_in_flight = max_in_flight
        self._flights: dict[Origin, InFlight] = {}
        if insecure or unverified is not None:
            # Verification is off where the user (--insecure) or docker's loopback rule
            # said so: urllib3's warning about every such request would only repeat it.
            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        self._pool_options: dict[str, Any] = {
            "num_pools": 16,
            "maxsize": max_connections,
            # More threads than connections open extra ones instead of waiting.
            "block": False,
            "ssl_context": ssl_context,
            "timeout": urllib3.Timeout(connect=connect_timeout, read=timeout),
            # Given as an object: urllib3 logs the conversion of False on every request.
            "retries": _NO_RETRIES,
        }
        self._user_agent = user_agent
        self._read_timeout = timeout
        self._direct = _with_our_pools(urllib3.PoolManager(**self._pool_options))
        self._unverified = unverified
        self._unverified_context = unverified_context
        self._direct_unverified: urllib3.PoolManager | None = None
        self._proxies = _environment_proxies()
        self._via: dict[Proxy, urllib3.ProxyManager] = {}
        self._lock = threading.Lock()

    def send(self, request: Request) -> Response:
        """Send ``request`` once and return the answer with its body unread.

        :raises TransportError: no answer.
        :raises InvalidInputError: the proxy the environment names for it is unusable.
        """
        headers = request.headers
        if "User-Agent" not in headers:
            headers["User-Agent"] = self._user_agent
        host = request.target.netloc or ""
        pool = self._pool_for(request)
        body = request.body
        flight = None if request.token_request else self.flight(request.target)
        entered = flight.enter() if flight is not None else 0.0
        source = None if body is None or isinstance(body, bytes) else _Body(body, flight)
        timed = body is None or (isinstance(body, bytes) and len(body) <= _SMALL_BODY)
        status: int | None = None
        started = time.monotonic()
        try:
            if self._meter is not None:
                self._meter.before(host)
            try:
                raw = pool.urlopen(
                    request.method,
                    request.url,
                    body=source if source is not None else body,
                    headers=headers,
                    redirect=False,
                    preload_content=False,
                    decode_content=False,
                )
            except BaseException as err:
                if self._meter is not None:
                    self._meter.failed()
                if not isinstance(err, urllib3.exceptions.HTTPError):
                    raise
                if source is not None and source.error is not None:
                    raise source.error from None
                raise TransportError(err, request) from err
            status = raw.status
        finally:
            if flight is not None:
                elapsed = time.monotonic() - started
                rtt = elapsed if timed and status is not None else None
                streamed = source is not None and source.streamed
                flight.leave(entered, status=status, rtt=rtt, streamed=streamed)
        if self._meter is not None:
            self._meter.after(host, raw.headers)
        return Response(
            request,
            raw.status,
            raw.headers,
            raw=raw,
            reason_phrase=getattr(raw, "reason", None) or "",
            stall_window=self._read_timeout,
        )

    def flight(self, target: Url) -> InFlight:
        """The requests in flight to the host ``target`` names (its port spelt or not)."""
        key = Origin.of(target)
        with self._lock:
            flight = self._flights.get(key)
            if flight is None:
                flight = self._flights[key] = InFlight(cap=self._max_in_flight)
            return flight

    def proxy_for(self, target: Url) -> Proxy | None:
        """The proxy a request to ``target`` goes through, ``None`` when it goes direct.

        :raises InvalidInputError: the environment names an unusable proxy for it.
        """
        if not self._proxies or is_loopback(target.host or ""):
            return None
        import urllib.request

        netloc = f"{target.host}:{target.port}" if target.port else target.host or ""
        # Undocumented but in every CPython since 3.2; what requests and httpx rely on too.
        if urllib.request.proxy_bypass_environment(netloc, self._proxies):  # type: ignore[attr-defined]
            return None
        text = self._proxies.get(target.scheme or "") or self._proxies.get("all")
        return None if text is None else _parse_proxy(text)

    def _pool_for(self, request: Request) -> urllib3.PoolManager:
        if (
            self._unverified is not None
            and request.origin == self._unverified
            and is_loopback(request.target.host or "")
        ):
            return self._unverified_pools()  # never through a proxy: loopback
        proxy = self.proxy_for(request.target)
        if proxy is None:
            return self._direct
        with self._lock:
            manager = self._via.get(proxy)
            if manager is None:
                manager = self._via[proxy] = _with_our_pools(
                    urllib3.ProxyManager(
                        proxy.url.url,
                        proxy_headers=None
                        if proxy.authorization is None
                        else {"Proxy-Authorization": proxy.authorization},
                        **self._pool_options,
                    )
                )
            return manager

    def _unverified_pools(self) -> urllib3.PoolManager:
        with self._lock:
            if self._direct_unverified is None:
                options = {**self._pool_options, "ssl_context": self._unverified_context}
                self._direct_unverified = _with_our_pools(urllib3.PoolManager(**options))
            return self._direct_unverified

    def close(self) -> None:
        with self._lock:
            managers = [self._direct, *self._via.values()]
            if self._direct_unverified is not None:
                managers.append(self._direct_unverified)
                self._direct_unverified = None
            self._via.clear()
        for manager in managers:
            manager.clear()


_Manager = TypeVar("_Manager", bound=urllib3.PoolManager)


def _with_our_pools(manager: _Manager) -> _Manager:
    manager.pool_classes_by_scheme = _POOL_CLASSES
    return manager


_PROXY_NAMES: Final = ("http_proxy", "https_proxy", "all_proxy")


def _environment_proxies() -> dict[str, str]:
    """The proxies the environment names, by scheme (and ``no``); empty without any, which
    spares loading ``urllib.request`` (~6 ms) in the common case."""
    if not any(name.lower() in _PROXY_NAMES for name in os.environ):
        return {}
    import urllib.request

    return {k: v for k, v in urllib.request.getproxies_environment().items() if v}


def _parse_proxy(text: str) -> Proxy:
    """A proxy URL from the environment; its user information becomes the
    ``Proxy-Authorization`` header, never part of a message.

    :raises InvalidInputError: not an ``http://`` or ``https://`` proxy URL.
    """
    if "://" not in text:
        text = "http://" + text
    scheme = text.partition("://")[0].lower()
    try:
        url = _urllib3_parse_url(text)
    except LocationParseError:
        url = None
    if url is None or not url.host or scheme not in ("http", "https"):
        shown = f"{scheme}://{url.host}" if url is not None and url.host else "a proxy"
        raise InvalidInputError(
            f"the environment names {shown} as the proxy (HTTP_PROXY, HTTPS_PROXY or "
            "ALL_PROXY), which is not a valid http:// or https:// proxy URL, the only kinds "
            "polyarch supports"
        )
    authorization = None
    if url.auth is not None:
        user, _, password = url.auth.partition(":")
        userinfo = f"{unquote(user)}:{unquote(password)}"
        authorization = urllib3.make_headers(proxy_basic_auth=userinfo)["proxy-authorization"]
    return Proxy(Url(scheme=url.scheme, host=url.host, port=url.port), authorization)
