"""What one registry taught us about authenticating to it (:class:`AuthSession`): its
challenge, its tokens by scope, the credentials and where they may travel. The flow of
one request is in ``_flow.py``; what challenges and tokens say, in ``_tokens.py``.

Tokens are renewed before they expire by this machine's clock (``issued_at`` and
``expires_in`` of the token service's answer); a token the registry refuses although our
clock says it is valid is renewed once and the request sent once more, never in a loop.

Credentials go only to the origin (scheme, host, port) they were given for: the
registry's own, or the token service its challenge names; never to another origin that
the registry points to (a tag page's ``Link``, an upload ``Location``, a redirect), as
docker's authorizer adds credentials only for the hosts that challenged. On the way they
travel only where they cannot be read: HTTPS, or plain HTTP to this machine
(``localhost``, 127.0.0.0/8, ``::1``) unless the registry was declared ``--insecure``, and
never over plain HTTP through a proxy on another machine (:meth:`AuthSession.check_transport`).
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final
from urllib.parse import urlencode

from polyarch.errors import (
    AuthenticationError,
    NetworkError,
    PermissionDeniedError,
    RegistryError,
)
from polyarch.jsonread import loads
from polyarch.registry._http import Request, Response, TransportError
from polyarch.registry._tokens import Challenge, Token, covers, granted_scopes, token_lifetime
from polyarch.registry._url import (
    BadURLError,
    Origin,
    Url,
    is_loopback,
    parse_url,
    with_params,
    without_query,
)

if TYPE_CHECKING:
    from polyarch.auth import Credentials
    from polyarch.registry._pools import Proxy

#: What a token may hold to be sent in ``Authorization: Bearer``: visible ASCII
#: (RFC 6750's b64token and then some, as registries send).
_SENDABLE_TOKEN: Final = re.compile(r"[\x21-\x7e]{1,65536}")

log = logging.getLogger(__name__)

#: The most of a token service's answer that is read.
_TOKEN_BODY_LIMIT = 1024 * 1024


class TokenRenewedError(RegistryError):
    """The registry refused the token sent with a streamed body (an upload), which cannot
    be sent again; a new token is in the session. Starting the upload again from its first
    byte is worth it (the registry store does, within its retry budget)."""


def may_send_credentials(url: str | Url, *, insecure: bool) -> bool:
    """Whether a credential (password, token) may be sent to ``url`` (as urllib3 reads
    it: the host it connects to).

    Over HTTPS always; over plain HTTP only to this machine, or with ``insecure`` (the
    user declared the network trusted, as docker's ``insecure-registries``).
    """
    if isinstance(url, str):
        try:
            url = parse_url(url)
        except BadURLError:
            return False
    if url.scheme == "https":
        return True
    return url.scheme == "http" and (insecure or is_loopback(url.host or ""))


class AuthSession:
    """What one registry taught us about authenticating to it, shared by all threads.

    :param insecure: the registry was declared ``--insecure``: credentials may cross
        plain HTTP to it and to its token service.
    """

    def __init__(
        self,
        registry: str,
        credentials_loader: Callable[[], Credentials | None],
        *,
        insecure: bool = False,
    ) -> None:
        self.registry = registry
        self.insecure = insecure
        self._load_credentials = credentials_loader
        self._credentials: Credentials | None = None
        self._credentials_loaded = False
        self.challenge: Challenge | None = None
        self._tokens: list[Token] = []
        self._lock = threading.Lock()
        self._scope_locks: dict[frozenset[str], threading.Lock] = {}

    @property
    def credentials(self) -> Credentials | None:
        with self._lock:
            if not self._credentials_loaded:
                self._credentials = self._load_credentials()
                self._credentials_loaded = True
            return self._credentials

    @property
    def credential_source(self) -> str:
        creds = self.credentials
        return creds.source if creds is not None and creds.source else "no credentials"

    def _who(self) -> str:
        return (
            f"the credentials from {self.credential_source}"
            if self.credentials
            else "anonymous access"
        )

    # -- where credentials may go ----------------------------------------------------------

    def check_transport(self, request: Request, *, proxy: Proxy | None = None) -> None:
        """Refuse to send ``request`` if it would carry a credential to another origin
        than the one it was given for, over plain HTTP to another machine, or over plain
        HTTP through ``proxy`` (the one it would go through) on another machine. Runs for
        every request and every redirect hop, and in the auth flow itself.

        :raises AuthenticationError: it would.
        """
        if not request.carries_credentials:
            return
        host = request.host
        where = f"({request.method} {without_query(request.url)})"
        if not may_send_credentials(request.target, insecure=self.insecure):
            raise AuthenticationError(
                f"refusing to send {self._what_is_sent(request)} to {host} over plain HTTP "
                f"{where}: {host} is not this machine, and anyone on the way could read them",
                hint=(
                    f"{self.registry} should name an https:// address there; if the network "
                    f"to {host} is trusted, pass --insecure"
                ),
            )
        given_for = request.credential_origin
        if given_for is not None and request.origin != given_for:
            # Only a body can get here: an Authorization header is dropped on the way.
            raise AuthenticationError(
                f"refusing to send {self._what_is_sent(request)} to {request.origin} "
                f"{where}: they were given for {given_for} only",
                hint=f"{self.registry} or its token service sends clients elsewhere",
            )
        if request.scheme == "http" and proxy is not None and not is_loopback(proxy.host):
            raise AuthenticationError(
                f"refusing to send {self._what_is_sent(request)} to {host} over plain HTTP "
                f"{where} through the proxy {proxy.host}, which is not this machine and "
                "could read them",
                hint=f"exempt {host} from the proxy with NO_PROXY, or reach it over HTTPS",
            )

    def _what_is_sent(self, request: Request) -> str:
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer " and not request.secret_body:
            return f"a token for {self.registry}"
        return self._who()

    def transport_error(self, err: TransportError) -> NetworkError | None:
        """A token service that could not be reached, named as such (the request that
        failed was ours to it); ``None`` when the failure was elsewhere."""
        request = err.request
        if not request.token_request:
            return None
        why = "no answer in time" if err.timeout else str(err)
        return NetworkError(
            f"cannot reach the token service of {self.registry} at {request.netloc}: {why}",
            hint=(
                f"{self.registry} sends clients to {without_query(request.url)} for "
                "tokens; is that service up and reachable from here?"
            ),
        )

    # -- headers ---------------------------------------------------------------------------

    def cached_header(self, scopes: frozenset[str]) -> str | None:
        """The Authorization header to send up front for these scopes, if one is known."""
        challenge = self.challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return self.basic_header()
        if challenge.scheme == "bearer":
            now = time.monotonic()
            with self._lock:
                for token in self._tokens:
                    if token.expires_at > now and covers(token.scopes, scopes):
                        return f"Bearer {token.value}"
        return None

    def basic_header(self) -> str | None:
        creds = self.credentials
        if creds is None or not creds.username:
            return None
        raw = f"{creds.username}:{creds.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def token_request(self, scopes: frozenset[str]) -> Request:
        """The request that asks the challenge's token service for a token.

        :raises AuthenticationError: the realm is not a URL, or is plain HTTP to another
            machine while there are credentials to send.
        """
        assert self.challenge is not None
        realm = self.challenge.realm
        try:
            realm_url = parse_url(realm)
        except BadURLError:
            raise AuthenticationError(
                f"{self.registry} asked for a token from an invalid realm "
                f"{without_query(realm)[:200]!r}"
            ) from None
        host = realm_url.host
        realm_origin = Origin.of(realm_url)
        creds = self.credentials
        headers: dict[str, str] = {}
        secret = creds is not None and bool(creds.identity_token or creds.username)
        if secret and not may_send_credentials(realm_url, insecure=self.insecure):
            raise AuthenticationError(
                f"{self.registry} sends clients to the token service "
                f"{without_query(realm)} over plain HTTP; refusing to send the credentials "
                f"from {self.credential_source} there: {host} is not this machine, and "
                "anyone on the way could read them",
                hint=(
                    f"the registry should name an https:// realm; if the network to "
                    f"{host} is trusted, pass --insecure"
                ),
            )
        if creds is not None and creds.identity_token:
            # An identity token is an OAuth2 refresh token (docker login on Docker Hub and
            # Azure): it is exchanged by POST, never sent as basic auth.
            form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", creds.identity_token),
                ("client_id", "polyarch"),
            ]
            form.extend(("scope", scope) for scope in sorted(scopes))
            if self.challenge.service:
                form.append(("service", self.challenge.service))
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return Request(
                "POST",
                realm_url,
                headers=headers,
                body=urlencode(form).encode(),
                token_request=True,
                secret_body=True,
                credential_origin=realm_origin,
            )
        params: list[tuple[str, str]] = []
        if self.challenge.service:
            params.append(("service", self.challenge.service))
        params.extend(("scope", scope) for scope in sorted(scopes))
        basic = self.basic_header()
        if basic is not None:
            headers["Authorization"] = basic
        return Request(
            "GET",
            with_params(realm_url.url, params),
            headers=headers,
            token_request=True,
            credential_origin=realm_origin,
        )

    def accept_token(self, response: Response, scopes: frozenset[str]) -> str:
        """Read a token service's answer; remember and return the token.

        :raises AuthenticationError: the service refused the credentials.
        :raises PermissionDeniedError: the service refused the scope.
        :raises NetworkError: the service failed.
        """
        try:
            body, more = response.read_at_most(_TOKEN_BODY_LIMIT)
        finally:
            response.close()
        service = f"the token service of {self.registry} ({response.request.host})"
        if response.status_code in (401, 403):
            cls = AuthenticationError if response.status_code == 401 else PermissionDeniedError
            # A ping (and so login) asks for a token for no scope at all.
            wanted = f" for {', '.join(sorted(scopes))}" if scopes else ""
            raise cls(
                f"{service} refused {self._who()}{wanted} (HTTP {response.status_code})",
                hint=None if self.credentials else f"log in first: polyarch login {self.registry}",
            )
        if response.status_code >= 400:
            raise NetworkError(
                f"{service} answered HTTP {response.status_code}",
                status=response.status_code,
            )
        try:
            if more:
                raise ValueError("too long")
            doc = loads(body)
            value = doc.get("token") or doc.get("access_token")
            expires_in, issued_at = doc.get("expires_in"), doc.get("issued_at")
        except (ValueError, AttributeError):
            value = expires_in = issued_at = None
        if not isinstance(value, str) or not value:
            raise AuthenticationError(f"{service} sent no token in its answer")
        if not _SENDABLE_TOKEN.fullmatch(value):
            # A line break would end the header and start another; never sent, never shown.
            raise AuthenticationError(
                f"{service} sent a token that is not one: it holds characters a header cannot carry"
            )
        granted = granted_scopes(value)
        lifetime = token_lifetime(expires_in, issued_at, now=time.time())
        token = Token(
            value,
            scopes if granted is None else granted,
            time.monotonic() + lifetime,
            opaque=granted is None,
        )
        with self._lock:
            now = time.monotonic()
            self._tokens = [t for t in self._tokens if t.expires_at > now]
            self._tokens.append(token)
        return f"Bearer {value}"

    def token_for(self, scopes: frozenset[str]) -> tuple[frozenset[str], float, bool] | None:
        """What the newest token for the resources of ``scopes`` grants (perhaps less
        than asked), when it expires (``time.monotonic()``) and whether it is opaque;
        never its value (``auth explain``)."""
        wanted = {scope.rpartition(":")[0] for scope in scopes}
        now = time.monotonic()
        with self._lock:
            for token in reversed(self._tokens):
                held = {scope.rpartition(":")[0] for scope in token.scopes}
                if token.expires_at > now and (token.opaque or held & wanted):
                    return token.scopes, token.expires_at, token.opaque
        return None

    def learn(self, response: Response) -> Challenge | None:
        header = response.headers.get("WWW-Authenticate")
        challenge = Challenge.parse(header) if header else None
        response.challenge = challenge
        if challenge is not None and challenge.scheme in ("basic", "bearer"):
            self.challenge = challenge
            return challenge
        return None

    def scope_lock(self, scopes: frozenset[str]) -> threading.Lock:
        with self._lock:
            return self._scope_locks.setdefault(scopes, threading.Lock())

    def forget_token(self, header: str) -> None:
        """Drop the token sent as ``header`` (the registry refused it); others stay, and
        one another thread just obtained is not thrown away."""
        value = header.partition(" ")[2]
        with self._lock:
            self._tokens = [t for t in self._tokens if t.value != value]
