"""Indexes other tools write that name no platform for some entries, and Windows builds
told apart by ``os.version``: ``pull``, ``inspect`` and ``copy --platform`` against a real
registry.

containerd (``images.Manifest``) and containers/image consider an entry without a
``platform`` only after every entry with one, and judge it by its content: an image by its
config, a nested index by what it would choose.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clirun import assert_clean_error, polyarch
from tests.content import Content, registry_manifest, single, unique
from tests.imagegen import OCI_INDEX, OCI_MANIFEST, SyntheticImage, make_image, sha256_digest
from tests.registry_server import RegistryServer

AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64"}


def artifact() -> tuple[bytes, dict[str, bytes]]:
    """A platform-less index entry that is no image: an artifact with its own config type."""
    config = b'{"tool":"sbom"}'
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.sbom",
            "config": {
                "mediaType": "application/vnd.example.sbom.config+json",
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [],
        },
        indent=3,
    ).encode()
    return manifest, {sha256_digest(config): config}


def entry_of(raw: bytes, media_type: str = OCI_MANIFEST) -> dict[str, object]:
    return {"mediaType": media_type, "digest": sha256_digest(raw), "size": len(raw)}


def index_of(entries: list[dict[str, object]]) -> bytes:
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    return json.dumps(doc, indent=3).encode()


@pytest.fixture(scope="module")
def mixed(registry: RegistryServer) -> tuple[str, SyntheticImage, SyntheticImage, bytes]:
    """[artifact (no platform), linux/amd64, linux/arm64 (no platform)]."""
    amd64, arm64 = (make_image(p, seed=900, oci=True) for p in (AMD64, ARM64))
    other, other_blobs = artifact()
    root = index_of([entry_of(other), amd64.descriptor(), arm64.descriptor(with_platform=False)])
    content = Content(
        root,
        OCI_INDEX,
        ((other, OCI_MANIFEST), (amd64.manifest, OCI_MANIFEST), (arm64.manifest, OCI_MANIFEST)),
        {**other_blobs, **amd64.blobs, **arm64.blobs},
    )
    return content.push(registry, unique("platformless/mixed"), "1.0"), amd64, arm64, other


def test_pull_chooses_an_entry_without_platform_by_its_config(
    mixed: tuple[str, SyntheticImage, SyntheticImage, bytes], tmp_path: Path
) -> None:
    reference, _, arm64, _ = mixed
    result = polyarch(
        "pull", "--platform", "linux/arm64", reference, f"oci:{tmp_path}/l", text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == arm64.manifest_digest + "\n"
    assert "entry 3 has no platform; its config says linux/arm64" in result.stderr

    shown = polyarch("inspect", "--platform", "linux/arm64", reference, text=True)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.encode() == arm64.manifest
    assert "entry 3 has no platform; its config says linux/arm64" in shown.stderr


def test_an_entry_with_a_platform_comes_first(
    mixed: tuple[str, SyntheticImage, SyntheticImage, bytes],
    registry: RegistryServer,
    tmp_path: Path,
) -> None:
    reference, amd64, _, _ = mixed
    start = registry.mark()
    result = polyarch(
        "pull", "--platform", "linux/amd64", reference, f"oci:{tmp_path}/l", text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == amd64.manifest_digest + "\n"
    # Nothing platform-less was looked at: the index, then the chosen child.
    manifests = [e for e in registry.requests(since=start) if "/manifests/" in e.path]
    assert [e.path.rsplit("/", 1)[1] for e in manifests] == ["1.0", amd64.manifest_digest]


def test_nothing_fits_lists_what_each_entry_without_platform_turned_out_to_be(
    mixed: tuple[str, SyntheticImage, SyntheticImage, bytes], tmp_path: Path
) -> None:
    reference, _, _, other = mixed
    result = polyarch(
        "pull", "--platform", "linux/s390x", reference, f"oci:{tmp_path}/l", text=True
    )
    stderr = assert_clean_error(result, 3)
    assert (
        f"available platforms: (no platform) {sha256_digest(other)}, linux/amd64, "
        "linux/arm64 (no platform; from its config)"
    ) in stderr


def test_copy_platform_subset_keeps_an_entry_chosen_by_its_config(
    mixed: tuple[str, SyntheticImage, SyntheticImage, bytes], registry: RegistryServer
) -> None:
    reference, _, arm64, _ = mixed
    repository = unique("platformless/subset")
    result = polyarch(
        "copy",
        "--platform",
        "linux/arm64",
        reference,
        f"{registry.host}/{repository}:1.0",
        text=True,
    )
    assert result.returncode == 0, result.stderr
    copied = registry_manifest(registry, repository, "1.0")
    assert copied is not None
    assert [e["digest"] for e in json.loads(copied)["manifests"]] == [arm64.manifest_digest]
    assert registry_manifest(registry, repository, arm64.manifest_digest) == arm64.manifest

    single_copy = polyarch(
        "copy", "--platform", "linux/arm64", "--single", reference,
        f"{registry.host}/{repository}:single", text=True,
    )  # fmt: skip
    assert single_copy.returncode == 0, single_copy.stderr
    assert registry_manifest(registry, repository, "single") == arm64.manifest


def test_a_nested_index_without_platform_is_chosen_by_what_it_holds(
    registry: RegistryServer, tmp_path: Path
) -> None:
    amd64, arm64 = (make_image(p, seed=901, oci=True) for p in (AMD64, ARM64))
    inner = index_of([amd64.descriptor(), arm64.descriptor()])
    root = index_of([entry_of(inner, OCI_INDEX)])
    content = Content(
        root,
        OCI_INDEX,
        ((amd64.manifest, OCI_MANIFEST), (arm64.manifest, OCI_MANIFEST), (inner, OCI_INDEX)),
        {**amd64.blobs, **arm64.blobs},
    )
    reference = content.push(registry, unique("platformless/nested"), "1.0")
    result = polyarch(
        "pull", "--platform", "linux/arm64", reference, f"oci:{tmp_path}/l", text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == arm64.manifest_digest + "\n"
    assert "entry 1 has no platform" in result.stderr


def test_an_image_without_platform_anywhere_is_no_candidate_for_another_machine(
    registry: RegistryServer, tmp_path: Path
) -> None:
    arm64 = make_image(ARM64, seed=902, oci=True)
    root = index_of([arm64.descriptor(with_platform=False)])
    content = Content(root, OCI_INDEX, ((arm64.manifest, OCI_MANIFEST),), dict(arm64.blobs))
    reference = content.push(registry, unique("platformless/only"), "1.0")
    result = polyarch(
        "pull", "--platform", "linux/amd64", reference, f"oci:{tmp_path}/l", text=True
    )
    stderr = assert_clean_error(result, 3)
    assert "available platforms: linux/arm64 (no platform; from its config)" in stderr
    assert single(arm64).digest not in stderr


def test_windows_builds_are_listed_with_their_os_version(
    registry: RegistryServer, tmp_path: Path
) -> None:
    versions = ["10.0.17763.5830", "10.0.20348.2461", "10.0.26100.1"]
    images = [
        make_image({"os": "windows", "architecture": "amd64", "os.version": v}, seed=903 + i)
        for i, v in enumerate(versions)
    ]
    root = index_of([image.descriptor() for image in images])
    content = Content(
        root,
        OCI_INDEX,
        tuple((image.manifest, image.media_type) for image in images),
        {digest: data for image in images for digest, data in image.blobs.items()},
    )
    reference = content.push(registry, unique("platformless/windows"), "ltsc")
    result = polyarch(
        "pull", "--platform", "linux/amd64", reference, f"oci:{tmp_path}/l", text=True
    )
    stderr = assert_clean_error(result, 3)
    listing = ", ".join(f"windows({v})/amd64" for v in versions)
    assert f"available platforms: {listing}" in stderr


def _put(root: Path, data: bytes) -> dict[str, object]:
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "blobs" / "sha256" / sha256_digest(data)[7:]).write_bytes(data)
    return {"digest": sha256_digest(data), "size": len(data)}


def _layout(root: Path, top: dict[str, object]) -> str:
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entry = {**top, "annotations": {"org.opencontainers.image.ref.name": "t"}}
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    return f"oci:{root}:t"


def _plan9_image(root: Path, salt: int) -> dict[str, object]:
    config = json.dumps({"architecture": "amd64", "os": "plan9", "salt": salt}).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                **_put(root, config),
            },
            "layers": [],
        }
    ).encode()
    return {"mediaType": OCI_MANIFEST, **_put(root, manifest)}


def test_a_deep_index_of_the_same_entries_is_looked_at_once_each(tmp_path: Path) -> None:
    """Eight levels of an index naming the next one twenty times: 20**8 ways down, each
    entry looked at once (by digest), so it is answered at once."""
    entry = _plan9_image(tmp_path, 0)
    for _ in range(7):
        index = index_of([entry] * 20)
        entry = {"mediaType": OCI_INDEX, **_put(tmp_path, index)}
    result = polyarch(
        "digest", "--platform", "linux/amd64", _layout(tmp_path, entry), text=True, timeout=30
    )
    stderr = assert_clean_error(result, 3)
    assert "(no platform) sha256:" in stderr


def test_at_most_sixteen_entries_without_platform_are_looked_at(
    tmp_path: Path, registry: RegistryServer
) -> None:
    entries = [_plan9_image(tmp_path, salt) for salt in range(40)]
    top = {"mediaType": OCI_INDEX, **_put(tmp_path, index_of(entries))}
    location = _layout(tmp_path, top)
    repository = unique("platformless/wide")
    copied = polyarch("copy", location, f"{registry.host}/{repository}:1", text=True)
    assert copied.returncode == 0, copied.stderr
    start = registry.mark()
    result = polyarch(
        "digest", "--platform", "linux/amd64", f"{registry.host}/{repository}:1", text=True
    )
    stderr = assert_clean_error(result, 3)
    assert "more than 16 entries without a platform; the rest are not looked at" in stderr
    assert stderr.count("(no platform; from its config)") == 16
    served = registry.requests(since=start)
    # The index, then 16 children and their configs: never all forty.
    assert len([e for e in served if "/manifests/" in e.path]) == 17
    assert len([e for e in served if "/blobs/" in e.path]) == 16
