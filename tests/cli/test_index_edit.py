"""``polyarch index add|remove|annotate`` on a pushed index: the entries kept keep their
JSON, children are not uploaded again, a tag that moved meanwhile is not overwritten."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.clirun import assert_clean_error, polyarch
from tests.content import multi, registry_manifest, unique
from tests.imagegen import make_image
from tests.registry_server import RegistryServer

AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}
S390X = {"os": "linux", "architecture": "s390x"}


def entries(raw: bytes | None) -> list[dict[str, object]]:
    assert raw is not None
    found: list[dict[str, object]] = json.loads(raw)["manifests"]
    return found


def setup(registry: RegistryServer, seed: int) -> tuple[str, str, list[str]]:
    images = [make_image(p, seed=seed, oci=True) for p in (AMD64, ARM64)]
    repository = unique("edit/app")
    content = multi(images)
    content.push(registry, repository, "1.0")
    return repository, f"{registry.host}/{repository}:1.0", [i.manifest_digest for i in images]


def test_add_then_remove_an_entry(registry: RegistryServer) -> None:
    repository, ref, children = setup(registry, 990)
    before = entries(registry_manifest(registry, repository, "1.0"))
    extra = make_image(S390X, seed=990, oci=True)
    elsewhere = unique("edit/other")
    registry.push_image(elsewhere, extra, tag="s390x")

    start = registry.mark()
    added = polyarch("index", "add", ref, f"{registry.host}/{elsewhere}:s390x", text=True)
    assert added.returncode == 0, added.stderr
    after = entries(registry_manifest(registry, repository, "1.0"))
    assert after[:2] == before  # kept as they were, key for key
    assert after[2]["digest"] == extra.manifest_digest
    assert after[2]["platform"] == {"architecture": "s390x", "os": "linux"}
    puts = [e.path for e in registry.requests(since=start) if e.method == "PUT"]
    assert not any(child in path for child in children for path in puts)  # not re-uploaded
    assert registry_manifest(registry, repository, extra.manifest_digest) is not None

    removed = polyarch("index", "remove", "--platform", "linux/arm64/v8", ref, text=True)
    assert removed.returncode == 0, removed.stderr
    left = entries(registry_manifest(registry, repository, "1.0"))
    assert [e["digest"] for e in left] == [children[0], extra.manifest_digest]
    now = registry_manifest(registry, repository, "1.0") or b""
    assert removed.stdout.strip() == "sha256:" + hashlib.sha256(now).hexdigest()
    missing = polyarch("index", "remove", "--platform", "windows/amd64", ref, text=True)
    assert "has no entry windows/amd64" in assert_clean_error(missing, 3)


def test_annotate_the_index_or_an_entry_and_put_it_elsewhere(
    registry: RegistryServer, tmp_path: Path
) -> None:
    repository, ref, children = setup(registry, 991)
    result = polyarch(
        "index", "annotate", "--annotation", "org.opencontainers.image.source=https://x", ref,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    raw = registry_manifest(registry, repository, "1.0")
    assert raw is not None
    assert json.loads(raw)["annotations"] == {"org.opencontainers.image.source": "https://x"}

    to = f"{registry.host}/{unique('edit/copy')}:annotated"
    result = polyarch(
        "index", "annotate", "--digest", children[1], "--annotation", "tier=gold", "--to", to, ref,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    copied = registry_manifest(registry, to.split("/", 1)[1].rpartition(":")[0], "annotated")
    second = entries(copied)[1]
    assert list(second) == ["mediaType", "size", "digest", "annotations", "platform"]
    assert second["annotations"] == {"tier": "gold"}
    assert registry_manifest(registry, repository, "1.0") == raw  # the original untouched


def test_a_docker_list_takes_no_annotations(registry: RegistryServer) -> None:
    images = [make_image(p, seed=992) for p in (AMD64, ARM64)]
    repository = unique("edit/docker")
    multi(images, oci=False).push(registry, repository, "1.0")
    result = polyarch(
        "index", "annotate", "--annotation", "a=b", f"{registry.host}/{repository}:1.0", text=True
    )
    assert "Docker manifest list, which has no annotations" in assert_clean_error(result, 2)


def test_a_tag_that_moved_meanwhile_is_not_overwritten(registry: RegistryServer) -> None:
    """The tag is read again before the put: a push in between wins, and the edit says so
    (the edit is driven step by step through the library, the push made between)."""
    from polyarch.errors import ConflictError
    from polyarch.ops.edit import _Edit
    from polyarch.registry import Registries

    repository, ref, _ = setup(registry, 993)
    mover = make_image(AMD64, seed=994, oci=True)
    with Registries() as registries:
        edit = _Edit(ref, None, registries)
        document = edit.document()
        document["annotations"] = {"a": "b"}
        registry.push_image(repository, mover, tag="1.0")  # someone else's push
        with pytest.raises(ConflictError, match="changed since it was read") as caught:
            edit.put(document, jobs=2)
        assert caught.value.exit_code == 7
    assert registry_manifest(registry, repository, "1.0") == mover.manifest


def test_an_index_in_a_layout_is_edited_the_same_way(tmp_path: Path) -> None:
    from tests.clirun import EXAMPLE
    from tests.content import layout_tags, skopeo_raw

    layout = f"oci:{tmp_path / 'l'}:1.0"
    assert polyarch("copy", "-q", f"oci:{EXAMPLE}:1.0", layout).returncode == 0
    removed = polyarch("index", "remove", "--platform", "linux/arm/v7", layout, text=True)
    assert removed.returncode == 0, removed.stderr
    annotated = polyarch("index", "annotate", "--annotation", "a=b", layout, text=True)
    assert annotated.returncode == 0, annotated.stderr
    digest = annotated.stdout.strip()
    assert layout_tags(tmp_path / "l") == {"1.0": digest}
    raw = skopeo_raw(layout)
    assert len(entries(raw)) == 2
    assert json.loads(raw)["annotations"] == {"a": "b"}
