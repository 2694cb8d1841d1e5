"""``polyarch lint`` and ``polyarch verify`` (and ``push --verify``, ``copy --verify``)
against the real registry and layouts, each finding built into an index made here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.clirun import assert_clean_error, polyarch
from tests.content import push_buildx_image, unique
from tests.imagegen import (
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    SyntheticImage,
    make_image,
)
from tests.registry_server import RegistryServer

AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}
ARM7 = {"os": "linux", "architecture": "arm", "variant": "v7"}


def entry(image: SyntheticImage, **platform: str) -> dict[str, Any]:
    """``image``'s index entry, its platform replaced by ``platform`` when given."""
    found = image.descriptor()
    if platform:
        found["platform"] = platform
    return found


def push_index(
    registry: RegistryServer,
    repository: str,
    images: list[SyntheticImage],
    entries: list[dict[str, Any]],
    *,
    media_type: str = OCI_INDEX,
    **extra: Any,
) -> str:
    for image in images:
        registry.push_image(repository, image)
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": media_type, "manifests": entries, **extra}
    ).encode()
    registry.push_manifest(repository, "1.0", index, media_type)
    return f"{registry.host}/{repository}:1.0"


def lint(*args: str) -> tuple[int, dict[str, Any]]:
    result = polyarch("lint", "--format", "json", *args, text=True)
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


def codes(report: dict[str, Any]) -> list[str]:
    return sorted(f["code"] for f in report["findings"])


def test_a_buildx_image_is_clean(registry: RegistryServer) -> None:
    repository = unique("lint/clean")
    images = [make_image(p, seed=1301, oci=True) for p in (AMD64, ARM64)]
    push_buildx_image(registry, repository, images, "1.0")

    result = polyarch("lint", f"{registry.host}/{repository}:1.0", text=True)

    assert result.returncode == 0, result.stderr
    assert "no problems; 7 checked" in result.stdout  # the index, 4 children, 2 image configs


def test_an_amd64_label_on_an_arm64_image_is_an_error(registry: RegistryServer) -> None:
    repository = unique("lint/label")
    amd, arm = make_image(AMD64, seed=1302, oci=True), make_image(ARM64, seed=1302, oci=True)
    ref = push_index(
        registry, repository, [amd, arm], [entry(amd), entry(arm, os="linux", architecture="amd64")]
    )

    code, report = lint(ref)

    assert code == 6
    # Two entries say amd64 now: one of them is the arm64 image.
    assert codes(report) == ["duplicate-platform", "platform-mismatch"]
    [finding] = [f for f in report["findings"] if f["code"] == "platform-mismatch"]
    assert finding["severity"] == "error"
    assert finding["where"].startswith("entry 2 (linux/amd64) of ")
    assert "its config says linux/arm64/v8" in finding["message"]
    # What runtimes pick by is the label: no entry says arm64.
    assert "missing-platform" in codes(lint("--require", "linux/arm64", ref)[1])


def test_platform_spellings_a_runtime_may_not_expect_are_warnings(
    registry: RegistryServer,
) -> None:
    repository = unique("lint/spellings")
    amd = make_image(AMD64, seed=1303, oci=True)
    v5 = make_image({"os": "linux", "architecture": "amd64", "variant": "v5"}, seed=1303, oci=True)
    armhf = make_image({"os": "linux", "architecture": "armhf"}, seed=1303, oci=True)
    windows = make_image({"os": "windows", "architecture": "amd64"}, seed=1303, oci=True)
    v9 = make_image({"os": "linux", "architecture": "arm64", "variant": "v9"}, seed=1303, oci=True)
    arm8 = make_image({"os": "linux", "architecture": "arm", "variant": "v8"}, seed=1303, oci=True)
    arm6 = make_image({"os": "linux", "architecture": "arm", "variant": "v6"}, seed=1303, oci=True)
    images = [amd, v5, armhf, windows, v9, arm8, arm6]
    ref = push_index(registry, repository, images, [entry(image) for image in images])

    code, report = lint(ref)

    assert code == 0, report  # warnings only
    assert codes(report) == [
        "noncanonical-platform",
        "uncommon-variant",
        "uncommon-variant",
        "unknown-platform",
        "windows-without-os-version",
    ]
    uncommon = [f for f in report["findings"] if f["code"] == "uncommon-variant"]
    assert [f["where"].split(" of ")[0] for f in uncommon] == [
        "entry 5 (linux/arm64/v9)",
        "entry 6 (linux/arm/v8)",
    ]
    assert "most arm64 hosts report v8" in uncommon[0]["message"]
    assert "most arm hosts report v7 or older" in uncommon[1]["message"]
    assert lint("--strict", ref)[0] == 1


def test_two_images_for_one_platform_and_a_dangling_attestation_are_errors(
    registry: RegistryServer,
) -> None:
    repository = unique("lint/duplicate")
    one, two = make_image(AMD64, seed=1304, oci=True), make_image(AMD64, seed=1305, oci=True)
    ghost = "sha256:" + "5" * 64
    attestation = {
        **entry(one),
        "annotations": {
            "vnd.docker.reference.digest": ghost,
            "vnd.docker.reference.type": "attestation-manifest",
        },
        "platform": {"os": "unknown", "architecture": "unknown"},
    }
    ref = push_index(registry, repository, [one, two], [entry(one), entry(two), attestation])

    code, report = lint(ref)

    assert code == 6
    assert codes(report) == ["dangling-attestation", "duplicate-platform"]


def test_formats_that_do_not_mix_are_named(registry: RegistryServer) -> None:
    repository = unique("lint/formats")
    docker = make_image(AMD64, seed=1306)
    oci = make_image(ARM64, seed=1306, oci=True)
    ref = push_index(registry, repository, [docker, oci], [entry(oci), entry(docker)])

    assert codes(lint(ref)[1]) == ["mixed-formats"]

    annotated = push_index(
        registry,
        unique("lint/docker-annotations"),
        [docker],
        [{**entry(docker), "annotations": {"a": "b"}}],
        media_type=DOCKER_MANIFEST_LIST,
    )
    code, report = lint(annotated)
    assert code == 6
    assert codes(report) == ["annotations-in-docker-list"]


def test_content_that_is_not_what_the_index_says_is_an_error(
    registry: RegistryServer, tmp_path: Path
) -> None:
    repository = unique("lint/content")
    amd, arm, arm7 = (make_image(p, seed=1307, oci=True) for p in (AMD64, ARM64, ARM7))
    ref = push_index(
        registry,
        repository,
        [amd, arm, arm7],
        [
            entry(amd),
            {**entry(arm), "size": arm.size + 1},
            {**entry(arm7), "mediaType": "application/vnd.docker.distribution.manifest.v2+json"},
        ],
    )

    code, report = lint(ref)

    assert code == 6
    assert codes(report) == ["media-type-mismatch", "mixed-formats", "size-mismatch"]

    # A layout that lost a child (a registry takes no index naming one it lacks).
    layout = tmp_path / "layout"
    copied = polyarch("copy", "-q", "oci:examples/hello-multiarch:1.0", f"oci:{layout}:1.0")
    assert copied.returncode == 0, copied.stderr
    gone = "cec20b010194999a0e53362159d6e24f2fe992852a7a9c1f106d9d3ea3aa067c"
    (layout / "blobs" / "sha256" / gone).unlink()
    code, report = lint(f"oci:{layout}:1.0")
    assert code == 6
    assert codes(report) == ["missing-manifest"]
    verified = json.loads(polyarch("verify", "--format", "json", f"oci:{layout}:1.0").stdout)
    assert codes(verified) == ["missing-manifest"]


def test_lint_reads_a_layout_and_a_single_image(tmp_path: Path) -> None:
    result = polyarch("lint", "oci:examples/hello-multiarch:1.0", text=True)
    assert result.returncode == 0, result.stderr
    assert "no problems" in result.stdout
    arm64 = (
        "oci:examples/hello-multiarch@"
        "sha256:cec20b010194999a0e53362159d6e24f2fe992852a7a9c1f106d9d3ea3aa067c"
    )
    # A single image offers the platform its config says, and that one only.
    assert polyarch("lint", "--require", "linux/arm64", arm64, text=True).returncode == 0
    single = polyarch("lint", "--require", "linux/arm64,linux/amd64", arm64, text=True)
    assert single.returncode == 6
    assert "missing-platform" in single.stdout
    assert "no image for linux/amd64" in single.stdout
    assert "linux/arm64" not in single.stdout.split("no image for")[1]


# -- verify ----------------------------------------------------------------------------------


def test_copy_and_push_verify_what_they_wrote(registry: RegistryServer, tmp_path: Path) -> None:
    repository = unique("verify/src")
    images = [make_image(p, seed=1308, oci=True) for p in (AMD64, ARM64)]
    ref = push_index(registry, repository, images, [entry(i) for i in images])
    target = unique("verify/copy")

    copied = polyarch("copy", "-q", "--verify", ref, f"{registry.host}/{target}:1.0", text=True)

    assert copied.returncode == 0, copied.stderr
    assert f"verified: {registry.host}/{target}:1.0 (" in copied.stderr
    # The index, 2 images, 6 blobs (HEAD), 2 configs read.
    assert "no problems; 11 checked" in copied.stderr

    env = {"POLYARCH_HOME": str(tmp_path / "home")}
    name = f"{registry.host}/{unique('verify/list')}:1.0"
    created = polyarch(
        "create",
        name,
        *(f"{registry.host}/{repository}@{i.manifest_digest}" for i in images),
        env=env,
    )
    assert created.returncode == 0, created.stderr
    pushed = polyarch("push", "--verify", name, env=env, text=True)
    assert pushed.returncode == 0, pushed.stderr
    assert "verified: " in pushed.stderr

    layout = tmp_path / "out"
    to_layout = polyarch("copy", "-q", "--verify", ref, f"oci:{layout}:x", text=True)
    assert to_layout.returncode == 0, to_layout.stderr
    assert f"verified: oci:{layout}:x (" in to_layout.stderr


def test_verify_finds_a_missing_blob_and_a_moved_tag(registry: RegistryServer) -> None:
    repository = unique("verify/broken")
    images = [make_image(p, seed=1309, oci=True) for p in (AMD64, ARM64)]
    ref = push_index(registry, repository, images, [entry(i) for i in images])
    layer = images[1].layers[0].digest
    deleted = registry.request("DELETE", f"/v2/{repository}/blobs/{layer}")
    assert deleted.status == 202

    result = polyarch(
        "verify", "--format", "json", "--digest", "sha256:" + "1" * 64, ref, text=True
    )

    assert result.returncode == 6, result.stderr
    report = json.loads(result.stdout)
    assert codes(report) == ["missing-blob", "unexpected-digest"]
    [blob] = [f for f in report["findings"] if f["code"] == "missing-blob"]
    assert layer in blob["message"]
    assert blob["where"].startswith("entry 2 (linux/arm64/v8) of ")

    good = polyarch(
        "verify",
        "--require",
        "linux/amd64,linux/arm64",
        f"{registry.host}/{repository}@{images[0].manifest_digest}",
        text=True,
    )
    assert good.returncode == 6  # one image: linux/arm64 is not in it
    assert "missing-platform" in good.stdout


def test_verify_of_nothing_there_is_not_found(registry: RegistryServer) -> None:
    result = polyarch("verify", f"{registry.host}/{unique('verify/none')}:1.0", text=True)
    assert_clean_error(result, 3)


@pytest.mark.parametrize("command", ["lint", "verify"])
def test_a_bad_platform_is_bad_input(command: str, registry: RegistryServer) -> None:
    result = polyarch(command, "--require", "linux/", f"{registry.host}/x:1", text=True)
    assert_clean_error(result, 2)


# -- explain -------------------------------------------------------------------------------


def test_explain_names_where_the_families_part(registry: RegistryServer) -> None:
    repository = unique("explain/arm")
    plain = make_image({"os": "linux", "architecture": "arm"}, seed=1310, oci=True)
    v6 = make_image({"os": "linux", "architecture": "arm", "variant": "v6"}, seed=1310, oci=True)
    ref = push_index(registry, repository, [plain, v6], [entry(plain), entry(v6)])

    result = polyarch("explain", "--platform", "linux/arm/v7", "--format", "json", ref, text=True)

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    picks = {p["family"]: p["entry"] for p in found["picks"]}
    assert picks == {
        "containerd": 1,
        "containers/image": 2,
        "go-containerregistry": None,
        "regclient": 1,
        "docker classic": 1,
    }
    assert not found["agreed"]
    assert any(
        line.startswith("containers/image picks entry 2 (linux/arm/v6), containerd picks entry 1")
        for line in found["disagreements"]
    )
    text = polyarch("explain", "--platform", "linux/arm/v7", ref, text=True)
    assert "differs: go-containerregistry runs nothing, containerd picks entry 1" in text.stdout


def test_explain_reads_the_config_of_an_entry_without_a_platform(
    registry: RegistryServer,
) -> None:
    repository = unique("explain/platformless")
    amd = make_image(AMD64, seed=1311, oci=True)
    ref = push_index(registry, repository, [amd], [amd.descriptor(with_platform=False)])

    result = polyarch("explain", "--platform", "linux/arm64", "--format", "json", ref, text=True)

    assert result.returncode == 0, result.stderr
    picks = {p["family"]: (p["entry"], p["reason"]) for p in json.loads(result.stdout)["picks"]}
    assert picks["containerd"] == (
        None,
        "entry 1 has no platform and its config says linux/amd64; no other is tried",
    )
    assert picks["docker classic"][0] == 1
    assert picks["containers/image"][0] == 1


# -- what an attacker builds: bounded work, right answers ------------------------------------


def nested_layout(path: Path, width: int, depth: int) -> str:
    """``depth`` levels of indexes, each naming the one below ``width`` times: 60 KB that
    is ``width ** depth`` ways down to one image."""
    from tests.content import Content
    from tests.imagegen import sha256_digest

    image = make_image(AMD64, seed=1320, oci=True)
    children: list[tuple[bytes, str]] = [(image.manifest, image.media_type)]
    below: dict[str, Any] = image.descriptor()
    for _ in range(depth):
        raw = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [below] * width}
        ).encode()
        children.append((raw, OCI_INDEX))
        below = {"mediaType": OCI_INDEX, "digest": sha256_digest(raw), "size": len(raw)}
    root, _ = children.pop()
    return Content(root, OCI_INDEX, tuple(children), dict(image.blobs)).write_layout(path, "t")


@pytest.mark.parametrize("command", ["lint", "verify"])
def test_a_child_named_many_times_at_every_level_is_looked_at_once(
    tmp_path: Path, command: str
) -> None:
    layout = nested_layout(tmp_path / "nested", width=20, depth=7)  # 20**7 paths

    result = polyarch(
        command, "--format", "json", "--require", "linux/amd64,linux/arm64", layout,
        text=True, timeout=60,
    )  # fmt: skip

    report = json.loads(result.stdout)
    # Each index once, the image once, its config (and for verify its blobs) once.
    assert report["checked"] <= 7 + 1 + 4
    # The 20 entries of the lowest index name one image (a duplicate); those above name
    # an index with no platform. --require looks down each nested index once too: the
    # amd64 image seven levels down is found, arm64 is not there.
    codes = {f["code"] for f in report["findings"]}
    assert codes <= {"duplicate-platform", "no-platform", "missing-platform"}
    missing = [f["message"] for f in report["findings"] if f["code"] == "missing-platform"]
    assert missing == ["no image for linux/arm64"]


def test_children_and_configs_are_read_once_however_often_they_are_named(
    registry: RegistryServer,
) -> None:
    repository = unique("lint/repeated")
    platforms = [{"os": "linux", "architecture": a} for a in ("amd64", "386", "s390x", "ppc64le")]
    images = [make_image(p, seed=1321, oci=True) for p in [*platforms, ARM64]]
    ref = push_index(registry, repository, images, [entry(i) for i in images] * 40)
    since = registry.mark()

    code, report = lint(ref)

    assert (code, report["findings"]) == (0, [])  # the same image again is no duplicate
    gets = [r for r in registry.requests(since) if r.method == "GET"]
    assert len(gets) == 1 + 5 + 5  # the index, each child, each config


def test_diff_of_many_entries_of_one_platform_is_linear(tmp_path: Path) -> None:
    from tests.content import Content

    image = make_image(AMD64, seed=1322, oci=True)
    layouts = []
    for count in (3000, 2999):
        root = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [image.descriptor()] * count}
        ).encode()
        content = Content(root, OCI_INDEX, ((image.manifest, image.media_type),), image.blobs)
        layouts.append(content.write_layout(tmp_path / str(count), "t"))

    result = polyarch("diff", "--format", "json", *layouts, text=True, timeout=60)

    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    removed = [e for e in report["entries"] if e["change"] == "removed"]
    assert [e["platform"] for e in removed] == ["linux/amd64 #3000"]


def test_artifacts_are_compared_and_explained_without_a_platform(tmp_path: Path) -> None:
    from tests.content import Content
    from tests.imagegen import sha256_digest

    layouts = []
    for payload in (b"one", b"two"):
        config = b"not json at all"
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": "application/vnd.example.thing",
                "config": {
                    "mediaType": "application/vnd.example.config",
                    "size": len(config),
                    "digest": sha256_digest(config),
                },
                "layers": [
                    {
                        "mediaType": "application/octet-stream",
                        "size": len(payload),
                        "digest": sha256_digest(payload),
                    }
                ],
            }
        ).encode()
        blobs = {sha256_digest(config): config, sha256_digest(payload): payload}
        content = Content(manifest, "application/vnd.oci.image.manifest.v1+json", (), blobs)
        layouts.append(content.write_layout(tmp_path / payload.decode(), "t"))

    compared = polyarch("diff", *layouts, text=True)
    explained = polyarch("explain", "--platform", "linux/amd64", layouts[0], text=True)

    assert compared.returncode == 1, compared.stderr  # different, not bad content
    assert explained.returncode != 6, explained.stderr
    assert "artifact" in explained.stdout
    assert lint(layouts[0])[0] == 0


def test_what_content_says_is_never_a_terminal_command(tmp_path: Path) -> None:
    from tests.content import Content

    hostile = {"os": "linux\x1b]0;pwned\x07", "architecture": "amd64\x1b[2J"}
    image = make_image(AMD64, seed=1323, oci=True)
    layouts = []
    for entries in ([{**image.descriptor(), "platform": hostile}], [image.descriptor()]):
        root = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        ).encode()
        content = Content(root, OCI_INDEX, ((image.manifest, image.media_type),), image.blobs)
        layouts.append(content.write_layout(tmp_path / str(len(layouts)), "t"))

    outputs = [
        polyarch("lint", layouts[0], text=True),
        polyarch("diff", *layouts, text=True),
        polyarch("explain", "--platform", "linux/amd64", layouts[0], text=True),
        polyarch("inspect", "--format", "text", layouts[0], text=True),
    ]

    for result in outputs:
        assert "Traceback" not in result.stderr
        printed = result.stdout + result.stderr
        assert "\x1b" not in printed, printed
        assert "\x07" not in printed, printed
    assert "\\u001b" in outputs[0].stdout  # shown, escaped
