"""Non-distributable layers as Windows images have them: ``copy`` leaves them where their
descriptors say they live (as skopeo and crane do) unless ``--include-nondistributable``;
``pull`` fetches them from their URLs, since a layout or an archive must be complete.

The images are shaped like Windows ones: a Docker manifest list (or an OCI index) with
windows/amd64 entries of ``os.version`` 10.0.17763.x, nanoserver- and servercore-like,
each with a first layer that is foreign (OCI: non-distributable) and names its URL on a
stand-in for mcr.microsoft.com: an HTTPS server on loopback with a CA made for the run,
trusted through ``--certs-dir`` (docker's ``certs.d/<host:port>/ca.crt``), so that the
registries on other loopback ports stay plain HTTP. Distribution 2.8 takes such a manifest
without the layer's blob when ``validation.manifests.urls.allow`` matches its URLs; the
registries here are configured so, and the blob is never pushed to them.
"""

from __future__ import annotations

import json
import secrets
import ssl
import subprocess
import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from tests.clirun import polyarch
from tests.content import (
    Content,
    layout_tags,
    multi,
    registry_has_blob,
    registry_manifest,
    skopeo_raw,
    unique,
)
from tests.imagegen import SyntheticImage, make_image, sha256_digest
from tests.loopback_server import Asked, LoopbackServer, Reply, ScriptedServer, server_tls
from tests.registry_server import RegistryFactory, RegistryServer
from tests.secretscan import SCAN
from tests.tlsgen import PkiFiles, make_pki, write_pki

#: What the registries let a manifest's layers name: this machine, any port.
ALLOW_LOOPBACK = (r"^https?://127\.0\.0\.1:[0-9]+/",)
NANOSERVER = {"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.5936"}
SERVERCORE = {"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.5820"}
LINUX = {"os": "linux", "architecture": "amd64"}
#: Big enough to arrive in many reads (64 KiB each), small enough to stay quick.
LAYER_SIZE = 300 * 1024


def ok(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    return result.stdout.decode()


# -- the stand-in for mcr.microsoft.com ----------------------------------------------------


@dataclass
class LayerHost:
    """An HTTPS server that serves layers by path, as the host of a Windows base layer;
    ``replies`` overrides what a path gets, ``asked`` records every request."""

    pki: PkiFiles
    blobs: dict[str, bytes] = field(default_factory=dict)
    replies: dict[str, Callable[[Asked], Reply]] = field(default_factory=dict)
    server: ScriptedServer | None = None

    def respond(self, asked: Asked) -> Reply:
        path = asked.path.partition("?")[0]
        reply = self.replies.get(path)
        if reply is not None:
            return reply(asked)
        data = self.blobs.get(path)
        if data is None:
            return Reply(404, body=b"not here")
        return Reply(200, {"Content-Type": "application/octet-stream"}, data)

    @property
    def asked(self) -> list[Asked]:
        assert self.server is not None
        return self.server.asked

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def serve(self, image: SyntheticImage, path_of: Callable[[str], str]) -> None:
        for digest, data in image.foreign_blobs.items():
            self.blobs[path_of(digest)] = data


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return write_pki(make_pki(), tmp_path_factory.mktemp("layer-host-pki"))


@pytest.fixture(scope="module")
def layer_host(pki: PkiFiles) -> Iterator[LayerHost]:
    host = LayerHost(pki)
    tls = server_tls(str(pki.server_cert), str(pki.server_key))
    with ScriptedServer(host.respond, name="layer-host", tls=tls) as server:
        host.server = server
        yield host


@pytest.fixture(scope="module")
def certs_dir(
    layer_host: LayerHost, pki: PkiFiles, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """docker's certs.d with the layer host's CA, for its host:port only."""
    assert layer_host.server is not None
    directory = tmp_path_factory.mktemp("certs.d")
    (directory / layer_host.server.host).mkdir()
    (directory / layer_host.server.host / "ca.crt").write_bytes(pki.ca_cert.read_bytes())
    return directory


@pytest.fixture(scope="module")
def source_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with RegistryServer(
        tmp_path_factory.mktemp("nd-source"), manifest_urls_allow=ALLOW_LOOPBACK
    ) as server:
        yield server


@pytest.fixture(scope="module")
def target_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with RegistryServer(
        tmp_path_factory.mktemp("nd-target"), manifest_urls_allow=ALLOW_LOOPBACK
    ) as server:
        yield server


# -- Windows-like images ---------------------------------------------------------------------


@dataclass(frozen=True)
class WindowsImage:
    """A list of Windows images (and one Linux one) whose base layers live elsewhere."""

    content: Content
    images: tuple[SyntheticImage, ...]

    @property
    def foreign(self) -> dict[str, bytes]:
        return {d: b for image in self.images for d, b in image.foreign_blobs.items()}

    def all_blobs(self) -> dict[str, bytes]:
        return {**self.content.blobs, **self.foreign}


def mcr_path(repository: str) -> Callable[[str], str]:
    """Where mcr.microsoft.com has a base layer: the registry API's blob path."""
    return lambda digest: f"/v2/windows/{repository}/blobs/{digest}"


def windows_images(
    host: LayerHost,
    seed: int,
    *,
    oci: bool = False,
    urls: Callable[[str, str], Sequence[str]] | None = None,
    serve: bool = True,
) -> WindowsImage:
    """A nanoserver-like and a servercore-like windows/amd64 image (each a foreign base
    layer and its own layers) and a linux/amd64 one, in a Docker list or an OCI index.

    :param urls: the URLs a base layer names, from its repository on the host and its
        digest (default: the host's mcr-like path).
    :param serve: the host serves the base layers.
    """

    def named(repository: str) -> Callable[[str], Sequence[str]]:
        if urls is not None:
            return lambda digest: urls(repository, digest)
        return lambda digest: [host.url + mcr_path(repository)(digest)]

    images = (
        make_image(
            NANOSERVER,
            seed=seed,
            oci=oci,
            layers=2,
            layer_size=LAYER_SIZE,
            foreign_urls=named("nanoserver"),
        ),
        make_image(
            SERVERCORE,
            seed=seed + 5000,  # layers are seeded by os and architecture: not the same
            oci=oci,
            layers=3,
            layer_size=LAYER_SIZE,
            foreign_urls=named("servercore"),
        ),
        make_image(LINUX, seed=seed, oci=oci),
    )
    if serve:
        host.serve(images[0], mcr_path("nanoserver"))
        host.serve(images[1], mcr_path("servercore"))
    return WindowsImage(multi(images, oci=oci), images)


def pull_nanoserver(
    source: str, destination: str, certs: Path, *args: str
) -> subprocess.CompletedProcess[bytes]:
    return polyarch(
        "pull",
        "--platform",
        "windows(10.0.17763.5936)/amd64",
        "--certs-dir",
        str(certs),
        *args,
        source,
        destination,
    )


def failed(result: subprocess.CompletedProcess[bytes], code: int) -> str:
    """A run that failed cleanly with ``code``: the error line last, hints only after it
    (what came before is progress: the platform chosen, the blobs copied). Its stderr."""
    stderr = result.stderr.decode()
    assert result.returncode == code, f"exit {result.returncode}, not {code}\n{stderr}"
    assert "Traceback" not in stderr
    assert result.stdout == b""
    lines = stderr.splitlines()
    (error,) = [i for i, line in enumerate(lines) if line.startswith("polyarch: error: ")]
    assert all(line.startswith("hint: ") for line in lines[error + 1 :]), stderr
    return stderr


def no_credentials(asked: Sequence[Asked]) -> None:
    for request in asked:
        names = {name.lower() for name in request.headers}
        assert not names & {"authorization", "cookie", "proxy-authorization"}, request


# -- copy ------------------------------------------------------------------------------------


@pytest.mark.parametrize("oci", [False, True], ids=["docker-list", "oci-index"])
def test_copy_skips_nondistributable_layers_by_default(
    layer_host: LayerHost,
    source_registry: RegistryServer,
    target_registry: RegistryServer,
    certs_dir: Path,
    oci: bool,
) -> None:
    windows = windows_images(layer_host, seed=1100 + oci, oci=oci)
    repository = unique("nd/skip")
    source = windows.content.push(source_registry, repository, "ltsc2019")
    asked_before = len(layer_host.asked)

    result = polyarch(
        "copy", "--certs-dir", str(certs_dir), source, f"{target_registry.host}/{repository}"
    )

    assert ok(result).strip() == windows.content.digest
    assert f"{len(windows.foreign)} skipped (non-distributable)" in result.stderr.decode()
    assert f"{len(windows.content.blobs)} copied" in result.stderr.decode()
    # Every manifest byte for byte: the descriptors still name the URLs.
    assert registry_manifest(target_registry, repository, "ltsc2019") == windows.content.root
    for image in windows.images:
        served = registry_manifest(target_registry, repository, image.manifest_digest)
        assert served == image.manifest
        assert (
            skopeo_raw(f"docker://{target_registry.host}/{repository}@{image.manifest_digest}")
            == image.manifest
        )
    assert (
        skopeo_raw(f"docker://{target_registry.host}/{repository}:ltsc2019") == windows.content.root
    )
    for digest in windows.content.blobs:
        assert registry_has_blob(target_registry, repository, digest)
    for digest in windows.foreign:
        assert not registry_has_blob(target_registry, repository, digest)
    assert len(layer_host.asked) == asked_before  # not a request to the layers' host


@pytest.mark.parametrize("oci", [False, True], ids=["docker-list", "oci-index"])
def test_copy_include_nondistributable_fetches_from_the_urls(
    layer_host: LayerHost,
    source_registry: RegistryServer,
    target_registry: RegistryServer,
    certs_dir: Path,
    oci: bool,
) -> None:
    windows = windows_images(layer_host, seed=1110 + oci, oci=oci)
    repository = unique("nd/include")
    source = windows.content.push(source_registry, repository, "ltsc2019")
    asked_before = len(layer_host.asked)

    result = polyarch(
        "copy",
        "--include-nondistributable",
        "--certs-dir",
        str(certs_dir),
        source,
        f"{target_registry.host}/{repository}:copied",
    )

    assert ok(result).strip() == windows.content.digest
    stderr = result.stderr.decode()
    assert f"{len(windows.foreign)} fetched from their URLs" in stderr
    assert "skipped" not in stderr
    assert registry_manifest(target_registry, repository, "copied") == windows.content.root
    for digest, data in windows.foreign.items():
        served = target_registry.request("GET", f"/v2/{repository}/blobs/{digest}")
        assert served.status == 200
        assert served.body == data
    asked = layer_host.asked[asked_before:]
    paths = sorted(request.path for request in asked)
    assert paths == sorted(
        [mcr_path("nanoserver")(d) for d in windows.images[0].foreign_blobs]
        + [mcr_path("servercore")(d) for d in windows.images[1].foreign_blobs]
    )
    no_credentials(asked)

    # Copied again: everything is there, nothing is fetched a second time.
    again = polyarch(
        "copy",
        "--include-nondistributable",
        "--certs-dir",
        str(certs_dir),
        source,
        f"{target_registry.host}/{repository}:copied",
    )
    assert ok(again).strip() == windows.content.digest
    assert len(layer_host.asked) == asked_before + len(asked)


def test_include_takes_the_layer_from_the_source_when_it_has_it(
    layer_host: LayerHost,
    source_registry: RegistryServer,
    target_registry: RegistryServer,
    tmp_path: Path,
    certs_dir: Path,
) -> None:
    windows = windows_images(layer_host, seed=1120)
    repository = unique("nd/from-source")
    for data in windows.foreign.values():
        source_registry.push_blob(repository, data)
    source = windows.content.push(source_registry, repository, "1")
    asked_before = len(layer_host.asked)

    result = polyarch(
        "copy",
        "--include-nondistributable",
        "--certs-dir",
        str(certs_dir),
        source,
        f"oci:{tmp_path / 'layout'}:1",
    )

    assert ok(result).strip() == windows.content.digest
    assert f"{len(windows.all_blobs())} copied" in result.stderr.decode()
    assert len(layer_host.asked) == asked_before
    for digest, data in windows.all_blobs().items():
        assert (tmp_path / "layout" / "blobs" / "sha256" / digest[7:]).read_bytes() == data


def test_credentials_of_the_source_are_not_sent_to_the_layers_host(
    layer_host: LayerHost,
    registry_factory: RegistryFactory,
    target_registry: RegistryServer,
    certs_dir: Path,
    tmp_path: Path,
) -> None:
    private = registry_factory(htpasswd=True, manifest_urls_allow=ALLOW_LOOPBACK)
    windows = windows_images(layer_host, seed=1130)
    repository = unique("nd/private")
    source = windows.content.push(private, repository, "1")
    assert private.auth_header is not None
    config = tmp_path / "docker"
    config.mkdir()
    secret = private.auth_header.partition(" ")[2]
    (config / "config.json").write_text(json.dumps({"auths": {private.host: {"auth": secret}}}))
    asked_before = len(layer_host.asked)

    for args in (
        ["copy", "--include-nondistributable", source, f"{target_registry.host}/{repository}:1"],
        ["pull", "--platform", "windows/amd64", source, f"oci:{tmp_path / 'layout'}"],
        ["pull", "--platform", "windows/amd64", source, f"docker-archive:{tmp_path}/w.tar"],
    ):
        ok(
            polyarch(
                *args[:1],
                "--certs-dir",
                str(certs_dir),
                *args[1:],
                env={"DOCKER_CONFIG": str(config)},
                isolated=True,
            )
        )

    asked = layer_host.asked[asked_before:]
    assert len(asked) >= 3
    no_credentials(asked)
    assert private.password is not None
    for request in asked:
        assert private.password not in json.dumps(request.headers)
        assert secret not in json.dumps(request.headers)


def test_a_registry_that_refuses_foreign_layers_says_so(
    layer_host: LayerHost,
    source_registry: RegistryServer,
    registry: RegistryServer,
    certs_dir: Path,
) -> None:
    windows = windows_images(layer_host, seed=1140)
    repository = unique("nd/refused")
    source = windows.content.push(source_registry, repository, "1")

    # The session's registry runs distribution's defaults: no layer may name a URL.
    result = polyarch("copy", "--retries", "0", source, f"{registry.host}/{repository}:1")

    stderr = failed(result, 5)
    assert "validation.manifests.urls.allow" in stderr
    assert registry_manifest(registry, repository, "1") is None


# -- pull ------------------------------------------------------------------------------------


def test_pull_to_a_layout_fetches_the_base_layer(
    layer_host: LayerHost, source_registry: RegistryServer, certs_dir: Path, tmp_path: Path
) -> None:
    windows = windows_images(layer_host, seed=1150, oci=True)
    nanoserver = windows.images[0]
    source = windows.content.push(source_registry, unique("nd/pull-oci"), "ltsc2019")
    layout = tmp_path / "layout"

    result = pull_nanoserver(source, f"oci:{layout}:nano", certs_dir)

    assert ok(result).strip() == nanoserver.manifest_digest
    blobs = layout / "blobs" / "sha256"
    for digest, data in {**nanoserver.blobs, **nanoserver.foreign_blobs}.items():
        assert (blobs / digest[7:]).read_bytes() == data
    assert layout_tags(layout) == {"nano": nanoserver.manifest_digest}
    # skopeo reads the manifest; it would take the layer itself from its URL, never from a
    # layout (containers/image fetches every blob that names URLs from them).
    assert skopeo_raw(f"oci:{layout}:nano") == nanoserver.manifest


def test_pull_to_a_docker_archive_fetches_the_base_layer(
    layer_host: LayerHost, source_registry: RegistryServer, certs_dir: Path, tmp_path: Path
) -> None:
    windows = windows_images(layer_host, seed=1160)
    nanoserver = windows.images[0]
    source = windows.content.push(source_registry, unique("nd/pull-archive"), "ltsc2019")
    archive = tmp_path / "nano.tar"

    result = pull_nanoserver(source, f"docker-archive:{archive}", certs_dir)

    assert ok(result).strip() == nanoserver.manifest_digest
    with tarfile.open(archive) as tar:
        (entry,) = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert entry["Layers"] == [f"{layer.digest[7:]}.tar.gz" for layer in nanoserver.layers]
        for layer in nanoserver.layers:
            member = tar.extractfile(f"{layer.digest[7:]}.tar.gz")
            assert member is not None
            assert member.read() == layer.data
    # skopeo loads it as docker load would, the base layer included (skopeo hands an
    # archive's layers on uncompressed, under their diff IDs).
    copied = tmp_path / "skopeo-dir"
    subprocess.run(
        ["skopeo", "copy", f"docker-archive:{archive}", f"dir:{copied}"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for layer in nanoserver.layers:
        assert sha256_digest((copied / layer.diff_id[7:]).read_bytes()) == layer.diff_id


def test_a_layout_copied_without_the_layer_pulls_it_from_its_url(
    layer_host: LayerHost, source_registry: RegistryServer, certs_dir: Path, tmp_path: Path
) -> None:
    windows = windows_images(layer_host, seed=1165, oci=True)
    nanoserver = windows.images[0]
    source = windows.content.push(source_registry, unique("nd/via-layout"), "1")
    layout = tmp_path / "layout"
    copied = polyarch("copy", source, f"oci:{layout}:1")
    assert ok(copied).strip() == windows.content.digest
    assert "2 skipped (non-distributable)" in copied.stderr.decode()
    for digest in windows.foreign:
        assert not (layout / "blobs" / "sha256" / digest[7:]).exists()

    result = pull_nanoserver(f"oci:{layout}:1", f"docker-archive:{tmp_path}/nano.tar", certs_dir)

    assert ok(result).strip() == nanoserver.manifest_digest
    with tarfile.open(tmp_path / "nano.tar") as tar:
        for digest, data in nanoserver.foreign_blobs.items():
            member = tar.extractfile(f"{digest[7:]}.tar.gz")
            assert member is not None
            assert member.read() == data


def wrong_bytes(data: bytes) -> Callable[[Asked], Reply]:
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 0xFF
    return lambda asked: Reply(200, {}, bytes(changed))


@pytest.mark.parametrize("kind", ["oci", "docker-archive"])
def test_wrong_bytes_at_the_url_fail_and_leave_nothing(
    layer_host: LayerHost,
    source_registry: RegistryServer,
    certs_dir: Path,
    tmp_path: Path,
    kind: str,
) -> None:
    windows = windows_images(layer_host, seed=1170 + (kind == "oci"), oci=True)
    nanoserver = windows.images[0]
    ((bad, data),) = nanoserver.foreign_blobs.items()
    layer_host.replies[mcr_path("nanoserver")(bad)] = wrong_bytes(data)
    source = windows.content.push(source_registry, unique("nd/wrong"), "1")
    destination = (
        f"oci:{tmp_path / 'layout'}:1" if kind == "oci" else f"docker-archive:{tmp_path}/x.tar"
    )

    result = pull_nanoserver(source, destination, certs_dir)

    stderr = failed(result, 6)
    assert (
        f"{layer_host.url}{mcr_path('nanoserver')(bad)} serves other bytes than blob {bad}"
        in stderr
    )
    if kind == "oci":
        layout = tmp_path / "layout"
        assert not (layout / "blobs" / "sha256" / bad[7:]).exists()
        if (layout / "index.json").exists():
            assert layout_tags(layout) == {}
        # What is there is whole: the blobs that were sound, no piece of the bad one.
        for path in layout.rglob("*"):
            assert not path.name.startswith("."), path
            assert ".tmp" not in path.name, path
            if path.parent.name == "sha256":
                assert sha256_digest(path.read_bytes()) == f"sha256:{path.name}"
    else:
        assert list(tmp_path.iterdir()) == []


def test_a_wrong_length_is_refused_before_a_byte_is_kept(
    layer_host: LayerHost, source_registry: RegistryServer, certs_dir: Path, tmp_path: Path
) -> None:
    windows = windows_images(layer_host, seed=1180, oci=True)
    ((bad, data),) = windows.images[0].foreign_blobs.items()
    layer_host.replies[mcr_path("nanoserver")(bad)] = lambda asked: Reply(200, {}, data[:-10])
    source = windows.content.push(source_registry, unique("nd/short"), "1")

    result = pull_nanoserver(source, f"docker-archive:{tmp_path}/x.tar", certs_dir)

    stderr = failed(result, 6)
    assert f"sends blob {bad} as {len(data) - 10} bytes, expected {len(data)}" in stderr
    assert list(tmp_path.iterdir()) == []


def test_urls_are_tried_in_order_and_queries_never_shown(
    layer_host: LayerHost, source_registry: RegistryServer, certs_dir: Path, tmp_path: Path
) -> None:
    signature = secrets.token_urlsafe(16)
    SCAN.add(signature, "the signature of a layer URL")

    def urls(repository: str, digest: str) -> list[str]:
        return [
            f"{layer_host.url}/gone/{digest}?sig={signature}",
            f"https://127.0.0.1:1/refused/{digest}?sig={signature}",
            f"{layer_host.url}/signed/{digest}?sig={signature}",
        ]

    windows = windows_images(layer_host, seed=1190, oci=True, urls=urls, serve=False)
    nanoserver = windows.images[0]
    ((digest, data),) = nanoserver.foreign_blobs.items()
    layer_host.blobs[f"/signed/{digest}"] = data
    source = windows.content.push(source_registry, unique("nd/order"), "1")
    asked_before = len(layer_host.asked)

    result = pull_nanoserver(source, f"oci:{tmp_path / 'layout'}", certs_dir, "--retries", "0")

    ok(result)
    assert (tmp_path / "layout" / "blobs" / "sha256" / digest[7:]).read_bytes() == data
    asked = [request.path for request in layer_host.asked[asked_before:]]
    assert asked == [f"/gone/{digest}?sig={signature}", f"/signed/{digest}?sig={signature}"]
    # --debug logs every request: none of them with its query.
    layer_host.blobs.pop(f"/signed/{digest}")
    result = pull_nanoserver(source, f"oci:{tmp_path / 'again'}", certs_dir, "--retries", "0")
    stderr = failed(result, 3)
    assert f"blob {digest} not found at {layer_host.url}/signed/{digest} (HTTP 404)" in stderr
    assert f"{layer_host.url}/gone/{digest} (HTTP 404)" in stderr  # the first URL, in the hint
    assert signature not in stderr
    debug = polyarch(
        "--debug",
        "pull",
        "--platform",
        "windows(10.0.17763.5936)/amd64",
        "--certs-dir",
        str(certs_dir),
        "--retries",
        "0",
        source,
        f"oci:{tmp_path / 'debug'}",
    )
    assert debug.returncode == 3
    assert f"/gone/{digest}" in debug.stderr.decode()
    assert signature.encode() not in debug.stderr


def test_redirects_are_followed_within_https_and_bounded(
    layer_host: LayerHost, source_registry: RegistryServer, certs_dir: Path, tmp_path: Path
) -> None:
    windows = windows_images(layer_host, seed=1200, oci=True, serve=False)
    ((digest, data),) = windows.images[0].foreign_blobs.items()
    path = mcr_path("nanoserver")(digest)
    signature = secrets.token_urlsafe(16)
    SCAN.add(signature, "the signature of a redirect to a layer")
    layer_host.blobs[f"/cdn/{digest}"] = data

    def redirect(location: str) -> Callable[[Asked], Reply]:
        return lambda asked: Reply(307, {"Location": location})

    source = windows.content.push(source_registry, unique("nd/redirect"), "1")

    # To another path with a signed query, as mcr.microsoft.com sends clients to its CDN.
    layer_host.replies[path] = redirect(f"/cdn/{digest}?sig={signature}")
    ok(pull_nanoserver(source, f"oci:{tmp_path / 'one'}", certs_dir))
    assert (tmp_path / "one" / "blobs" / "sha256" / digest[7:]).read_bytes() == data

    # To plain HTTP: refused, whoever sends the client there.
    with ScriptedServer(lambda asked: Reply(200, {}, data), name="plain") as plain:
        layer_host.replies[path] = redirect(f"{plain.url}/blob")
        result = pull_nanoserver(source, f"oci:{tmp_path / 'two'}", certs_dir)
        stderr = failed(result, 5)
        assert f"refusing to fetch blob {digest} from {plain.url}/blob" in stderr
        assert "HTTPS only" in stderr
        assert plain.asked == []

    # Around in a loop: given up after a bounded number of hops.
    layer_host.replies[path] = redirect(path)
    asked_before = len(layer_host.asked)
    result = pull_nanoserver(source, f"oci:{tmp_path / 'three'}", certs_dir, "--retries", "0")
    stderr = failed(result, 5)
    assert "more than 20 redirects" in stderr
    assert len(layer_host.asked) - asked_before == 21


def test_plain_http_urls_are_refused(
    layer_host: LayerHost, source_registry: RegistryServer, certs_dir: Path, tmp_path: Path
) -> None:
    with ScriptedServer(lambda asked: Reply(404), name="plain") as plain:
        windows = windows_images(
            layer_host,
            seed=1210,
            oci=True,
            urls=lambda repository, digest: [f"{plain.url}/{repository}/{digest}"],
            serve=False,
        )
        ((digest, _),) = windows.images[0].foreign_blobs.items()
        source = windows.content.push(source_registry, unique("nd/plain"), "1")

        for args in ([], ["--insecure"]):
            result = pull_nanoserver(source, f"oci:{tmp_path / 'layout'}", certs_dir, *args)
            stderr = failed(result, 5)
            assert (
                f"refusing to fetch blob {digest} from {plain.url}/nanoserver/{digest}: "
                "polyarch fetches non-distributable layers over HTTPS only"
            ) in stderr
        assert plain.asked == []


def test_an_untrusted_layer_host_is_a_clear_error(
    layer_host: LayerHost, source_registry: RegistryServer, tmp_path: Path
) -> None:
    windows = windows_images(layer_host, seed=1220, oci=True)
    source = windows.content.push(source_registry, unique("nd/untrusted"), "1")

    for args in ([], ["--insecure"]):  # --insecure is about registries, not layer hosts
        result = pull_nanoserver(
            source, f"oci:{tmp_path / 'layout'}", tmp_path / "no-certs", "--retries", "0", *args
        )
        stderr = failed(result, 5)
        assert "is not trusted" in stderr
        assert "hint: trust its CA with --ca-file or" in stderr


def test_the_urls_a_layer_names_are_bounded(
    layer_host: LayerHost, source_registry: RegistryServer, certs_dir: Path, tmp_path: Path
) -> None:
    """An image may name a hundred thousand URLs for one layer: the first 8 distinct ones
    are tried, on one retry budget (a refused loopback connection retried once in all),
    and the message lists a few of the failures."""

    def urls(repository: str, digest: str) -> list[str]:
        refused = [f"https://127.0.0.1:1/refused/{i}/{digest}" for i in range(30)]
        return [*refused, f"{layer_host.url}/{repository}/{digest}"]

    windows = windows_images(layer_host, seed=1230, oci=True, urls=urls, serve=False)
    source = windows.content.push(source_registry, unique("nd/many"), "1")
    result = pull_nanoserver(source, f"oci:{tmp_path / 'layout'}", certs_dir)
    stderr = failed(result, 5)
    assert "names 31 URLs; trying the first 8" in stderr
    assert stderr.count("retrying in ") == 1
    assert "; and 4 more" in stderr
    assert stderr.count("cannot reach 127.0.0.1:1") == 4  # the error, and 3 in its hint
    assert len(stderr) < 4000

    # The same URL written many times is one URL: no warning, one request.
    def repeated(repository: str, digest: str) -> list[str]:
        return [f"{layer_host.url}/{repository}/{digest}"] * 50

    windows = windows_images(layer_host, seed=1231, oci=True, urls=repeated, serve=False)
    nanoserver = windows.images[0]
    ((digest, data),) = nanoserver.foreign_blobs.items()
    layer_host.blobs[f"/nanoserver/{digest}"] = data
    source = windows.content.push(source_registry, unique("nd/repeated"), "1")
    before = len(layer_host.asked)
    result = pull_nanoserver(source, f"oci:{tmp_path / 'again'}", certs_dir)
    ok(result)
    assert "URLs; trying" not in result.stderr.decode()
    assert [a.path for a in layer_host.asked[before:]] == [f"/nanoserver/{digest}"]


class _PeerCertificates(BaseHTTPRequestHandler):
    """Records the client certificate each request came with; has no blob."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[object]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        assert isinstance(self.connection, ssl.SSLSocket)
        self.seen.append(self.connection.getpeercert())
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_a_layer_host_is_shown_no_client_certificate(
    source_registry: RegistryServer, tmp_path: Path
) -> None:
    """certs.d/HOST/client.cert is a credential for a registry: an image naming an
    internal host as a layer's URL must not make polyarch authenticate there with it."""
    pki = write_pki(make_pki(client=True), tmp_path / "pki")
    assert pki.client_cert is not None
    assert pki.client_key is not None
    tls = server_tls(str(pki.server_cert), str(pki.server_key))
    tls.load_verify_locations(str(pki.ca_cert))
    tls.verify_mode = ssl.CERT_OPTIONAL  # ask for one; record what comes
    with LoopbackServer(_PeerCertificates, name="internal", tls=tls) as internal:
        certs = tmp_path / "certs.d" / internal.host
        certs.mkdir(parents=True)
        (certs / "ca.crt").write_bytes(pki.ca_cert.read_bytes())
        (certs / "client.cert").write_bytes(pki.client_cert.read_bytes())
        (certs / "client.key").write_bytes(pki.client_key.read_bytes())

        def urls(repository: str, digest: str) -> list[str]:
            return [f"{internal.url}/internal/admin/{digest}"]

        host = LayerHost(pki)
        windows = windows_images(host, seed=1232, oci=True, urls=urls, serve=False)
        source = windows.content.push(source_registry, unique("nd/mtls"), "1")
        result = pull_nanoserver(
            source, f"oci:{tmp_path / 'layout'}", tmp_path / "certs.d", "--retries", "0"
        )
        failed(result, 3)
    assert _PeerCertificates.seen == [None]
