"""Requests, responses and transport errors: what the registry client sends and gets.

With ``_url.py`` (URLs) and ``_pools.py`` (connection pools, proxies), the only code that
imports urllib3.

Why urllib3 and not httpx, measured on a 2-CPU machine with Python 3.11: importing httpx
with httpcore costs ~56 ms in every process and a request ~0.49 ms of CPU; urllib3 ~41 ms
and ~0.34 ms. Every polyarch command is a fresh process that makes tens to hundreds of
requests, so the difference is most of what separates a command from the registry's own
latency. What httpx added on top, an auth-flow driver and redirect following, is a few
lines in ``client.py``; proxies from the environment are read in ``_pools.py`` with the
standard library's rules (``urllib.request``), as curl, requests and httpx read them.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

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

from polyarch.errors import RegistryError
from polyarch.jsonread import loads
from polyarch.registry._url import Origin, Url, parse_url, without_query

if TYPE_CHECKING:
    from polyarch.registry._tokens import Challenge

__all__ = ["MIN_RATE", "READ_SIZE", "Request", "Response", "TransportError"]

#: What one read of a streamed body asks for.
READ_SIZE: Final = 64 * 1024
#: A body that arrives slower than this (bytes per second, over a whole read timeout spent
#: waiting for it) is given up, as curl's ``--speed-limit`` does: a registry that drips a
#: byte now and then would otherwise hold a transfer forever, each read within the timeout.
MIN_RATE: Final = 1024
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})


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
        "challenge",
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
        #: The ``WWW-Authenticate`` challenge of a 401, once the auth flow has parsed it.
        self.challenge: Challenge | None = None
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

    ``refused`` says the host refused the connection (nothing listens on the port);
    ``plain_http`` that the TLS handshake was answered with bytes that are no TLS record
    (a server that speaks plain HTTP on the port).
    """

    def __init__(
        self, cause: Exception, request: Request, *, description: str | None = None
    ) -> None:
        self.cause = cause
        self.request = request
        self.kind, self.timeout, text = _classify(cause)
        inner = cause.__cause__ or cause.__context__
        self.refused = isinstance(cause, NewConnectionError) and isinstance(
            inner, ConnectionRefusedError
        )
        self.plain_http = isinstance(cause, SSLError) and _not_tls(cause)
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


#: OpenSSL's reasons for a first record that is not TLS: what a client reads when the
#: server answered its hello in plain HTTP ("HTTP/1.1 400 ..."), across OpenSSL versions.
_NOT_TLS_REASONS: Final = frozenset(
    {"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"}
)


def _not_tls(err: SSLError) -> bool:
    inner = err.args[0] if err.args else None
    if not isinstance(inner, ssl.SSLError):
        inner = err.__cause__ or err.__context__
    return isinstance(inner, ssl.SSLError) and getattr(inner, "reason", None) in _NOT_TLS_REASONS


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
