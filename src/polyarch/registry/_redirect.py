"""Redirects, followed on the request's own terms: a bounded number of hops, a bounded
body per hop, and the credentials of a hop only where they were given (``_auth.py``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final, Protocol

from polyarch.errors import RegistryError
from polyarch.registry._http import Request, Response, TransportError
from polyarch.registry._url import BadURLError, join_url, without_query

__all__ = ["ERROR_BODY_LIMIT", "MAX_REDIRECTS", "Redirects", "Sender", "redirected"]

log = logging.getLogger(__name__)

#: Redirects followed for one request before giving up (httpx's and curl's default).
MAX_REDIRECTS: Final = 20
#: The most of an error answer (or a redirect's body) that is read.
ERROR_BODY_LIMIT: Final = 64 * 1024


class Sender(Protocol):
    """Anything that sends a request and returns its answer, body unread."""

    def send(self, request: Request) -> Response: ...


class Redirects:
    """Sends through ``inner``, following redirects; ``check`` is asked about every hop
    before it is sent (where its credentials may go) and raises to refuse it."""

    def __init__(self, inner: Sender, check: Callable[[Request], None], *, registry: str) -> None:
        self._inner = inner
        self._check = check
        self._registry = registry

    def send(self, request: Request) -> Response:
        for _ in range(MAX_REDIRECTS + 1):
            self._check(request)
            response = self._inner.send(request)
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
            request = redirected(request, response)
        raise RegistryError(
            f"{without_query(request.url)}: more than {MAX_REDIRECTS} redirects",
            hint=f"{self._registry} sends clients around in a loop",
        )


def redirected(request: Request, response: Response) -> Request:
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
