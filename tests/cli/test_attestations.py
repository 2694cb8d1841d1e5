"""``--attestations keep|drop`` of ``copy`` and ``create``: buildx's attestation manifests
(``unknown/unknown`` entries with ``vnd.docker.reference.type: attestation-manifest``)
kept beside the images they describe, or left out of every index written, nested ones
included."""

from __future__ import annotations

import json
from pathlib import Path

from tests.clirun import polyarch
from tests.content import push_buildx_image, registry_has_blob, registry_manifest, unique
from tests.imagegen import OCI_INDEX, make_image, sha256_digest
from tests.registry_server import RegistryServer

AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}
ATTESTATION_TYPE = "vnd.docker.reference.type"


def entries(raw: bytes) -> list[dict[str, object]]:
    found: list[dict[str, object]] = json.loads(raw)["manifests"]
    return found


def test_copy_drops_attestations_and_keeps_every_image_byte_for_byte(
    registry: RegistryServer,
) -> None:
    images = [make_image(p, seed=960, oci=True) for p in (AMD64, ARM64)]
    repository = unique("att/src")
    index, attestations = push_buildx_image(registry, repository, images, "1.0")
    target = unique("att/dropped")

    result = polyarch(
        "copy", "--attestations", "drop", f"{registry.host}/{repository}:1.0",
        f"{registry.host}/{target}:1.0", text=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    copied = registry_manifest(registry, target, "1.0")
    assert copied is not None
    assert result.stdout.strip() == sha256_digest(copied) != sha256_digest(index)
    kept = entries(copied)
    assert [e["digest"] for e in kept] == [image.manifest_digest for image in images]
    # The entries kept are as they were, key for key.
    assert kept == entries(index)[: len(images)]
    for image in images:
        assert registry_manifest(registry, target, image.manifest_digest) == image.manifest
    for attestation in attestations:
        assert registry_manifest(registry, target, attestation.digest) is None

    kept_copy = polyarch(
        "copy", f"{registry.host}/{repository}:1.0", f"{registry.host}/{target}:kept", text=True
    )
    assert kept_copy.returncode == 0, kept_copy.stderr
    assert registry_manifest(registry, target, "kept") == index


def test_copy_drops_attestations_of_a_nested_index(
    registry: RegistryServer, tmp_path: Path
) -> None:
    images = [make_image(p, seed=961, oci=True) for p in (AMD64, ARM64)]
    repository = unique("att/nested")
    inner, attestations = push_buildx_image(registry, repository, images, "inner")
    outer = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_INDEX, "digest": sha256_digest(inner), "size": len(inner)}
            ],
        },
        indent=3,
    ).encode()
    registry.push_manifest(repository, "outer", outer, OCI_INDEX)

    layout = tmp_path / "out"
    result = polyarch(
        "copy", "--attestations", "drop", f"{registry.host}/{repository}:outer", f"oci:{layout}:1",
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    blobs = layout / "blobs" / "sha256"
    root = (blobs / result.stdout.strip()[7:]).read_bytes()
    (nested_entry,) = entries(root)
    assert nested_entry["digest"] != sha256_digest(inner)
    nested = (blobs / str(nested_entry["digest"])[7:]).read_bytes()
    assert nested_entry["size"] == len(nested)
    assert [e["digest"] for e in entries(nested)] == [image.manifest_digest for image in images]
    for attestation in attestations:
        assert not (blobs / attestation.digest[7:]).exists()
    # What was written reads back whole.
    check = polyarch("copy", f"oci:{layout}:1", f"{registry.host}/{unique('att/back')}:1")
    assert check.returncode == 0, check.stderr


def test_create_drops_the_attestations_members_bring(
    registry: RegistryServer, tmp_path: Path
) -> None:
    images = [make_image(p, seed=962, oci=True) for p in (AMD64, ARM64)]
    repository = unique("att/member")
    push_buildx_image(registry, repository, images, "1.0")
    env = {"POLYARCH_HOME": str(tmp_path)}
    target = f"{registry.host}/{repository}:list"
    created = polyarch(
        "create", "--attestations", "drop", target, f"{registry.host}/{repository}:1.0",
        env=env, text=True,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "attestation" not in created.stderr
    pushed = polyarch("push", target, env=env, text=True)
    assert pushed.returncode == 0, pushed.stderr
    raw = registry_manifest(registry, repository, "list")
    assert raw is not None
    assert ATTESTATION_TYPE.encode() not in raw
    assert len(entries(raw)) == 2
    assert registry_has_blob(registry, repository, images[0].config_digest)
