"""``polyarch delete`` against a real registry and a layout: by digest, by tag (refused
when other tags would go too, unless --force), and a registry that does not allow it."""

from __future__ import annotations

from pathlib import Path

from tests.clirun import assert_clean_error, polyarch
from tests.content import layout_tags, registry_manifest, single, unique
from tests.imagegen import make_image
from tests.registry_server import RegistryFactory, RegistryServer

AMD64 = {"os": "linux", "architecture": "amd64"}


def seeded(registry: RegistryServer, seed: int, *tags: str) -> tuple[str, str]:
    image = make_image(AMD64, seed=seed, oci=True)
    repository = unique("delete/app")
    for tag in tags:
        single(image).push(registry, repository, tag)
    return f"{registry.host}/{repository}", image.manifest_digest


def test_a_tag_shared_with_others_is_refused_unless_forced(registry: RegistryServer) -> None:
    repository, digest = seeded(registry, 970, "a", "b", "c")
    name = repository.partition("/")[2]
    refused = polyarch("delete", f"{repository}:a", text=True)
    stderr = assert_clean_error(refused, 7)
    assert f"{digest}, which is also tagged b, c" in stderr
    assert "--force" in stderr
    assert registry_manifest(registry, name, "a") is not None

    forced = polyarch("delete", "--force", f"{repository}:a", text=True)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout == digest + "\n"
    assert "Deleted manifest" in forced.stderr
    for tag in ("a", "b", "c"):
        assert registry_manifest(registry, name, tag) is None


def test_by_digest_or_a_lone_tag(registry: RegistryServer) -> None:
    repository, digest = seeded(registry, 971, "only")
    name = repository.partition("/")[2]
    result = polyarch("delete", f"{repository}:only", text=True)
    assert result.returncode == 0, result.stderr
    assert registry_manifest(registry, name, digest) is None

    repository, digest = seeded(registry, 972, "x", "y")
    result = polyarch("delete", f"{repository}@{digest}", text=True)
    assert result.returncode == 0, result.stderr
    assert f"Deleted manifest {digest} (and its tags x, y)" in result.stderr
    assert_clean_error(polyarch("delete", f"{repository}@{digest}", text=True), 3)
    assert_clean_error(polyarch("delete", f"{repository}:never", text=True), 3)


def test_a_registry_without_deletes_names_the_setting(registry_factory: RegistryFactory) -> None:
    registry = registry_factory(delete_enabled=False)
    repository, digest = seeded(registry, 973, "1")
    stderr = assert_clean_error(polyarch("delete", f"{repository}@{digest}", text=True), 5)
    assert "does not allow deleting manifests" in stderr
    assert "storage.delete.enabled" in stderr
    assert registry_manifest(registry, repository.partition("/")[2], "1") is not None


def test_in_a_layout_a_tag_goes_alone(registry: RegistryServer, tmp_path: Path) -> None:
    repository, digest = seeded(registry, 974, "1")
    layout = tmp_path / "layout"
    for tag in ("one", "two"):
        copied = polyarch("copy", f"{repository}:1", f"oci:{layout}:{tag}")
        assert copied.returncode == 0, copied.stderr
    result = polyarch("delete", f"oci:{layout}:one", text=True)
    assert result.returncode == 0, result.stderr
    assert "Deleted tag one" in result.stderr
    assert layout_tags(layout) == {"two": digest}
    result = polyarch("delete", f"oci:{layout}@{digest}", text=True)
    assert result.returncode == 0, result.stderr
    assert layout_tags(layout) == {}
    assert "neither a tag nor a digest" in assert_clean_error(
        polyarch("delete", f"oci:{layout}", text=True), 2
    )
