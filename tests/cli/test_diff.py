"""``polyarch diff A B`` against the real registry and layouts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.clirun import EXAMPLE, assert_clean_error, polyarch
from tests.content import push_buildx_image, unique
from tests.imagegen import OCI_INDEX, SyntheticImage, make_image
from tests.registry_server import RegistryServer

AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}
S390X = {"os": "linux", "architecture": "s390x"}


def push(
    registry: RegistryServer,
    repository: str,
    tag: str,
    images: list[SyntheticImage],
    **annotations: str,
) -> str:
    for image in images:
        registry.push_image(repository, image)
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [image.descriptor() for image in images],
    }
    if annotations:
        document["annotations"] = annotations
    registry.push_manifest(repository, tag, json.dumps(document).encode(), OCI_INDEX)
    return f"{registry.host}/{repository}:{tag}"


def test_diff_names_each_platform_added_removed_and_changed(registry: RegistryServer) -> None:
    repository = unique("diff/app")
    amd_old = make_image(AMD64, seed=1401, oci=True, layers=2)
    amd_new = make_image(AMD64, seed=1402, oci=True, layers=3)
    arm = make_image(ARM64, seed=1401, oci=True)
    s390x = make_image(S390X, seed=1401, oci=True)
    a = push(
        registry, repository, "1.0", [amd_old, arm], **{"org.opencontainers.image.version": "1.0"}
    )
    b = push(
        registry,
        repository,
        "1.1",
        [amd_new, arm, s390x],
        **{"org.opencontainers.image.version": "1.1"},
    )

    result = polyarch("diff", "--format", "json", a, b, text=True)

    assert result.returncode == 1, result.stderr
    found = json.loads(result.stdout)
    assert not found["same"]
    changes = {e["platform"]: e for e in found["entries"]}
    assert {k: e["change"] for k, e in changes.items()} == {
        "linux/amd64": "changed",
        "linux/arm64": "same",  # arm64/v8 is arm64, normalized
        "linux/s390x": "added",
    }
    amd = changes["linux/amd64"]
    assert amd["config"] == {"a": amd_old.config_digest, "b": amd_new.config_digest}
    assert sorted(amd["layers"]["added"]) == sorted(layer.digest for layer in amd_new.layers)
    assert len(amd["layers"]["removed"]) == 2
    assert found["annotations"]["changed"] == {
        "org.opencontainers.image.version": {"a": "1.0", "b": "1.1"}
    }

    reverse = polyarch("diff", b, a, text=True)
    assert reverse.returncode == 1
    assert "- linux/s390x  " in reverse.stdout
    assert "~ linux/amd64  " in reverse.stdout
    assert "    layers  0 kept, 3 removed, 2 added" in reverse.stdout
    assert '~ annotation "org.opencontainers.image.version": "1.1" -> "1.0"' in reverse.stdout


def test_the_same_index_in_a_registry_and_a_layout_is_the_same(
    registry: RegistryServer, tmp_path: Path
) -> None:
    repository = unique("diff/same")
    copied = polyarch("copy", "-q", f"oci:{EXAMPLE}:1.0", f"{registry.host}/{repository}:1.0")
    assert copied.returncode == 0, copied.stderr

    result = polyarch("diff", f"oci:{EXAMPLE}:1.0", f"{registry.host}/{repository}:1.0", text=True)

    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("same bytes\n")


def test_other_bytes_that_say_the_same_are_named_so(registry: RegistryServer) -> None:
    repository = unique("diff/spelled")
    images = [make_image(p, seed=1403, oci=True) for p in (AMD64, ARM64)]
    push(registry, repository, "compact", images)
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [image.descriptor() for image in images],
    }
    registry.push_manifest(
        repository, "indented", json.dumps(document, indent=3).encode(), OCI_INDEX
    )

    result = polyarch(
        "diff", f"{registry.host}/{repository}:compact", f"{registry.host}/{repository}:indented",
        text=True,
    )  # fmt: skip

    assert result.returncode == 1
    assert "the same entries and annotations" in result.stdout


def test_an_image_is_compared_with_the_entry_of_its_platform(registry: RegistryServer) -> None:
    repository = unique("diff/single")
    images = [make_image(p, seed=1404, oci=True) for p in (AMD64, ARM64)]
    push_buildx_image(registry, repository, images, "1.0")

    result = polyarch(
        "diff", "--format", "json", f"{registry.host}/{repository}@{images[0].manifest_digest}",
        f"{registry.host}/{repository}:1.0", text=True,
    )  # fmt: skip

    assert result.returncode == 1
    changes = {e["platform"]: e["change"] for e in json.loads(result.stdout)["entries"]}
    assert changes == {
        "linux/amd64": "same",
        "linux/arm64": "added",
        "attestation of linux/amd64": "added",
        "attestation of linux/arm64": "added",
    }


def test_diff_of_something_missing_is_not_found(registry: RegistryServer) -> None:
    result = polyarch(
        "diff", f"oci:{EXAMPLE}:1.0", f"{registry.host}/{unique('diff/none')}:1", text=True
    )
    assert_clean_error(result, 3)
