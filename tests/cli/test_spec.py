"""``push from-spec`` (manifest-tool's YAML) and ``push from-args`` (its template), against
a real registry; docker and skopeo read what they push."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.clirun import assert_clean_error, polyarch
from tests.content import registry_manifest, skopeo_raw, unique
from tests.imagegen import SyntheticImage, make_image, sha256_digest
from tests.registry_server import RegistryServer

AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}
PPC = {"os": "linux", "architecture": "ppc64le"}


@pytest.fixture
def pushed(registry: RegistryServer) -> tuple[str, dict[str, SyntheticImage]]:
    repository = unique("spec/app")
    images = {
        "linux-amd64": make_image(AMD64, seed=980),
        "linux-arm64v8": make_image(ARM64, seed=980),
        "linux-ppc64le": make_image(PPC, seed=980),
    }
    for tag, image in images.items():
        registry.push_image(repository, image, tag=tag)
    return f"{registry.host}/{repository}", images


def digests(raw: bytes) -> list[str]:
    return [str(e["digest"]) for e in json.loads(raw)["manifests"]]


def test_from_spec_pushes_the_list_under_each_tag(
    pushed: tuple[str, dict[str, SyntheticImage]], registry: RegistryServer, tmp_path: Path
) -> None:
    repository, images = pushed
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""image: {repository}:1.0.0
tags: ['1.0', 'latest']
manifests:
  -
    image: {repository}:linux-amd64
    platform:
      architecture: amd64
      os: linux
  - image: {repository}:linux-arm64v8
    platform: {{architecture: arm64, os: linux, variant: v8}}
  - image: {repository}:linux-ppc64le
    platform:
      architecture: ppc64le
      os: linux
      features: [power9]
"""
    )
    result = polyarch("push", "from-spec", str(spec), text=True)
    assert result.returncode == 0, result.stderr
    digest = result.stdout.strip()
    name = repository.partition("/")[2]
    for tag in ("1.0.0", "1.0", "latest"):
        raw = registry_manifest(registry, name, tag)
        assert raw is not None
        assert sha256_digest(raw) == digest
    raw = skopeo_raw(f"docker://{repository}:1.0")
    assert sorted(digests(raw)) == sorted(i.manifest_digest for i in images.values())
    ppc = next(
        e for e in json.loads(raw)["manifests"] if e["platform"]["architecture"] == "ppc64le"
    )
    assert ppc["platform"]["os.features"] == ["power9"]  # the spec's platform names it
    docker = subprocess.run(
        ["docker", "manifest", "inspect", "--insecure", f"{repository}:latest"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert docker.returncode == 0, docker.stderr
    assert len(json.loads(docker.stdout)["manifests"]) == 3


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("image: a:1\nmanifest:\n  - image: b\n", "unknown key 'manifest'"),
        ("image: a:1\nmanifests:\n  - image: b\n    platfrom: {os: linux}\n", "'platfrom'"),
        (
            "image: a:1\nmanifests:\n  - image: b\n    platform: {os: linux, arch: x}\n",
            "unknown key 'arch'",
        ),
        ("image: a:1\nimage: b:2\nmanifests: [{image: c}]\n", "'image' is given twice"),
        ("image: a:1\nmanifests: []\n", "one at least"),
        ("image: [a\n", "not valid YAML"),
        ("- just a list\n", "must be a mapping"),
    ],
)
def test_a_bad_spec_is_a_usage_error_naming_the_key(
    tmp_path: Path, text: str, fragment: str
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    stderr = assert_clean_error(polyarch("push", "from-spec", str(spec), text=True), 2)
    assert fragment in stderr
    assert str(spec) in stderr


def test_from_args_fills_the_template_and_names_each_missing_image(
    pushed: tuple[str, dict[str, SyntheticImage]], registry: RegistryServer
) -> None:
    repository, images = pushed
    args = [
        "push", "from-args", "--platforms", "linux/amd64,linux/arm64/v8,linux/s390x,linux/riscv64",
        "--template", f"{repository}:OS-ARCHVARIANT", "--target", f"{repository}:args",
        "--tags", "args-latest",
    ]  # fmt: skip
    stderr = assert_clean_error(polyarch(*args, text=True), 3)
    assert f"{repository}:linux-s390x" in stderr
    assert f"{repository}:linux-riscv64" in stderr
    name = repository.partition("/")[2]
    assert registry_manifest(registry, name, "args") is None

    result = polyarch(*args, "--ignore-missing", text=True)
    assert result.returncode == 0, result.stderr
    assert f"skipping {repository}:linux-s390x: it does not exist" in result.stderr
    raw = registry_manifest(registry, name, "args-latest")
    assert raw is not None
    assert digests(raw) == [
        images["linux-amd64"].manifest_digest,
        images["linux-arm64v8"].manifest_digest,
    ]
    assert sha256_digest(raw) == result.stdout.strip()


def test_from_args_needs_a_placeholder(pushed: tuple[str, dict[str, SyntheticImage]]) -> None:
    repository, _ = pushed
    result = polyarch(
        "push", "from-args", "--platforms", "linux/amd64", "--template", f"{repository}:fixed",
        "--target", f"{repository}:x", text=True,
    )  # fmt: skip
    assert "none of OS, ARCH, VARIANT" in assert_clean_error(result, 2)
