"""``polyarch inspect`` against the real registry, differentially with the real docker CLI.

For the same content, ``docker manifest inspect`` and ``polyarch inspect`` print equal
JSON, and ``docker manifest inspect --verbose`` and ``polyarch inspect --verbose`` print
the same bytes. Where docker cannot (an index inside an index), the test says so and
checks polyarch's documented behaviour instead. Where polyarch deliberately differs
(without ``--verbose`` it prints what the registry sent, docker re-serializes), the test
pins the difference.

``docker manifest`` needs no daemon; every docker call gets its own ``DOCKER_CONFIG`` and
``--insecure`` for the loopback registry, and every polyarch call an empty
``POLYARCH_HOME``, so no local list shadows a remote one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.clirun import EXAMPLE, assert_clean_error
from tests.clirun import polyarch as run_polyarch
from tests.imagegen import (
    DOCKER_MANIFEST_LIST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    SyntheticImage,
    make_attestation,
    make_image,
    make_index,
    sha256_digest,
)
from tests.registry_server import RegistryServer

DOCKER = shutil.which("docker")

AMD64 = {"architecture": "amd64", "os": "linux"}
ARM64 = {"architecture": "arm64", "os": "linux", "variant": "v8"}
ARMV7 = {"architecture": "arm", "os": "linux", "variant": "v7"}
WINDOWS = {
    "architecture": "amd64",
    "os": "windows",
    "os.version": "10.0.17763.5458",
    "os.features": ["win32k"],
}


@pytest.fixture(scope="module", autouse=True)
def _docker_cli() -> None:
    if DOCKER is None:
        pytest.fail("the docker CLI is needed for the differential tests (docker manifest)")


@pytest.fixture
def homes(tmp_path: Path) -> dict[str, str]:
    """A fresh DOCKER_CONFIG and POLYARCH_HOME."""
    docker_config = tmp_path / "docker-config"
    polyarch_home = tmp_path / "polyarch-home"
    docker_config.mkdir()
    polyarch_home.mkdir()
    return {"DOCKER_CONFIG": str(docker_config), "POLYARCH_HOME": str(polyarch_home)}


@pytest.fixture
def repo(registry: RegistryServer) -> str:
    """A repository of its own in the shared registry: HOST/inspect/RANDOM."""
    return f"{registry.host}/inspect/{secrets.token_hex(5)}"


def run(
    argv: Sequence[str], env: dict[str, str], *, check: bool = False
) -> subprocess.CompletedProcess[bytes]:
    """docker (any argv) with ``env`` added; polyarch goes through :func:`polyarch`."""
    result = subprocess.run(
        list(argv),
        capture_output=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )
    if check:
        assert result.returncode == 0, (argv, result.stderr.decode())
    return result


def docker(
    env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    assert DOCKER is not None
    return run([DOCKER, "manifest", *args], env, check=check)


def polyarch(
    env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    result = run_polyarch(*args, env=env)
    if check:
        assert result.returncode == 0, (args, result.stderr.decode())
    return result


def path_of(ref: str) -> str:
    """``HOST/a/b`` -> ``a/b`` (the repository, as the harness wants it)."""
    return ref.split("/", 1)[1]


def push_images(registry: RegistryServer, ref: str, images: Sequence[SyntheticImage]) -> list[str]:
    """Push each image under the tag ``p<i>``; return their references."""
    refs = []
    for i, image in enumerate(images):
        registry.push_image(path_of(ref), image, tag=f"p{i}")
        refs.append(f"{ref}:p{i}")
    return refs


def push_list(
    registry: RegistryServer,
    ref: str,
    images: Sequence[SyntheticImage],
    raw: bytes,
    media_type: str,
    *,
    tag: str = "list",
) -> str:
    registry.push_index(path_of(ref), images, raw, media_type, tag=tag)
    return f"{ref}:{tag}"


def attestation(subject: SyntheticImage) -> tuple[dict[str, Any], bytes, dict[str, bytes]]:
    """A buildx-style provenance attestation of ``subject``: (index entry, manifest, blobs)."""
    made = make_attestation(subject)
    return made.descriptor(), made.manifest, dict(made.blobs)


def push_raw_manifest(registry: RegistryServer, ref: str, manifest: bytes, media_type: str) -> str:
    return registry.push_manifest(path_of(ref), sha256_digest(manifest), manifest, media_type)


def index_bytes(entries: Sequence[dict[str, Any]], **extra: Any) -> bytes:
    return json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(entries), **extra},
        indent=3,
    ).encode()


def assert_verbose_same(env: dict[str, str], ref: str) -> Any:
    """docker's and polyarch's --verbose output are the same bytes; return it parsed."""
    theirs = docker(env, "inspect", "--verbose", "--insecure", ref).stdout
    ours = polyarch(env, "inspect", "--verbose", "--insecure", ref).stdout
    assert ours == theirs
    return json.loads(ours)


def assert_plain_equal(env: dict[str, str], ref: str) -> bytes:
    """docker's and polyarch's plain output are equal JSON; return polyarch's bytes."""
    theirs = docker(env, "inspect", "--insecure", ref).stdout
    ours = polyarch(env, "inspect", "--insecure", ref).stdout
    assert json.loads(ours) == json.loads(theirs)
    return ours


# -- lists pushed by docker ---------------------------------------------------------------


def test_docker_list_pushed_by_docker(
    registry: RegistryServer, repo: str, homes: dict[str, str]
) -> None:
    images = [
        make_image(AMD64, seed=1),
        make_image(ARM64, seed=1),
        make_image(ARMV7, seed=1),
        make_image(WINDOWS, seed=1),
    ]
    members = push_images(registry, repo, images)
    target = f"{repo}:multi"
    docker(homes, "create", "--insecure", target, *members)
    docker(homes, "push", "--insecure", "--purge", target)

    raw = assert_plain_equal(homes, target)
    assert json.loads(raw)["mediaType"] == DOCKER_MANIFEST_LIST
    shown = assert_verbose_same(homes, target)
    assert isinstance(shown, list)
    assert len(shown) == 4
    list_digest = sha256_digest(raw)
    by_platform = {
        (
            e["Descriptor"]["platform"]["os"],
            e["Descriptor"]["platform"]["architecture"],
            e["Descriptor"]["platform"].get("variant"),
        ): e
        for e in shown
    }
    windows = by_platform[("windows", "amd64", None)]["Descriptor"]["platform"]
    assert windows["os.version"] == "10.0.17763.5458"
    assert windows["os.features"] == ["win32k"]
    assert by_platform[("linux", "arm", "v7")]
    for entry in shown:
        # Ref = reference.WithDigest(list ref, entry digest): the tag stays.
        assert entry["Ref"] == f"{target}@{entry['Descriptor']['digest']}"
        assert base64.b64decode(entry["Raw"]) in {image.manifest for image in images}
        assert "SchemaV2Manifest" in entry

    # By digest, and by tag and digest at once: docker's Ref forms too.
    assert_verbose_same(homes, f"{repo}@{list_digest}")
    assert_verbose_same(homes, f"{target}@{list_digest}")


# -- single images ------------------------------------------------------------------------


@pytest.mark.parametrize("oci", [False, True], ids=["docker-v2", "oci"])
@pytest.mark.parametrize(
    "platform", [AMD64, ARM64, ARMV7, WINDOWS], ids=["amd64", "arm64-v8", "arm-v7", "windows"]
)
def test_single_image(
    registry: RegistryServer,
    repo: str,
    homes: dict[str, str],
    oci: bool,
    platform: dict[str, Any],
) -> None:
    image = make_image(platform, oci=oci, seed=2)
    (ref,) = push_images(registry, repo, [image])

    raw = assert_plain_equal(homes, ref)
    assert raw == image.manifest  # polyarch: the registry's bytes; docker re-indents
    shown = assert_verbose_same(homes, ref)
    assert shown["Ref"] == ref
    assert shown["Descriptor"]["platform"] == platform
    assert ("OCIManifest" if oci else "SchemaV2Manifest") in shown
    assert_verbose_same(homes, f"{repo}@{image.manifest_digest}")


def _push_single_with_config(registry: RegistryServer, repo: str, config: bytes, tag: str) -> None:
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [],
            "annotations": {"note": "<&>"},  # Go's HTML escaping inside the manifest
        },
        indent=1,
    ).encode()
    registry.push_blob(path_of(repo), config)
    registry.push_manifest(path_of(repo), tag, manifest, OCI_MANIFEST)


def test_single_image_config_platform_read_as_go_reads_it(
    registry: RegistryServer, repo: str, homes: dict[str, str]
) -> None:
    """docker unmarshals the config into a Platform: null ignored, a platform with no
    variant at all, other keys left alone."""
    config = (
        b'{"architecture":"arm64","os":"freebsd","variant":null,'
        b'"os.version":"","os.features":["a","b"],"rootfs":{"type":"layers","diff_ids":[]}}'
    )
    _push_single_with_config(registry, repo, config, "odd")
    shown = assert_verbose_same(homes, f"{repo}:odd")
    assert shown["Descriptor"]["platform"] == {
        "architecture": "arm64",
        "os": "freebsd",
        "os.features": ["a", "b"],
    }


@pytest.mark.parametrize(
    ("config", "key"),
    [
        # docker reads arm64 and freebsd (keys matched without case, the last one wins);
        # an exact reader would see linux and no architecture at all.
        (b'{"Architecture":"arm64","os":"linux","OS":"freebsd"}', "Architecture"),
        (b'{"architecture":"amd64","architecture":"arm64","os":"linux"}', "architecture"),
        (b'{"architecture":"amd64","os":"linux","ARCHITECTURE":"arm64"}', "ARCHITECTURE"),
        # LONG S: Go folds it onto s.
        ('{"architecture":"amd64","o\u017f":"windows","os":"linux"}'.encode(), "o\u017f"),
    ],
)
def test_single_image_config_that_go_reads_otherwise_is_refused(
    registry: RegistryServer, repo: str, homes: dict[str, str], config: bytes, key: str
) -> None:
    """What Go's decoder and an exact reader would see differently is refused, never
    guessed at (exit 6), however docker reads it."""
    _push_single_with_config(registry, repo, config, "ambiguous")
    for args in (("--verbose",), ("--platform", "linux/amd64")):
        stderr = assert_clean_error(
            polyarch(homes, "inspect", *args, f"{repo}:ambiguous", check=False), 6
        )
        assert "ambiguous document" in stderr
        assert repr(key) in stderr


# -- OCI indexes --------------------------------------------------------------------------


def test_oci_index_with_annotations(
    registry: RegistryServer, repo: str, homes: dict[str, str]
) -> None:
    """docker reads an OCI index; without --verbose it rebuilds it and drops the index's
    annotations, polyarch prints the bytes as stored."""
    images = [make_image(AMD64, oci=True, seed=3), make_image(ARMV7, oci=True, seed=3)]
    raw = make_index(images, oci=True, annotations={"org.opencontainers.image.version": "1.0"})
    ref = push_list(registry, repo, images, raw, OCI_INDEX)

    theirs = json.loads(docker(homes, "inspect", "--insecure", ref).stdout)
    ours = polyarch(homes, "inspect", "--insecure", ref).stdout
    assert ours == raw
    assert "annotations" not in theirs
    assert theirs == {k: v for k, v in json.loads(raw).items() if k != "annotations"}
    shown = assert_verbose_same(homes, ref)
    assert [e["Descriptor"]["platform"] for e in shown] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm", "os": "linux", "variant": "v7"},
    ]
    assert all("OCIManifest" in e for e in shown)


def test_oci_index_with_attestations(
    registry: RegistryServer, repo: str, homes: dict[str, str]
) -> None:
    """A buildx image: two platforms, each with a provenance attestation."""
    images = [make_image(AMD64, oci=True, seed=4), make_image(ARM64, oci=True, seed=4)]
    entries: list[dict[str, Any]] = [image.descriptor() for image in images]
    for image in images:
        entry, manifest, blobs = attestation(image)
        for data in blobs.values():
            registry.push_blob(path_of(repo), data)
        push_raw_manifest(registry, repo, manifest, OCI_MANIFEST)
        entries.append(entry)
    ref = push_list(registry, repo, images, index_bytes(entries), OCI_INDEX)

    shown = assert_verbose_same(homes, ref)
    assert [e["Descriptor"]["platform"]["os"] for e in shown] == [
        "linux",
        "linux",
        "unknown",
        "unknown",
    ]
    assert "annotations" not in shown[2]["Descriptor"]  # docker keeps only the platform
    text = polyarch(homes, "inspect", "--format", "text", ref).stdout.decode()
    assert text.count("attestation of sha256:") == 2
    assert "2 images, 2 attestations" in text
    assert "https://slsa.dev/provenance/v0.2" in text
    assert "in-toto" in text


def test_oci_index_entry_without_platform(
    registry: RegistryServer, repo: str, homes: dict[str, str]
) -> None:
    """OCI makes the platform optional; docker then shows Go's empty PlatformSpec."""
    images = [make_image(AMD64, oci=True, seed=5), make_image(ARMV7, oci=True, seed=5)]
    entries = [images[0].descriptor(), images[1].descriptor(with_platform=False)]
    ref = push_list(registry, repo, images, index_bytes(entries), OCI_INDEX)
    shown = assert_verbose_same(homes, ref)
    assert shown[1]["Descriptor"]["platform"] == {"architecture": "", "os": ""}
    # The tree says what the image's config says instead.
    text = polyarch(homes, "inspect", "--format", "text", ref).stdout.decode()
    assert "linux/arm/v7" in text


def test_docker_list_of_oci_manifests(
    registry: RegistryServer, repo: str, homes: dict[str, str]
) -> None:
    images = [make_image(AMD64, oci=True, seed=6), make_image(WINDOWS, seed=6)]
    ref = push_list(registry, repo, images, make_index(images, oci=False), DOCKER_MANIFEST_LIST)
    shown = assert_verbose_same(homes, ref)
    assert "OCIManifest" in shown[0]
    assert "SchemaV2Manifest" in shown[1]


def test_index_in_an_index_docker_refuses_polyarch_shows(
    registry: RegistryServer, repo: str, homes: dict[str, str]
) -> None:
    """docker fails on an index inside an index ("unsupported manifest type"). polyarch
    writes such an entry with Ref, Descriptor and Raw only, and describes it in the tree."""
    images = [make_image(AMD64, oci=True, seed=7), make_image(ARM64, oci=True, seed=7)]
    inner = make_index(images[1:], oci=True)
    push_list(registry, repo, images[1:], inner, OCI_INDEX, tag="inner")
    registry.push_image(path_of(repo), images[0])
    inner_entry = {
        "mediaType": OCI_INDEX,
        "digest": sha256_digest(inner),
        "size": len(inner),
    }
    outer = index_bytes([images[0].descriptor(), inner_entry])
    registry.push_manifest(path_of(repo), "outer", outer, OCI_INDEX)
    ref = f"{repo}:outer"

    theirs = docker(homes, "inspect", "--verbose", "--insecure", ref, check=False)
    assert theirs.returncode != 0
    assert b"unsupported manifest type" in theirs.stderr
    shown = json.loads(polyarch(homes, "inspect", "--verbose", ref).stdout)
    assert shown[1] == {
        "Ref": f"{ref}@{sha256_digest(inner)}",
        "Descriptor": {
            "mediaType": OCI_INDEX,
            "digest": sha256_digest(inner),
            "size": len(inner),
            "platform": {"architecture": "", "os": ""},
        },
        "Raw": base64.b64encode(inner).decode(),
    }
    text = polyarch(homes, "inspect", "--format", "text", ref).stdout.decode()
    assert "linux/arm64/v8" in text  # the nested index's own entry


# -- OCI layouts ----------------------------------------------------------------------------


def push_layout(registry: RegistryServer, ref: str, layout: Path, tag: str) -> str:
    """Copy every blob of ``layout`` into the registry, manifests bottom-up, ``tag`` last."""
    index = json.loads((layout / "index.json").read_bytes())
    root = index["manifests"][0]
    blobs = layout / "blobs" / "sha256"

    def read(digest: str) -> bytes:
        return (blobs / digest.partition(":")[2]).read_bytes()

    top = json.loads(read(root["digest"]))
    for child in top["manifests"]:
        manifest = read(child["digest"])
        for blob in [json.loads(manifest)["config"], *json.loads(manifest)["layers"]]:
            registry.push_blob(path_of(ref), read(blob["digest"]))
        push_raw_manifest(registry, ref, manifest, child["mediaType"])
    registry.push_manifest(path_of(ref), tag, read(root["digest"]), root["mediaType"])
    return f"{ref}:{tag}"


def test_layout_verbose_is_docker_shape(
    registry: RegistryServer, repo: str, homes: dict[str, str]
) -> None:
    """The example layout, copied byte for byte into the registry: docker's verbose output
    for the registry copy equals polyarch's for the layout, apart from each Ref."""
    remote = push_layout(registry, repo, EXAMPLE, "1.0")
    theirs = json.loads(docker(homes, "inspect", "--verbose", "--insecure", remote).stdout)
    result = polyarch(homes, "inspect", "--verbose", f"oci:{EXAMPLE}:1.0")
    ours = json.loads(result.stdout)
    assert result.stdout.endswith(b"]\n")
    assert len(ours) == 3
    for mine, docker_entry in zip(ours, theirs, strict=True):
        digest = mine["Descriptor"]["digest"]
        assert mine["Ref"] == f"oci:{EXAMPLE}@{digest}"
        assert docker_entry["Ref"] == f"{remote}@{digest}"
        assert {**mine, "Ref": None} == {**docker_entry, "Ref": None}
    # polyarch reads the registry copy as docker does.
    assert_verbose_same(homes, remote)
    # The layout's only image, when no tag is given.
    assert polyarch(homes, "inspect", "-v", f"oci:{EXAMPLE}").stdout == result.stdout


def test_layout_text_tree(homes: dict[str, str]) -> None:
    text = polyarch(homes, "inspect", "--format", "text", f"oci:{EXAMPLE}:1.0").stdout.decode()
    lines = text.splitlines()
    assert lines[0].startswith(f"oci:{EXAMPLE}:1.0  OCI index  sha256:4d6e2ec88a1e  3 images")
    for platform in ("linux/amd64", "linux/arm64/v8", "linux/arm/v7"):
        assert sum(platform + "  OCI manifest" in line for line in lines) == 1
    assert sum("config  sha256:" in line for line in lines) == 3
    assert all(re.search(r"sha256:[0-9a-f]{12}\b", line) for line in lines)
    assert "\x1b[" not in text  # piped: no colours
    full = polyarch(homes, "inspect", "--format", "text", "-v", f"oci:{EXAMPLE}:1.0").stdout
    assert b"sha256:4d6e2ec88a1e8279628efe9fd956a504cc04062cc7e5c81d4ecabe51049fcb6f" in full


def test_layout_text_single_image(homes: dict[str, str]) -> None:
    digest = "sha256:cec20b010194999a0e53362159d6e24f2fe992852a7a9c1f106d9d3ea3aa067c"
    text = polyarch(homes, "inspect", "--format", "text", f"oci:{EXAMPLE}@{digest}").stdout.decode()
    lines = text.splitlines()
    assert lines[0].startswith(
        f"oci:{EXAMPLE}@{digest}  linux/arm64/v8  OCI manifest  sha256:cec20b010194"
    )
    assert lines[0].endswith(" in 1 layer")
    assert lines[1].lstrip("├└─ ").startswith("config")


def test_json_output_does_not_import_rich(homes: dict[str, str]) -> None:
    code = (
        "import sys; from polyarch.cli import run\n"
        f"run(['inspect', '-v', 'oci:{EXAMPLE}:1.0'])\n"
        "sys.stderr.write(str('rich' in sys.modules))"
    )
    result = run([sys.executable, "-c", code], homes, check=True)
    assert result.stderr.decode().endswith("False")


def test_platform_with_verbose_describes_the_chosen_image(homes: dict[str, str]) -> None:
    result = polyarch(homes, "inspect", "-v", "--platform", "linux/arm64", f"oci:{EXAMPLE}:1.0")
    shown = json.loads(result.stdout)
    assert shown["Descriptor"]["platform"] == {
        "architecture": "arm64",
        "os": "linux",
        "variant": "v8",
    }
    assert shown["Ref"] == f"oci:{EXAMPLE}@{shown['Descriptor']['digest']}"
    assert b"exact match" in result.stderr


# -- requests and concurrency -----------------------------------------------------------------


def served_since(registry: RegistryServer, start: int) -> tuple[list[Any], list[str]]:
    """Requests served since ``start`` and the logrus lines for them (with client ports)."""
    requests = registry.requests(since=start)
    end = registry.mark()
    with registry.log_path.open("rb") as log:
        log.seek(start)
        lines = log.read(end - start).decode("utf-8", "replace").splitlines()
    return requests, lines


def client_ports(lines: list[str], user_agent: str, path_part: str) -> set[str]:
    ports = set()
    for line in lines:
        agent = re.search(r'http\.request\.useragent="?([^" ]+)', line)
        if agent and agent.group(1).startswith(user_agent) and path_part in line:
            match = re.search(r'http\.request\.remoteaddr="?[\d.]+:(\d+)', line)
            if match:
                ports.add(match.group(1))
    return ports


def test_verbose_makes_fewer_requests_than_docker_and_fetches_in_parallel(
    registry: RegistryServer, repo: str, homes: dict[str, str]
) -> None:
    platforms = [
        {"architecture": arch, "os": "linux"}
        for arch in ("amd64", "arm64", "386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64")
    ]
    images = [make_image(p, seed=8, layers=1) for p in platforms]
    ref = push_list(registry, repo, images, make_index(images, oci=False), DOCKER_MANIFEST_LIST)
    n = len(images)

    start = registry.mark()
    theirs = docker(homes, "inspect", "--verbose", "--insecure", ref).stdout
    docker_requests, _ = served_since(registry, start)
    start = registry.mark()
    ours = polyarch(homes, "inspect", "--verbose", "--insecure", ref).stdout
    our_requests, lines = served_since(registry, start)
    assert ours == theirs

    docker_count = sum(r.user_agent.startswith("Docker-Client/") for r in docker_requests)
    our_count = sum(r.user_agent.startswith("polyarch/") for r in our_requests)
    # docker: /v2/ and the list twice (it tries "an image" first), then per child its
    # manifest and its config: 2n + 4. polyarch: the list once, then the same per child.
    assert docker_count == 2 * n + 4, [r.uri for r in docker_requests]
    # The list, then each child manifest: the children's configs are not needed for
    # docker's shape (each platform comes from the list entry).
    assert our_count == n + 1, [r.uri for r in our_requests]
    assert our_count < docker_count
    # Fetched in parallel: the children's requests came over several connections.
    assert len(client_ports(lines, "polyarch/", "/manifests/sha256:")) > 1

    start = registry.mark()
    polyarch(homes, "inspect", "--insecure", ref)
    plain, _ = served_since(registry, start)
    assert [r.path for r in plain] == [f"/v2/{path_of(repo)}/manifests/list"]


# -- local lists (polyarch create / docker manifest create) ---------------------------------


def test_local_list_matches_docker(
    registry: RegistryServer, repo: str, homes: dict[str, str]
) -> None:
    images = [make_image(WINDOWS, seed=9), make_image(ARMV7, seed=9), make_image(AMD64, seed=9)]
    members = push_images(registry, repo, images)
    target = f"{repo}:local"
    docker(homes, "create", "--insecure", target, *members)
    polyarch(homes, "create", "--insecure", target, *members)

    for verbose in ([], ["--verbose"]):
        theirs = docker(homes, "inspect", *verbose, target).stdout
        ours = polyarch(homes, "inspect", *verbose, target).stdout
        if verbose:
            assert ours == theirs
        else:
            assert ours + b"\n" == theirs  # the list push sends, + docker's Println
    for member in members:
        theirs = docker(homes, "inspect", "--verbose", target, member).stdout
        ours = polyarch(homes, "inspect", "--verbose", target, member).stdout
        assert ours == theirs
        plain = polyarch(homes, "inspect", target, member).stdout
        assert json.loads(plain) == json.loads(docker(homes, "inspect", target, member).stdout)

    text = polyarch(homes, "inspect", "--format", "text", target).stdout.decode()
    assert "local, not pushed" in text
    assert f"from {members[0]}" in text
    text = polyarch(homes, "inspect", "--format", "text", target, members[1]).stdout.decode()
    assert "linux/arm/v7" in text


def test_local_list_is_looked_up_before_the_registry(
    registry: RegistryServer, repo: str, homes: dict[str, str]
) -> None:
    """As docker does: a local list shadows the remote tag of the same name."""
    images = [make_image(AMD64, seed=10), make_image(ARM64, seed=10)]
    pushed = push_list(registry, repo, images, make_index(images, oci=False), DOCKER_MANIFEST_LIST)
    (member,) = push_images(registry, repo, images[:1])
    polyarch(homes, "create", "--insecure", pushed, member)
    docker(homes, "create", "--insecure", pushed, member)
    shown = json.loads(polyarch(homes, "inspect", pushed).stdout)
    assert len(shown["manifests"]) == 1
    assert (
        polyarch(homes, "inspect", "-v", pushed).stdout
        == docker(homes, "inspect", "-v", pushed).stdout
    )
    chosen = polyarch(homes, "inspect", "--platform", "linux/amd64", pushed)
    assert chosen.stdout == images[0].manifest


# -- errors -----------------------------------------------------------------------------------


def test_missing_child_is_not_found(
    registry: RegistryServer, repo: str, homes: dict[str, str]
) -> None:
    images = [make_image(AMD64, seed=11), make_image(ARMV7, seed=11)]
    ref = push_list(registry, repo, images, make_index(images, oci=False), DOCKER_MANIFEST_LIST)
    gone = images[1].manifest_digest
    deleted = registry.request("DELETE", f"/v2/{path_of(repo)}/manifests/{gone}")
    assert deleted.status == 202

    assert docker(homes, "inspect", "-v", "--insecure", ref, check=False).returncode == 1
    for args in (["-v"], ["--format", "text"]):
        stderr = assert_clean_error(polyarch(homes, "inspect", *args, ref, check=False), 3)
        assert f"entry 2 (linux/arm/v7) of {repo[: repo.index('/')]}" in stderr
        assert gone in stderr
        assert "hint: " in stderr
    # Without --verbose the list itself is still shown: nothing else is fetched.
    assert polyarch(homes, "inspect", ref).stdout == make_index(images, oci=False)


def test_missing_config_is_not_found(
    registry: RegistryServer, repo: str, homes: dict[str, str]
) -> None:
    images = [make_image(AMD64, seed=12), make_image(ARM64, seed=12)]
    ref = push_list(registry, repo, images, make_index(images, oci=False), DOCKER_MANIFEST_LIST)
    deleted = registry.request("DELETE", f"/v2/{path_of(repo)}/blobs/{images[1].config_digest}")
    assert deleted.status == 202
    assert docker(homes, "inspect", "-v", "--insecure", ref, check=False).returncode == 1
    # The verbose JSON does not need the configs (docker fetches them anyway and fails);
    # the text view shows what the configs say, so it needs them.
    assert polyarch(homes, "inspect", "-v", ref, check=False).returncode == 0
    stderr = assert_clean_error(polyarch(homes, "inspect", "--format", "text", ref, check=False), 3)
    assert "the config of entry 2 (linux/arm64/v8)" in stderr
    assert images[1].config_digest in stderr


def test_corrupt_child_in_layout_is_bad_content(tmp_path: Path, homes: dict[str, str]) -> None:
    layout = tmp_path / "layout"
    shutil.copytree(EXAMPLE, layout)
    child = (
        layout
        / "blobs"
        / "sha256"
        / ("cec20b010194999a0e53362159d6e24f2fe992852a7a9c1f106d9d3ea3aa067c")
    )
    child.write_bytes(child.read_bytes().replace(b"{", b"{ ", 1))
    stderr = assert_clean_error(polyarch(homes, "inspect", "-v", f"oci:{layout}", check=False), 6)
    assert "sha256:cec20b010194" in stderr


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["a", "b", "c"], 2, "expected REF or LIST REF"),
        (["--platform", "linux/amd64", "list", "member"], 2, "--platform"),
        (["--format", "yaml", "x"], 2, "'yaml' is not one of"),
        (["Upper/Case"], 2, "lowercase"),
        (["localhost:1/no/list:1", "localhost:1/x:1"], 3, "no local manifest list"),
    ],
)
def test_bad_input(homes: dict[str, str], args: list[str], code: int, fragment: str) -> None:
    result = polyarch(homes, "inspect", *args, check=False)
    assert fragment in assert_clean_error(result, code)


def test_member_not_in_local_list(
    registry: RegistryServer, repo: str, homes: dict[str, str]
) -> None:
    (member,) = push_images(registry, repo, [make_image(AMD64, seed=13)])
    polyarch(homes, "create", "--insecure", f"{repo}:l", member)
    stderr = assert_clean_error(
        polyarch(homes, "inspect", f"{repo}:l", f"{repo}:other", check=False), 3
    )
    assert "is not in the local list" in stderr
    assert f"its members: {member}" in stderr


def test_missing_manifest_is_not_found(
    registry: RegistryServer, repo: str, homes: dict[str, str]
) -> None:
    for args in ([], ["-v"], ["--format", "text"]):
        stderr = assert_clean_error(
            polyarch(homes, "inspect", *args, f"{repo}:absent", check=False), 3
        )
        assert f"{path_of(repo)}:absent not found" in stderr


# -- describe: concurrency, deterministically ---------------------------------------------------


class _BarrierStore:
    """A store whose child manifest fetches only complete when all of them are in flight."""

    def __init__(self, index: bytes, images: Sequence[SyntheticImage]) -> None:
        from polyarch.models import parse_manifest

        self.location = "test:barrier"
        self.top = parse_manifest(index)
        self.manifests = {i.manifest_digest: parse_manifest(i.manifest) for i in images}
        self.blobs = {d: b for i in images for d, b in i.blobs.items()}
        self.barrier = threading.Barrier(len(images), timeout=10)

    def get_manifest(self, identifier: str) -> Any:
        if identifier == "top":
            return self.top
        self.barrier.wait()  # BrokenBarrierError if fetched one after another
        return self.manifests[identifier]

    def get_blob(self, descriptor: Any) -> bytes:
        return self.blobs[descriptor.digest]


def test_describe_fetches_children_concurrently() -> None:
    from polyarch.ops.describe import IndexDescription, describe

    images = [
        make_image({"architecture": a, "os": "linux"}, seed=14) for a in ("amd64", "arm64", "386")
    ]
    store = _BarrierStore(make_index(images, oci=True), images)
    description = describe(store, "top")  # type: ignore[arg-type]
    assert isinstance(description, IndexDescription)
    assert [c.descriptor.digest for c in description.children] == [
        i.manifest_digest for i in images
    ]


def test_describe_one_worker_is_sequential() -> None:
    import threading as _threading

    from polyarch.ops.describe import describe

    images = [make_image({"architecture": a, "os": "linux"}, seed=15) for a in ("amd64", "arm64")]
    store = _BarrierStore(make_index(images, oci=True), images)
    store.barrier = _threading.Barrier(2, timeout=0.5)
    with pytest.raises(_threading.BrokenBarrierError):
        describe(store, "top", jobs=1)  # type: ignore[arg-type]


def test_an_entry_digest_of_an_unknown_algorithm_is_bad_content(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    shutil.copytree(EXAMPLE, layout)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": "md5:" + "a" * 32,
                    "size": 10,
                    "platform": {"os": "linux", "architecture": "amd64"},
                }
            ],
        }
    ).encode()
    digest = hashlib.sha256(index).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(index)
    top = json.loads((layout / "index.json").read_text())
    top["manifests"].append(
        {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": f"sha256:{digest}",
            "size": len(index),
            "annotations": {"org.opencontainers.image.ref.name": "md5"},
        }
    )
    (layout / "index.json").write_text(json.dumps(top))

    result = run_polyarch("inspect", "--format", "text", f"oci:{layout}:md5", text=True)

    assert "algorithm polyarch cannot verify" in assert_clean_error(result, 6)
