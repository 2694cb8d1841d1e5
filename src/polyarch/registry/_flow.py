"""One request's authentication, and the sender that drives it.

The flow is an auth generator (httpx's design): send, get a 401 with a challenge, ask the
token service it names for a token with the scopes this request needs, send again. What
is learned lives in the registry's :class:`~polyarch.registry._auth.AuthSession`, so later
requests send the right header up front and no 401 is spent twice. Credentials are
attached only to requests to the registry's own origin.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator

from polyarch.registry._auth import AuthSession, TokenRenewedError
from polyarch.registry._http import Request, Response, TransportError
from polyarch.registry._redirect import ERROR_BODY_LIMIT, Sender
from polyarch.registry._url import Origin, without_query

__all__ = ["Authenticated", "RegistryAuth"]


class RegistryAuth:
    """One request's auth flow: send with what is known, answer one challenge, send again.

    The flow yields the requests to send and is sent their answers; the last answer is the
    request's (the client drives it, following redirects on every request it yields).
    Credentials are attached only to requests to ``origin``, the registry's.
    """

    def __init__(self, session: AuthSession, scopes: frozenset[str], *, origin: Origin) -> None:
        self.session = session
        self.scopes = scopes
        self.origin = origin

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        if request.origin != self.origin:
            # Another origin the registry named (a tag page, an upload location): it gets
            # no credentials, and a challenge from it is not the registry's to answer.
            yield request
            return
        session = self.session
        header = session.cached_header(self.scopes)
        fresh = False
        if header is None and session.challenge is not None:
            header = yield from self._fresh_header()
            fresh = True
        if header is not None:
            request.headers["Authorization"] = header
            request.credential_origin = self.origin
            session.check_transport(request)
        response = yield request
        if response.status_code != 401:
            return
        challenge = session.learn(response)
        if challenge is None or fresh:
            return  # what was just obtained for this very request was refused
        if header is not None:
            if challenge.scheme == "basic":
                return  # the credentials we have were the ones refused
            if challenge.params.get("error") == "insufficient_scope":
                # The token is sound but does not grant what this request needs (a cancel
                # wanting "delete"): the service would answer the same again.
                return
            # A token that expired early by our clock, or was revoked: one fresh exchange,
            # one more try, then the registry's answer stands.
            session.forget_token(header)
        refused = header
        header = yield from self._fresh_header()
        if header is None:
            return
        if not request.replayable:
            # The body (an upload's bytes) went with the refused request and cannot be
            # sent again; the session keeps the new token for whoever tries next.
            why = (
                "refused a token that had not expired by this machine's clock"
                if refused is not None
                else "asked for credentials"
            )
            ready = "a new token is ready" if refused is not None else "they are ready now"
            raise TokenRenewedError(
                f"{request.method} {without_query(request.url)}: {session.registry} "
                f"{why} while an upload was being sent, which cannot be sent again; {ready}",
                status=401,
                hint="run the command again: blobs already uploaded are skipped",
            )
        request.headers["Authorization"] = header
        request.credential_origin = self.origin
        session.check_transport(request)
        response = yield request
        if response.status_code == 401:
            session.learn(response)  # what it says is the error's (a scope refused)

    def _fresh_header(self) -> Generator[Request, Response, str | None]:
        session = self.session
        challenge = session.challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return session.basic_header()
        # One exchange per scope at a time: threads that need the same token wait for it.
        with session.scope_lock(self.scopes):
            cached = session.cached_header(self.scopes)
            if cached is not None:
                return cached
            token_response = yield session.token_request(self.scopes)
            return session.accept_token(token_response, self.scopes)


class Authenticated:
    """Sends through ``inner`` (which follows redirects), driving each request's auth flow
    (:class:`RegistryAuth`): every request the flow yields is sent, and the answer to the
    last one is the request's. Credentials go only to ``origin``, the registry's."""

    def __init__(self, inner: Sender, session: AuthSession, *, origin: Origin) -> None:
        self._inner = inner
        self._session = session
        self._origin = origin

    def send(
        self,
        request: Request,
        scopes: frozenset[str] = frozenset(),
        *,
        taught: Callable[[], None] | None = None,
    ) -> Response:
        """:param taught: called once the first answer was learnt from (a challenge, and
        this request's token exchange begun; or none needed): what other requests
        wait for before their first, so that they spend no 401 of their own."""
        flow = RegistryAuth(self._session, scopes, origin=self._origin).auth_flow(request)
        # Closed however this ends: a flow left suspended in a token exchange would hold
        # its scope's lock for as long as the error that ended it is kept.
        with contextlib.closing(flow):
            outgoing = next(flow)
            while True:
                response = self._inner.send(outgoing)
                try:
                    outgoing = flow.send(response)
                except StopIteration:
                    return response
                except BaseException:
                    response.close()
                    raise
                finally:
                    if taught is not None:
                        taught()
                        taught = None
                _discard(response)


def _discard(response: Response) -> None:
    """Let go of an answer the auth flow is done with (a 401), keeping its connection
    when the body is small enough to read."""
    try:
        response.read_at_most(ERROR_BODY_LIMIT)
    except TransportError:
        pass
    finally:
        response.close()
