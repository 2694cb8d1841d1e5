"""``--dry-run`` of copy, push and the index edits: the plan printed, nothing written (the
registry's access log has no write), and the requests counted as the real run makes them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.clirun import polyarch
from tests.content import unique
from tests.imagegen import OCI_INDEX, SyntheticImage, make_image
from tests.registry_server import RegistryFactory, RegistryServer

AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def push_index(registry: RegistryServer, repository: str, images: list[SyntheticImage]) -> str:
    for image in images:
        registry.push_image(repository, image)
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [image.descriptor() for image in images],
    }
    registry.push_manifest(repository, "1.0", json.dumps(document).encode(), OCI_INDEX)
    return f"{registry.host}/{repository}:1.0"


def writes(registry: RegistryServer, since: int) -> list[str]:
    return [f"{r.method} {r.path}" for r in registry.requests(since) if r.method in WRITES]


def planned(stdout: str) -> dict[str, int]:
    """The figures of a plan's summary line."""
    match = re.search(
        r"^(\d+) requests \((\d+) to read first\): (\d+) blobs to copy .*?, (\d+) to mount, "
        r"(\d+) there",
        stdout,
        re.M,
    )
    assert match is not None, stdout
    names = ("requests", "reads", "copy", "mount", "there")
    return dict(zip(names, map(int, match.groups()), strict=True))


def test_copy_dry_run_writes_nothing_and_counts_the_requests(
    registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    repository = unique("plan/src")
    images = [make_image(p, seed=1501, oci=True) for p in (AMD64, ARM64)]
    source = push_index(registry, repository, images)
    other = registry_factory()
    destination = f"{other.host}/{unique('plan/dst')}:1.0"
    since = other.mark()

    # Without the cache, so that the plan's reads are the copy's reads too.
    result = polyarch("copy", "--dry-run", "--no-cache", source, destination, text=True)

    assert result.returncode == 0, result.stderr
    assert writes(other, since) == []
    plan = planned(result.stdout)
    assert plan["copy"] == 6  # 2 configs, 4 layers
    assert "now nothing, would be sha256:" in result.stdout
    assert "nothing was written (--dry-run)" in result.stdout
    # The index and its two images, the target's tag.
    assert plan["reads"] == 4

    since, source_since = other.mark(), registry.mark()
    copied = polyarch("copy", "-q", "--no-cache", source, destination, text=True)
    assert copied.returncode == 0, copied.stderr
    made = other.requests(since) + registry.requests(source_since)
    assert len(made) == plan["requests"], (
        result.stdout,
        [f"{r.method} {r.path} {r.status}" for r in made],
    )

    # The tag is at the digest now: the copy would stop after its reads.
    again = polyarch("copy", "--dry-run", source, destination, text=True)
    assert again.returncode == 0, again.stderr
    assert f"now {copied.stdout.strip()}, would be {copied.stdout.strip()}" in again.stdout
    assert planned(again.stdout)["requests"] == planned(again.stdout)["reads"] == 2


def test_copy_dry_run_shows_how_the_tag_would_change(registry: RegistryServer) -> None:
    repository = unique("plan/change")
    amd, arm = (make_image(p, seed=1502, oci=True) for p in (AMD64, ARM64))
    push_index(registry, repository, [amd])
    target = unique("plan/change-target")
    first = polyarch(
        "copy", "-q", f"{registry.host}/{repository}:1.0", f"{registry.host}/{target}:1.0"
    )
    assert first.returncode == 0, first.stderr
    push_index(registry, repository, [amd, arm])
    since = registry.mark()

    result = polyarch(
        "copy", "--dry-run", f"{registry.host}/{repository}:1.0", f"{registry.host}/{target}:1.0",
        text=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert writes(registry, since) == []
    assert "+ linux/arm64  sha256:" in result.stdout
    assert "  linux/amd64  same" in result.stdout
    plan = planned(result.stdout)
    assert (plan["mount"], plan["there"]) == (3, 3)  # within one registry: mounted


def test_push_dry_run_names_each_member_to_mount_and_the_tags(
    registry: RegistryServer, tmp_path: Path
) -> None:
    repository = unique("plan/members")
    images = [make_image(p, seed=1503, oci=True) for p in (AMD64, ARM64)]
    for image in images:
        registry.push_image(repository, image)
    env = {"POLYARCH_HOME": str(tmp_path / "home")}
    name = f"{registry.host}/{unique('plan/list')}:1.0"
    members = [f"{registry.host}/{repository}@{i.manifest_digest}" for i in images]
    assert polyarch("create", name, *members, env=env).returncode == 0
    since = registry.mark()

    result = polyarch("push", "--dry-run", "--tag", "latest", name, env=env, text=True)

    assert result.returncode == 0, result.stderr
    assert writes(registry, since) == []
    plan = planned(result.stdout)
    assert plan["mount"] == 6
    assert re.search(r"tag +put +1\.0 -> sha256:", result.stdout)
    assert re.search(r"tag +put +latest -> sha256:", result.stdout)
    assert len(re.findall(r"manifest +put ", result.stdout)) == 2
    since = registry.mark()
    pushed = polyarch("push", "--tag", "latest", name, env=env, text=True)
    assert pushed.returncode == 0, pushed.stderr
    made = [r for r in registry.requests(since) if r.path != "/v2/" and r.status != 401]
    assert len(made) == plan["requests"], (
        result.stdout,
        [f"{r.method} {r.path} {r.status}" for r in made],
    )


def test_index_edit_dry_runs_show_the_change_and_write_nothing(registry: RegistryServer) -> None:
    repository = unique("plan/edit")
    images = [make_image(p, seed=1504, oci=True) for p in (AMD64, ARM64)]
    ref = push_index(registry, repository, images)
    since = registry.mark()

    removed = polyarch("index", "remove", "--dry-run", "--platform", "linux/arm64", ref, text=True)
    annotated = polyarch("index", "annotate", "--dry-run", "--annotation", "a=b", ref, text=True)

    assert removed.returncode == 0, removed.stderr
    assert annotated.returncode == 0, annotated.stderr
    assert writes(registry, since) == []
    assert "- linux/arm64  sha256:" in removed.stdout
    assert "nothing was written (--dry-run)" in removed.stdout
    assert '+ annotation "a": "b"' in annotated.stdout


def test_an_edit_to_another_repository_plans_the_copies(registry: RegistryServer) -> None:
    repository = unique("plan/edit-to")
    amd, arm = (make_image(p, seed=1505, oci=True) for p in (AMD64, ARM64))
    ref = push_index(registry, repository, [amd])
    registry.push_image(repository, arm, tag="arm")
    elsewhere = f"{registry.host}/{unique('plan/edit-new')}:1"
    since = registry.mark()

    result = polyarch(
        "index", "add", "--dry-run", "--to", elsewhere, ref,
        f"{registry.host}/{repository}:arm", text=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert writes(registry, since) == []
    assert f"plan for {elsewhere}: now nothing, would be sha256:" in result.stdout
    assert result.stdout.count("manifest copy") == 2  # both entries, into the new repository
    assert "after 2 entries copied in" in result.stdout
