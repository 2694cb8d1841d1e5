"""Blobs fetched from the ``urls`` their descriptors name: non-distributable layers (the
base layers of Windows images live on mcr.microsoft.com; the image's registry need not
hold them).

Those hosts are not registries, and get none of a registry's trust: every request and
every redirect hop is HTTPS (``--insecure`` names registries, not them), carries no
credentials of any kind and follows at most ``MAX_REDIRECTS`` hops. TLS is verified as
for a registry host (the system's CAs, ``--ca-file``, ``certs.d/<host>/``). The body is
verified while it streams and resumed where a connection broke (``_download.py``), one
retry budget for the blob whatever the number of its URLs; the first
:data:`MAX_URLS` distinct URLs are tried in order until one serves the blob. A host is
shown no client certificate. Messages and logs show URLs without their query: a signed
URL's signature is a secret.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator

from polyarch.digest import DigestVerifier
from polyarch.errors import (
    BlobNotFoundError,
    ContentError,
    DigestMismatchError,
    NetworkError,
    NotFoundError,
    PolyarchError,
    RegistryError,
    SizeMismatchError,
)
from polyarch.models import Descriptor
from polyarch.registry._download import BlobDownload, checked_blob_response
from polyarch.registry._errors import transport_failure
from polyarch.registry._http import Request, Response, TransportError
from polyarch.registry._pools import Transport
from polyarch.registry._redirect import Redirects
from polyarch.registry._retry import RETRY_STATUSES, RetryBudget, may_send_again, retry_after
from polyarch.registry._tls import ssl_context
from polyarch.registry._url import BadURLError, Url, parse_url, without_query
from polyarch.registry.client import USER_AGENT
from polyarch.registry.options import RegistryOptions

__all__ = ["UrlBlobs"]

log = logging.getLogger(__name__)

#: The most URLs of one blob tried: the image names them, and a manifest has room for
#: a hundred thousand (each a connection, retries and redirects).
MAX_URLS = 8
#: The most earlier failures a message lists.
MAX_FAILURES_SHOWN = 3


class UrlBlobs:
    """Non-distributable layers from their URLs (a :class:`~polyarch.store.ForeignBlobs`).
    Thread-safe; one connection pool per host, for the whole run."""

    def __init__(self, options: RegistryOptions | None = None) -> None:
        # --insecure is about registries: a layer's host is always verified.
        self.options = dataclasses.replace(options or RegistryOptions(), insecure=False)
        self._transports: dict[str, Transport] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            transports = list(self._transports.values())
            self._transports.clear()
        for transport in transports:
            transport.close()

    def __enter__(self) -> UrlBlobs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def open_blob(self, descriptor: Descriptor) -> Iterator[Iterator[bytes]]:
        """Stream the blob from the first of its URLs that serves it. A URL that fails
        before the first byte (refused, not found, unreachable, a wrong length declared)
        gives way to the next; bytes that turn out wrong end the fetch: they have been
        passed on already.

        :raises BlobNotFoundError: no URL has it, or the descriptor names none.
        :raises RegistryError: a URL that is not HTTPS, or a host that answered with an
            error (the last URL's failure; the others are in the hint).
        :raises ContentError: the bytes are not the blob's.
        """
        if not descriptor.urls:
            raise BlobNotFoundError(
                f"blob {descriptor.digest} is missing and its descriptor names no URL to "
                "fetch it from",
                digest=descriptor.digest,
            )
        urls = list(dict.fromkeys(descriptor.urls))
        if len(urls) > MAX_URLS:
            log.warning(
                "blob %s names %d URLs; trying the first %d",
                descriptor.digest,
                len(urls),
                MAX_URLS,
            )
        budget = RetryBudget(
            self.options.retries, backoff=self.options.backoff, max_wait=self.options.max_wait
        )
        failures: list[PolyarchError] = []
        for url in urls[:MAX_URLS]:
            try:
                body, shown = self._download(descriptor, url, budget)
                body.open()
            except (RegistryError, NotFoundError, ContentError) as err:
                log.info("blob %s: %s", descriptor.digest, err)
                failures.append(err)
                continue
            try:
                yield _verified(body, descriptor, shown)
            finally:
                body.close()
            return
        error = failures[-1]
        earlier = failures[:-1]
        if earlier and error.hint is None:
            listed = "; ".join(str(err)[:300] for err in earlier[:MAX_FAILURES_SHOWN])
            more = len(earlier) - MAX_FAILURES_SHOWN
            error.hint = f"the URLs before it failed too: {listed}" + (
                f"; and {more} more" if more > 0 else ""
            )
        raise error

    def _download(
        self, descriptor: Descriptor, url: str, budget: RetryBudget
    ) -> tuple[BlobDownload, str]:
        shown = _shown(url)
        try:
            target = parse_url(url)
        except BadURLError:
            raise RegistryError(
                f"blob {descriptor.digest}: its descriptor names {shown[:200]!r}, which is "
                "not an https:// URL; polyarch fetches non-distributable layers over HTTPS only"
            ) from None
        host = f"{target.host}:{target.port}" if target.port else target.host or ""
        what = f"get blob {descriptor.digest} from {shown}"
        redirects = Redirects(_ByHost(self), _https_only(descriptor), registry=host)

        def get(offset: int, budget: RetryBudget) -> Response:
            """The blob GET, from byte ``offset`` on when it is not 0."""
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            while True:  # every pass returns, raises, or spends one retry of ``budget``
                try:
                    # Range and the User-Agent only: nothing of the user's goes to this host.
                    response = redirects.send(Request("GET", target, headers=headers))
                except TransportError as err:
                    error = self._transport_error(err, what)
                    if may_send_again("GET", replayable=True, kind=err.kind) and budget.wait(
                        what, str(err), failure=err
                    ):
                        continue
                    raise error from err
                status = response.status_code
                if status in RETRY_STATUSES and budget.wait(
                    what, f"HTTP {status}", retry_after(response.headers.get("Retry-After"))
                ):
                    response.close()
                    continue
                return _checked(response, descriptor, offset, shown=shown)

        return BlobDownload(descriptor, get, budget, where=shown, registry=host), shown

    def _transport_error(self, err: TransportError, what: str) -> NetworkError:
        host = err.request.netloc
        error = transport_failure(err, what, api_host=host, options=self.options, plain_http=False)
        if err.kind == "tls" and error.hint is not None:
            # An untrusted certificate: the hint offers --insecure, which does not apply.
            error.hint = f"trust its CA with --ca-file or {self.options.certs_dir}/{host}/ca.crt"
        return error

    def transport(self, netloc: str) -> Transport:
        """The connection pool for ``host[:port]``, verifying its TLS as a registry's."""
        with self._lock:
            transport = self._transports.get(netloc)
            if transport is None:
                transport = self._transports[netloc] = Transport(
                    ssl_context=ssl_context(self.options, netloc, client_certificates=False),
                    timeout=self.options.timeout,
                    connect_timeout=self.options.timeout,
                    max_connections=self.options.max_connections,
                    user_agent=USER_AGENT,
                )
            return transport


class _ByHost:
    """Sends each request (each redirect hop) through its host's pool."""

    def __init__(self, blobs: UrlBlobs) -> None:
        self._blobs = blobs

    def send(self, request: Request) -> Response:
        return self._blobs.transport(request.netloc).send(request)


def _https_only(descriptor: Descriptor) -> Callable[[Request], None]:
    def check(request: Request) -> None:
        """Refuse a hop that is not HTTPS, or that would carry user information."""
        url: Url = request.target
        if request.scheme != "https":
            raise RegistryError(
                f"refusing to fetch blob {descriptor.digest} from {_shown(request.url)}: "
                "polyarch fetches non-distributable layers over HTTPS only",
                hint="fetch the layer by other means and push it to the image's registry, "
                "where polyarch looks first",
            )
        if url.auth is not None or request.carries_credentials:
            raise RegistryError(
                f"refusing to fetch blob {descriptor.digest} from {_shown(request.url)}: "
                "the URL carries credentials, and polyarch sends none to a layer's host"
            )

    return check


def _checked(response: Response, descriptor: Descriptor, offset: int, *, shown: str) -> Response:
    """The answer to a blob GET from ``offset``, refused unless it is the blob's body.

    :raises BlobNotFoundError, RegistryError, SizeMismatchError: and close the response.
    """
    status = response.status_code
    answered = _shown(response.request.url)
    by = f"{shown}" if answered == shown else f"{shown} (redirected to {answered})"
    if status in (404, 410):
        response.close()
        raise BlobNotFoundError(
            f"blob {descriptor.digest} not found at {by} (HTTP {status})",
            digest=descriptor.digest,
        )
    if status not in ((200, 206) if offset else (200,)):
        response.close()
        raise RegistryError(f"get blob {descriptor.digest} from {by}: HTTP {status}", status=status)
    return checked_blob_response(
        response, descriptor, offset, where=by, registry=response.request.netloc
    )


def _verified(body: BlobDownload, descriptor: Descriptor, shown: str) -> Iterator[bytes]:
    """``body`` checked against the descriptor as it passes; a mismatch names the URL."""
    verifier = DigestVerifier(descriptor.digest, descriptor.size)
    error: ContentError
    try:
        yield from verifier.wrap(body)
        return
    except DigestMismatchError as err:
        error = DigestMismatchError(
            f"{shown} serves other bytes than blob {descriptor.digest}: they hash to {err.actual}",
            expected=err.expected,
            actual=err.actual,
        )
    except SizeMismatchError as err:
        served = "more than" if err.actual > err.expected else f"{err.actual} bytes, not"
        error = SizeMismatchError(
            f"{shown} serves {served} the {err.expected} bytes of blob {descriptor.digest}",
            expected=err.expected,
            actual=err.actual,
        )
    # The stores keep no blob that failed its check (put_blob, the archive's rename).
    error.hint = (
        f"the image names {shown} for this non-distributable layer, and what it serves "
        "is something else; nothing of it was kept"
    )
    raise error


def _shown(url: str) -> str:
    """``url`` as messages show it: without query, fragment or user information."""
    text = without_query(url)
    scheme, sep, rest = text.partition("://")
    authority, slash, path = rest.partition("/")
    return f"{scheme}{sep}{authority.rpartition('@')[2]}{slash}{path}" if sep else text
