"""copy_image against real registries (two of them, on two loopback ports) and layouts.

The oracles are independent of the code under test: content is seeded with the
harness's own HTTP client or written to disk by hand, read back the same way, compared
with ``skopeo inspect --raw``, and the registries' access logs say which requests were
made (a mount is ``POST ...?mount=`` answered 201; a stream is a blob ``GET`` at the
source and a ``PUT`` at the target).

skopeo 1.9 finds a tag in an OCI layout only when the ``index.json`` entry has an OCI
media type, so the layout comparisons with skopeo use OCI images and indexes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from polyarch.errors import NoMatchingPlatformError
from polyarch.layout import LayoutStore
from polyarch.ops.copy import BlobTransfer, copy_image
from polyarch.platform import Platform
from polyarch.reference import Reference
from polyarch.registry import Registries, RegistryStore
from tests.content import (
    Content,
    assert_complete_in_layout,
    assert_complete_in_registry,
    attestation,
    blob_requests,
    images_for,
    layout_tags,
    multi,
    registry_manifest,
    single,
    skopeo_raw,
    unique,
)
from tests.imagegen import (
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    SyntheticImage,
    sha256_digest,
)
from tests.registry_server import RegistryServer

# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def other_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A second registry on another loopback port, shared by this module."""
    with RegistryServer(tmp_path_factory.mktemp("other-registry")) as server:
        yield server


@pytest.fixture
def registries() -> Iterator[Registries]:
    """One client per registry host, as the CLI has: mounts need a shared client."""
    with Registries() as registries:
        yield registries


def store(registries: Registries, reference: str) -> RegistryStore:
    return registries.store(Reference.parse(reference))


# -- whole images: digests preserved ------------------------------------------------------


def test_same_repository_new_tag_moves_no_blob(
    registry: RegistryServer, registries: Registries
) -> None:
    content = multi(images_for(101))
    repository = unique("copy/same")
    content.push(registry, repository, "1.0")
    repo = store(registries, f"{registry.host}/{repository}")

    start = registry.mark()
    result = copy_image(repo, "1.0", repo, tag="2.0")
    served = registry.requests(since=start)

    assert result.descriptor.digest == content.digest
    assert result.blobs[BlobTransfer.PRESENT] == len(content.blobs)
    assert result.bytes_copied == 0
    assert registry_manifest(registry, repository, "2.0") == content.root
    assert skopeo_raw(f"docker://{registry.host}/{repository}:2.0") == content.root
    # Each blob is asked about once (HEAD 200), never downloaded, uploaded or mounted.
    assert blob_requests(served, "GET") == []
    assert blob_requests(served, "PUT") == []
    assert blob_requests(served, "POST") == []
    heads = blob_requests(served, "HEAD")
    assert sorted(e.path.rpartition("/")[2] for e in heads) == sorted(content.blobs)
    assert {e.status for e in heads} == {200}


def test_other_repository_mounts_every_blob(
    registry: RegistryServer, registries: Registries
) -> None:
    content = multi(images_for(102), attestations=True)
    source, target = unique("copy/mount-src"), unique("copy/mount-dst")
    content.push(registry, source, "1.0")

    start = registry.mark()
    result = copy_image(
        store(registries, f"{registry.host}/{source}"),
        "1.0",
        store(registries, f"{registry.host}/{target}"),
        tag="1.0",
    )
    served = registry.requests(since=start)

    assert result.descriptor.digest == content.digest
    assert result.blobs[BlobTransfer.MOUNTED] == len(content.blobs)
    assert result.bytes_copied == 0
    mounts = blob_requests(served, "POST")
    assert len(mounts) == len(content.blobs)
    for mount in mounts:
        assert mount.path == f"/v2/{target}/blobs/uploads/"
        assert mount.query["from"] == [source]
        assert mount.status == 201
    assert sorted(m.query["mount"][0] for m in mounts) == sorted(content.blobs)
    # Mounted, so nothing streamed and no HEAD spent either.
    assert blob_requests(served, "GET") == []
    assert blob_requests(served, "PUT") == []
    assert blob_requests(served, "PATCH") == []
    assert blob_requests(served, "HEAD") == []
    assert registry_manifest(registry, target, "1.0") == content.root
    assert_complete_in_registry(registry, target, content)
    assert skopeo_raw(f"docker://{registry.host}/{target}:1.0") == content.root


@pytest.mark.parametrize("oci", [True, False], ids=["oci", "docker"])
def test_other_registry_streams_and_keeps_digests(
    registry: RegistryServer, other_registry: RegistryServer, registries: Registries, oci: bool
) -> None:
    content = multi(images_for(103, oci=oci), oci=oci)
    repository = unique("copy/far")
    content.push(registry, repository, "1.0")

    source_start, target_start = registry.mark(), other_registry.mark()
    result = copy_image(
        store(registries, f"{registry.host}/{repository}"),
        "1.0",
        store(registries, f"{other_registry.host}/{repository}"),
        tag="1.0",
    )
    at_source = registry.requests(since=source_start)
    at_target = other_registry.requests(since=target_start)

    assert result.descriptor.digest == content.digest
    assert result.descriptor.media_type == content.media_type
    assert result.blobs[BlobTransfer.COPIED] == len(content.blobs)
    assert result.bytes_copied == sum(len(b) for b in content.blobs.values())
    assert registry_manifest(other_registry, repository, "1.0") == content.root
    assert_complete_in_registry(other_registry, repository, content)
    assert skopeo_raw(f"docker://{other_registry.host}/{repository}:1.0") == content.root
    assert skopeo_raw(f"docker://{other_registry.host}/{repository}:1.0") == skopeo_raw(
        f"docker://{registry.host}/{repository}:1.0"
    )
    # Each blob read once at the source and written once at the target; no mount tried
    # across registries.
    gets = blob_requests(at_source, "GET")
    assert sorted(e.path.rpartition("/")[2] for e in gets) == sorted(content.blobs)
    puts = blob_requests(at_target, "PUT")
    assert sorted(e.query["digest"][0] for e in puts) == sorted(content.blobs)
    assert {e.status for e in puts} == {201}
    assert not [e for e in at_target if "mount" in e.query]


def test_second_copy_moves_nothing(
    registry: RegistryServer, other_registry: RegistryServer, registries: Registries
) -> None:
    content = multi(images_for(104))
    repository = unique("copy/again")
    content.push(registry, repository, "1.0")
    args = (
        store(registries, f"{registry.host}/{repository}"),
        "1.0",
        store(registries, f"{other_registry.host}/{repository}"),
    )
    copy_image(*args, tag="1.0")

    start = other_registry.mark()
    result = copy_image(*args, tag="1.0")
    # The tag is at the digest already: all it names is there, nothing is asked but that.
    assert result.there
    assert result.manifests == 0
    assert [e.method for e in other_registry.requests(since=start)] == ["HEAD"]

    start = other_registry.mark()
    result = copy_image(*args, tag="2.0")  # another tag: each blob found there
    served = other_registry.requests(since=start)
    assert result.blobs[BlobTransfer.PRESENT] == len(content.blobs)
    assert result.bytes_copied == 0
    assert blob_requests(served, "PUT") == []
    assert blob_requests(served, "POST") == []


@pytest.mark.parametrize("kind", ["image", "index"])
def test_registry_to_layout(
    registry: RegistryServer, registries: Registries, tmp_path: Path, kind: str
) -> None:
    images = images_for(105)
    content = single(images[0]) if kind == "image" else multi(images, attestations=True)
    repository = unique("copy/to-layout")
    content.push(registry, repository, "1.0")
    layout = tmp_path / "layout"

    result = copy_image(
        store(registries, f"{registry.host}/{repository}"), "1.0", LayoutStore(layout), tag="v1"
    )

    assert result.descriptor.digest == content.digest
    assert layout_tags(layout) == {"v1": content.digest}
    assert (layout / "blobs" / "sha256" / content.digest[7:]).read_bytes() == content.root
    assert_complete_in_layout(layout, content)
    assert skopeo_raw(f"oci:{layout}:v1") == content.root
    assert json.loads((layout / "oci-layout").read_bytes()) == {"imageLayoutVersion": "1.0.0"}
    assert not [p for p in layout.rglob(".*")], "temporary files left behind"


@pytest.mark.parametrize("oci", [True, False], ids=["oci", "docker"])
def test_layout_to_registry(
    other_registry: RegistryServer, registries: Registries, tmp_path: Path, oci: bool
) -> None:
    content = multi(images_for(106, oci=oci), oci=True)
    source = content.write_layout(tmp_path / "layout", "1.0")
    repository = unique("copy/from-layout")
    if oci:
        assert skopeo_raw(source) == content.root

    result = copy_image(
        LayoutStore(tmp_path / "layout"),
        "1.0",
        store(registries, f"{other_registry.host}/{repository}"),
        tag="1.0",
    )

    assert result.descriptor.digest == content.digest
    assert registry_manifest(other_registry, repository, "1.0") == content.root
    assert_complete_in_registry(other_registry, repository, content)
    assert skopeo_raw(f"docker://{other_registry.host}/{repository}:1.0") == content.root


def test_layout_to_layout(tmp_path: Path) -> None:
    content = multi(images_for(107), attestations=True)
    source = content.write_layout(tmp_path / "a", "1.0")

    result = copy_image(LayoutStore(tmp_path / "a"), "1.0", LayoutStore(tmp_path / "b"), tag="2")

    assert result.descriptor.digest == content.digest
    assert layout_tags(tmp_path / "b") == {"2": content.digest}
    assert_complete_in_layout(tmp_path / "b", content)
    assert skopeo_raw(f"oci:{tmp_path / 'b'}:2") == skopeo_raw(source) == content.root


# -- platform subsets -------------------------------------------------------------------


def subset_expectation(content: Content, keep: Sequence[SyntheticImage]) -> list[object]:
    """The source's entries for ``keep`` and their attestations, JSON as it was, in order."""
    digests = {image.manifest_digest for image in keep}
    return [
        entry
        for entry in content.entries()
        if entry["digest"] in digests
        or (entry.get("annotations") or {}).get("vnd.docker.reference.digest") in digests  # type: ignore[attr-defined]
    ]


def test_platform_subset_with_attestations(
    registry: RegistryServer, other_registry: RegistryServer, registries: Registries
) -> None:
    images = images_for(108)
    content = multi(images, attestations=True)
    repository = unique("copy/subset")
    content.push(registry, repository, "1.0")

    result = copy_image(
        store(registries, f"{registry.host}/{repository}"),
        "1.0",
        store(registries, f"{other_registry.host}/{repository}"),
        tag="amd64-arm64",
        platforms=[Platform.parse("linux/amd64"), Platform.parse("linux/arm64")],
    )

    served = registry_manifest(other_registry, repository, "amd64-arm64")
    assert served is not None
    assert sha256_digest(served) == result.descriptor.digest != content.digest
    document = json.loads(served)
    assert document["mediaType"] == OCI_INDEX
    assert document["schemaVersion"] == 2
    assert document["manifests"] == subset_expectation(content, images[:2])
    assert len(document["manifests"]) == 4  # two images, two attestations
    # Never a dangling list: everything the new index names is at the target.
    assert_complete_in_registry(other_registry, repository, content, root=served)
    # The arm/v7 image and its attestation stayed behind.
    dropped = [images[2].manifest_digest, attestation(images[2])[2]["digest"]]
    for digest in dropped:
        assert registry_manifest(other_registry, repository, str(digest)) is None
    assert skopeo_raw(f"docker://{other_registry.host}/{repository}:amd64-arm64") == served


def test_platform_subset_of_a_docker_list_to_layout(
    registry: RegistryServer, registries: Registries, tmp_path: Path
) -> None:
    images = images_for(109, oci=False)
    content = multi(images, oci=False)
    repository = unique("copy/subset-docker")
    content.push(registry, repository, "1.0")
    layout = tmp_path / "layout"

    # Spelled as people write them: normalized before choosing.
    result = copy_image(
        store(registries, f"{registry.host}/{repository}"),
        "1.0",
        LayoutStore(layout),
        tag="arm",
        platforms=[Platform.parse("linux/armhf")],
    )

    raw = (layout / "blobs" / "sha256" / result.descriptor.digest[7:]).read_bytes()
    document = json.loads(raw)
    assert document["mediaType"] == DOCKER_MANIFEST_LIST
    assert document["manifests"] == subset_expectation(content, images[2:])
    assert layout_tags(layout) == {"arm": result.descriptor.digest}
    assert_complete_in_layout(layout, content, root=raw)


def test_single_platform_gives_the_plain_image(
    registry: RegistryServer, registries: Registries, tmp_path: Path
) -> None:
    images = images_for(110)
    content = multi(images, attestations=True)
    repository = unique("copy/single")
    content.push(registry, repository, "1.0")
    layout = tmp_path / "layout"

    result = copy_image(
        store(registries, f"{registry.host}/{repository}"),
        "1.0",
        LayoutStore(layout),
        tag="arm64",
        platforms=[Platform.parse("linux/arm64")],
        single=True,
    )

    assert result.descriptor.digest == images[1].manifest_digest
    assert result.descriptor.media_type == OCI_MANIFEST
    assert layout_tags(layout) == {"arm64": images[1].manifest_digest}
    assert_complete_in_layout(layout, content, root=images[1].manifest)
    assert skopeo_raw(f"oci:{layout}:arm64") == images[1].manifest
    # Only that image's blobs: no other platform's, no attestation's.
    assert sorted(p.name for p in (layout / "blobs" / "sha256").iterdir()) == sorted(
        d[7:] for d in [*images[1].blobs, images[1].manifest_digest]
    )


def test_unknown_platform_lists_what_is_there(
    registry: RegistryServer, registries: Registries, tmp_path: Path
) -> None:
    content = multi(images_for(111), attestations=True)
    repository = unique("copy/unknown")
    content.push(registry, repository, "1.0")

    with pytest.raises(NoMatchingPlatformError) as caught:
        copy_image(
            store(registries, f"{registry.host}/{repository}"),
            "1.0",
            LayoutStore(tmp_path / "layout"),
            tag="x",
            platforms=[Platform.parse("linux/amd64"), Platform.parse("linux/s390x")],
        )
    assert caught.value.available == ("linux/amd64", "linux/arm64/v8", "linux/arm/v7")
    assert "linux/s390x" in str(caught.value)
    assert not (tmp_path / "layout").exists(), "nothing is written before the choice"
