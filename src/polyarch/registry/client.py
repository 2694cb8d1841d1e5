"""An HTTP client for one registry host (distribution API v2): transport, TLS, auth, errors,
retries.

Plain HTTP is used only for ``--insecure`` registries and loopback hosts (``localhost``,
127.0.0.0/8, ``::1``), as docker does; everything else is HTTPS with verification against
the system's CAs plus ``/etc/docker/certs.d/<host>/*.crt`` and ``--ca-file``.

Retries: a request that got no answer (refused, reset, closed, timed out) or a "not now"
answer (429, 500, 502, 503, 504) is sent again after an exponential backoff with jitter
(``Retry-After`` honoured, capped), at most ``RegistryOptions.retries`` times, when sending
it again is safe::

    idempotent method (GET HEAD PUT DELETE), body held whole    every transient failure
    any method, body held whole                                  no connection made; 429, 503
    a streamed body (blob uploads)                               never here: the store
                                                                 restarts the whole upload

Bodies are read with a cap, so an endless answer costs bounded memory and time: what a
caller streams (blobs, manifests) it bounds itself; every other body is read up to
:data:`BODY_LIMIT` bytes, error bodies up to :data:`ERROR_BODY_LIMIT`.
"""

from __future__ import annotations

import email.utils
import functools
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from polyarch import __version__
from polyarch.errors import (
    AuthenticationError,
    InvalidInputError,
    NetworkError,
    PermissionDeniedError,
    PolyarchError,
    RegistryError,
)
from polyarch.reference import api_host_of
from polyarch.registry._auth import AuthSession, Challenge, RegistryAuth, TokenRenewedError
from polyarch.registry._http import (
    BadURLError,
    Origin,
    Request,
    Response,
    Transport,
    TransportError,
    is_loopback,
    join_url,
    parse_url,
    with_params,
    without_query,
)
from polyarch.registry.options import DEFAULT_CERTS_DIR, RegistryOptions

if TYPE_CHECKING:
    from polyarch.auth import Credentials

__all__ = [
    "BODY_LIMIT",
    "DEFAULT_CERTS_DIR",
    "ERROR_BODY_LIMIT",
    "RETRY_STATUSES",
    "RegistryClient",
    "RegistryOptions",
    "is_loopback",
    "worth_retrying",
]

log = logging.getLogger(__name__)

USER_AGENT = f"polyarch/{__version__}"

#: Answers that say "not now" rather than "no": the same request may succeed later.
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
#: Answers that say the request was not acted on (RFC 6585 §4, RFC 9110 §15.6.4): safe to
#: send again whatever the method.
_NOT_PERFORMED: Final = frozenset({429, 503})
#: Methods whose repetition has the effect of one request (RFC 9110 §9.2.2).
_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
#: The most a body the caller does not stream may hold (tag lists, upload answers).
BODY_LIMIT: Final = 16 * 1024 * 1024
#: The most of an error answer read for its message.
ERROR_BODY_LIMIT: Final = 64 * 1024
#: Redirects followed for one request before giving up (httpx's and curl's default).
MAX_REDIRECTS: Final = 20
#: Set on an error that :meth:`RegistryClient.request` already retried as often as allowed,
#: so that callers restarting a larger operation do not multiply the attempts.
_SPENT: Final = "_polyarch_retries_spent"


def worth_retrying(err: BaseException) -> bool:
    """Whether a failed operation may succeed if started again: the registry did not answer,
    the connection broke, or it answered "not now" (:data:`RETRY_STATUSES`); and
    :meth:`RegistryClient.request` has not already retried it as often as allowed.

    A certificate that is not trusted, a refusal, or content that is wrong is final.
    """
    if getattr(err, _SPENT, False) or not isinstance(err, RegistryError):
        return False
    if isinstance(err, TokenRenewedError):
        return True  # an upload's token was refused and renewed (_auth.py): start again
    cause = err.__cause__
    if isinstance(err, NetworkError) and isinstance(cause, TransportError):
        return cause.kind in ("sent", "unsent")
    return err.status in RETRY_STATUSES


def _retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for: delay-seconds or an HTTP-date; ``None``
    for anything else (``²`` is no number of seconds, whatever ``str.isdigit`` says)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _error_codes(body: bytes) -> tuple[tuple[str, ...], str]:
    """The distribution error codes of a response body and a readable summary of them."""
    from polyarch.jsonread import loads

    try:
        doc = loads(body)
        errors = doc.get("errors") if isinstance(doc, dict) else None
    except ValueError:
        errors = None
    if not isinstance(errors, list):
        return (), ""
    codes: list[str] = []
    parts: list[str] = []
    for error in errors[:8]:
        if not isinstance(error, dict):
            continue
        code = _text(error.get("code"))
        message = _text(error.get("message"))
        detail = error.get("detail")
        codes.append(code)
        text = f"{code}: {message}" if code and message else code or message
        if isinstance(detail, str | int | float) and not isinstance(detail, bool) and detail:
            text += f" ({_text(detail)})"
        elif isinstance(detail, list) and detail and isinstance(detail[0], dict):
            # e.g. DENIED details list the scopes that were refused.
            names = [_text(d.get("Name")) for d in detail[:3] if isinstance(d, dict)]
            text += f" ({', '.join(n for n in names if n)})"
        parts.append(text)
    return tuple(codes), "; ".join(p for p in parts if p)


def _text(value: object, limit: int = 300) -> str:
    """A scalar of an error answer as message text, cut short; anything else is nothing
    (a nested structure could be deeper than ``str`` goes)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit] + "..."


class RegistryClient:
    """Talks to one registry host. Thread-safe; one connection pool, one auth session."""

    def __init__(
        self,
        registry: str,
        *,
        api_host: str | None = None,
        options: RegistryOptions | None = None,
    ) -> None:
        self.registry = registry
        self.api_host = api_host or api_host_of(registry)
        self.options = options or RegistryOptions()
        self.auth = AuthSession(registry, self._load_credentials, insecure=self.options.insecure)
        self._transport: Transport | None = None
        self._scheme: str | None = None
        self._lock = threading.Lock()
        # Until one answer has taught us how the registry authenticates, concurrent
        # requests would each collect their own 401: let the first go alone.
        self._contacted = threading.Event()
        self._first_contact = threading.Lock()

    def _load_credentials(self) -> Credentials | None:
        if self.options.credentials is not None:
            return self.options.credentials
        from polyarch.auth import load_credentials

        return load_credentials(self.registry, config_dir=self.options.config_dir)

    # -- transport -------------------------------------------------------------------------

    @property
    def _certs_host_dir(self) -> Path:
        """docker's certs.d directory for this host (IPv6 without brackets, as docker has it)."""
        return self.options.certs_dir / self.api_host.replace("[", "").replace("]", "")

    def _ssl_context(self) -> ssl.SSLContext:
        if self.options.insecure:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        context = ssl.create_default_context()
        cas = [self.options.ca_file] if self.options.ca_file is not None else []
        host_dir = self._certs_host_dir
        pairs: list[tuple[Path, Path]] = []
        if host_dir.is_dir():
            cas += sorted(host_dir.glob("*.crt"))
            for client_cert in sorted(host_dir.glob("*.cert")):
                key = client_cert.with_suffix(".key")
                if key.is_file():
                    pairs.append((client_cert, key))
        # A file ssl cannot use is the caller's input, not a failure of ours (exit 2, not 70).
        for ca in cas:
            try:
                context.load_verify_locations(cafile=str(ca))
            except OSError as err:  # ssl.SSLError included
                raise InvalidInputError(
                    f"cannot use {ca} as a CA certificate: {err}",
                    hint="it must hold one or more PEM certificates",
                ) from err
        for client_cert, key in pairs:
            try:
                # Without a password callback OpenSSL would prompt on the terminal.
                context.load_cert_chain(str(client_cert), str(key), password=_encrypted(key))
            except OSError as err:
                raise InvalidInputError(
                    f"cannot use {client_cert} with {key.name} as a client certificate: {err}",
                    hint="they must be a PEM certificate and its unencrypted private key",
                ) from err
        return context

    @property
    def transport(self) -> Transport:
        with self._lock:
            if self._transport is None:
                self._transport = Transport(
                    # A plain-HTTP registry may still send us to HTTPS hosts (its token
                    # service, a blob redirect): those are verified, but the CA store
                    # (~20 ms) is loaded only if one is ever contacted.
                    # (--insecure first: its scheme is found by probing, through this.)
                    ssl_context=self._ssl_context()
                    if self.options.insecure or self.scheme == "https"
                    else _LazyDefaultContext(ssl.PROTOCOL_TLS_CLIENT),
                    timeout=self.options.timeout,
                    # urllib3 also waits this long for a body to be taken while sending
                    # it: shorter, a registry that stores a chunk slowly would be dropped.
                    connect_timeout=self.options.timeout,
                    max_connections=self.options.max_connections,
                    user_agent=USER_AGENT,
                    insecure=self.options.insecure,
                )
            return self._transport

    def _schemes(self) -> tuple[str, ...]:
        """The schemes to try, in order. More than one means: probe once, then stick."""
        host_dir = self._certs_host_dir
        tls_configured = self.options.ca_file is not None or host_dir.is_dir()
        if self.options.insecure:
            return ("https", "http")
        if is_loopback(self.api_host) and not tls_configured:
            return ("http",)
        return ("https",)

    @property
    def scheme(self) -> str:
        if self._scheme is None:
            schemes = self._schemes()
            self._scheme = schemes[0] if len(schemes) == 1 else self._probe(schemes)
        return self._scheme

    def _probe(self, schemes: tuple[str, ...]) -> str:
        """Find the first scheme the registry answers on (docker's insecure fallback),
        through the transport, so proxies apply as to every other request."""
        for scheme in schemes[:-1]:
            try:
                self.transport.send(Request("GET", f"{scheme}://{self.api_host}/v2/")).close()
                return scheme
            except TransportError as err:
                log.debug(
                    "%s://%s does not answer (%s), trying the next scheme",
                    scheme,
                    self.api_host,
                    err,
                )
        return schemes[-1]

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

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests --------------------------------------------------------------------------

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
        retries: int | None = None,
    ) -> Response:
        """Send one request and return its response, translating every failure.

        ``path`` starts at ``/v2/`` or is an absolute URL (an upload location, a tag page,
        already resolved against the URL that named it). Responses
        for which ``expect(response)`` is true (default: a 2xx status) are returned as
        they are; others become errors. Transient failures are retried when that is safe
        (see the module docstring), up to ``retries`` times (default: the options').
        A ``stream`` response is returned unread and the caller closes it; any other is
        read whole, up to :data:`BODY_LIMIT` bytes.

        :raises AuthenticationError, PermissionDeniedError: 401 / 403.
        :raises RegistryError: any other unexpected status, a body over the limit, or a
            ``path`` that is not an ``http(s)://`` URL.
        :raises NetworkError: no answer.
        :raises InvalidInputError: a CA or client certificate file that cannot be used.
        """
        # The query of an upload location is the registry's state, not for messages.
        label = what or f"{method} {path.partition('?')[0]}"
        url = self.base_url + path if path.startswith("/") else path
        if params:
            # Added, not replaced: upload locations carry state in their query.
            url = with_params(url, params)
        try:
            target = parse_url(url)
        except BadURLError as err:
            raise RegistryError(f"{label}: {self.registry} named {err}") from None
        auth = RegistryAuth(self.auth, frozenset(scopes), origin=self.origin)
        transport = self.transport
        # A body held whole can be sent again; a stream was consumed by the first try.
        replayable = content is None or isinstance(content, bytes)
        idempotent = replayable and method in _IDEMPOTENT
        budget = self.options.retries if retries is None else retries
        first = self._await_first_contact()
        attempt = 0
        try:
            while True:  # every pass returns, raises, or spends one of ``budget`` retries
                try:
                    request = Request(method, target, headers=headers, body=content)
                    # Nothing is read before we decide how much to read.
                    response = self._send(transport, request, auth)
                    if expect(response) if expect is not None else response.is_success:
                        return response if stream else self._buffered(response, label)
                except PolyarchError as err:
                    # From the auth flow: a token service that answered "not now".
                    if idempotent and worth_retrying(err):
                        if attempt < budget:
                            self._pause(attempt, budget, label, str(err))
                            attempt += 1
                            continue
                        setattr(err, _SPENT, budget > 0)
                    raise
                except TransportError as err:
                    kind = err.kind
                    # A token service that failed is named as such (_auth.py).
                    error = self.auth.transport_error(err) or self._network_error(
                        err, method, url, label
                    )
                    if (kind == "unsent" and replayable) or (kind == "sent" and idempotent):
                        if attempt < budget:
                            self._pause(attempt, budget, label, str(err))
                            attempt += 1
                            continue
                        setattr(error, _SPENT, budget > 0)
                    raise error from err
                status = response.status_code
                eligible = replayable and (
                    status in _NOT_PERFORMED or (idempotent and status in RETRY_STATUSES)
                )
                if eligible and attempt < budget:
                    response.close()
                    wait = _retry_after(response.headers.get("Retry-After"))
                    self._pause(attempt, budget, label, f"HTTP {status}", wait)
                    attempt += 1
                    continue
                try:
                    self.raise_for_response(response, label)
                except RegistryError as err:
                    setattr(err, _SPENT, eligible and budget > 0)
                    raise
                finally:
                    response.close()
        finally:
            if first:
                self._contacted.set()

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

    def _send(self, transport: Transport, request: Request, auth: RegistryAuth) -> Response:
        """Drive one request's auth flow: every request it yields is sent, redirects
        followed; the answer to the last one is the request's."""
        flow = auth.auth_flow(request)
        outgoing = next(flow)
        while True:
            response = self._follow(transport, outgoing)
            try:
                outgoing = flow.send(response)
            except StopIteration:
                return response
            except BaseException:
                response.close()
                raise
            _discard(response)

    def _follow(self, transport: Transport, request: Request) -> Response:
        """Send ``request``, following redirects. On every hop credentials go only to the
        origin they were given for, never over plain HTTP to another machine or through a
        proxy elsewhere (_auth.py); ``Authorization`` is dropped when a hop leaves the
        origin (a blob redirected to storage carries its own signature)."""
        for _ in range(MAX_REDIRECTS + 1):
            self.auth.check_transport(request, proxy=transport.proxy_for(request.target))
            response = transport.send(request)
            # Without the query: an upload location's is the registry's state.
            log.debug(
                "HTTP Request: %s %s %d",
                request.method,
                without_query(request.url),
                response.status_code,
            )
            if not response.is_redirect:
                return response
            try:
                _, more = response.read_at_most(ERROR_BODY_LIMIT)
            except TransportError:
                more = False  # the next hop is what matters
            if more:
                raise RegistryError(
                    f"{without_query(request.url)} answered with a redirect (HTTP "
                    f"{response.status_code}) whose body is over {ERROR_BODY_LIMIT} bytes",
                    status=response.status_code,
                )
            request = _redirected(request, response)
        raise RegistryError(
            f"{without_query(request.url)}: more than {MAX_REDIRECTS} redirects",
            hint=f"{self.registry} sends clients around in a loop",
        )

    def _pause(
        self,
        attempt: int,
        budget: int,
        what: str,
        reason: str,
        retry_after: float | None = None,
    ) -> None:
        """Log and wait before retry number ``attempt + 1`` of ``budget``."""
        if retry_after is not None:
            delay = min(retry_after, self.options.max_wait)
        else:
            ceiling = min(self.options.max_wait, self.options.backoff * 2**attempt)
            delay = random.uniform(ceiling / 2, ceiling)
        log.info("%s: %s; retry %d of %d in %.2fs", what, reason, attempt + 1, budget, delay)
        time.sleep(delay)

    def retry_later(self, attempt: int, what: str, err: BaseException) -> bool:
        """For a caller that restarts a larger operation (a whole upload, a body that broke
        off): if ``err`` is :func:`worth_retrying` and retry number ``attempt + 1`` is
        allowed, wait for it and return True."""
        budget = self.options.retries
        if attempt >= budget or not worth_retrying(err):
            return False
        self._pause(attempt, budget, what, str(err))
        return True

    def _await_first_contact(self) -> bool:
        """True for the one request that goes first; the others wait for its answer."""
        if self._contacted.is_set():
            return False
        if self._first_contact.acquire(blocking=False):
            return True
        self._contacted.wait(timeout=self.options.timeout)
        return False

    def _network_error(
        self, err: TransportError, method: str, url: str, what: str = ""
    ) -> NetworkError:
        if err.kind == "tls" and (
            isinstance(_innermost(err.cause), ssl.SSLCertVerificationError)
            or "CERTIFICATE_VERIFY_FAILED" in str(err)
        ):
            return NetworkError(
                f"the TLS certificate of {self.api_host} is not trusted: {err}",
                hint=(
                    f"trust its CA with --ca-file or {self.options.certs_dir}/{self.api_host}/"
                    "ca.crt, or skip verification with --insecure"
                ),
            )
        # The query of an upload location is the registry's state, not for messages.
        where = without_query(url)
        if err.timeout:
            return NetworkError(
                f"{what or f'{method} {where}'}: {err} (timeout {self.options.timeout:g}s)"
            )
        if err.kind == "sent":
            return NetworkError(
                f"{what or f'{method} {where}'}: the connection to {self.api_host} broke: {err}"
            )
        return NetworkError(
            f"cannot reach {self.api_host}: {err}",
            hint=None if self.scheme == "https" else "is the registry running?",
        )

    def raise_for_response(self, response: Response, what: str) -> None:
        """Turn an unexpected response into the right error; always raises."""
        try:
            # Enough for the message, whatever the registry keeps sending.
            body, _ = response.read_at_most(ERROR_BODY_LIMIT)
        except TransportError:
            body = b""
        codes, summary = _error_codes(body)
        status = response.status_code
        detail = f": {summary}" if summary else ""
        elsewhere = response.request.origin
        if status in (401, 403) and elsewhere != self.origin:
            # A signed storage URL that expired, or a registry sending clients elsewhere:
            # either way, that origin is never given the registry's credentials.
            raise AuthenticationError(
                f"{what}: {elsewhere}, where {self.registry} sent the request, answered HTTP "
                f"{status}{detail}; polyarch sends the credentials for {self.registry} to "
                f"{self.origin} only"
            )
        if status == 401:
            creds = self.auth.credentials
            if creds is None:
                raise AuthenticationError(
                    f"{what}: {self.registry} requires authentication{detail}",
                    hint=f"log in first: polyarch login {self.registry}",
                )
            challenge = Challenge.parse(response.headers.get("WWW-Authenticate", ""))
            if challenge is not None and challenge.params.get("error") == "insufficient_scope":
                # The token service accepted who we are but left out what this request
                # needs (token.md: a refused scope is not an error there): a refusal of
                # the operation, not of the credentials.
                raise PermissionDeniedError(
                    f"{what}: access denied by {self.registry}: the credentials from "
                    f"{self.auth.credential_source} do not grant {_needed_scope(challenge)}"
                )
            raise AuthenticationError(
                f"{what}: {self.registry} rejected the credentials from {creds.source}{detail}",
                hint=f"check them with: polyarch login {self.registry}",
            )
        if status == 403 or "DENIED" in codes:
            raise PermissionDeniedError(
                f"{what}: access denied by {self.registry} "
                f"(credentials from {self.auth.credential_source}){detail}"
            )
        raise RegistryError(
            f"{what}: {self.registry} answered HTTP {status}{detail or ' ' + _reason(response)}",
            status=status,
            codes=codes,
        )

    def ping(self) -> None:
        """Check that the host speaks the distribution API and the credentials work."""
        self.request("GET", "/v2/", what="ping")


def _encrypted(key: Path) -> Callable[[], str]:
    """A password callback for ``key`` that refuses: docker reads unencrypted keys only."""

    def refuse() -> str:
        raise InvalidInputError(
            f"{key} is encrypted; polyarch cannot ask for its passphrase",
            hint="decrypt it: openssl pkey -in KEY -out KEY",
        )

    return refuse


def _needed_scope(challenge: Challenge) -> str:
    """The challenge's ``scope``, actions sorted (the registry lists them in any order)."""
    scopes = []
    for scope in challenge.params.get("scope", "").split():
        resource, _, actions = scope.rpartition(":")
        scopes.append(f"{resource}:{','.join(sorted(actions.split(',')))}")
    return " ".join(scopes) or "the access it needs"


def _innermost(err: BaseException) -> BaseException:
    """The first cause of ``err`` (urllib3 wraps ssl's errors once or twice)."""
    seen = 0
    while seen < 8:
        inner = err.__cause__ or err.__context__
        if inner is None and err.args and isinstance(err.args[0], BaseException):
            inner = err.args[0]
        if inner is None:
            return err
        err, seen = inner, seen + 1
    return err


def _discard(response: Response) -> None:
    """Let go of an answer the auth flow is done with (a 401), keeping its connection
    when the body is small enough to read."""
    try:
        response.read_at_most(ERROR_BODY_LIMIT)
    except TransportError:
        pass
    finally:
        response.close()


def _redirected(request: Request, response: Response) -> Request:
    """The next hop of a redirect, as browsers and httpx build it: 303 (and 301/302 of a
    POST) become a GET without the body; ``Authorization`` stays only on the same origin
    (scheme, host and port: an upgrade to HTTPS is another origin too). A body that holds
    a credential cannot be dropped: :meth:`AuthSession.check_transport` refuses the hop
    when it leaves the origin.

    :raises RegistryError: the ``Location`` is not a URL, or a streamed body would have to
        be sent again.
    """
    try:
        target = join_url(request.url, response.headers["Location"])
    except BadURLError as err:
        raise RegistryError(
            f"{request.method} {without_query(request.url)} was redirected to {err}",
            status=response.status_code,
        ) from None
    method = request.method
    status = response.status_code
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method = "GET"
    elif not request.replayable:
        raise RegistryError(
            f"{request.method} {without_query(request.url)} was redirected to "
            f"{without_query(target.url)} while streaming a body, which cannot be sent again",
            status=status,
        )
    hop = Request(
        method,
        target,
        headers=request.headers,
        body=request.body if method == request.method else None,
        token_request=request.token_request,
        secret_body=request.secret_body and method == request.method,
        credential_origin=request.credential_origin,
    )
    if method != request.method:
        for name in ("Content-Length", "Content-Type", "Transfer-Encoding"):
            hop.headers.discard(name)
    if hop.origin != request.origin:
        hop.headers.discard("Authorization")
    return hop


class _LazyDefaultContext(ssl.SSLContext):
    """Verifies as ``ssl.create_default_context()`` does, loading the CA store on first use.

    ``PROTOCOL_TLS_CLIENT`` already requires a certificate and checks host names; until the
    CAs are loaded nothing would verify, so it fails closed, never open.
    """

    _ca_lock = threading.Lock()
    _ca_loaded = False

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        with self._ca_lock:
            if not self._ca_loaded:
                self.load_default_certs()
                self._ca_loaded = True
        return super().wrap_socket(*args, **kwargs)


def _reason(response: Response) -> str:
    text = response.reason_phrase or ""
    return f"({text})" if text else ""
