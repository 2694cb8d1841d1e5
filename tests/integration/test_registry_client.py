"""The registry client against a real CNCF distribution registry: auth, uploads, errors."""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
from pathlib import Path

import pytest

from polyarch.auth import Credentials
from polyarch.digest import Digest
from polyarch.errors import (
    AuthenticationError,
    NetworkError,
    RegistryError,
)
from polyarch.models import Descriptor, parse_manifest
from polyarch.registry import RegistryClient, RegistryOptions, RegistryStore, is_loopback
from tests.imagegen import SyntheticImage, make_image, make_index
from tests.registry_server import RegistryServer

_repo = itertools.count()
AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}


def repo(prefix: str = "it") -> str:
    return f"{prefix}/repo{next(_repo)}"


def push_image(store: RegistryStore, image: SyntheticImage, tag: str | None = None) -> None:
    for digest, data in image.blobs.items():
        store.put_blob(
            Descriptor("application/octet-stream", Digest.parse(digest), len(data)), [data]
        )
    store.put_manifest(parse_manifest(image.manifest), tag=tag)


def test_loopback_detection() -> None:
    for host in ("localhost", "localhost:5000", "127.0.0.1", "127.1.2.3:443", "[::1]:5000"):
        assert is_loopback(host), host
    for host in ("example.com", "10.0.0.1:5000", "ghcr.io", "[2001:db8::1]:5000"):
        assert not is_loopback(host), host


def test_ping(registry: RegistryServer) -> None:
    with RegistryClient(registry.host) as client:
        client.ping()
        assert client.base_url == f"http://{registry.host}"


def test_basic_auth_with_credentials(auth_registry: RegistryServer) -> None:
    creds = Credentials(
        username=auth_registry.username or "",
        password=auth_registry.password or "",
        source="test",
    )
    options = RegistryOptions(credentials=creds)
    with RegistryClient(auth_registry.host, options=options) as client:
        store = RegistryStore(client, repo())
        image = make_image(AMD64, seed=11)
        mark = auth_registry.mark()
        push_image(store, image, tag="v1")
        assert store.get_manifest("v1").raw == image.manifest
        # One 401 to learn the challenge, then the header goes up front.
        unauthorized = [r for r in auth_registry.requests(mark) if r.status == 401]
        assert len(unauthorized) == 1


def test_basic_auth_credentials_from_docker_config(
    auth_registry: RegistryServer, tmp_path: Path
) -> None:
    import base64

    secret = base64.b64encode(f"{auth_registry.username}:{auth_registry.password}".encode())
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {auth_registry.host: {"auth": secret.decode()}}})
    )
    with RegistryClient(auth_registry.host, options=RegistryOptions(config_dir=tmp_path)) as c:
        c.ping()


def test_wrong_password_is_a_clear_auth_error(auth_registry: RegistryServer) -> None:
    creds = Credentials(username="polyarch", password="not-the-password", source="a test")
    options = RegistryOptions(credentials=creds)
    with (
        RegistryClient(auth_registry.host, options=options) as c,
        pytest.raises(AuthenticationError) as info,
    ):
        RegistryStore(c, repo()).list_tags()
    message = str(info.value)
    assert "rejected the credentials from a test" in message
    assert "not-the-password" not in message
    assert info.value.exit_code == 4


def test_no_credentials_is_a_clear_auth_error(
    auth_registry: RegistryServer, tmp_path: Path
) -> None:
    options = RegistryOptions(config_dir=tmp_path)
    with (
        RegistryClient(auth_registry.host, options=options) as c,
        pytest.raises(AuthenticationError) as info,
    ):
        c.ping()
    assert "requires authentication" in str(info.value)
    assert info.value.hint == f"log in first: polyarch login {auth_registry.host}"


def test_unreachable_registry() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        # Retried (a registry may be restarting), with a short backoff for the test.
        options = RegistryOptions(backoff=0.01)
        with (
            RegistryClient(f"127.0.0.1:{port}", options=options) as client,
            pytest.raises(NetworkError) as info,
        ):
            client.ping()
    assert f"cannot reach 127.0.0.1:{port}" in str(info.value)
    assert info.value.exit_code == 5


def test_chunked_upload(registry: RegistryServer) -> None:
    data = bytes(range(256)) * 5000  # 1.28 MB in 300 kB chunks: 5 PATCHes
    desc = Descriptor("application/octet-stream", Digest.of(data), len(data))
    with RegistryClient(registry.host) as client:
        store = RegistryStore(client, repo(), upload_chunk_size=300_000)
        mark = registry.mark()
        store.put_blob(desc, (data[i : i + 65536] for i in range(0, len(data), 65536)))
        methods = [r.method for r in registry.requests(mark)]
        assert methods == ["POST", *["PATCH"] * 5, "PUT"]
        assert store.get_blob(desc) == data


def test_monolithic_upload_is_two_requests(registry: RegistryServer) -> None:
    data = b"monolithic" * 1000
    desc = Descriptor("application/octet-stream", Digest.of(data), len(data))
    with RegistryClient(registry.host) as client:
        store = RegistryStore(client, repo())
        mark = registry.mark()
        store.put_blob(desc, [data])
        assert [r.method for r in registry.requests(mark)] == ["POST", "PUT"]


def test_cross_repository_mount(registry: RegistryServer) -> None:
    image = make_image(AMD64, seed=12)
    with RegistryClient(registry.host) as client:
        source = RegistryStore(client, repo("source"))
        push_image(source, image, tag="v1")
        target = RegistryStore(client, repo("target"))
        layer = Descriptor(
            image.layers[0].media_type, Digest.parse(image.layers[0].digest), image.layers[0].size
        )
        mark = registry.mark()
        assert target.mount_blob(layer, source)
        assert [(r.method, r.status) for r in registry.requests(mark)] == [("POST", 201)]
        assert target.has_blob(layer)

        # A blob the source does not have: the registry declines and opens an upload
        # session, which the next put reuses instead of starting another.
        data = b"not in the source repository"
        missing = Descriptor("application/octet-stream", Digest.of(data), len(data))
        mark = registry.mark()
        assert not target.mount_blob(missing, source)
        target.put_blob(missing, [data])
        assert [(r.method, r.status) for r in registry.requests(mark)] == [
            ("POST", 202),
            ("PUT", 201),
        ]
        # Another registry's store cannot be mounted from.
        with RegistryClient(registry.host) as other_client:
            assert not target.mount_blob(layer, RegistryStore(other_client, "x/y"))


def test_tag_list(registry: RegistryServer) -> None:
    image = make_image(AMD64, seed=13)
    with RegistryClient(registry.host) as client:
        store = RegistryStore(client, repo())
        push_image(store, image, tag="t0")
        manifest = parse_manifest(image.manifest)
        tags = [f"t{i}" for i in range(25)]
        for tag in tags[1:]:
            store.put_manifest(manifest, tag=tag)
        assert store.list_tags() == sorted(tags)


def test_tag_pagination_follows_link_headers() -> None:
    """distribution 2.8 sends every tag at once, so a tiny paging server stands in for the
    registries that page (distribution 3, GHCR, Harbor), to prove the Link is followed."""
    from http.server import BaseHTTPRequestHandler
    from urllib.parse import parse_qs, urlsplit

    from tests.loopback_server import LoopbackServer

    tags = [f"t{i:02}" for i in range(25)]
    seen: list[str] = []

    class Pager(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            query = parse_qs(urlsplit(self.path).query)
            last = query.get("last", [""])[0]
            page = [t for t in tags if t > last][:10]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if page and page[-1] != tags[-1]:
                self.send_header("Link", f'</v2/r/tags/list?n=10&last={page[-1]}>; rel="next"')
            body = json.dumps({"name": "r", "tags": page}).encode()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with LoopbackServer(Pager, name="pager") as server, RegistryClient(server.host) as client:
        assert RegistryStore(client, "r").list_tags() == tags
    assert len(seen) == 3


def test_manifest_list_round_trip_and_skopeo_reads_it(registry: RegistryServer) -> None:
    images = [make_image(AMD64, seed=14), make_image(ARM64, seed=14)]
    with RegistryClient(registry.host) as client:
        name = repo()
        store = RegistryStore(client, name)
        for image in images:
            push_image(store, image)
        raw = make_index(images, oci=False)
        store.put_manifest(parse_manifest(raw), tag="multi")
        assert store.resolve("multi").digest == Digest.of(raw)
    out = subprocess.run(
        [
            "skopeo",
            "inspect",
            "--tls-verify=false",
            "--raw",
            f"docker://{registry.host}/{name}:multi",
        ],
        check=True,
        capture_output=True,
    ).stdout
    assert out == raw


def test_registry_error_body_becomes_the_message(registry: RegistryServer) -> None:
    image = make_image(AMD64, seed=15)
    with RegistryClient(registry.host) as client:
        store = RegistryStore(client, repo())
        # The manifest's blobs were never pushed: the registry refuses it.
        with pytest.raises(RegistryError) as info:
            store.put_manifest(parse_manifest(image.manifest), tag="v1")
    assert "BLOB_UNKNOWN" in info.value.codes or "MANIFEST_BLOB_UNKNOWN" in info.value.codes
    assert "blob unknown" in str(info.value)


def test_concurrent_first_requests_share_one_challenge(auth_registry: RegistryServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    creds = Credentials(
        username=auth_registry.username or "",
        password=auth_registry.password or "",
        source="test",
    )
    image = make_image(AMD64, seed=16)
    name = repo()
    with RegistryClient(auth_registry.host, options=RegistryOptions(credentials=creds)) as c:
        push_image(RegistryStore(c, name), image, tag="v1")
    with RegistryClient(auth_registry.host, options=RegistryOptions(credentials=creds)) as c:
        store = RegistryStore(c, name)
        mark = auth_registry.mark()
        with ThreadPoolExecutor(8) as pool:
            raws = list(pool.map(lambda _: store.get_manifest("v1").raw, range(16)))
        assert set(raws) == {image.manifest}
        statuses = [r.status for r in auth_registry.requests(mark)]
    assert statuses.count(401) == 1
    assert statuses.count(200) == 16
