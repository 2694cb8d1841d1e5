"""The one place that imports urllib3: requests, responses, transport errors and the
connection pools (direct, or through the proxy the environment names).

Why urllib3 and not httpx, measured on a 2-CPU machine with Python 3.11: importing httpx
with httpcore costs ~56 ms in every process and a request ~0.49 ms of CPU; urllib3 ~41 ms
and ~0.34 ms. Every polyarch command is a fresh process that makes tens to hundreds of
requests, so the difference is most of what separates a command from the registry's own
latency. What httpx added on top, an auth-flow driver and redirect following, is a few
lines in ``client.py``; proxies from the environment are read here with the standard
library's rules (``urllib.request``), as curl, requests and httpx read them.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final
from urllib.parse import SplitResult, unquote, urlencode, urlsplit, urlunsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    EmptyPoolError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

__all__ = [
    "READ_SIZE",
    "Request",
    "Response",
    "Transport",
    "TransportError",
    "probe",
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


def without_query(url: str) -> str:
    """``url`` without its query: what messages show (an upload location's query is the
    registry's state, a token service's may hold a scope list)."""
    parts = urlsplit(url)
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

    :param body: bytes (can be sent again), or an iterable of chunks that is consumed by
        sending it (an upload); its length must then be in a ``Content-Length`` header.
    :param token_request: the request goes to a token service (its failures name it).
    :param secret_body: the body holds a credential (the refresh-token grant): it may cross
        plain HTTP only to this machine, like an ``Authorization`` header.
    """

    __slots__ = ("body", "headers", "method", "secret_body", "token_request", "url")

    def __init__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | Iterable[bytes] | None = None,
        token_request: bool = False,
        secret_body: bool = False,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = urllib3.HTTPHeaderDict(headers or {})
        self.body = body
        self.token_request = token_request
        self.secret_body = secret_body

    def __repr__(self) -> str:
        return f"<Request {self.method} {without_query(self.url)}>"

    @property
    def parts(self) -> SplitResult:
        return urlsplit(self.url)

    @property
    def scheme(self) -> str:
        return self.parts.scheme.lower()

    @property
    def host(self) -> str:
        """The host name, lowercase, an IPv6 address without brackets."""
        return self.parts.hostname or ""

    @property
    def netloc(self) -> str:
        """``host[:port]`` as the URL has it, without user information."""
        return self.parts.netloc.rpartition("@")[2]

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
        return json.loads(self.content)

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


class Transport:
    """Connection pools for one registry client, thread-safe.

    Requests go direct, or through the proxy that ``HTTP_PROXY`` / ``HTTPS_PROXY`` /
    ``ALL_PROXY`` name for their scheme unless ``NO_PROXY`` exempts the host (either case
    of each name; the standard library's rules). Nothing is retried or redirected here:
    the client decides that.

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
        self._direct = urllib3.PoolManager(**self._pool_options)
        self._proxies = _environment_proxies()
        self._via: dict[str, urllib3.ProxyManager] = {}
        self._lock = threading.Lock()

    def send(self, request: Request) -> Response:
        """Send ``request`` once and return the answer with its body unread.

        :raises TransportError: no answer.
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

    def _pool_for(self, request: Request) -> urllib3.PoolManager:
        if not self._proxies:
            return self._direct
        proxy = _proxy_for(self._proxies, request.scheme, request.netloc)
        if proxy is None:
            return self._direct
        with self._lock:
            manager = self._via.get(proxy)
            if manager is None:
                manager = self._via[proxy] = _proxy_manager(proxy, self._pool_options)
            return manager

    def close(self) -> None:
        with self._lock:
            managers = [self._direct, *self._via.values()]
            self._via.clear()
        for manager in managers:
            manager.clear()


def probe(url: str, *, timeout: float) -> None:
    """GET ``url`` once, TLS unverified, redirects not followed: does anything answer?

    :raises TransportError: nothing did.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
        manager = urllib3.PoolManager(cert_reqs="CERT_NONE", retries=_NO_RETRIES, timeout=timeout)
        try:
            manager.request("GET", url, redirect=False)
        except urllib3.exceptions.HTTPError as err:
            raise TransportError(err, Request("GET", url)) from err
        finally:
            manager.clear()


_PROXY_NAMES: Final = ("http_proxy", "https_proxy", "all_proxy")


def _environment_proxies() -> dict[str, str]:
    """The proxies the environment names, by scheme (and ``no``); empty without any, which
    spares loading ``urllib.request`` (~6 ms) in the common case."""
    if not any(name.lower() in _PROXY_NAMES for name in os.environ):
        return {}
    import urllib.request

    return {k: v for k, v in urllib.request.getproxies_environment().items() if v}


def _proxy_for(proxies: Mapping[str, str], scheme: str, netloc: str) -> str | None:
    import urllib.request

    # Undocumented but in every CPython since 3.2; what requests and httpx rely on too.
    if urllib.request.proxy_bypass_environment(netloc, proxies):  # type: ignore[attr-defined]
        return None
    return proxies.get(scheme) or proxies.get("all")


def _proxy_manager(proxy: str, options: Mapping[str, Any]) -> urllib3.ProxyManager:
    """A pool manager through ``proxy``; its user information becomes the
    ``Proxy-Authorization`` header (never part of a message)."""
    if "://" not in proxy:
        proxy = "http://" + proxy
    parts = urlsplit(proxy)
    if parts.scheme.lower() not in ("http", "https"):
        from polyarch.errors import InvalidInputError

        raise InvalidInputError(
            f"the proxy {parts.scheme}://{parts.hostname} named by the environment is not "
            "an http:// or https:// proxy, the only kinds polyarch supports"
        )
    headers = None
    if parts.username is not None:
        userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers = urllib3.make_headers(proxy_basic_auth=userinfo)
    bare = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], "", "", ""))
    return urllib3.ProxyManager(bare, proxy_headers=headers, **options)
