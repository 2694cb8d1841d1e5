"""Proxies from the environment: ``HTTP_PROXY`` / ``http_proxy`` / ``ALL_PROXY`` send
registry traffic through a forward proxy, ``NO_PROXY`` exempts hosts, a registry on this
machine is never proxied (Go's rule), credentials in the proxy URL become
``Proxy-Authorization`` and are never printed, and credentials for a plain-HTTP registry
never pass through a proxy on another machine.

The proxy is a small forward proxy on loopback in front of the real registry. polyarch
names the registry ``registry.test:PORT`` (a host that is not this machine, so the proxy
applies), and only the proxy resolves it, to 127.0.0.1; in-process tests map names to
loopback with :func:`~tests.loopback_server.names_on_loopback`.
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from polyarch.auth import Credentials
from polyarch.errors import AuthenticationError
from polyarch.registry import RegistryClient, RegistryOptions, RegistryStore
from tests.clirun import polyarch
from tests.imagegen import make_image
from tests.loopback_server import LoopbackServer, names_on_loopback
from tests.registry_server import RegistryServer

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


#: The name polyarch knows the registry by in these tests; the proxy resolves it.
REGISTRY_NAME = "registry.test"


@dataclass(frozen=True)
class Forwarded:
    method: str
    url: str
    proxy_authorization: str | None
    authorization: str | None = None


class ForwardProxy:
    """An HTTP forward proxy on 127.0.0.1 (absolute-form requests, no CONNECT) that
    resolves :data:`REGISTRY_NAME` to 127.0.0.1."""

    def __init__(self) -> None:
        self.seen: list[Forwarded] = []
        self._lock = threading.Lock()
        self._server = LoopbackServer(_Handler, self, name="forward-proxy")

    @property
    def url(self) -> str:
        return self._server.url

    def record(self, entry: Forwarded) -> None:
        with self._lock:
            self.seen.append(entry)

    def __enter__(self) -> ForwardProxy:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        proxy: ForwardProxy = self.server.owner  # type: ignore[attr-defined]
        proxy.record(
            Forwarded(
                self.command,
                self.path,
                self.headers.get("Proxy-Authorization"),
                self.headers.get("Authorization"),
            )
        )
        target = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        host = "127.0.0.1" if target.hostname == REGISTRY_NAME else target.hostname or ""
        upstream = http.client.HTTPConnection(host, target.port, timeout=30)
        try:
            path = target.path + (f"?{target.query}" if target.query else "")
            upstream.request(self.command, path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            upstream.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy() as server:
        yield server


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return polyarch(*args, env=env, text=True, drop=_PROXY_VARIABLES, timeout=60)


def unique(prefix: str) -> str:
    return f"{prefix}/{secrets.token_hex(5)}"


def named(registry: RegistryServer) -> str:
    """The registry as polyarch knows it here: ``registry.test:PORT``."""
    return f"{REGISTRY_NAME}:{registry.port}"


def test_http_proxy_carries_every_request(registry: RegistryServer, proxy: ForwardProxy) -> None:
    repository = unique("proxied")
    image = make_image({"os": "linux", "architecture": "amd64"}, seed=41)
    registry.push_image(repository, image, tag="1")
    host = named(registry)
    source, target = f"{host}/{repository}:1", f"{host}/{repository}-copy:1"

    inspect = run("inspect", "--insecure", source, env={"HTTP_PROXY": proxy.url})
    assert inspect.returncode == 0, inspect.stderr
    assert inspect.stdout.encode() == image.manifest
    # Uploads too: bodies go through the proxy.
    copied = run("copy", "--insecure", "--quiet", source, target, env={"http_proxy": proxy.url})
    assert copied.returncode == 0, copied.stderr

    methods = {entry.method for entry in proxy.seen}
    assert {"GET", "POST", "PUT"} <= methods  # within one registry blobs are mounted (POST)
    assert all(entry.url.startswith(f"http://{host}/v2/") for entry in proxy.seen)


def test_all_proxy_is_the_fallback(registry: RegistryServer, proxy: ForwardProxy) -> None:
    repository = unique("proxied")
    registry.push_image(repository, make_image({"os": "linux", "architecture": "arm64"}), tag="1")
    result = run(
        "digest", "--insecure", f"{named(registry)}/{repository}:1", env={"ALL_PROXY": proxy.url}
    )
    assert result.returncode == 0, result.stderr
    # The HTTPS probe of --insecure asked the proxy for a tunnel, which it does not make.
    assert [entry.method for entry in proxy.seen] == ["HEAD"]


@pytest.mark.parametrize("exempt", [REGISTRY_NAME, "*", "localhost,.test"])
def test_no_proxy_exempts_hosts(registry: RegistryServer, proxy: ForwardProxy, exempt: str) -> None:
    """Exempted, polyarch goes to registry.test itself, which no resolver knows."""
    result = run(
        "digest",
        "--insecure",
        f"{named(registry)}/none/here:1",
        env={"HTTP_PROXY": proxy.url, "HTTPS_PROXY": proxy.url, "NO_PROXY": exempt},
    )
    assert result.returncode == 5, result.stderr
    assert f"cannot reach {named(registry)}" in result.stderr
    assert proxy.seen == []


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY"])
def test_a_loopback_registry_is_never_proxied(
    auth_registry: RegistryServer, proxy: ForwardProxy, tmp_path: Path, variable: str
) -> None:
    """Go's rule: the proxy never sees a request to this machine, nor its password."""
    repository = unique("direct")
    auth_registry.push_image(
        repository, make_image({"os": "linux", "architecture": "amd64"}), tag="latest"
    )
    config = tmp_path / "docker"
    config.mkdir()
    auth = base64.b64encode(f"{auth_registry.username}:{auth_registry.password}".encode())
    hosts = (auth_registry.host, f"localhost:{auth_registry.port}")
    entry = {"auth": auth.decode()}
    (config / "config.json").write_text(json.dumps({"auths": dict.fromkeys(hosts, entry)}))
    for host in hosts:
        result = run(
            "tags",
            f"{host}/{repository}",
            env={variable: proxy.url, "DOCKER_CONFIG": str(config)},
        )
        assert result.returncode == 0, result.stderr
    assert proxy.seen == []


def test_proxy_credentials_are_sent_to_the_proxy_and_never_shown(
    registry: RegistryServer, proxy: ForwardProxy
) -> None:
    repository = unique("proxied")
    registry.push_image(repository, make_image({"os": "linux", "architecture": "amd64"}), tag="1")
    password = "pr0xy-" + secrets.token_urlsafe(12)
    with_credentials = proxy.url.replace("http://", f"http://someone:{password}@")
    result = run(
        "--debug",
        "digest",
        "--insecure",
        f"{named(registry)}/{repository}:1",
        env={"HTTP_PROXY": with_credentials},
    )
    assert result.returncode == 0, result.stderr
    expected = "Basic " + base64.b64encode(f"someone:{password}".encode()).decode()
    assert [entry.proxy_authorization for entry in proxy.seen] == [expected]
    assert password not in result.stdout + result.stderr
    assert expected.split()[1] not in result.stdout + result.stderr


def test_an_unsupported_proxy_scheme_is_a_clear_error() -> None:
    result = run(
        "digest",
        f"{REGISTRY_NAME}:1/none/here:1",
        env={"ALL_PROXY": "socks5://someone:secret-pw@127.0.0.1:1080"},
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "socks5://127.0.0.1" in result.stderr
    assert "http:// or https://" in result.stderr
    assert "secret-pw" not in result.stderr


@pytest.mark.parametrize(
    "proxy_url",
    ["http://u:pr0xy-pw@[::1", "http://u:pr0xy-pw@[not-an-address]:80", "http://:99999999"],
)
def test_a_malformed_proxy_url_is_a_clear_error(proxy_url: str) -> None:
    result = run("digest", f"{REGISTRY_NAME}:1/none/here:1", env={"HTTPS_PROXY": proxy_url})
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "not a valid http:// or https:// proxy URL" in result.stderr
    assert "pr0xy-pw" not in result.stderr


def test_a_malformed_proxy_url_is_no_matter_for_a_loopback_registry(
    registry: RegistryServer,
) -> None:
    repository = unique("direct")
    registry.push_image(repository, make_image({"os": "linux", "architecture": "amd64"}), tag="1")
    result = run("digest", f"{registry.host}/{repository}:1", env={"HTTP_PROXY": "http://u:p@[::1"})
    assert result.returncode == 0, result.stderr


# -- credentials and proxies elsewhere, in process (names mapped to loopback) ---------------


@pytest.mark.parametrize("proxy_name", ["proxy.test", "127.0.0.1"])
def test_credentials_for_plain_http_never_pass_a_proxy_elsewhere(
    auth_registry: RegistryServer,
    proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
    proxy_name: str,
) -> None:
    """An --insecure registry over plain HTTP: its password may go through a proxy on
    this machine, never through one on another (which could read it)."""
    repository = unique("proxied")
    auth_registry.push_image(
        repository, make_image({"os": "linux", "architecture": "amd64"}), tag="latest"
    )
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    port = proxy.url.rpartition(":")[2]
    monkeypatch.setenv("HTTP_PROXY", f"http://{proxy_name}:{port}")
    assert auth_registry.username is not None
    assert auth_registry.password is not None
    options = RegistryOptions(
        insecure=True,
        retries=0,
        credentials=Credentials(auth_registry.username, auth_registry.password, source="test"),
    )
    with (
        names_on_loopback("proxy.test"),
        RegistryClient(f"{REGISTRY_NAME}:{auth_registry.port}", options=options) as client,
    ):
        store = RegistryStore(client, repository)
        if proxy_name == "127.0.0.1":
            assert store.list_tags() == ["latest"]
            assert any(entry.authorization for entry in proxy.seen)
            return
        with pytest.raises(AuthenticationError, match=r"through the proxy proxy\.test") as info:
            store.list_tags()
    assert info.value.exit_code == 4
    assert auth_registry.password not in f"{info.value} {info.value.hint}"
    assert proxy.seen  # the anonymous first try went through; then nothing with a secret
    assert not any(entry.authorization for entry in proxy.seen)
