"""Proxies from the environment: ``HTTP_PROXY`` / ``http_proxy`` / ``ALL_PROXY`` send
registry traffic through a forward proxy, ``NO_PROXY`` exempts hosts, credentials in the
proxy URL become ``Proxy-Authorization`` and are never printed. The proxy is a small
forward proxy on loopback in front of the real registry."""

from __future__ import annotations

import base64
import http.client
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.imagegen import make_image
from tests.loopback_server import LoopbackServer
from tests.registry_server import RegistryServer

POLYARCH = shutil.which("polyarch") or "polyarch"
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


@dataclass(frozen=True)
class Forwarded:
    method: str
    url: str
    proxy_authorization: str | None


class ForwardProxy:
    """An HTTP forward proxy on 127.0.0.1 (absolute-form requests, no CONNECT)."""

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
        proxy.record(Forwarded(self.command, self.path, self.headers.get("Proxy-Authorization")))
        target = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
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
    base = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARIABLES}
    return subprocess.run(
        [POLYARCH, *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def unique(prefix: str) -> str:
    return f"{prefix}/{secrets.token_hex(5)}"


def test_http_proxy_carries_every_request(registry: RegistryServer, proxy: ForwardProxy) -> None:
    repository = unique("proxied")
    image = make_image({"os": "linux", "architecture": "amd64"}, seed=41)
    registry.push_image(repository, image, tag="1")
    source, target = f"{registry.host}/{repository}:1", f"{registry.host}/{repository}-copy:1"

    inspect = run("inspect", source, env={"HTTP_PROXY": proxy.url})
    assert inspect.returncode == 0, inspect.stderr
    assert inspect.stdout.encode() == image.manifest
    # Uploads too: bodies go through the proxy.
    copied = run("copy", "--quiet", source, target, env={"http_proxy": proxy.url})
    assert copied.returncode == 0, copied.stderr

    methods = {entry.method for entry in proxy.seen}
    assert {"GET", "POST", "PUT"} <= methods  # within one registry blobs are mounted (POST)
    assert all(entry.url.startswith(f"http://{registry.host}/v2/") for entry in proxy.seen)


def test_all_proxy_is_the_fallback(registry: RegistryServer, proxy: ForwardProxy) -> None:
    repository = unique("proxied")
    registry.push_image(repository, make_image({"os": "linux", "architecture": "arm64"}), tag="1")
    result = run("digest", f"{registry.host}/{repository}:1", env={"ALL_PROXY": proxy.url})
    assert result.returncode == 0, result.stderr
    assert [entry.method for entry in proxy.seen] == ["HEAD"]


@pytest.mark.parametrize("exempt", ["127.0.0.1", "*", "localhost,127.0.0.1"])
def test_no_proxy_exempts_hosts(registry: RegistryServer, proxy: ForwardProxy, exempt: str) -> None:
    repository = unique("direct")
    registry.push_image(repository, make_image({"os": "linux", "architecture": "amd64"}), tag="1")
    result = run(
        "digest",
        f"{registry.host}/{repository}:1",
        env={"HTTP_PROXY": proxy.url, "NO_PROXY": exempt},
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
        "--debug", "digest", f"{registry.host}/{repository}:1", env={"HTTP_PROXY": with_credentials}
    )
    assert result.returncode == 0, result.stderr
    expected = "Basic " + base64.b64encode(f"someone:{password}".encode()).decode()
    assert [entry.proxy_authorization for entry in proxy.seen] == [expected]
    assert password not in result.stdout + result.stderr
    assert expected.split()[1] not in result.stdout + result.stderr


def test_an_unsupported_proxy_scheme_is_a_clear_error(registry: RegistryServer) -> None:
    result = run(
        "digest",
        f"{registry.host}/none/here:1",
        env={"ALL_PROXY": "socks5://someone:secret-pw@127.0.0.1:1080"},
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "socks5://127.0.0.1" in result.stderr
    assert "http:// or https://" in result.stderr
    assert "secret-pw" not in result.stderr
