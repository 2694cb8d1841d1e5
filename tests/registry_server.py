"""Run a real CNCF distribution registry (``docker-registry``, 2.8) for tests and benchmarks.

::

    with RegistryServer(tmp_path, htpasswd=True) as server:
        server.url                      # "http://127.0.0.1:PORT", loopback only
        start = server.mark()
        ...                             # run a client against server.host
        server.requests(since=start)    # the HTTP requests the registry served meanwhile

Each server owns one directory::

    <directory>/config.yml      written by us
    <directory>/data/           storage.filesystem.rootdirectory
    <directory>/htpasswd        bcrypt users, when htpasswd=True
    <directory>/registry.log    the process's stdout and stderr

With ``token_auth`` the registry wants bearer tokens signed by a token service
(``auth.token``, see ``tests/token_server.py``); the harness's own requests then carry no
credentials unless given an ``Authorization`` header.

Counting requests: distribution 2.8 writes one Apache *combined* access-log line to stdout
per served request (``127.0.0.1 - - [date] "GET /v2/ HTTP/1.1" 200 2 "" "curl/7.88.1"``),
interleaved with logrus lines on stderr. A line is written when its handler returns, which
can be a moment after the client has its response, so :meth:`RegistryServer.mark` and
:meth:`RegistryServer.requests` first send a sentinel request and wait for its line:
every request completed before the call is then in the log, before the returned position.
The harness's own requests (readiness probe, sentinels) are left out of the counts.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from types import TracebackType
from typing import Any, Final, NoReturn, Self

import bcrypt
import yaml

from tests.imagegen import SyntheticImage, sha256_digest

__all__ = [
    "CLIENT_USER_AGENT",
    "HARNESS_USER_AGENT",
    "REGISTRY_BINARY",
    "AccessLogEntry",
    "RegistryFactory",
    "RegistryServer",
    "RegistryStartError",
    "Response",
    "TokenAuth",
    "parse_access_log",
]

REGISTRY_BINARY: Final = Path("/usr/bin/docker-registry")
LOOPBACK: Final = "127.0.0.1"
# The harness's housekeeping requests (readiness probe, sentinels) carry this user agent
# and are left out of the counts; requests made through RegistryServer.request (seeding,
# probing by tests) carry CLIENT_USER_AGENT by default and are counted like any other.
HARNESS_USER_AGENT: Final = "polyarch-tests-harness"
CLIENT_USER_AGENT: Final = "polyarch-tests-client"
_SYNC_PATH: Final = "/_polyarch/sync/"
_START_ATTEMPTS: Final = 5
# bcrypt's minimum cost: htpasswd is checked on *every* request, and cost 12 would add
# ~0.2 s to each one, which would swamp the benchmarks.
_BCRYPT_ROUNDS: Final = 4

# gorilla/handlers' combined format: host ident user [time] "method uri proto" status size
# "referer" "user agent"; quoted fields escape '"' and '\' with a backslash.
_QUOTED: Final = r'"((?:[^"\\]|\\.)*)"'
_ACCESS_LINE: Final = re.compile(
    r"^(?P<remote>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "
    r'"(?P<method>[A-Z]+) (?P<uri>(?:[^"\\ ]|\\.)+) (?P<proto>[^"]+)" '
    r"(?P<status>\d{3}) (?P<size>\d+|-) "
    rf"{_QUOTED} {_QUOTED}$"
)
_UNESCAPE: Final = re.compile(r"\\(.)")


class RegistryStartError(RuntimeError):
    """The registry did not come up; the message ends with the tail of its log."""


@dataclass(frozen=True, slots=True)
class TokenAuth:
    """The registry's ``auth.token`` section: bearer tokens from a token service.

    :param realm: the token service URL the registry's challenge sends clients to.
    :param service: the registry's name; tokens must carry it as ``aud``.
    :param issuer: tokens must carry it as ``iss``.
    :param rootcertbundle: PEM certificates; tokens are signed by one of their keys
        (``kid``) or carry a chain (``x5c``) up to one of them.
    """

    realm: str
    service: str
    issuer: str
    rootcertbundle: Path

    def config(self) -> dict[str, str]:
        return {
            "realm": self.realm,
            "service": self.service,
            "issuer": self.issuer,
            "rootcertbundle": str(self.rootcertbundle),
        }


@dataclass(frozen=True, slots=True)
class AccessLogEntry:
    """One served HTTP request, from the registry's access log."""

    method: str
    uri: str
    """The request target as sent: path and query."""
    status: int
    size: int | None
    """Response body bytes written, ``None`` when logged as ``-``."""
    user_agent: str
    remote: str
    time: str
    protocol: str
    referer: str
    offset: int
    """Byte offset of the line in the log."""

    @property
    def path(self) -> str:
        """The request path without the query string."""
        return self.uri.partition("?")[0]

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(self.uri.partition("?")[2])


def parse_access_log(data: bytes, *, base: int = 0) -> list[AccessLogEntry]:
    """Parse the access-log lines of *data* (other lines are skipped).

    :param base: the offset of ``data[0]`` in the log, to compute entry offsets.
    """
    entries: list[AccessLogEntry] = []
    offset = base
    for raw in data.splitlines(keepends=True):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        match = _ACCESS_LINE.match(line)
        if match:
            size = match["size"]
            entries.append(
                AccessLogEntry(
                    method=match["method"],
                    uri=_UNESCAPE.sub(r"\1", match["uri"]),
                    status=int(match["status"]),
                    size=None if size == "-" else int(size),
                    user_agent=_UNESCAPE.sub(r"\1", match[10]),
                    remote=match["remote"],
                    time=match["time"],
                    protocol=match["proto"],
                    referer=_UNESCAPE.sub(r"\1", match[9]),
                    offset=offset,
                )
            )
        offset += len(raw)
    return entries


@dataclass(frozen=True, slots=True)
class Response:
    """What :meth:`RegistryServer.request` got back (any status, no exception)."""

    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _pick_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _reap(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    # Popen signals exactly the PID it started, and only while it has not been reaped.
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class RegistryServer:
    """A ``docker-registry serve`` process on 127.0.0.1, configured by us, in *directory*.

    Construct, then :meth:`start` (or use as a context manager); :meth:`stop` ends the
    process. The server can be started again after a stop: the data directory and the log
    are kept, the port changes.

    :param directory: created if missing; holds config, data, htpasswd and log.
    :param htpasswd: require HTTP basic auth (``auth.htpasswd``) for one user.
    :param username: the htpasswd user.
    :param password: the htpasswd password; random when omitted.
    :param tls_certificate: PEM certificate, with *tls_key*: serve HTTPS
        (``http.tls``); the harness's own requests then skip verification.
    :param tls_key: PEM private key for *tls_certificate*.
    :param token_auth: require bearer tokens from this token service (``auth.token``);
        excludes *htpasswd*.
    :param delete_enabled: ``storage.delete.enabled`` (distribution's default is off).
    :param manifest_urls_allow: regular expressions of the layer URLs a manifest may name
        (``validation.manifests.urls.allow``). Without them distribution 2.8 refuses every
        manifest with a foreign or non-distributable layer; with them it takes one whose
        URLs all match, without the layer's blob (it is fetched from the URLs).
    :param binary: the registry executable.
    :param start_timeout: seconds to wait for the registry to answer ``/v2/``.
    """

    def __init__(
        self,
        directory: Path,
        *,
        htpasswd: bool = False,
        username: str = "polyarch",
        password: str | None = None,
        tls_certificate: Path | None = None,
        tls_key: Path | None = None,
        token_auth: TokenAuth | None = None,
        manifest_urls_allow: Sequence[str] = (),
        delete_enabled: bool = True,
        binary: Path = REGISTRY_BINARY,
        start_timeout: float = 15.0,
    ) -> None:
        if (tls_certificate is None) != (tls_key is None):
            raise ValueError("tls_certificate and tls_key go together")
        if htpasswd and token_auth is not None:
            raise ValueError("htpasswd and token_auth exclude each other: one auth method")
        if not htpasswd and password is not None:
            raise ValueError("password given without htpasswd=True")
        if ":" in username:
            raise ValueError(f"htpasswd user names cannot contain ':', got {username!r}")
        self.directory = Path(directory)
        self.binary = Path(binary)
        self.start_timeout = start_timeout
        self._htpasswd = htpasswd
        self._username = username
        self._password = password if password is not None else secrets.token_urlsafe(18)
        self._tls = (
            (Path(tls_certificate), Path(tls_key))
            if tls_certificate is not None and tls_key is not None
            else None
        )
        self.token_auth = token_auth
        self.manifest_urls_allow = tuple(manifest_urls_allow)
        self._delete_enabled = delete_enabled
        self._http_secret = secrets.token_hex(16)
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def __repr__(self) -> str:
        state = f"pid={self._proc.pid}" if self.running and self._proc else "stopped"
        return f"<RegistryServer {self.directory} port={self._port} {state}>"

    # -- layout and addresses -------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.directory / "config.yml"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "registry.log"

    @property
    def htpasswd_path(self) -> Path | None:
        return self.directory / "htpasswd" if self._htpasswd else None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the registry has not been started")
        return self._port

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry part of an image reference."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def scheme(self) -> str:
        return "https" if self._tls else "http"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with TLS), no trailing slash."""
        return f"{self.scheme}://{self.host}"

    @property
    def username(self) -> str | None:
        return self._username if self._htpasswd else None

    @property
    def password(self) -> str | None:
        return self._password if self._htpasswd else None

    @property
    def auth_header(self) -> str | None:
        """The ``Authorization`` value for basic auth, or ``None`` without htpasswd."""
        if not self._htpasswd:
            return None
        token = base64.b64encode(f"{self._username}:{self._password}".encode()).decode()
        return f"Basic {token}"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("the registry has not been started")
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- configuration --------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The configuration :meth:`start` writes to ``config.yml``."""
        http: dict[str, Any] = {
            "addr": self.host,
            # Without a secret the registry logs a warning and makes up a random one.
            "secret": self._http_secret,
        }
        if self._tls:
            http["tls"] = {"certificate": str(self._tls[0]), "key": str(self._tls[1])}
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.data_dir)},
                # `delete` sits under storage, not at the top level.
                "delete": {"enabled": self._delete_enabled},
            },
            "http": http,
        }
        if self.htpasswd_path is not None:
            config["auth"] = {
                "htpasswd": {"realm": "polyarch-tests", "path": str(self.htpasswd_path)}
            }
        elif self.token_auth is not None:
            config["auth"] = {"token": self.token_auth.config()}
        if self.manifest_urls_allow:
            config["validation"] = {
                "manifests": {"urls": {"allow": list(self.manifest_urls_allow)}}
            }
        return config

    def _write_files(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        if self.htpasswd_path is not None:
            # The registry accepts $2a$, $2b$ and $2y$ (Go's bcrypt ignores the minor
            # letter); Python's bcrypt writes $2b$. If the file were missing, 2.8 would
            # silently create one for user "docker" with a random password.
            hashed = bcrypt.hashpw(self._password.encode(), bcrypt.gensalt(_BCRYPT_ROUNDS))
            self.htpasswd_path.write_text(f"{self._username}:{hashed.decode()}\n")
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))

    # -- process --------------------------------------------------------------------------

    def start(self) -> Self:
        """Write the config, start the registry and wait until ``/v2/`` answers.

        :raises FileNotFoundError: if the registry binary is missing.
        :raises RegistryStartError: if it exits or does not answer in time.
        """
        if self.running:
            raise RuntimeError(f"{self!r} is already running")
        if not self.binary.exists():
            raise FileNotFoundError(
                f"{self.binary} not found; run `bash scripts/test`, which installs the "
                "Debian package docker-registry"
            )
        for attempt in range(1, _START_ATTEMPTS + 1):
            self._port = _pick_port()
            self._write_files()
            log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
            self._spawn()
            try:
                self._wait_ready(log_start)
                return self
            except RegistryStartError:
                self.stop()
                # Someone took the port between our probe and the registry's bind.
                if attempt < _START_ATTEMPTS and b"address already in use" in self._log_since(
                    log_start
                ):
                    continue
                raise
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        # REGISTRY_* variables override config.yml (REGISTRY_HTTP_ADDR would move us off
        # loopback), so the child gets none of them.
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(self.binary), "serve", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                env=env,
            )
        # Safety net: never leave a registry behind, even if stop() is never called.
        self._finalizer = weakref.finalize(self, _reap, self._proc)

    def _wait_ready(self, log_start: int) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        listening = f"listening on {self.host}".encode()
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._start_failed(f"exited with status {self._proc.returncode}", log_start)
            # A foreign server may answer on this port; trust /v2/ only once *our* process
            # says it has bound it.
            if listening in self._log_since(log_start):
                try:
                    status = self.request(
                        "GET", "/v2/", auth=False, timeout=1.0, user_agent=HARNESS_USER_AGENT
                    ).status
                except OSError:
                    status = 0
                if status in (200, 401):
                    return
            time.sleep(0.05)
        self._start_failed(f"did not answer on {self.url}/v2/ in {self.start_timeout} s", log_start)

    def _start_failed(self, why: str, log_start: int) -> NoReturn:
        lines = self._log_since(log_start).decode("utf-8", "replace").splitlines()
        tail = "\n".join(lines[-30:])
        raise RegistryStartError(
            f"{self.binary} serve {self.config_path} {why}; log {self.log_path}:\n{tail}"
        )

    def stop(self, *, timeout: float = 10.0) -> None:
        """SIGTERM the registry's PID, wait up to *timeout* s, then SIGKILL it.

        Safe to call more than once.
        """
        if self._proc is None:
            return
        _reap(self._proc, timeout)
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the log --------------------------------------------------------------------------

    def _log_since(self, offset: int, end: int | None = None) -> bytes:
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read() if end is None else log.read(max(0, end - offset))
        except FileNotFoundError:
            return b""

    def log_text(self) -> str:
        return self._log_since(0).decode("utf-8", "replace")

    def _sync(self, timeout: float = 5.0) -> int:
        """Send a sentinel request, wait for its access line, return the offset after it."""
        token = uuid.uuid4().hex
        start = self.log_path.stat().st_size
        self.request(
            "GET", _SYNC_PATH + token, auth=False, timeout=timeout, user_agent=HARNESS_USER_AGENT
        )
        deadline = time.monotonic() + timeout
        while True:
            data = self._log_since(start)
            for entry in parse_access_log(data, base=start):
                if entry.path == _SYNC_PATH + token:
                    line_end = data.index(b"\n", entry.offset - start) + 1
                    return start + line_end
            if time.monotonic() > deadline:
                raise TimeoutError(f"sentinel {token} never reached {self.log_path}")
            time.sleep(0.01)

    def mark(self) -> int:
        """A log position: requests served from now on come after it (see module doc)."""
        if self.running:
            return self._sync()
        # A stopped registry's log is complete.
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def requests(self, since: int = 0) -> list[AccessLogEntry]:
        """The requests served after position *since* (a :meth:`mark`) until now.

        Excludes the harness's own readiness probes and sentinels.
        """
        end = self.mark()
        return [
            entry
            for entry in parse_access_log(self._log_since(since, end), base=since)
            if entry.user_agent != HARNESS_USER_AGENT
        ]

    # -- a tiny client, plain urllib, to seed and probe the registry ------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
        timeout: float = 10.0,
        user_agent: str | None = None,
    ) -> Response:
        """Send one request to the registry and return the response, whatever its status.

        :param path: absolute path (and query), or a full URL on this registry (as in a
            ``Location`` header).
        :param auth: add basic credentials when the registry uses htpasswd.
        :param user_agent: defaults to ``CLIENT_USER_AGENT``; label a tool's requests to
            tell them apart in :meth:`requests`.
        """
        url = urllib.parse.urljoin(self.url + "/", path)
        parts = urllib.parse.urlsplit(url)
        if parts.hostname != LOOPBACK or parts.port != self.port:
            raise ValueError(f"{url!r} is not on this registry ({self.host})")
        req = urllib.request.Request(url, data=body, method=method)
        req.add_header("User-Agent", user_agent or CLIENT_USER_AGENT)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        if auth and self.auth_header:
            req.add_header("Authorization", self.auth_header)
        handlers: list[urllib.request.BaseHandler] = [
            _NoRedirect(),
            urllib.request.ProxyHandler({}),  # loopback: never through a proxy
        ]
        if self._tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            handlers.append(urllib.request.HTTPSHandler(context=context))
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(req, timeout=timeout) as resp:
                return Response(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            with contextlib.closing(err):
                return Response(err.code, err.headers, err.read())

    def push_blob(self, repository: str, data: bytes, *, user_agent: str | None = None) -> str:
        """Monolithic upload: ``POST`` an upload session, then ``PUT`` it with ``?digest=``.

        :returns: the blob's digest.
        """
        digest = sha256_digest(data)
        started = self.request(
            "POST", f"/v2/{repository}/blobs/uploads/", body=b"", user_agent=user_agent
        )
        _expect(started, 202, f"POST upload to {repository}")
        location = started.headers["Location"]
        sep = "&" if "?" in location else "?"
        done = self.request(
            "PUT",
            f"{location}{sep}digest={urllib.parse.quote(digest)}",
            body=data,
            headers={"Content-Type": "application/octet-stream"},
            user_agent=user_agent,
        )
        _expect(done, 201, f"PUT blob {digest} to {repository}")
        return digest

    def push_manifest(
        self,
        repository: str,
        reference: str,
        manifest: bytes,
        media_type: str,
        *,
        user_agent: str | None = None,
    ) -> str:
        """``PUT`` a manifest (or index) by tag or digest; returns the registry's digest."""
        resp = self.request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            body=manifest,
            headers={"Content-Type": media_type},
            user_agent=user_agent,
        )
        _expect(resp, 201, f"PUT manifest {repository}:{reference}")
        digest = resp.headers["Docker-Content-Digest"]
        if digest != sha256_digest(manifest):
            raise AssertionError(f"registry digest {digest} != {sha256_digest(manifest)}")
        return str(digest)

    def push_image(self, repository: str, image: SyntheticImage, *, tag: str | None = None) -> str:
        """Push every blob of *image*, then its manifest (by *tag*, else by digest)."""
        for data in image.blobs.values():
            self.push_blob(repository, data)
        reference = tag or image.manifest_digest
        return self.push_manifest(repository, reference, image.manifest, image.media_type)

    def push_index(
        self,
        repository: str,
        images: Iterable[SyntheticImage],
        index: bytes,
        media_type: str,
        *,
        tag: str | None = None,
    ) -> str:
        """Push each child image by digest, then *index* (by *tag*, else by digest)."""
        for image in images:
            self.push_image(repository, image)
        return self.push_manifest(repository, tag or sha256_digest(index), index, media_type)


def _expect(resp: Response, status: int, what: str) -> None:
    if resp.status != status:
        body = resp.body[:500].decode("utf-8", "replace")
        raise AssertionError(f"{what}: expected HTTP {status}, got {resp.status}: {body}")


class RegistryFactory:
    """Starts fresh registries in new temporary directories; :meth:`stop_all` ends them."""

    def __init__(self, make_dir: Callable[[], Path]) -> None:
        self._make_dir = make_dir
        self.servers: list[RegistryServer] = []

    def __call__(
        self,
        *,
        htpasswd: bool = False,
        username: str = "polyarch",
        password: str | None = None,
        tls_certificate: Path | None = None,
        tls_key: Path | None = None,
        token_auth: TokenAuth | None = None,
        manifest_urls_allow: Sequence[str] = (),
        delete_enabled: bool = True,
    ) -> RegistryServer:
        server = RegistryServer(
            self._make_dir(),
            htpasswd=htpasswd,
            username=username,
            password=password,
            tls_certificate=tls_certificate,
            tls_key=tls_key,
            token_auth=token_auth,
            manifest_urls_allow=manifest_urls_allow,
            delete_enabled=delete_enabled,
        )
        self.servers.append(server)
        return server.start()

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()
