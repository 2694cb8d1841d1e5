"""OCI layouts: what polyarch writes skopeo reads, and what skopeo writes polyarch reads."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest

from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.errors import DigestMismatchError
from polyarch.layout import LayoutStore
from polyarch.models import Descriptor, ImageIndex, parse_manifest
from polyarch.registry import RegistryClient, RegistryStore
from tests.clirun import assert_clean_error, polyarch
from tests.content import registry_manifest, skopeo_raw
from tests.imagegen import SyntheticImage, make_image, make_index
from tests.registry_server import RegistryServer

PLATFORMS = [
    {"os": "linux", "architecture": "amd64"},
    {"os": "linux", "architecture": "arm64", "variant": "v8"},
    {"os": "linux", "architecture": "arm", "variant": "v7"},
]


def write_layout(path: Path, images: list[SyntheticImage], index: bytes, tag: str) -> None:
    store = LayoutStore(path)
    for image in images:
        for digest, data in image.blobs.items():
            store.put_blob(
                Descriptor("application/octet-stream", Digest.parse(digest), len(data)), [data]
            )
        store.put_manifest(parse_manifest(image.manifest))
    store.put_manifest(parse_manifest(index), tag=tag)


def skopeo(*args: str) -> bytes:
    return subprocess.run(["skopeo", *args], check=True, capture_output=True, timeout=120).stdout


@pytest.mark.parametrize("oci", [True, False], ids=["oci-images", "docker-images"])
def test_skopeo_reads_and_copies_a_polyarch_layout(
    tmp_path: Path, registry: RegistryServer, oci: bool
) -> None:
    """The index is OCI: skopeo 1.9 looks only for OCI types among index.json's entries
    (a Docker list stored there is kept byte for byte by polyarch, but skopeo cannot find
    it by tag). The children may be Docker manifests."""
    images = [make_image(p, seed=41, oci=oci) for p in PLATFORMS]
    index = make_index(images, oci=True)
    layout = tmp_path / "layout"
    write_layout(layout, images, index, "1.0")

    assert skopeo("inspect", "--raw", f"oci:{layout}:1.0") == index
    child = skopeo("inspect", "--raw", "--override-arch", "arm64", f"oci:{layout}:1.0")
    assert child == index  # --raw never resolves; the platform choice is polyarch's job

    name = f"interop/from-layout-{'oci' if oci else 'docker'}"
    skopeo(
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--preserve-digests",
        f"oci:{layout}:1.0",
        f"docker://{registry.host}/{name}:1.0",
    )
    with RegistryClient(registry.host) as client:
        got = RegistryStore(client, name).get_manifest("1.0")
    assert got.raw == index
    assert isinstance(got, ImageIndex)
    assert [d.digest for d in got.manifests] == [i.manifest_digest for i in images]


def test_polyarch_reads_a_skopeo_layout(tmp_path: Path, registry: RegistryServer) -> None:
    images = [make_image(p, seed=42, oci=True) for p in PLATFORMS]
    index = make_index(images, oci=True)
    with RegistryClient(registry.host) as client:
        source = RegistryStore(client, "interop/to-layout")
        for image in images:
            for digest, data in image.blobs.items():
                source.put_blob(
                    Descriptor("application/octet-stream", Digest.parse(digest), len(data)),
                    [data],
                )
            source.put_manifest(parse_manifest(image.manifest))
        source.put_manifest(parse_manifest(index), tag="2.0")

    layout = tmp_path / "skopeo-layout"
    skopeo(
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--preserve-digests",
        f"docker://{registry.host}/interop/to-layout:2.0",
        f"oci:{layout}:2.0",
    )

    store = LayoutStore(layout)
    assert store.list_tags() == ["2.0"]
    got = store.get_manifest("2.0")
    assert got.raw == index
    assert isinstance(got, ImageIndex)
    for entry, image in zip(got.manifests, images, strict=True):
        child = store.get_manifest(entry.digest)
        assert child.raw == image.manifest
        for blob in child.blobs:  # type: ignore[union-attr]
            assert store.get_blob(blob) == image.blobs[blob.digest]


def test_concurrent_tags_are_all_kept(tmp_path: Path) -> None:
    image = make_image(PLATFORMS[0], seed=43)
    store = LayoutStore(tmp_path / "layout")
    write_layout(tmp_path / "layout", [image], image.manifest, "seed")
    manifest = parse_manifest(image.manifest)
    tags = [f"t{i}" for i in range(40)]
    errors: list[BaseException] = []

    def tag_some(chunk: list[str]) -> None:
        try:
            for tag in chunk:
                LayoutStore(tmp_path / "layout").put_manifest(manifest, tag=tag)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=tag_some, args=(tags[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert store.list_tags() == sorted([*tags, "seed"])
    doc = json.loads((tmp_path / "layout" / "index.json").read_bytes())
    assert doc["mediaType"] == mt.OCI_INDEX


def test_failed_blob_write_leaves_no_trace(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path / "layout")
    data = b"the real bytes"
    desc = Descriptor("application/octet-stream", Digest.of(b"other bytes"), len(data))
    with pytest.raises(DigestMismatchError):
        store.put_blob(desc, [data])
    leftovers = [p for p in (tmp_path / "layout").rglob("*") if p.is_file()]
    assert sorted(p.name for p in leftovers) == ["index.json", "oci-layout"]


def test_interrupted_stream_leaves_no_trace(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path / "layout")
    data = b"x" * 10_000
    desc = Descriptor("application/octet-stream", Digest.of(data), len(data))

    def broken() -> object:
        yield data[:5000]
        raise ConnectionError("source went away")

    with pytest.raises(ConnectionError):
        store.put_blob(desc, broken())  # type: ignore[arg-type]
    assert not store.has_blob(desc)
    assert not list((tmp_path / "layout" / "blobs").rglob(".tmp-*"))


def test_concurrent_writers_create_one_layout(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    blobs = [f"blob {i}".encode() for i in range(32)]

    def put(data: bytes) -> None:
        # A store object per writer, as separate processes would have.
        store = LayoutStore(tmp_path / "fresh")
        store.put_blob(Descriptor("application/octet-stream", Digest.of(data), len(data)), [data])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, blobs))
    store = LayoutStore(tmp_path / "fresh")
    assert all(
        store.has_blob(Descriptor("application/octet-stream", Digest.of(b), len(b))) for b in blobs
    )
    assert json.loads((tmp_path / "fresh" / "oci-layout").read_bytes()) == {
        "imageLayoutVersion": "1.0.0"
    }
    assert not [p for p in (tmp_path / "fresh").rglob(".*")]


def write_raw_layout(
    path: Path, images: list[SyntheticImage], entries: list[dict[str, object]]
) -> None:
    """A layout written by hand, as another tool might: the blobs, then ``index.json``
    with exactly ``entries``."""
    for image in images:
        for digest, data in [(image.manifest_digest, image.manifest), *image.blobs.items()]:
            blob = path / "blobs" / "sha256" / digest.removeprefix("sha256:")
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": entries}
    (path / "index.json").write_text(json.dumps(index))


def tagged(image: SyntheticImage, tag: str, media_type: str | None = None) -> dict[str, object]:
    entry = image.descriptor(with_platform=False)
    if media_type is not None:
        entry["mediaType"] = media_type
    entry["annotations"] = {mt.ANNOTATION_REF_NAME: tag}
    return entry


def test_a_descriptor_naming_docker_v2_for_an_oci_manifest_is_read_with_a_warning(
    tmp_path: Path, registry: RegistryServer
) -> None:
    """go-containerregistry's test layouts do this; containerd reads them."""
    image = make_image(PLATFORMS[0], seed=43, oci=True)
    layout = tmp_path / "ggcr"
    write_raw_layout(layout, [image], [tagged(image, "v1", mt.DOCKER_MANIFEST)])

    shown = polyarch("inspect", f"oci:{layout}:v1")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == image.manifest
    assert b"is stored as application/vnd.docker.distribution.manifest.v2+json" in shown.stderr
    assert b"reading it as what it is" in shown.stderr

    target = f"{registry.host}/interop/ggcr-shaped:v1"
    copied = polyarch("copy", f"oci:{layout}:v1", target)
    assert copied.returncode == 0, copied.stderr
    assert registry_manifest(registry, "interop/ggcr-shaped", "v1") == image.manifest
    assert skopeo_raw(f"docker://{target}") == image.manifest


def test_an_index_stored_as_a_manifest_is_refused_saying_stored(tmp_path: Path) -> None:
    images = [make_image(p, seed=44, oci=True) for p in PLATFORMS[:2]]
    index = make_index(images, oci=True)
    layout = tmp_path / "lying"
    write_raw_layout(layout, images, [])
    blob = layout / "blobs" / "sha256" / Digest.of(index).encoded
    blob.write_bytes(index)
    entry = {
        "mediaType": mt.OCI_MANIFEST,
        "digest": str(Digest.of(index)),
        "size": len(index),
        "annotations": {mt.ANNOTATION_REF_NAME: "v1"},
    }
    (layout / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [entry]})
    )
    result = polyarch("inspect", f"oci:{layout}:v1", text=True)
    assert_clean_error(result, 6)
    assert f"was stored as '{mt.OCI_MANIFEST}'" in result.stderr
    assert "served" not in result.stderr


def test_a_tag_twice_in_index_json_resolves_as_skopeo_does_with_a_warning(tmp_path: Path) -> None:
    first, second = (make_image(PLATFORMS[0], seed=seed, oci=True) for seed in (45, 46))
    layout = tmp_path / "twice"
    write_raw_layout(layout, [first, second], [tagged(first, "v1"), tagged(second, "v1")])

    assert skopeo_raw(f"oci:{layout}:v1") == first.manifest
    shown = polyarch("inspect", f"oci:{layout}:v1", text=True)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == json.loads(first.manifest)
    assert "tag 'v1' appears 2 times in index.json" in shown.stderr
    assert first.manifest_digest in shown.stderr
    assert second.manifest_digest in shown.stderr

    tags = polyarch("tags", f"oci:{layout}", text=True)
    assert tags.returncode == 0, tags.stderr
    assert tags.stdout.splitlines() == ["v1"]
