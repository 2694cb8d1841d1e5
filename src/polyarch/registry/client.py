"""An HTTP client for one registry host (distribution API v2): the transports composed.

Each concern is a module of its own; this is the one place they are put together::

    RegistryClient.request        retries (_retry.py: one budget per operation), error
      │                           mapping (_errors.py), bodies read with a bound
      Authenticated (_auth.py)    credentials attached by origin, challenges answered
      Redirects (_redirect.py)    hops followed, each checked for where credentials go
      Transport (_pools.py)       connection pools, proxies, a deadline for each head
                                  (scheme and TLS from _tls.py; URLs from _url.py)

The scheme is decided once per client (one registry origin) before its first request:
by the rules of ``_tls.py``, and where they leave two, by a probe of the first one that
the request waits for; concurrent first requests wait for the one probe.

Bodies are read with a cap, so an endless answer costs bounded memory and time: what a
caller streams (blobs, manifests) it bounds itself; every other body is read up to
:data:`BODY_LIMIT` bytes, error bodies up to ``ERROR_BODY_LIMIT``.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Final

from polyarch._version import __version__
from polyarch.errors import NetworkError, PolyarchError, RegistryError
from polyarch.reference import api_host_of
from polyarch.registry._auth import AuthSession
from polyarch.registry._errors import response_error, transport_failure
from polyarch.registry._flow import Authenticated
from polyarch.registry._http import Request, Response, TransportError
from polyarch.registry._meter import RequestMeter
from polyarch.registry._pools import Transport
from polyarch.registry._redirect import Redirects
from polyarch.registry._retry import IDEMPOTENT, RetryBudget, may_send_again, retry_after
from polyarch.registry._tls import (
    Reach,
    lazy_default_context,
    reach,
    ssl_context,
    unverified_context,
)
from polyarch.registry._url import BadURLError, Origin, Url, parse_url, with_params, without_query
from polyarch.registry.options import RegistryOptions

if TYPE_CHECKING:
    from polyarch.auth import Credentials
    from polyarch.cache import Cache

__all__ = ["BODY_LIMIT", "USER_AGENT", "RegistryClient"]

log = logging.getLogger(__name__)

USER_AGENT: Final = f"polyarch/{__version__}"
#: The most a body the caller does not stream may hold (tag lists, upload answers).
BODY_LIMIT: Final = 16 * 1024 * 1024


class RegistryClient:
    """Talks to one registry host. Thread-safe; one connection pool, one auth session."""

    def __init__(
        self,
        registry: str,
        *,
        api_host: str | None = None,
        options: RegistryOptions | None = None,
        cache: Cache | None = None,
        meter: RequestMeter | None = None,
    ) -> None:
        self.registry = registry
        #: What was seen before, by digest: manifests, configs and where blobs are.
        self.cache = cache
        #: Every request of the run, counted (shared by the clients of a run).
        self.meter = meter or RequestMeter()
        self.api_host = api_host or api_host_of(registry)
        self.options = options or RegistryOptions()
        self.auth = AuthSession(registry, self._load_credentials, insecure=self.options.insecure)
        self._transport: Transport | None = None
        self._scheme: str | None = None
        #: Plain HTTP decided, on the cache's word ("hinted") or a probe's ("probed"), and
        #: no answer over it yet (see _plain_http_answered).
        self._plain_trial: str | None = None
        self._hint_read = False
        self._deciding = threading.Lock()
        self._lock = threading.Lock()
        # Until one answer has taught us how the registry authenticates, concurrent
        # requests would each collect their own 401: let the first go alone.
        self._contacted = threading.Event()
        self._first_contact = threading.Lock()

    def _load_credentials(self) -> Credentials | None:
        if self.options.credentials is not None:
            return self.options.credentials
        from polyarch.auth import load_credentials  # the credential sources: only if asked

        return load_credentials(self.registry, config_dir=self.options.config_dir)

    # -- the transports ----------------------------------------------------------------------

    @functools.cached_property
    def _api_root(self) -> Url:
        """The registry's API root over HTTPS, as the HTTP client connects to it: what the
        scheme is decided on, and what the probe asks."""
        return parse_url(f"https://{self.api_host}/v2/")

    @functools.cached_property
    def _reach(self) -> Reach:
        return reach(self.options, self.api_host, url=self._api_root)

    @property
    def transport(self) -> Transport:
        with self._lock:
            if self._transport is None:
                reached = self._reach
                unverified = None
                if self.options.insecure or reached.verify:
                    context = ssl_context(self.options, self.api_host)
                else:
                    # Docker's loopback rule: this registry's origin unverified; any other
                    # HTTPS host it sends us to (token service, blob storage) verified.
                    context = lazy_default_context()
                    unverified = Origin.of(self._api_root)
                self._transport = Transport(
                    ssl_context=context,
                    timeout=self.options.timeout,
                    # urllib3 also waits this long for a body to be taken while sending
                    # it: shorter, a registry that stores a chunk slowly would be dropped.
                    connect_timeout=self.options.timeout,
                    # A connection for every request in flight, kept alive between them.
                    max_connections=max(
                        self.options.max_connections, self.options.max_in_flight or 0
                    ),
                    user_agent=USER_AGENT,
                    insecure=self.options.insecure,
                    unverified=unverified,
                    unverified_context=None if unverified is None else unverified_context(),
                    meter=self.meter,
                    max_in_flight=self.options.max_in_flight,
                )
            return self._transport

    @functools.cached_property
    def _sender(self) -> Authenticated:
        transport = self.transport

        def check(request: Request) -> None:
            self.auth.check_transport(request, proxy=transport.proxy_for(request.target))

        redirects = Redirects(transport, check, registry=self.registry)
        return Authenticated(redirects, self.auth, origin=self.origin)

    @property
    def scheme(self) -> str:
        """``https`` or ``http``, decided on first use (a probe, when the rules of
        ``_tls.py`` leave two) and kept for the client's life.

        :raises NetworkError: the probe got no answer.
        """
        try:
            return self._decided_scheme()
        except TransportError as err:
            raise self._failure(err, "connect") from err

    def _decided_scheme(self) -> str:
        """The scheme; one thread probes, any other that asks meanwhile waits for it.

        :raises TransportError: the probe got no answer; nothing is decided, and the next
            call probes again.
        """
        scheme = self._scheme
        if scheme is None:
            with self._deciding:
                scheme = self._scheme
                if scheme is None:
                    scheme = self._scheme = self._probe()
        return scheme

    def _probe(self) -> str:
        """HTTPS if the registry answers on it, else plain HTTP where ``_reach`` allows that
        (docker's fallback); asked through the transport, so proxies apply as to every
        other request. Where plain HTTP is allowed, a registry the cache says answered
        over it is asked over it first, with no probe: its first answer decides
        (:meth:`_plain_http_answered`).

        :raises TransportError: the failure says nothing about the scheme (no connection).
        """
        schemes = self._reach.schemes
        if len(schemes) == 1:
            return schemes[0]
        if self.cache is not None and not self._hint_read:
            self._hint_read = True
            if self.cache.speaks_plain_http(self.api_host):
                self._plain_trial = "hinted"
                return "http"
        try:
            self.transport.send(Request("GET", self._api_root)).close()
        except TransportError as err:
            if not self._reach.falls_back(err):
                raise
            log.debug("https://%s: %s; plain HTTP then", self.api_host, err)
            self._plain_trial = "probed"
            return "http"
        if self.cache is not None:
            self.cache.hint_plain_http(self.api_host, plain=False)
        return "https"

    def _plain_http_answered(self, *, status: int | None = None, failure: str = "") -> bool:
        """The first answer over plain HTTP (``status``, or no answer: ``failure``) after
        the scheme was decided: an answer confirms it (the cache remembers it), and refutes
        it when plain HTTP was taken on the cache's word and the answer is none, or an
        HTTP 400 (what a TLS server says to plain HTTP). Whether it was refuted: then the
        scheme is probed again, once."""
        with self._deciding:
            trial, self._plain_trial = self._plain_trial, None
            if trial is None:
                return False
            if status is not None and (status != 400 or trial == "probed"):
                if self.cache is not None:
                    self.cache.hint_plain_http(self.api_host, plain=True)
                return False
            if trial == "probed":
                return False  # no answer from a registry just probed: no verdict
            log.debug("http://%s: %s; probing HTTPS again", self.api_host, failure or status)
            self._scheme = None
            # Made of the scheme: the origin credentials go to, and the sender bound to it.
            self.__dict__.pop("origin", None)
            self.__dict__.pop("_sender", None)
            if self.cache is not None:
                self.cache.hint_plain_http(self.api_host, plain=False)
            return True

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.api_host}"

    @functools.cached_property
    def origin(self) -> Origin:
        """The registry's origin: the one its credentials are sent to."""
        return Origin.of(parse_url(self.base_url))

    def close(self) -> None:
        with self._lock:
            if self._transport is not None:
                self._transport.close()
                self._transport = None
            self.__dict__.pop("_sender", None)

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests --------------------------------------------------------------------------

    def budget(self, retries: int | None = None) -> RetryBudget:
        """The retries of one operation (``retries``, else the options'): pass it to every
        request the operation sends, and ask it before starting the operation again."""
        return RetryBudget(
            self.options.retries if retries is None else retries,
            backoff=self.options.backoff,
            max_wait=self.options.max_wait,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        scopes: Iterable[str] = (),
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        content: bytes | Iterable[bytes] | None = None,
        stream: bool = False,
        expect: Callable[[Response], bool] | None = None,
        what: str = "",
        budget: RetryBudget | None = None,
    ) -> Response:
        """Send one request and return its response, translating every failure.

        ``path`` starts at ``/v2/`` or is an absolute URL (an upload location, a tag page,
        already resolved against the URL that named it). Responses for which
        ``expect(response)`` is true (default: a 2xx status) are returned as they are;
        others become errors. Transient failures are sent again when that is safe
        (``_retry.py``), spending ``budget`` (default: a fresh one of the options'). A
        ``stream`` response is returned unread and the caller closes it; any other is read
        whole, up to :data:`BODY_LIMIT` bytes.

        :raises AuthenticationError, PermissionDeniedError: 401 / 403.
        :raises RegistryError: any other unexpected status, a body over the limit, or a
            ``path`` that is not an ``http(s)://`` URL.
        :raises NetworkError: no answer.
        :raises InvalidInputError: a CA or client certificate file that cannot be used.
        """
        # The query of an upload location is the registry's state, not for messages.
        label = what or f"{method} {without_query(path)}"
        wanted = frozenset(scopes)
        budget = budget if budget is not None else self.budget()
        # A body held whole can be sent again; a stream was consumed by the first try.
        replayable = content is None or isinstance(content, bytes)
        first = self._await_first_contact()
        try:
            while True:  # every pass returns, raises, or spends one retry of ``budget``
                try:
                    # The first request of a client may probe the scheme first.
                    base = self._decided_scheme() + "://" + self.api_host
                except TransportError as err:
                    # The probe's GET may be sent again, whatever the request's method.
                    if may_send_again("GET", replayable=True, kind=err.kind) and (
                        budget.wait(label, str(err), failure=err)
                    ):
                        continue
                    raise self._failure(err, label) from err
                target = self._target(base, path, params, label)
                sender = self._sender
                # Taken with the sender: a refuted scheme hint may drop both meanwhile.
                origin = self.origin
                try:
                    request = Request(method, target, headers=headers, body=content)
                    # Nothing is read before we decide how much to read.
                    # The first lets the others go once its first answer taught how the
                    # registry authenticates, not after its token exchange and retry too.
                    # (Not while plain HTTP taken on the cache's word is on trial: the
                    # others wait for its verdict.)
                    trial = self._plain_trial is not None
                    hinted = self._plain_trial == "hinted"
                    taught = self._contacted.set if first and not hinted else None
                    response = sender.send(request, wanted, taught=taught)
                    # Judged by the registry's own answer, not a token service's or storage's.
                    refuted = (
                        trial
                        and response.request.origin == origin
                        and self._plain_http_answered(status=response.status_code)
                    )
                    if refuted and replayable:
                        response.close()
                        continue
                    if expect(response) if expect is not None else response.is_success:
                        # Buffering reads the body: a break there is a transport error too.
                        return response if stream else self._buffered(response, label)
                except PolyarchError as err:
                    # From the auth flow: a token service that answered "not now".
                    idempotent = replayable and method in IDEMPOTENT
                    if idempotent and budget.again(label, err):
                        continue
                    raise
                except TransportError as err:
                    if (
                        self._plain_trial is not None
                        and err.request.origin == origin  # not a token service's
                        and self._plain_http_answered(failure=str(err))
                        and replayable
                    ):
                        continue
                    # A token service that failed is named as such (_auth.py).
                    error = self.auth.transport_error(err) or self._failure(err, label)
                    if may_send_again(method, replayable=replayable, kind=err.kind) and (
                        budget.wait(label, str(err), failure=err)
                    ):
                        continue
                    raise error from err
                status = response.status_code
                if may_send_again(method, replayable=replayable, status=status):
                    wait = retry_after(response.headers.get("Retry-After"))
                    if budget.wait(label, f"HTTP {status}", wait):
                        response.close()
                        continue
                try:
                    raise response_error(response, label, session=self.auth, origin=self.origin)
                finally:
                    response.close()
        finally:
            if first:
                self._contacted.set()

    def _target(self, base: str, path: str, params: Mapping[str, str] | None, label: str) -> Url:
        url = base + path if path.startswith("/") else path
        if params:
            # Added, not replaced: upload locations carry state in their query.
            url = with_params(url, params)
        try:
            return parse_url(url)
        except BadURLError as err:
            raise RegistryError(f"{label}: {self.registry} named {err}") from None

    def _failure(self, err: TransportError, what: str) -> NetworkError:
        # "Is it running?" fits a registry that is, or may be, plain HTTP: on this
        # machine, or --insecure.
        plain = self._scheme == "http" or (self._scheme is None and "http" in self._reach.schemes)
        return transport_failure(
            err, what, api_host=self.api_host, options=self.options, plain_http=plain
        )

    def _buffered(self, response: Response, what: str) -> Response:
        """The response with its body read into memory, refusing one over BODY_LIMIT.

        :raises TransportError: the connection broke (the caller decides on a retry).
        """
        _, more = response.read_at_most(BODY_LIMIT)
        if more:
            raise RegistryError(
                f"{what}: {self.registry} sent a body over {BODY_LIMIT} bytes",
                status=response.status_code,
            )
        return response

    def _await_first_contact(self) -> bool:
        """True for the one request that goes first; the others wait for its answer."""
        if self._contacted.is_set():
            return False
        if self._first_contact.acquire(blocking=False):
            return True
        self._contacted.wait(timeout=self.options.timeout)
        return False

    def ping(self) -> None:
        """Check that the host speaks the distribution API and the credentials work."""
        self.request("GET", "/v2/", what="ping")
