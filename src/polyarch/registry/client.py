"""An HTTP client for one registry host (distribution API v2): transport, TLS, auth, errors.

Plain HTTP is used only for ``--insecure`` registries and loopback hosts (``localhost``,
127.0.0.0/8, ``::1``), as docker does; everything else is HTTPS with verification against
the system's CAs plus ``/etc/docker/certs.d/<host>/*.crt`` and ``--ca-file``.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

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
from polyarch.registry._auth import AuthSession, Challenge, RegistryAuth
from polyarch.registry._http import httpx

if TYPE_CHECKING:
    from polyarch.auth import Credentials

__all__ = ["RegistryClient", "RegistryOptions", "is_loopback"]

log = logging.getLogger(__name__)

DEFAULT_CERTS_DIR = Path("/etc/docker/certs.d")
USER_AGENT = f"polyarch/{__version__}"


@dataclass(frozen=True, slots=True)
class RegistryOptions:
    """How to reach registries. Defaults are the safe ones.

    :param insecure: allow plain HTTP and skip TLS verification, as docker's
        ``--insecure`` / ``insecure-registries`` does.
    :param ca_file: an extra CA bundle to trust for every registry.
    :param certs_dir: docker's per-host certificate directory.
    :param config_dir: docker's config directory (credentials); ``None`` = ``$DOCKER_CONFIG``
        or ``~/.docker``.
    :param credentials: use these instead of looking them up (tests, ``--username``).
    :param timeout: seconds to wait for a connection or for data.
    """

    insecure: bool = False
    ca_file: Path | None = None
    certs_dir: Path = DEFAULT_CERTS_DIR
    config_dir: Path | None = None
    credentials: Credentials | None = field(default=None, repr=False)
    timeout: float = 30.0
    max_connections: int = 32


def is_loopback(host: str) -> bool:
    """Whether ``host[:port]`` is this machine: localhost, 127.0.0.0/8 or ::1."""
    name = host
    if name.startswith("["):
        name = name[1 : name.find("]")]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _error_codes(response: httpx.Response) -> tuple[tuple[str, ...], str]:
    """The distribution error codes of a response body and a readable summary of them."""
    try:
        doc = response.json()
        errors = doc.get("errors") if isinstance(doc, dict) else None
    except (ValueError, UnicodeDecodeError):
        errors = None
    if not isinstance(errors, list):
        return (), ""
    codes: list[str] = []
    parts: list[str] = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        code = str(error.get("code") or "")
        message = str(error.get("message") or "")
        detail = error.get("detail")
        codes.append(code)
        text = f"{code}: {message}" if code and message else code or message
        if detail and not isinstance(detail, (dict, list)):
            text += f" ({detail})"
        elif isinstance(detail, list) and detail and isinstance(detail[0], dict):
            # e.g. DENIED details list the scopes that were refused.
            text += f" ({', '.join(str(d.get('Name') or d) for d in detail[:3])})"
        parts.append(text)
    return tuple(codes), "; ".join(p for p in parts if p)


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
        self.auth = AuthSession(registry, self._load_credentials)
        self._client: httpx.Client | None = None
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

    def _ssl_context(self) -> ssl.SSLContext | bool:
        if self.options.insecure:
            return False
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
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    # Plain HTTP needs no CA store (loading one costs ~20 ms); content is
                    # verified by digest whatever the transport.
                    verify=self._ssl_context() if self.scheme == "https" else False,
                    timeout=httpx.Timeout(self.options.timeout, connect=10.0),
                    limits=httpx.Limits(
                        max_connections=self.options.max_connections,
                        max_keepalive_connections=self.options.max_connections,
                    ),
                    headers={"User-Agent": USER_AGENT},
                    follow_redirects=True,
                    trust_env=True,
                )
            return self._client

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
        """Find the first scheme the registry answers on (docker's insecure fallback)."""
        for scheme in schemes[:-1]:
            try:
                with httpx.Client(verify=False, timeout=self.options.timeout) as probe:
                    probe.get(f"{scheme}://{self.api_host}/v2/")
                return scheme
            except httpx.TransportError as err:
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

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

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
        expect: Callable[[httpx.Response], bool] | None = None,
        what: str = "",
    ) -> httpx.Response:
        """Send one request and return its response, translating every failure.

        ``path`` starts at ``/v2/`` or is an absolute URL (upload locations). Responses
        for which ``expect(response)`` is true (default: a 2xx status) are returned as
        they are; others become errors.
        The caller closes a ``stream`` response.

        :raises AuthenticationError, PermissionDeniedError: 401 / 403.
        :raises RegistryError: any other unexpected status.
        :raises NetworkError: no answer.
        :raises InvalidInputError: a CA or client certificate file that cannot be used.
        """
        url = httpx.URL(path if path.startswith(("http://", "https://")) else self.base_url + path)
        if params:
            # Merged, not replaced: upload locations carry state in their query.
            url = url.copy_merge_params(params)
        auth = RegistryAuth(self.auth, frozenset(scopes))
        client = self.client
        first = self._await_first_contact()
        try:
            request = client.build_request(method, url, headers=headers, content=content)
            response = client.send(request, auth=auth, stream=stream)
        except PolyarchError:
            raise
        except httpx.HTTPError as err:
            raise self._network_error(err, method, str(url)) from err
        finally:
            if first:
                self._contacted.set()
        if expect(response) if expect is not None else response.is_success:
            return response
        try:
            self.raise_for_response(response, what or f"{method} {path}")
        finally:
            response.close()
        return response  # pragma: no cover - raise_for_response always raises

    def _await_first_contact(self) -> bool:
        """True for the one request that goes first; the others wait for its answer."""
        if self._contacted.is_set():
            return False
        if self._first_contact.acquire(blocking=False):
            return True
        self._contacted.wait(timeout=self.options.timeout)
        return False

    def _network_error(self, err: httpx.HTTPError, method: str, url: str) -> NetworkError:
        cause = err.__cause__ or err.__context__
        if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(
            err
        ):
            return NetworkError(
                f"the TLS certificate of {self.api_host} is not trusted: {err}",
                hint=(
                    f"trust its CA with --ca-file or {self.options.certs_dir}/{self.api_host}/"
                    "ca.crt, or skip verification with --insecure"
                ),
            )
        if isinstance(err, httpx.TimeoutException):
            return NetworkError(f"{method} {url} timed out after {self.options.timeout:g}s")
        return NetworkError(
            f"cannot reach {self.api_host}: {err or type(err).__name__}",
            hint=None if self.scheme == "https" else "is the registry running?",
        )

    def raise_for_response(self, response: httpx.Response, what: str) -> None:
        """Turn an unexpected response into the right error; always raises."""
        response.read()
        codes, summary = _error_codes(response)
        status = response.status_code
        detail = f": {summary}" if summary else ""
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


def _reason(response: httpx.Response) -> str:
    text = response.reason_phrase or ""
    return f"({text})" if text else ""
