"""One conformance suite for every Store backend: the OCI layout and a real registry."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.errors import (
    BlobNotFoundError,
    DigestMismatchError,
    InvalidDigestError,
    ManifestNotFoundError,
    NotFoundError,
    SizeMismatchError,
)
from polyarch.layout import LayoutStore
from polyarch.models import Descriptor, ImageIndex, ImageManifest, parse_manifest
from polyarch.registry import Registries, RegistryStore
from polyarch.schemes import open_store
from polyarch.store import BlobMounter, Store
from tests.imagegen import SyntheticImage, make_image, make_index
from tests.registry_server import RegistryServer

_counter = itertools.count()

AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}


@pytest.fixture(params=["layout", "registry"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each backend, opened as the CLI opens a location (the scheme table)."""
    if request.param == "layout":
        yield open_store(f"oci:{tmp_path / 'layout'}")
        return
    server: RegistryServer = request.getfixturevalue("registry")
    with Registries() as registries:
        yield open_store(f"{server.host}/conformance/repo{next(_counter)}", registries=registries)


def blob_descriptor(data: bytes, media_type: str = "application/octet-stream") -> Descriptor:
    return Descriptor(media_type, Digest.of(data), len(data))


def load(store: Store, image: SyntheticImage, tag: str | None = None) -> Descriptor:
    for digest, data in image.blobs.items():
        store.put_blob(
            Descriptor("application/octet-stream", Digest.parse(digest), len(data)), [data]
        )
    return store.put_manifest(parse_manifest(image.manifest), tag=tag)


def test_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)
    assert store.location


def test_blob_round_trip_streams_exact_bytes(store: Store) -> None:
    data = hashlib.sha512(b"seed").digest() * 40_000  # 2.5 MiB: several chunks
    desc = blob_descriptor(data)
    assert not store.has_blob(desc)
    store.put_blob(desc, (data[i : i + 100_000] for i in range(0, len(data), 100_000)))
    assert store.has_blob(desc)
    with store.open_blob(desc) as chunks:
        assert b"".join(chunks) == data
    assert store.get_blob(desc) == data


def test_empty_blob(store: Store) -> None:
    desc = blob_descriptor(b"")
    store.put_blob(desc, [])
    assert store.get_blob(desc) == b""


def test_put_blob_twice_is_harmless(store: Store) -> None:
    desc = blob_descriptor(b"twice")
    store.put_blob(desc, [b"twice"])
    store.put_blob(desc, [b"twice"])
    assert store.get_blob(desc) == b"twice"


def test_put_blob_with_wrong_digest_leaves_nothing(store: Store) -> None:
    claimed = blob_descriptor(b"what was promised")
    lie = Descriptor(claimed.media_type, claimed.digest, len(b"what was delivered!"))
    with pytest.raises(DigestMismatchError):
        store.put_blob(lie, [b"what was delivered!"])
    assert not store.has_blob(claimed)


def test_put_blob_longer_than_declared_leaves_nothing(store: Store) -> None:
    data = b"0123456789"
    desc = Descriptor("application/octet-stream", Digest.of(data), 5)
    with pytest.raises(SizeMismatchError):
        store.put_blob(desc, [data])
    assert not store.has_blob(desc)


def test_missing_blob(store: Store) -> None:
    desc = blob_descriptor(b"never stored")
    assert not store.has_blob(desc)
    with pytest.raises(BlobNotFoundError), store.open_blob(desc) as chunks:
        b"".join(chunks)


@pytest.mark.parametrize("oci", [False, True], ids=["docker", "oci"])
def test_manifest_by_tag_and_digest_keeps_bytes(store: Store, oci: bool) -> None:
    image = make_image(AMD64, oci=oci, seed=1)
    desc = load(store, image, tag="v1")
    assert desc.digest == image.manifest_digest
    assert desc.size == len(image.manifest)
    assert desc.media_type == image.media_type

    resolved = store.resolve("v1")
    assert (resolved.digest, resolved.size, resolved.media_type) == (
        desc.digest,
        desc.size,
        desc.media_type,
    )
    for identifier in ("v1", image.manifest_digest):
        manifest = store.get_manifest(identifier)
        assert isinstance(manifest, ImageManifest)
        assert manifest.raw == image.manifest  # not re-serialized
        assert manifest.digest == image.manifest_digest
        assert manifest.config.digest == image.config_digest
        assert [layer.digest for layer in manifest.layers] == [x.digest for x in image.layers]
    config = store.get_blob(store.get_manifest("v1").config)  # type: ignore[union-attr]
    assert config == image.config


@pytest.mark.parametrize("oci", [False, True], ids=["docker-list", "oci-index"])
def test_index_with_children(store: Store, oci: bool) -> None:
    images = [make_image(AMD64, oci=oci, seed=2), make_image(ARM64, oci=oci, seed=2)]
    for image in images:
        load(store, image)
    raw = make_index(images, oci=oci)
    index = parse_manifest(raw)
    store.put_manifest(index, tag="multi")
    got = store.get_manifest("multi")
    assert isinstance(got, ImageIndex)
    assert got.raw == raw
    assert got.media_type == (mt.OCI_INDEX if oci else mt.DOCKER_MANIFEST_LIST)
    assert [str(d.platform) for d in got.manifests] == ["linux/amd64", "linux/arm64/v8"]
    child = store.get_manifest(got.manifests[1].digest)
    assert child.raw == images[1].manifest
    # A child that is no root still resolves by digest.
    assert store.resolve(images[0].manifest_digest).media_type == images[0].media_type


def test_retag_moves_the_tag(store: Store) -> None:
    first, second = make_image(AMD64, seed=3), make_image(AMD64, seed=4)
    load(store, first, tag="latest")
    load(store, second, tag="latest")
    assert store.resolve("latest").digest == second.manifest_digest


def test_list_tags_sorted(store: Store) -> None:
    image = make_image(AMD64, seed=5)
    for tag in ("b", "a", "c-1", "1.0"):
        load(store, image, tag=tag)
    assert store.list_tags() == ["1.0", "a", "b", "c-1"]


def test_missing_manifest(store: Store) -> None:
    load(store, make_image(AMD64, seed=6), tag="present")
    with pytest.raises(ManifestNotFoundError):
        store.resolve("absent")
    with pytest.raises(ManifestNotFoundError):
        store.get_manifest("absent")
    with pytest.raises(ManifestNotFoundError):
        store.get_manifest(str(Digest.of(b"no such manifest")))


def test_tags_of_missing_repository(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.list_tags()


def test_delete(store: Store) -> None:
    image = make_image(AMD64, seed=7)
    load(store, image, tag="doomed")
    store.delete("doomed")
    with pytest.raises(ManifestNotFoundError):
        store.resolve("doomed")
    with pytest.raises(ManifestNotFoundError):
        store.delete("doomed")


def test_unsupported_digest_algorithm_is_refused(store: Store) -> None:
    with pytest.raises(InvalidDigestError):
        store.has_blob(
            Descriptor.from_dict(
                {"mediaType": "x/y", "digest": "md5:d41d8cd98f00b204e9800998ecf8427e", "size": 0}
            )
        )


def test_mount_capability_is_optional(store: Store) -> None:
    if isinstance(store, RegistryStore):
        assert isinstance(store, BlobMounter)
    else:
        assert not isinstance(store, BlobMounter)


def test_has_blob_asks_for_the_described_size(store: Store) -> None:
    data = b"sized blob"
    desc = blob_descriptor(data)
    store.put_blob(desc, [data])
    assert store.has_blob(desc)
    other = Descriptor(desc.media_type, desc.digest, desc.size + 1)
    if isinstance(store, LayoutStore):
        assert not store.has_blob(other)  # a file of another size: damage, not the blob
    else:
        with pytest.raises(SizeMismatchError):  # the registry says it holds other bytes
            store.has_blob(other)


def test_a_damaged_layout_blob_is_replaced(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path / "layout")
    data = b"the real bytes"
    desc = blob_descriptor(data)
    store.put_blob(desc, [data])
    path = tmp_path / "layout" / "blobs" / "sha256" / desc.digest.encoded
    path.write_bytes(b"truncat")
    assert not store.has_blob(desc)
    store.put_blob(desc, [data])
    assert path.read_bytes() == data
