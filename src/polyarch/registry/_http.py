"""The one place that imports urllib3: URLs, requests, responses, transport errors and the
connection pools (direct, or through the proxy the environment names).

Every decision about where a request goes (same origin, loopback, plain HTTP, through a
proxy) is taken on the URL as urllib3 parses it (:func:`parse_url`), the object the
connection is made from: the standard library's parser reads some URLs otherwise
(``http://evil:80\\@127.0.0.1/`` is 127.0.0.1 to ``urlsplit`` and ``evil`` to urllib3).

Why urllib3 and not httpx, measured on a 2-CPU machine with Python 3.11: importing httpx
with httpcore costs ~56 ms in every process and a request ~0.49 ms of CPU; urllib3 ~41 ms
and ~0.34 ms. Every polyarch command is a fresh process that makes tens to hundreds of
requests, so the difference is most of what separates a command from the registry's own
latency. What httpx added on top, an auth-flow driver and redirect following, is a few
lines in ``client.py``; proxies from the environment are read here with the standard
library's rules (``urllib.request``), as curl, requests and httpx read them.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, NamedTuple, TypeVar
from urllib.parse import unquote, urlencode, urljoin, urlsplit, urlunsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    EmptyPoolError,
    LocationParseError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import Url
from urllib3.util import parse_url as _urllib3_parse_url

from polyarch.errors import InvalidInputError, RegistryError

__all__ = [
    "READ_SIZE",
    "BadURLError",
    "Origin",
    "Proxy",
    "Request",
    "Response",
    "Transport",
    "TransportError",
    "Url",
    "is_loopback",
    "join_url",
    "parse_url",
    "with_params",
    "without_query",
]

#: What one read of a streamed body asks for.
READ_SIZE: Final = 64 * 1024
#: A body that arrives slower than this (bytes per second, over a whole read timeout spent
#: waiting for it) is given up, as curl's ``--speed-limit`` does: a registry that drips a
#: byte now and then would otherwise hold a transfer forever, each read within the timeout.
MIN_RATE: Final = 1024
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
#: Retries and redirects are the client's business (client.py), never urllib3's.
_NO_RETRIES: Final = urllib3.Retry(total=False, redirect=False, raise_on_redirect=False)
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


class BadURLError(ValueError):
    """A URL polyarch will not connect to: not ``http(s)://HOST...``, or not parseable.
    Its text ends a sentence: "... to 'ftp://x', which is not an http:// or https:// URL"."""


def parse_url(text: str) -> Url:
    """``text`` as urllib3 reads it to connect: scheme and host lowercased, the authority
    ending at the first ``/``, ``\\``, ``?`` or ``#``.

    :raises BadURLError: not an absolute ``http://`` or ``https://`` URL with a host.
    """
    try:
        url = _urllib3_parse_url(text)
    except LocationParseError as err:
        raise BadURLError(f"{without_query(text)[:200]!r}, which is not a valid URL") from err
    if url.scheme not in _DEFAULT_PORTS or not url.host:
        raise BadURLError(f"{without_query(text)[:200]!r}, which is not an http:// or https:// URL")
    return url


def join_url(base: str, reference: str) -> Url:
    """``reference`` (a ``Location`` or ``Link`` a server sent) resolved against the URL
    it answered, as RFC 3986 resolves a relative reference.

    :raises BadURLError: the result is not a URL polyarch connects to.
    """
    try:
        joined = urljoin(base, reference.strip())
    except ValueError:  # the standard library's own complaint ("Invalid IPv6 URL")
        raise BadURLError(f"{without_query(reference)[:200]!r}, which is not a valid URL") from None
    # What it joined is only text: the decisions are taken on urllib3's reading of it.
    return parse_url(joined)


class Origin(NamedTuple):
    """Scheme, host and port (the default one when the URL names none): who may be sent
    what a server was sent."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: Url) -> Origin:
        scheme = url.scheme or ""
        return cls(scheme, url.host or "", url.port or _DEFAULT_PORTS.get(scheme, 0))

    def __str__(self) -> str:
        default = _DEFAULT_PORTS.get(self.scheme) == self.port
        return f"{self.scheme}://{self.host}" + ("" if default else f":{self.port}")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (``name``, ``name:port``, ``[v6]`` or ``[v6]:port``, as urllib3 or
    a registry name has it) is this machine: ``localhost``, 127.0.0.0/8 or ``::1``.

    Spelled exactly: ``localhost.`` or ``127.1`` are left to a resolver, and so are not
    trusted."""
    name = host
    if name.startswith("["):
        name = name[1 : name.find("]")]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def without_query(url: str) -> str:
    """``url`` without its query: what messages show (an upload location's query is the
    registry's state, a token service's may hold a scope list)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.partition("?")[0].partition("#")[0]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def with_params(url: str, params: Mapping[str, str] | Sequence[tuple[str, str]]) -> str:
    """``url`` with ``params`` appended to its query, which is kept byte for byte: an upload
    location carries the registry's state there, and re-encoding it could change it."""
    if not params:
        return url
    base, _, fragment = url.partition("#")
    joined = base + ("&" if "?" in base else "?") + urlencode(params)
    return f"{joined}#{fragment}" if fragment else joined


class Request:
    """One HTTP request as the registry client builds it.

    :param url: parsed once (:func:`parse_url`); ``target`` is that object, ``url`` its
        text, which parses back to the same origin.
    :param body: bytes (can be sent again), or an iterable of chunks that is consumed by
        sending it (an upload); its length must then be in a ``Content-Length`` header.
    :param token_request: the request goes to a token service (its failures name it).
    :param secret_body: the body holds a credential (the refresh-token grant): it may cross
        plain HTTP only to this machine, like an ``Authorization`` header.
    :param credential_origin: the one origin the request's credentials (its
        ``Authorization`` header, a secret body) were given for; they go nowhere else.
    :raises BadURLError: ``url`` is not an ``http(s)://`` URL.
    """

    __slots__ = (
        "body",
        "credential_origin",
        "headers",
        "method",
        "secret_body",
        "target",
        "token_request",
        "url",
    )

    def __init__(
        self,
        method: str,
        url: str | Url,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | Iterable[bytes] | None = None,
        token_request: bool = False,
        secret_body: bool = False,
        credential_origin: Origin | None = None,
    ) -> None:
        self.method = method
        self.target = url if isinstance(url, Url) else parse_url(url)
        self.url: str = self.target.url
        self.headers = urllib3.HTTPHeaderDict(headers or {})
        self.body = body
        self.token_request = token_request
        self.secret_body = secret_body
        self.credential_origin = credential_origin

    def __repr__(self) -> str:
        return f"<Request {self.method} {without_query(self.url)}>"

    @property
    def scheme(self) -> str:
        return self.target.scheme or ""

    @property
    def host(self) -> str:
        """The host, lowercase; an IPv6 address without brackets."""
        host = self.target.host or ""
        return host[1:-1] if host.startswith("[") else host

    @property
    def netloc(self) -> str:
        """``host[:port]`` as the connection is made to it, without user information."""
        url = self.target
        return f"{url.host}:{url.port}" if url.port else url.host or ""

    @property
    def origin(self) -> Origin:
        return Origin.of(self.target)

    @property
    def carries_credentials(self) -> bool:
        return "Authorization" in self.headers or self.secret_body

    @property
    def replayable(self) -> bool:
        """Whether the body can be sent a second time: bytes can, a stream cannot."""
        return self.body is None or isinstance(self.body, bytes)


class Response:
    """An answer: status and headers at once, the body streamed or read on demand.

    A response that is not read to its end must be closed, which gives its connection up
    (a half-read connection cannot carry another request).
    """

    __slots__ = (
        "_content",
        "_raw",
        "_stall_window",
        "headers",
        "reason_phrase",
        "request",
        "status_code",
    )

    def __init__(
        self,
        request: Request,
        status_code: int,
        headers: Mapping[str, str] | None = None,
        *,
        content: bytes | None = None,
        raw: urllib3.BaseHTTPResponse | None = None,
        reason_phrase: str = "",
        stall_window: float | None = None,
    ) -> None:
        self.request = request
        self.status_code = status_code
        self.headers = (
            headers
            if isinstance(headers, urllib3.HTTPHeaderDict)
            else urllib3.HTTPHeaderDict(headers or {})
        )
        self.reason_phrase = reason_phrase
        self._raw = raw
        self._content = None if raw is not None else (content or b"")
        self._stall_window = stall_window

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}] {self.request!r}>"

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def is_redirect(self) -> bool:
        return self.status_code in _REDIRECT_STATUSES and "Location" in self.headers

    @property
    def content(self) -> bytes:
        """The body, once read whole (:meth:`read_at_most`); a streamed body is never read
        without a bound."""
        if self._content is None:
            raise RuntimeError("the body of a streamed response was not read")
        return self._content

    def json(self) -> Any:
        """The body (read whole) as Go's decoder reads JSON (:mod:`polyarch.jsonread`).

        :raises ValueError: it is not.
        """
        from polyarch.jsonread import loads

        return loads(self.content)

    def declared_length(self) -> int | None:
        """The body's length as ``Content-Length`` declares it; ``None`` without one.

        :raises RegistryError: a value that is not plain ASCII digits (``²``, ``٣``,
            ``1_0``, ``5, 5``), which Python's ``int`` and the HTTP parsers would each
            read their own way.
        """
        value = self.headers.get("Content-Length")
        if value is None:
            return None
        if not (value.isascii() and value.isdigit()):
            raise RegistryError(
                f"{self.request.netloc} answered {self.request.method} "
                f"{without_query(self.request.url)} with a malformed Content-Length "
                f"({value[:40]!r})",
                status=self.status_code,
            )
        return int(value)

    def read_at_most(self, limit: int) -> tuple[bytes, bool]:
        """At most ``limit`` bytes of the body, and whether there was more; the body is
        kept when it was all read.

        :raises TransportError: the connection broke on the way.
        """
        if self._content is not None:
            return self._content[:limit], len(self._content) > limit
        buffer = bytearray()
        for chunk in self.iter_bytes():
            buffer += chunk
            if len(buffer) > limit:
                self.close()
                return bytes(buffer[:limit]), True
        self._content = bytes(buffer)
        self.close()
        return self._content, False

    def iter_bytes(self) -> Iterator[bytes]:
        """The body as it arrives, content coding undone, in pieces of at most
        :data:`READ_SIZE` bytes (fewer when fewer have arrived).

        :raises TransportError: the connection broke or timed out on the way, or the body
            came slower than :data:`MIN_RATE` over a whole stall window.
        """
        if self._content is not None:
            if self._content:
                yield self._content
            return
        raw = self._raw
        if raw is None:
            return
        window = self._stall_window
        # Only the time spent waiting for the body counts: a consumer that takes its time
        # with each piece (an upload to a slow target) does not make the source slow.
        waited, arrived = 0.0, 0
        try:
            while True:
                began = time.monotonic()
                # What each read brings is passed on at once: when the connection breaks,
                # all that arrived was delivered, and a resumed download asks for the rest.
                chunk = raw.read1(READ_SIZE, decode_content=True)
                if not chunk:
                    return
                if window is not None:
                    waited += time.monotonic() - began
                    arrived += len(chunk)
                    if waited >= window:
                        if arrived < MIN_RATE * waited:
                            raise TransportError.too_slow(self.request, arrived, waited)
                        waited, arrived = 0.0, 0
                yield chunk
        except urllib3.exceptions.HTTPError as err:
            raise TransportError(err, self.request) from err

    def close(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            # Read to its end, the connection went back to the pool already and this
            # closes nothing; half read, it is closed, and the pool opens a new one.
            raw.close()
            raw.release_conn()


class TransportError(Exception):
    """No answer, or an answer that broke off: urllib3's error, classified once.

    ``kind`` is what a caller decides on:

    - ``"unsent"``: no connection was made (refused, unresolvable, connect timeout): the
      request surely did not reach the registry;
    - ``"sent"``: the request may have reached it (reset, broken off, read timeout);
    - ``"tls"``: the TLS handshake failed (an untrusted certificate): final;
    - ``"final"``: anything else that trying again would not change.
    """

    def __init__(
        self, cause: Exception, request: Request, *, description: str | None = None
    ) -> None:
        self.cause = cause
        self.request = request
        self.kind, self.timeout, text = _classify(cause)
        super().__init__(description or text)

    @classmethod
    def too_slow(cls, request: Request, arrived: int, seconds: float) -> TransportError:
        """A body that kept coming, too slowly to ever end (see :data:`MIN_RATE`)."""
        why = f"{arrived} bytes in {seconds:.0f}s, less than {MIN_RATE} bytes/s"
        cause = ReadTimeoutError(None, without_query(request.url), why)  # type: ignore[arg-type]
        return cls(cause, request, description=f"the answer came too slowly ({why})")


def _classify(err: Exception) -> tuple[str, bool, str]:
    """``(kind, timeout, description)`` of a urllib3 error."""
    inner = err.__cause__ or err.__context__
    if isinstance(err, SSLError):
        return "tls", False, _reason_of(err)
    if isinstance(err, NewConnectionError):  # before ConnectTimeoutError: a subclass of it
        why = _reason_of(inner) if isinstance(inner, OSError) else str(err).partition(": ")[2]
        return "unsent", False, why or "connection failed"
    if isinstance(err, ConnectTimeoutError):
        return "unsent", True, "connect timed out"
    if isinstance(err, EmptyPoolError):
        return "unsent", True, "no connection free in time"
    if isinstance(err, ReadTimeoutError):
        return "sent", True, "read timed out"
    if isinstance(err, ProxyError):
        return "sent", False, f"proxy failed: {_reason_of(err.original_error)}"
    if isinstance(err, ProtocolError):
        return "sent", False, _reason_of(err)
    # A body that cannot be decoded, a URL urllib3 cannot use, anything else: final.
    return "final", False, _reason_of(err)


def _reason_of(err: BaseException | None) -> str:
    """One line for an error, without urllib3's object reprs; the innermost reason that
    has text."""
    if err is None:
        return "unknown error"
    if isinstance(err, ProtocolError) and len(err.args) == 2:
        head, inner = err.args
        if isinstance(inner, BaseException):
            text, head = _reason_of(inner), str(head).rstrip(".")
            if not head or text in head:
                return head or text
            return f"{head}: {text}"
    if isinstance(err, SSLError) and err.args and isinstance(err.args[0], BaseException):
        return _reason_of(err.args[0])
    if isinstance(err, OSError) and err.strerror:
        return f"[Errno {err.errno}] {err.strerror}" if err.errno else err.strerror
    text = " ".join(str(err).split())
    return text or type(err).__name__


class _Body:
    """A streamed request body that remembers what its source raised: urllib3 reports an
    ``OSError`` from the body as a broken connection, but a source that failed (a layout
    file that cannot be read) is the source's failure, and is raised as it is."""

    __slots__ = ("_chunks", "error")

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[bytes]:
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
    ) -> None:
        if insecure:
            # The user turned verification off for this registry (--insecure): urllib3's
            # warning about every such request would only repeat it.
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
        body = request.body
        source = _Body(body) if body is not None and not isinstance(body, bytes) else None
        try:
            raw = self._pool_for(request).urlopen(
                request.method,
                request.url,
                body=source if source is not None else body,
                headers=headers,
                redirect=False,
                preload_content=False,
                decode_content=False,
            )
        except urllib3.exceptions.HTTPError as err:
            if source is not None and source.error is not None:
                raise source.error from None
            raise TransportError(err, request) from err
        return Response(
            request,
            raw.status,
            raw.headers,
            raw=raw,
            reason_phrase=getattr(raw, "reason", None) or "",
            stall_window=self._read_timeout,
        )

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

    def close(self) -> None:
        with self._lock:
            managers = [self._direct, *self._via.values()]
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
