"""Registry authentication: the ``WWW-Authenticate`` challenge, basic auth and bearer tokens.

The flow is an httpx auth generator, because a registry token exchange has exactly that
shape: send, get a 401 with a challenge, ask the token service named by the challenge
for a token with the scopes this request needs, send again. What is learned (the
challenge, the tokens by scope) lives in one :class:`AuthSession` per registry, so later
requests send the right header up front and no 401 is spent twice.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from polyarch.errors import AuthenticationError, NetworkError, PermissionDeniedError
from polyarch.registry._http import httpx

if TYPE_CHECKING:
    from polyarch.auth import Credentials

log = logging.getLogger(__name__)

_PARAM_RE = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')

#: Tokens are refreshed this long before they expire, so none dies in flight.
_EXPIRY_MARGIN = 10.0
#: The token spec's default lifetime when the service does not say.
_DEFAULT_TOKEN_LIFETIME = 60.0


@dataclass(frozen=True, slots=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` header: scheme (lowercase) and its parameters."""

    scheme: str
    params: dict[str, str]

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @classmethod
    def parse(cls, header: str) -> Challenge | None:
        scheme, _, rest = header.strip().partition(" ")
        if not scheme:
            return None
        params = {
            m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
            for m in _PARAM_RE.finditer(rest)
        }
        return cls(scheme.lower(), params)


def repository_scope(repository: str, *actions: str) -> str:
    return f"repository:{repository}:{','.join(actions)}"


def _granted_scopes(token: str) -> frozenset[str] | None:
    """The scopes a JWT token grants, read from its ``access`` claim; None if opaque.

    Token services leave refused scopes out instead of failing, so caching a token as if it
    held everything asked for would send it again for an operation it cannot do. The
    signature is not checked: the registry checks it, we only avoid a useless retry.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        access = payload["access"]
        return frozenset(
            f"{entry['type']}:{entry['name']}:{','.join(sorted(entry['actions']))}"
            for entry in access
            if entry.get("actions")
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _covers(granted: frozenset[str], wanted: frozenset[str]) -> bool:
    """Whether a token granted for ``granted`` scopes serves a request needing ``wanted``."""
    have: dict[str, set[str]] = {}
    for scope in granted:
        resource, _, actions = scope.rpartition(":")
        have.setdefault(resource, set()).update(actions.split(","))
    for scope in wanted:
        resource, _, actions = scope.rpartition(":")
        if not set(actions.split(",")) <= have.get(resource, set()):
            return False
    return True


@dataclass(slots=True)
class _Token:
    value: str
    scopes: frozenset[str]
    expires_at: float


class AuthSession:
    """What one registry taught us about authenticating to it, shared by all threads."""

    def __init__(
        self,
        registry: str,
        credentials_loader: Callable[[], Credentials | None],
    ) -> None:
        self.registry = registry
        self._load_credentials = credentials_loader
        self._credentials: Credentials | None = None
        self._credentials_loaded = False
        self.challenge: Challenge | None = None
        self._tokens: list[_Token] = []
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
                    if token.expires_at > now and _covers(token.scopes, scopes):
                        return f"Bearer {token.value}"
        return None

    def basic_header(self) -> str | None:
        creds = self.credentials
        if creds is None or not creds.username:
            return None
        raw = f"{creds.username}:{creds.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def token_request(self, scopes: frozenset[str]) -> httpx.Request:
        """The request that asks the challenge's token service for a token."""
        assert self.challenge is not None
        realm = self.challenge.realm
        if not realm.startswith(("https://", "http://")):
            raise AuthenticationError(
                f"{self.registry} asked for a token from an invalid realm {realm!r}"
            )
        creds = self.credentials
        if creds is not None and creds.identity_token:
            # An identity token is an OAuth2 refresh token (docker login on Docker Hub and
            # Azure): it is exchanged by POST, never sent as basic auth.
            form: dict[str, str | list[str]] = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "client_id": "polyarch",
                "scope": sorted(scopes),
            }
            if self.challenge.service:
                form["service"] = self.challenge.service
            return httpx.Request("POST", realm, data=form)
        params: list[tuple[str, str | int | float | bool | None]] = []
        if self.challenge.service:
            params.append(("service", self.challenge.service))
        params.extend(("scope", scope) for scope in sorted(scopes))
        headers = {}
        basic = self.basic_header()
        if basic is not None:
            headers["Authorization"] = basic
        return httpx.Request("GET", realm, params=params, headers=headers)

    def accept_token(self, response: httpx.Response, scopes: frozenset[str]) -> str:
        """Read a token service's answer; remember and return the token.

        :raises AuthenticationError: the service refused the credentials.
        :raises PermissionDeniedError: the service refused the scope.
        """
        response.read()
        if response.status_code in (401, 403):
            who = (
                f"the credentials from {self.credential_source}"
                if self.credentials
                else "anonymous access"
            )
            cls = AuthenticationError if response.status_code == 401 else PermissionDeniedError
            # A ping (and so login) asks for a token for no scope at all.
            wanted = f" for {', '.join(sorted(scopes))}" if scopes else ""
            raise cls(
                f"the token service of {self.registry} refused {who}"
                f"{wanted} (HTTP {response.status_code})",
                hint=None if self.credentials else f"log in first: polyarch login {self.registry}",
            )
        if response.status_code >= 400:
            raise NetworkError(
                f"the token service of {self.registry} answered HTTP {response.status_code}",
                status=response.status_code,
            )
        try:
            doc = response.json()
            value = doc.get("token") or doc.get("access_token")
            lifetime = float(doc.get("expires_in") or _DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError):
            value = None
            lifetime = 0.0
        if not isinstance(value, str) or not value:
            raise AuthenticationError(
                f"the token service of {self.registry} sent no token in its answer"
            )
        granted = _granted_scopes(value)
        token = _Token(
            value,
            scopes if granted is None else granted,
            time.monotonic() + max(lifetime - _EXPIRY_MARGIN, 1.0),
        )
        with self._lock:
            self._tokens = [t for t in self._tokens if t.expires_at > time.monotonic()]
            self._tokens.append(token)
        return f"Bearer {value}"

    def learn(self, response: httpx.Response) -> Challenge | None:
        header = response.headers.get("WWW-Authenticate")
        challenge = Challenge.parse(header) if header else None
        if challenge is not None and challenge.scheme in ("basic", "bearer"):
            self.challenge = challenge
            return challenge
        return None

    def scope_lock(self, scopes: frozenset[str]) -> threading.Lock:
        with self._lock:
            return self._scope_locks.setdefault(scopes, threading.Lock())

    def forget_tokens(self, scopes: frozenset[str]) -> None:
        with self._lock:
            self._tokens = [t for t in self._tokens if not _covers(t.scopes, scopes)]


class RegistryAuth(httpx.Auth):
    """One request's auth flow: send with what is known, answer one challenge, send again."""

    def __init__(self, session: AuthSession, scopes: frozenset[str]) -> None:
        self.session = session
        self.scopes = scopes

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        session = self.session
        header = session.cached_header(self.scopes)
        fresh = False
        if header is None and session.challenge is not None:
            header = yield from self._fresh_header()
            fresh = True
        if header is not None:
            request.headers["Authorization"] = header
        response = yield request
        if response.status_code != 401:
            return
        challenge = session.learn(response)
        if challenge is None or fresh:
            return  # what was just obtained for this very request was refused
        if header is not None:
            if challenge.scheme == "basic":
                return  # the credentials we have were the ones refused
            # A cached token that expired or was revoked: one fresh exchange, then give up.
            session.forget_tokens(self.scopes)
        header = yield from self._fresh_header()
        if header is None:
            return
        request.headers["Authorization"] = header
        yield request

    def _fresh_header(self) -> Generator[httpx.Request, httpx.Response, str | None]:
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
