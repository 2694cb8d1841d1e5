"""A docker token service for tests: the bearer-token half of registry auth, as Docker Hub does it.

::

    with TokenServer(tmp_path, users={"alice": "pw"}, acl=ACL) as tokens, RegistryServer(
        tmp_path / "registry", token_auth=tokens.registry_auth
    ) as registry:
        start = tokens.mark()
        ...                             # a client pulls from registry.host
        tokens.requests(since=start)    # [TokenRequest(user="alice", granted=(...)), ...]

The protocol (distribution ``docs/spec/auth/token.md`` and ``oauth.md``)::

    GET  /token?service=S&scope=T:N:A,A&scope=...   [Authorization: Basic user:password]
         [&offline_token=true&client_id=C]          also hands out a refresh token
      200 {"token", "access_token", "expires_in", "issued_at"[, "refresh_token"]}
    POST /token  grant_type=refresh_token&refresh_token=R&service=S&scope=...&client_id=C
                 grant_type=password&username=U&password=P&...[&access_type=offline]
      200 {"access_token", "token_type", "scope", "expires_in", "issued_at"[, "refresh_token"]}
    401 unknown user, wrong password or unknown refresh token; 400 another service, a
    missing field or an unsupported grant type.

A scope names one resource (``repository:alice/app:pull,push``; several per ``scope``
parameter, space-separated, are accepted too). What is granted is the intersection of
the actions asked for and those the ACL allows; a refused scope is left out of the token,
never an error (token.md: "it must not be considered an error"): the registry then
answers 401 ``insufficient_scope``.

What distribution 2.8 checks (``registry/auth/token/token.go``), and this service signs:

* header ``alg`` ES256 (P-256, the signature is raw ``r || s``, not DER) and either
  ``kid``, the libtrust fingerprint of a key in the ``rootcertbundle`` (SHA-256 of the
  DER SubjectPublicKeyInfo, cut to 240 bits, base32 in 12 groups of 4 joined by ``:``),
  or ``x5c``, a chain (standard base64 DER) that verifies up to the bundle;
* claims ``iss`` = the configured issuer, ``aud`` = the configured service, and ``aud``
  must be a JSON *string*: 2.8 unmarshals it into a Go string, so the RFC 7519 array form
  makes the token "malformed"; ``exp`` and ``nbf`` with 60 s of leeway each way (a token
  stays usable at the registry up to a minute past ``exp``); ``access`` lists
  ``{"type", "name", "actions"}``; ``sub`` is only logged.

The service's files live in *directory*: ``root.pem``, the self-signed certificate of the
signing key, which the registry's ``auth.token.rootcertbundle`` names. Passwords and
refresh tokens are never logged or recorded.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import fnmatch
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from tests.loopback_server import LoopbackServer
from tests.registry_server import LOOPBACK, RegistryServer, TokenAuth

__all__ = [
    "DEFAULT_ISSUER",
    "DEFAULT_SERVICE",
    "Acl",
    "AclFunction",
    "AclTable",
    "TokenRegistry",
    "TokenRequest",
    "TokenServer",
    "libtrust_key_id",
]

log = logging.getLogger(__name__)

DEFAULT_SERVICE: Final = "polyarch-tests-registry"
DEFAULT_ISSUER: Final = "polyarch-tests-token-service"
#: Docker Hub's lifetime for its tokens.
DEFAULT_LIFETIME: Final = 300
TOKEN_PATH: Final = "/token"

#: ``(user or None for anonymous, resource type, resource name) -> allowed actions``.
AclFunction = Callable[[str | None, str, str], Iterable[str]]
#: ``{user or None: {pattern: actions}}``; see :meth:`TokenServer.allowed`.
AclTable = Mapping[str | None, Mapping[str, Iterable[str]]]
Acl = AclFunction | AclTable


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """The key ID distribution derives from a root certificate's key (libtrust's format)."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # 240 bits encode to exactly 48 base32 characters: no padding to strip.
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _rfc3339(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class _Scope:
    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> _Scope | None:
        # type[(class)]:name:actions; repository names never contain ':', registry
        # resources may, so the name is everything between the first and the last ':'.
        kind, _, rest = text.partition(":")
        name, _, actions = rest.rpartition(":")
        if not kind or not name:
            return None
        return cls(kind, name, tuple(a for a in actions.split(",") if a))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """One request the token service answered, for assertions."""

    method: str
    """``GET`` (the docker token flow) or ``POST`` (the OAuth2 flow)."""
    grant_type: str | None
    """``None`` for ``GET``; ``refresh_token`` or ``password`` for ``POST``."""
    user: str | None
    """Who authenticated; ``None`` when anonymous or refused."""
    scopes: tuple[str, ...]
    """The scopes asked for, as sent."""
    granted: tuple[str, ...]
    """The scopes put in the token (``type:name:actions``), empty when refused."""
    status: int
    service: str | None
    client_id: str | None
    offline: bool
    """Whether a refresh token was handed out."""
    error: str | None
    """Why the request was refused, ``None`` when it was not."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: int
    body: dict[str, Any]
    user: str | None = None
    granted: tuple[str, ...] = ()
    offline: bool = False


class _Refused(Exception):
    def __init__(self, status: int, error: str, description: str, user: str | None = None):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.user = user


class TokenServer:
    """A token service on 127.0.0.1 that a :class:`RegistryServer` trusts.

    :param directory: created if missing; holds ``root.pem``.
    :param users: name -> password for basic auth and the password grant.
    :param acl: what each user may do, see :meth:`allowed`; default: nothing.
    :param service: the registry's service name (token ``aud``).
    :param issuer: the token ``iss``.
    :param lifetime: seconds; ``expires_in`` and the token's ``exp - iat``. May be changed
        on a running server (it applies to the next token).
    :param exp_skew: added to ``exp`` only, so the registry's view of a token can differ
        from the ``expires_in`` a client sees (distribution allows 60 s of leeway).
    :param key_header: name the signing key by ``kid`` (libtrust ID, as docker_auth
        and Docker Hub do) or by an ``x5c`` certificate chain.
    """

    def __init__(
        self,
        directory: Path,
        *,
        users: Mapping[str, str] | None = None,
        acl: Acl | None = None,
        service: str = DEFAULT_SERVICE,
        issuer: str = DEFAULT_ISSUER,
        lifetime: int = DEFAULT_LIFETIME,
        exp_skew: int = 0,
        key_header: Literal["kid", "x5c"] = "kid",
    ) -> None:
        if key_header not in ("kid", "x5c"):
            raise ValueError(f"key_header must be 'kid' or 'x5c', got {key_header!r}")
        for name in users or {}:
            if not name or ":" in name:
                raise ValueError(f"user names must be non-empty and without ':', got {name!r}")
        self.directory = Path(directory)
        self.users = dict(users or {})
        self.acl: Acl = acl if acl is not None else {}
        self.service = service
        self.issuer = issuer
        self.lifetime = lifetime
        self.exp_skew = exp_skew
        self.key_header = key_header
        #: refresh token -> user; :meth:`issue_refresh_token` adds to it, tests may too.
        self.refresh_tokens: dict[str, str] = {}
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._certificate = self._self_signed_certificate()
        self.key_id = libtrust_key_id(self._key.public_key())
        self._records: list[TokenRequest] = []
        self._lock = threading.Lock()
        self._server: LoopbackServer | None = None

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"<TokenServer {where} service={self.service!r}>"

    # -- keys -----------------------------------------------------------------------------

    def _self_signed_certificate(self) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "polyarch tests token signer")])
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )

    @property
    def root_certificate_path(self) -> Path:
        """The PEM bundle the registry trusts (``auth.token.rootcertbundle``)."""
        return self.directory / "root.pem"

    # -- addresses ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the token server has not been started")
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def realm(self) -> str:
        """Where clients ask for tokens: the registry's challenge names it."""
        return self.url + TOKEN_PATH

    @property
    def registry_auth(self) -> TokenAuth:
        """The ``auth.token`` configuration for a :class:`RegistryServer` trusting us."""
        return TokenAuth(
            realm=self.realm,
            service=self.service,
            issuer=self.issuer,
            rootcertbundle=self.root_certificate_path,
        )

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError(f"{self!r} is already running")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.root_certificate_path.write_bytes(
            self._certificate.public_bytes(serialization.Encoding.PEM)
        )
        self._server = LoopbackServer(_Handler, self, name="token-server").start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call more than once."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what was asked -------------------------------------------------------------------

    def mark(self) -> int:
        """A position in the record: :meth:`requests` since it are those made after."""
        with self._lock:
            return len(self._records)

    def requests(self, since: int = 0) -> list[TokenRequest]:
        """The token requests answered after position *since* (a :meth:`mark`)."""
        with self._lock:
            return self._records[since:]

    def _record(self, entry: TokenRequest) -> None:
        with self._lock:
            self._records.append(entry)

    # -- policy ---------------------------------------------------------------------------

    def allowed(self, user: str | None, resource_type: str, name: str) -> frozenset[str]:
        """The actions *user* (``None``: anonymous) may perform on a resource.

        A callable ACL is asked directly. A table is read for ``None`` (what everyone,
        anonymous or not, may do) and then for *user*; its patterns are
        :func:`fnmatch.fnmatchcase` globs (``*`` crosses ``/``): without a ``:`` they match
        repository names, with one they match ``type:name`` (``registry:catalog``).
        Action ``*`` allows whatever is asked.
        """
        acl = self.acl
        if callable(acl):
            return frozenset(acl(user, resource_type, name))
        subject = name if resource_type == "repository" else f"{resource_type}:{name}"
        actions: set[str] = set()
        for who in {None, user}:
            for pattern, allowed in (acl.get(who) or {}).items():
                if (":" in pattern) == (resource_type != "repository") and fnmatch.fnmatchcase(
                    subject, pattern
                ):
                    actions.update(allowed)
        return frozenset(actions)

    def grant(self, user: str | None, scopes: Iterable[str]) -> list[dict[str, Any]]:
        """The ``access`` claim for *scopes*: each resource with the actions both asked for
        and allowed, merged per resource, in the order asked; refused ones left out."""
        merged: dict[tuple[str, str], list[str]] = {}
        for text in scopes:
            scope = _Scope.parse(text)
            if scope is None:
                continue
            # The class in "repository(plugin)" does not change who may do what.
            kind = scope.type.partition("(")[0]
            allowed = self.allowed(user, kind, scope.name)
            actions = merged.setdefault((scope.type, scope.name), [])
            for action in scope.actions:
                if (action in allowed or "*" in allowed) and action not in actions:
                    actions.append(action)
        return [
            {"type": kind, "name": name, "actions": actions}
            for (kind, name), actions in merged.items()
            if actions
        ]

    # -- tokens ---------------------------------------------------------------------------

    def mint(
        self,
        user: str | None,
        access: Iterable[Mapping[str, Any]],
        *,
        audience: str | list[str] | None = None,
        issuer: str | None = None,
        lifetime: int | None = None,
        key_header: Literal["kid", "x5c"] | None = None,
    ) -> str:
        """A signed token with exactly this ``access`` claim (no ACL, not recorded).

        The keyword overrides of the server's settings make deliberately odd tokens for
        negative tests (``audience=[service]``: the RFC 7519 list form).
        """
        now = int(time.time())
        lifetime = self.lifetime if lifetime is None else lifetime
        header: dict[str, Any] = {"typ": "JWT", "alg": "ES256"}
        if (key_header or self.key_header) == "kid":
            header["kid"] = self.key_id
        else:
            der = self._certificate.public_bytes(serialization.Encoding.DER)
            header["x5c"] = [base64.b64encode(der).decode()]
        claims = {
            "iss": self.issuer if issuer is None else issuer,
            "sub": user or "",
            "aud": self.service if audience is None else audience,
            "exp": now + lifetime + self.exp_skew,
            "nbf": now,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": [dict(entry) for entry in access],
        }
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        der_signature = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der_signature)
        # JWS (and libtrust) want the fixed-size concatenation, not DER.
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{_b64url(signature)}"

    def token_for(self, user: str | None, *scopes: str) -> str:
        """A token with what the ACL grants *user* for *scopes* (not recorded)."""
        return self.mint(user, self.grant(user, scopes))

    @staticmethod
    def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """A token's header and claims, unverified, for assertions."""
        header, claims, _ = token.split(".")
        return _b64url_json(header), _b64url_json(claims)

    def issue_refresh_token(self, user: str) -> str:
        """A new refresh token for *user* (an identity token, in docker's words)."""
        if user not in self.users:
            raise KeyError(f"no user {user!r}")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.refresh_tokens[token] = user
        return token

    # -- the two flows --------------------------------------------------------------------

    def _check_password(self, user: str, password: str) -> bool:
        expected = self.users.get(user)
        # Compare anyway for unknown users, so timing says nothing either way.
        return hmac.compare_digest((expected or "\0").encode(), password.encode()) and (
            expected is not None
        )

    def _basic_user(self, authorization: str | None) -> str | None:
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise _Refused(401, "invalid_request", "only basic authentication is supported")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise _Refused(401, "invalid_request", "malformed basic credentials") from None
        user, colon, password = decoded.partition(":")
        if not colon or not self._check_password(user, password):
            raise _Refused(401, "unauthorized", "incorrect username or password")
        return user

    def _check_service(self, service: str | None) -> None:
        if service is not None and service != self.service:
            raise _Refused(400, "invalid_request", f"unknown service {service!r}")

    def _issue(
        self, user: str | None, scopes: list[str], *, oauth: bool, offline: bool
    ) -> _Outcome:
        access = self.grant(user, scopes)
        token = self.mint(user, access)
        lifetime = self.lifetime
        body: dict[str, Any] = {"access_token": token}
        if oauth:
            body["token_type"] = "Bearer"
            body["scope"] = " ".join(
                str(_Scope(a["type"], a["name"], tuple(a["actions"]))) for a in access
            )
        else:
            body = {"token": token, **body}
        body["expires_in"] = lifetime
        body["issued_at"] = _rfc3339(self.decode(token)[1]["iat"])
        if offline and user is not None:
            body["refresh_token"] = self.issue_refresh_token(user)
        granted = tuple(str(_Scope(a["type"], a["name"], tuple(a["actions"]))) for a in access)
        return _Outcome(200, body, user=user, granted=granted, offline="refresh_token" in body)

    def handle_get(
        self, query: Mapping[str, list[str]], authorization: str | None
    ) -> tuple[_Outcome, list[str]]:
        scopes = _split_scopes(query.get("scope", []))
        self._check_service(_first(query, "service"))
        user = self._basic_user(authorization)
        offline = _first(query, "offline_token") == "true"
        return self._issue(user, scopes, oauth=False, offline=offline), scopes

    def handle_post(self, form: Mapping[str, list[str]]) -> tuple[_Outcome, list[str]]:
        scopes = _split_scopes(form.get("scope", []))
        self._check_service(_first(form, "service"))
        if not _first(form, "client_id"):
            raise _Refused(400, "invalid_request", "client_id is required")
        grant_type = _first(form, "grant_type")
        if grant_type == "refresh_token":
            with self._lock:
                user = self.refresh_tokens.get(_first(form, "refresh_token") or "")
            if user is None:
                raise _Refused(401, "invalid_grant", "unknown refresh token")
            return self._issue(user, scopes, oauth=True, offline=False), scopes
        if grant_type == "password":
            user = _first(form, "username") or ""
            if not self._check_password(user, _first(form, "password") or ""):
                raise _Refused(401, "invalid_grant", "incorrect username or password")
            offline = _first(form, "access_type") == "offline"
            return self._issue(user, scopes, oauth=True, offline=offline), scopes
        raise _Refused(400, "unsupported_grant_type", f"unsupported grant type {grant_type!r}")


def _first(values: Mapping[str, list[str]], key: str) -> str | None:
    found = values.get(key)
    return found[0] if found else None


def _split_scopes(values: Iterable[str]) -> list[str]:
    # Repeated parameters (docker's GET) and space-separated lists (OAuth2) both occur.
    return [scope for value in values for scope in value.split(" ") if scope]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections end on their own, so no thread lingers for long.
    timeout = 10
    server_version = "polyarch-tests-token-server"

    @property
    def _owner(self) -> TokenServer:
        owner: TokenServer = self.server.owner  # type: ignore[attr-defined]
        return owner

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path != TOKEN_PATH:
            self._send(404, {"error": "not_found"})
            return
        query = urllib.parse.parse_qs(url.query)
        self._answer(
            "GET",
            None,
            query,
            lambda: self._owner.handle_get(query, self.headers.get("Authorization")),
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        if urllib.parse.urlsplit(self.path).path != TOKEN_PATH:
            self._send(404, {"error": "not_found"})
            return
        form = urllib.parse.parse_qs(body)
        self._answer(
            "POST", _first(form, "grant_type"), form, lambda: self._owner.handle_post(form)
        )

    def _answer(
        self,
        method: str,
        grant_type: str | None,
        params: Mapping[str, list[str]],
        handle: Callable[[], tuple[_Outcome, list[str]]],
    ) -> None:
        scopes = _split_scopes(params.get("scope", []))
        error: str | None = None
        try:
            outcome, scopes = handle()
        except _Refused as refused:
            error = refused.description
            outcome = _Outcome(
                refused.status,
                {"error": refused.error, "error_description": refused.description},
                user=refused.user,
            )
        self._owner._record(
            TokenRequest(
                method=method,
                grant_type=grant_type,
                user=outcome.user,
                scopes=tuple(scopes),
                granted=outcome.granted,
                status=outcome.status,
                service=_first(params, "service"),
                client_id=_first(params, "client_id"),
                offline=outcome.offline,
                error=error,
            )
        )
        headers = {}
        if outcome.status == 401 and method == "GET":
            headers["WWW-Authenticate"] = f'Basic realm="{self._owner.realm}"'
        self._send(outcome.status, outcome.body, headers)

    def _send(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # The request line holds the path and query (scopes), never a password: those
        # travel in a header or a POST body, which are not logged.
        log.debug("%s %s", self.address_string(), format % args)


@dataclass(frozen=True, slots=True)
class TokenRegistry:
    """A real registry with token auth and the token service it trusts."""

    registry: RegistryServer
    tokens: TokenServer

    @property
    def host(self) -> str:
        return self.registry.host

    def password(self, user: str) -> str:
        return self.tokens.users[user]
