"""``polyarch create / annotate / push / rm``, run as a user runs them, beside docker.

Differential tests give the real ``docker manifest`` (Docker CLI, no daemon needed) and
polyarch the same inputs and require the same pushed digest, read back with ``skopeo
inspect --raw``. The other tests cover what docker cannot do (index members with
attestations, members on another registry, duplicate platforms named, ...) with the
message and exit code a user sees. Each test gets its own ``POLYARCH_HOME`` and
``DOCKER_CONFIG`` and its own repositories on the shared registry.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.clirun import polyarch
from tests.content import push_buildx_image
from tests.imagegen import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    SyntheticImage,
    make_image,
    sha256_digest,
)
from tests.registry_server import AccessLogEntry, RegistryFactory, RegistryServer

DOCKER = shutil.which("docker")
SKOPEO = shutil.which("skopeo") or "skopeo"

IN_TOTO = "application/vnd.in-toto+json"
REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"

#: 32 distinct platforms, each unique however polyarch normalizes it (no bare ``arm``,
#: no ``arm64`` beside ``arm64/v8``): the first 2 and 8 make the smaller lists.
PLATFORMS: tuple[dict[str, Any], ...] = (
    {"os": "linux", "architecture": "amd64"},
    {"os": "linux", "architecture": "arm64", "variant": "v8"},
    {"os": "linux", "architecture": "arm", "variant": "v7"},
    {"os": "linux", "architecture": "arm", "variant": "v6"},
    {"os": "linux", "architecture": "386"},
    {"os": "linux", "architecture": "ppc64le"},
    {"os": "linux", "architecture": "s390x"},
    {"os": "linux", "architecture": "riscv64"},
    {"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.5458"},
    {"os": "windows", "architecture": "amd64", "os.version": "10.0.20348.2322"},
    {
        "os": "windows",
        "architecture": "amd64",
        "os.version": "10.0.26100.1742",
        "os.features": ["win32k"],
    },
    {"os": "windows", "architecture": "arm64", "os.version": "10.0.26100.1742"},
    {"os": "linux", "architecture": "amd64", "variant": "v2"},
    {"os": "linux", "architecture": "amd64", "variant": "v3"},
    {"os": "linux", "architecture": "amd64", "variant": "v4"},
    {"os": "linux", "architecture": "arm", "variant": "v5"},
    {"os": "linux", "architecture": "arm64", "variant": "v9"},
    {"os": "linux", "architecture": "loong64"},
    {"os": "linux", "architecture": "mips64le"},
    {"os": "linux", "architecture": "mips64"},
    {"os": "linux", "architecture": "ppc64"},
    {"os": "freebsd", "architecture": "amd64"},
    {"os": "freebsd", "architecture": "arm64"},
    {"os": "darwin", "architecture": "arm64"},
    {"os": "windows", "architecture": "386", "os.version": "10.0.17763.5458"},
    {"os": "windows", "architecture": "amd64", "os.version": "10.0.14393.6709"},
    {"os": "windows", "architecture": "amd64", "os.version": "10.0.19041.1415"},
    {"os": "windows", "architecture": "amd64", "os.version": "10.0.22000.2538"},
    {"os": "windows", "architecture": "amd64", "os.version": "10.0.25398.709"},
    {"os": "linux", "architecture": "s390x", "os.features": ["vx"]},
    {"os": "linux", "architecture": "riscv64", "variant": "rva22u64"},
    {"os": "solaris", "architecture": "amd64"},
)


# -- harness ------------------------------------------------------------------------------


@dataclass
class Workbench:
    """One test's tools: polyarch and docker with their own homes, on one registry."""

    registry: RegistryServer
    tmp: Path
    prefix: str

    @property
    def home(self) -> Path:
        return self.tmp / "polyarch-home"

    @property
    def docker_config(self) -> Path:
        return self.tmp / "docker-config"

    def env(self, docker_config: Path | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "POLYARCH_"))}
        env["POLYARCH_HOME"] = str(self.home)
        env["DOCKER_CONFIG"] = str(docker_config or self.docker_config)
        return env

    def polyarch(
        self, *args: str, docker_config: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        home = {"POLYARCH_HOME": str(self.home)}
        config = {"DOCKER_CONFIG": str(docker_config or self.docker_config)}
        return polyarch(*args, env={**home, **config}, text=True, isolated=True)

    def docker(self, *args: str) -> subprocess.CompletedProcess[str]:
        if DOCKER is None:
            pytest.fail("the docker CLI is not installed; the differential tests need it")
        return subprocess.run(
            [DOCKER, "manifest", *args],
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=120,
            check=False,
        )

    def repo(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def ref(self, name: str, tag: str, *, registry: RegistryServer | None = None) -> str:
        return f"{(registry or self.registry).host}/{self.repo(name)}:{tag}"

    def seed(
        self,
        name: str,
        images: Mapping[str, SyntheticImage],
        *,
        registry: RegistryServer | None = None,
    ) -> list[str]:
        """Push ``images`` to repository ``name`` under their tags; their references."""
        server = registry or self.registry
        for tag, image in images.items():
            server.push_image(self.repo(name), image, tag=tag)
        return [self.ref(name, tag, registry=server) for tag in images]

    def pending(self) -> dict[str, bytes]:
        """Every file under POLYARCH_HOME but the cache (what was fetched and verified),
        for byte-for-byte before/after comparisons."""
        if not self.home.exists():
            return {}
        return {
            str(p.relative_to(self.home)): p.read_bytes()
            for p in sorted(self.home.rglob("*"))
            if p.is_file() and p.relative_to(self.home).parts[0] != "cache"
        }


@pytest.fixture
def bench(registry: RegistryServer, tmp_path: Path) -> Workbench:
    return Workbench(registry, tmp_path, f"l{uuid.uuid4().hex[:10]}")


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def failed(result: subprocess.CompletedProcess[str], code: int) -> str:
    """A clean polyarch error: the exit code, no traceback, nothing on stdout."""
    assert result.returncode == code, f"exit {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("polyarch: error: "), result.stderr
    assert result.stdout == ""
    return result.stderr


def docker_failed(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    return result.stderr


def write_docker_config(
    directory: Path, host: str, username: str | None, password: str | None
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    secret = base64.b64encode(f"{username}:{password}".encode()).decode()
    (directory / "config.json").write_text(json.dumps({"auths": {host: {"auth": secret}}}))


def skopeo_raw(ref: str, *, creds: str | None = None) -> bytes:
    """``skopeo inspect --raw`` of a registry reference, or of ``oci:PATH...``."""
    if ref.startswith("oci:"):
        args = [SKOPEO, "inspect", "--raw", ref]
    else:
        args = [SKOPEO, "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"]
    if creds:
        args += ["--creds", creds]
    return subprocess.run(args, capture_output=True, check=True, timeout=60).stdout


def polyarch_list(
    bench: Workbench,
    target: str,
    members: Sequence[str],
    annotations: Iterable[tuple[str, Sequence[str]]] = (),
    *push_args: str,
) -> str:
    """create (+ annotate) + push with polyarch; the digest push printed."""
    ok(bench.polyarch("create", "--insecure", target, *members))
    for member, flags in annotations:
        ok(bench.polyarch("annotate", target, member, *flags))
    pushed = ok(bench.polyarch("push", "--insecure", *push_args, target))
    digest = pushed.stdout.strip()
    assert pushed.stdout == digest + "\n"  # stdout is the digest alone
    assert digest.startswith("sha256:")
    return digest


def docker_list(
    bench: Workbench,
    target: str,
    members: Sequence[str],
    annotations: Iterable[tuple[str, Sequence[str]]] = (),
) -> str:
    """The same with ``docker manifest``; the digest its push printed (last line)."""
    ok(bench.docker("create", "--insecure", target, *members))
    for member, flags in annotations:
        ok(bench.docker("annotate", target, member, *flags))
    return ok(bench.docker("push", "--insecure", target)).stdout.strip().splitlines()[-1]


def assert_same_list(docker_ref: str, docker_digest: str, ours_ref: str, ours: str) -> bytes:
    """Both tools pushed the same bytes, and the registry serves them under that digest."""
    theirs = skopeo_raw(docker_ref)
    raw = skopeo_raw(ours_ref)
    assert sha256_digest(theirs) == docker_digest
    assert sha256_digest(raw) == ours
    assert raw == theirs
    assert ours == docker_digest
    return raw


def images_for(
    platforms: Sequence[Mapping[str, Any]], *, seed: int = 0, oci: Any = False
) -> dict[str, SyntheticImage]:
    """Tag ``pNN`` -> image; ``oci`` is a bool or a predicate on the position."""
    return {
        f"p{i:02d}": make_image(
            platform, seed=seed, layers=2, oci=oci(i) if callable(oci) else bool(oci)
        )
        for i, platform in enumerate(platforms)
    }


def manifest_exists(server: RegistryServer, repository: str, digest: str) -> bool:
    # distribution 2.8 hides OCI manifests from clients that do not accept them.
    accept = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST))
    response = server.request(
        "HEAD", f"/v2/{repository}/manifests/{digest}", headers={"Accept": accept}
    )
    return response.status == 200


def blob_exists(server: RegistryServer, repository: str, digest: str) -> bool:
    return server.request("HEAD", f"/v2/{repository}/blobs/{digest}").status == 200


def writes(entries: Iterable[AccessLogEntry]) -> list[AccessLogEntry]:
    return [e for e in entries if e.method in ("PUT", "POST", "PATCH", "DELETE")]


def test_platform_table_is_32_distinct_platforms() -> None:
    from polyarch.platform import Platform, normalize

    keys = {normalize(Platform.from_dict(p)) for p in PLATFORMS}
    assert len(PLATFORMS) == len(keys) == 32


# -- differential: the same digest as docker ----------------------------------------------


@pytest.mark.parametrize("count", [2, 8, 32])
@pytest.mark.parametrize("where", ["same-repository", "other-repository"])
def test_same_digest_as_docker(bench: Workbench, count: int, where: str) -> None:
    # Every third image OCI: a mixed list, first entry Docker v2, so a Docker list.
    images = images_for(PLATFORMS[:count], seed=count, oci=lambda i: i % 3 == 1)
    members = bench.seed("src", images)
    if where == "same-repository":
        docker_target, ours_target = bench.ref("src", "docker"), bench.ref("src", "polyarch")
    else:
        docker_target, ours_target = bench.ref("dst-docker", "1"), bench.ref("dst-ours", "1")
    theirs = docker_list(bench, docker_target, members)
    start = bench.registry.mark()
    ours = polyarch_list(bench, ours_target, members)
    served = bench.registry.requests(start)
    raw = assert_same_list(docker_target, theirs, ours_target, ours)
    doc = json.loads(raw)
    assert doc["mediaType"] == DOCKER_MANIFEST_LIST
    # No blob bytes went up: same repository, nothing to do; another one, mounts.
    assert not [e for e in served if e.method in ("PATCH", "PUT") and "/blobs/" in e.path]
    mounts = [e for e in served if e.method == "POST"]
    assert all("mount" in e.query and e.status == 201 for e in mounts)
    assert bool(mounts) == (where == "other-repository")
    assert [e["digest"] for e in doc["manifests"]] == [i.manifest_digest for i in images.values()]
    if where == "other-repository":
        # Member manifests were put by digest into the target, as docker does.
        for image in images.values():
            assert manifest_exists(bench.registry, bench.repo("dst-ours"), image.manifest_digest)


def test_same_digest_as_docker_members_from_several_repositories(bench: Workbench) -> None:
    """docker orders members by file-safe name ('/' -> '_', ':' -> '-'), not as given."""
    images = images_for(PLATFORMS[:6], seed=5, oci=lambda i: i in (0, 3))
    p00, p01, p02, p03, p04, p05 = images
    members = [
        *bench.seed("a_b", {p03: images[p03]}),
        *bench.seed("a/b", {p01: images[p01]}),
        *bench.seed("a", {p02: images[p02]}),
        *bench.seed("a-b", {p00: images[p00]}),
    ]
    bench.seed("a", {p04: images[p04], "latest": images[p05]})
    host = bench.registry.host
    members.append(f"{host}/{bench.repo('a')}@{images[p04].manifest_digest}")
    members.append(f"{host}/{bench.repo('a')}")  # no tag: docker names it a:latest
    theirs = docker_list(bench, bench.ref("dst", "docker"), members)
    ours = polyarch_list(bench, bench.ref("dst", "ours"), members)
    raw = assert_same_list(bench.ref("dst", "docker"), theirs, bench.ref("dst", "ours"), ours)
    order = [e["digest"] for e in json.loads(raw)["manifests"]]
    # As file names: a-b-p00 < a-latest < a-p02 < a@sha256-... < a_b-p01 (a/b) <
    # a_b-p03 (a_b); the references as written would sort a, a-b, a/b, a:p02, a@..., a_b.
    assert order == [images[t].manifest_digest for t in (p00, p05, p02, p04, p01, p03)]
    assert json.loads(raw)["mediaType"] == OCI_INDEX  # p00, first, is OCI


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        pytest.param(("a-oci", "b-docker"), OCI_INDEX, id="oci-sorts-first"),
        pytest.param(("b-oci", "a-docker"), DOCKER_MANIFEST_LIST, id="docker-sorts-first"),
    ],
)
def test_mixed_docker_and_oci_members_media_type(
    bench: Workbench, tags: tuple[str, str], expected: str
) -> None:
    oci_tag, docker_tag = tags
    images = {
        oci_tag: make_image(PLATFORMS[1], seed=40, oci=True),
        docker_tag: make_image(PLATFORMS[0], seed=40),
    }
    members = bench.seed("src", images)
    # Named on the command line opposite to how they sort: the sort decides.
    named = sorted(members, reverse=True)
    theirs = docker_list(bench, bench.ref("src", "docker"), named)
    ours = polyarch_list(bench, bench.ref("src", "ours"), named)
    raw = assert_same_list(bench.ref("src", "docker"), theirs, bench.ref("src", "ours"), ours)
    assert json.loads(raw)["mediaType"] == expected


def test_member_order_on_the_command_line_does_not_matter(bench: Workbench) -> None:
    images = images_for(PLATFORMS[:8], seed=8, oci=lambda i: i % 2 == 0)
    members = bench.seed("src", images)
    shuffled = members[:]
    random.Random(8).shuffle(shuffled)
    assert shuffled != members
    theirs = docker_list(bench, bench.ref("src", "docker"), shuffled)
    ours = polyarch_list(bench, bench.ref("src", "ours"), list(reversed(members)))
    raw = assert_same_list(bench.ref("src", "docker"), theirs, bench.ref("src", "ours"), ours)
    assert json.loads(raw)["mediaType"] == OCI_INDEX  # p00 is OCI and sorts first


def test_same_bytes_as_docker_after_annotate(bench: Workbench) -> None:
    platforms = [
        {"os": "linux", "architecture": "amd64"},
        {"os": "linux", "architecture": "arm64"},
        {"os": "linux", "architecture": "s390x"},
        {"os": "linux", "architecture": "386"},
    ]
    images = images_for(platforms, seed=50, oci=lambda i: i == 0)
    members = bench.seed("src", images)
    annotations: list[tuple[str, list[str]]] = [
        (
            members[0],
            ["--os", "windows", "--arch", "amd64", "--os-version", "10.0.17763.5458"],
        ),
        (members[0], ["--os-features", "win32k,gpu"]),
        (members[0], ["--os-features", "gpu", "--os-features", "hyperv"]),
        (members[1], ["--arch", "arm", "--variant", "v7"]),
        (members[2], ["--os-features", "<&>"]),
        (members[3], ["--os", "linux", "--arch", "amd64", "--variant", "v3"]),
    ]
    theirs = docker_list(bench, bench.ref("src", "docker"), members, annotations)
    ours = polyarch_list(bench, bench.ref("src", "ours"), members, annotations)
    raw = assert_same_list(bench.ref("src", "docker"), theirs, bench.ref("src", "ours"), ours)
    written = [e["platform"] for e in json.loads(raw)["manifests"]]
    assert written[0] == {
        "architecture": "amd64",
        "os": "windows",
        "os.version": "10.0.17763.5458",
        "os.features": ["win32k", "gpu", "hyperv"],
    }
    assert written[1] == {"architecture": "arm", "os": "linux", "variant": "v7"}
    assert written[3] == {"architecture": "amd64", "os": "linux", "variant": "v3"}
    assert b'"\\u003c\\u0026\\u003e"' in raw


def test_same_digest_as_docker_after_amend(bench: Workbench) -> None:
    images = images_for(PLATFORMS[:3], seed=60)
    a, b, c = bench.seed("src", images)
    tools = ((bench.docker, bench.ref("dst", "docker")), (bench.polyarch, bench.ref("dst", "ours")))
    for tool, target in tools:
        ok(tool("create", "--insecure", target, c, a))
        ok(tool("create", "--insecure", "--amend", target, b))
    theirs = ok(bench.docker("push", "--insecure", tools[0][1])).stdout.strip().splitlines()[-1]
    ours = ok(bench.polyarch("push", "--insecure", tools[1][1])).stdout.strip()
    raw = assert_same_list(tools[0][1], theirs, tools[1][1], ours)
    assert [e["digest"] for e in json.loads(raw)["manifests"]] == [
        i.manifest_digest for i in images.values()
    ]

    # p00 is rebuilt under the same tag. docker's --amend reuses the copy it saved, so
    # its list keeps the stale image; polyarch fetches the member again and replaces it.
    rebuilt = make_image(PLATFORMS[0], seed=61)
    bench.seed("src", {"p00": rebuilt})
    for tool, target in tools:
        ok(tool("create", "--insecure", "--amend", target, a))
        ok(tool("push", "--insecure", target))
    stale = [e["digest"] for e in json.loads(skopeo_raw(tools[0][1]))["manifests"]]
    fresh = [e["digest"] for e in json.loads(skopeo_raw(tools[1][1]))["manifests"]]
    assert stale[0] == images["p00"].manifest_digest
    assert fresh == [rebuilt.manifest_digest, *stale[1:]]


# -- beyond docker -------------------------------------------------------------------------


@dataclass(frozen=True)
class Blob:
    data: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {
            "mediaType": self.media_type,
            "size": len(self.data),
            "digest": self.digest,
            **extra,
        }


def test_index_member_with_attestations(bench: Workbench) -> None:
    built = [make_image(p, seed=70, oci=True) for p in PLATFORMS[:2]]
    _, attestations = push_buildx_image(bench.registry, bench.repo("src/buildx"), built, "1.0")
    buildx = bench.ref("src/buildx", "1.0")
    (single,) = bench.seed("src/plain", {"s390x": make_image(PLATFORMS[6], seed=70)})

    refused = docker_failed(bench.docker("create", "--insecure", bench.ref("dst", "d"), buildx))
    assert "is a manifest list" in refused

    target = bench.ref("dst", "1")
    ours = polyarch_list(bench, target, [single, buildx])
    raw = skopeo_raw(target)
    assert sha256_digest(raw) == ours
    doc = json.loads(raw)
    assert doc["mediaType"] == OCI_INDEX  # annotations need an OCI index
    entries = doc["manifests"]
    # buildx's entries in their order first (src_buildx sorts before src_plain).
    assert [e["digest"] for e in entries] == [
        built[0].manifest_digest,
        built[1].manifest_digest,
        attestations[0].digest,
        attestations[1].digest,
        sha256_digest(skopeo_raw(single)),
    ]
    for image, entry in zip(built, entries[:2], strict=True):
        assert entry["platform"] == dict(image.platform)
        assert "annotations" not in entry
    for image, attestation, entry in zip(built, attestations, entries[2:4], strict=True):
        assert entry["platform"] == {"architecture": "unknown", "os": "unknown"}
        assert entry["annotations"] == {
            REFERENCE_DIGEST: image.manifest_digest,
            REFERENCE_TYPE: "attestation-manifest",
        }
        assert entry["size"] == len(attestation.manifest)
    assert entries[4]["platform"] == {"architecture": "s390x", "os": "linux"}
    # Everything the list points at is in the target repository, blobs included.
    for entry in entries:
        assert manifest_exists(bench.registry, bench.repo("dst"), entry["digest"])
    for attestation in attestations:
        assert skopeo_raw(f"{bench.registry.host}/{bench.repo('dst')}@{attestation.digest}") == (
            attestation.manifest
        )
        for digest in attestation.blobs:
            assert blob_exists(bench.registry, bench.repo("dst"), digest)


def test_format_docker_refuses_attestations(bench: Workbench) -> None:
    built = [make_image(PLATFORMS[0], seed=71, oci=True)]
    push_buildx_image(bench.registry, bench.repo("src"), built, "1.0")
    target = bench.ref("src", "list")
    ok(bench.polyarch("create", "--insecure", target, bench.ref("src", "1.0")))
    before = bench.pending()
    stderr = failed(bench.polyarch("push", "--insecure", "--format", "docker", target), 2)
    assert "annotations" in stderr
    assert "--format oci" in stderr
    assert bench.pending() == before


def test_members_on_another_registry_are_copied(
    bench: Workbench, registry_factory: RegistryFactory
) -> None:
    other = registry_factory()
    images = images_for(PLATFORMS[:2], seed=80, oci=lambda i: i == 1)
    remote = bench.seed("elsewhere", images, registry=other)
    (local,) = bench.seed("src", {"s390x": make_image(PLATFORMS[6], seed=80)})
    members = [*remote, local]

    docker_target = bench.ref("dst", "docker")
    ok(bench.docker("create", "--insecure", docker_target, *members))
    refused = docker_failed(bench.docker("push", "--insecure", docker_target))
    assert "cannot use source images from a different registry than the target image" in refused
    assert f"{other.host} != {bench.registry.host}" in refused

    target = bench.ref("dst", "ours")
    ours = polyarch_list(bench, target, members)
    raw = skopeo_raw(target)
    assert sha256_digest(raw) == ours
    listed = [e["digest"] for e in json.loads(raw)["manifests"]]
    assert sorted(listed) == sorted(
        [i.manifest_digest for i in images.values()] + [sha256_digest(skopeo_raw(local))]
    )
    for image in images.values():
        assert manifest_exists(bench.registry, bench.repo("dst"), image.manifest_digest)
        for digest in image.blobs:
            assert blob_exists(bench.registry, bench.repo("dst"), digest)
    # A platform of the copied list resolves to runnable content on the target registry.
    copied = skopeo_raw(f"{bench.registry.host}/{bench.repo('dst')}@{listed[0]}")
    assert sha256_digest(copied) == listed[0]


def test_amend_adds_and_replaces(bench: Workbench) -> None:
    images = images_for(PLATFORMS[:3], seed=90)
    a, b, c = bench.seed("src", images)
    target = bench.ref("src", "list")
    ok(bench.polyarch("create", "--insecure", target, a, b))
    ok(bench.polyarch("create", "--insecure", "--amend", target, c))
    digest = ok(bench.polyarch("push", "--insecure", target)).stdout.strip()
    assert [e["digest"] for e in json.loads(skopeo_raw(target))["manifests"]] == [
        i.manifest_digest for i in images.values()
    ]
    # Replace b's entry: same tag, new image, same platform.
    rebuilt = make_image(PLATFORMS[1], seed=91, oci=True)
    bench.seed("src", {"p01": rebuilt})
    ok(bench.polyarch("create", "--insecure", "-a", target, b))
    replaced = ok(bench.polyarch("push", "--insecure", target)).stdout.strip()
    assert replaced != digest
    assert [e["digest"] for e in json.loads(skopeo_raw(target))["manifests"]] == [
        images["p00"].manifest_digest,
        rebuilt.manifest_digest,
        images["p02"].manifest_digest,
    ]


def test_same_image_named_twice_is_one_entry(bench: Workbench) -> None:
    image = make_image(PLATFORMS[0], seed=95)
    (tagged,) = bench.seed("src", {"one": image})
    by_digest = f"{bench.registry.host}/{bench.repo('src')}@{image.manifest_digest}"
    # docker keeps one entry per name, so its list names the same manifest twice.
    docker_list(bench, bench.ref("src", "docker"), [tagged, by_digest])
    theirs = json.loads(skopeo_raw(bench.ref("src", "docker")))["manifests"]
    assert [e["digest"] for e in theirs] == [image.manifest_digest] * 2
    polyarch_list(bench, bench.ref("src", "ours"), [tagged, by_digest])
    ours = json.loads(skopeo_raw(bench.ref("src", "ours")))["manifests"]
    assert [e["digest"] for e in ours] == [image.manifest_digest]


def test_create_over_an_existing_list_needs_amend(bench: Workbench) -> None:
    (a,) = bench.seed("src", images_for(PLATFORMS[:1], seed=100))
    target = bench.ref("src", "list")
    ok(bench.polyarch("create", "--insecure", target, a))
    before = bench.pending()
    # docker's message, for the record.
    ok(bench.docker("create", "--insecure", target, a))
    assert "refusing to amend an existing manifest list with no --amend flag" in docker_failed(
        bench.docker("create", "--insecure", target, a)
    )
    stderr = failed(bench.polyarch("create", "--insecure", target, a), 7)
    assert "exists already" in stderr
    hint = stderr.split("hint: ", 1)[1]
    assert "--amend" in hint
    assert f"polyarch rm {target}" in hint
    assert bench.pending() == before


def test_duplicate_platforms_name_both_members(bench: Workbench) -> None:
    one, two = bench.seed(
        "src",
        {
            "one": make_image(PLATFORMS[0], seed=110),
            "two": make_image(PLATFORMS[0], seed=111, oci=True),
        },
    )
    target = bench.ref("src", "list")
    stderr = failed(bench.polyarch("create", "--insecure", target, one, two), 7)
    assert one in stderr
    assert two in stderr
    assert "linux/amd64" in stderr
    assert bench.pending() == {}  # nothing saved
    # ... also when the second arrives by --amend, or by annotate.
    (three,) = bench.seed("src", {"three": make_image(PLATFORMS[6], seed=112)})
    ok(bench.polyarch("create", "--insecure", target, one, three))
    before = bench.pending()
    stderr = failed(bench.polyarch("create", "--insecure", "--amend", target, two), 7)
    assert one in stderr
    assert two in stderr
    stderr = failed(
        bench.polyarch("annotate", target, three, "--os", "linux", "--arch", "amd64"), 7
    )
    assert one in stderr
    assert three in stderr
    assert bench.pending() == before


def test_missing_member(bench: Workbench) -> None:
    (a,) = bench.seed("src", images_for(PLATFORMS[:1], seed=120))
    missing = bench.ref("src", "absent")
    stderr = failed(bench.polyarch("create", "--insecure", bench.ref("src", "list"), a, missing), 3)
    assert missing in stderr
    assert bench.pending() == {}
    # An --amend that fails leaves the list as it was.
    ok(bench.polyarch("create", "--insecure", bench.ref("src", "list"), a))
    before = bench.pending()
    amend = bench.polyarch("create", "--insecure", "--amend", bench.ref("src", "list"), missing)
    failed(amend, 3)
    assert bench.pending() == before
    assert "no such manifest" in docker_failed(
        bench.docker("create", "--insecure", bench.ref("src", "list"), a, missing)
    )


def test_annotate_suggests_canonical_architecture(bench: Workbench) -> None:
    (a,) = bench.seed("src", images_for(PLATFORMS[:1], seed=130))
    target = bench.ref("src", "list")
    ok(bench.polyarch("create", "--insecure", target, a))
    before = bench.pending()
    stderr = failed(bench.polyarch("annotate", target, a, "--arch", "armv7"), 2)
    assert "did you mean --arch arm --variant v7?" in stderr
    assert bench.pending() == before
    # docker only says the combination is unsupported (and drops the OS it had).
    ok(bench.docker("create", "--insecure", target, a))
    assert "unsupported os/arch combination: /armv7" in docker_failed(
        bench.docker("annotate", target, a, "--arch", "armv7")
    )


@pytest.mark.parametrize(
    ("flags", "platform"),
    [
        (["--os", "windows", "--arch", "arm64"], {"architecture": "arm64", "os": "windows"}),
        (["--os", "linux", "--arch", "loong64"], {"architecture": "loong64", "os": "linux"}),
    ],
    ids=["windows-arm64", "linux-loong64"],
)
def test_annotate_accepts_what_docker_whitelist_refuses(
    bench: Workbench, flags: list[str], platform: dict[str, str]
) -> None:
    (a,) = bench.seed("src", images_for(PLATFORMS[:1], seed=140))
    target = bench.ref("src", "list")
    ok(bench.docker("create", "--insecure", target, a))
    refused = docker_failed(bench.docker("annotate", target, a, *flags))
    assert f"unsupported os/arch combination: {platform['os']}/{platform['architecture']}" in (
        refused
    )
    digest = polyarch_list(bench, target, [a], [(a, flags)])
    raw = skopeo_raw(target)
    assert sha256_digest(raw) == digest
    assert json.loads(raw)["manifests"][0]["platform"] == platform


@pytest.mark.parametrize(
    ("flags", "problem", "closest"),
    [
        (["--arch", "arm64x"], "linux/arm64x is no known os/architecture", "linux/arm64"),
        (["--os", "linx"], "linx/amd64 is no known os/architecture", "linux/amd64"),
        (["--variant", "v5"], "'v5' is no known variant of amd64", "linux/amd64"),
        (
            ["--arch", "arm", "--variant", "v9"],
            "'v9' is no known variant of arm (known: v5, v6, v7, v8)",
            "linux/arm",
        ),
    ],
    ids=["arch", "os", "amd64-variant", "arm-variant"],
)
def test_annotate_refuses_an_unknown_platform_with_the_closest_unless_forced(
    bench: Workbench, flags: list[str], problem: str, closest: str
) -> None:
    (a,) = bench.seed("src", images_for(PLATFORMS[:1], seed=142))
    target = bench.ref("src", "list")
    ok(bench.polyarch("create", "--insecure", target, a))
    before = bench.pending()
    stderr = failed(bench.polyarch("annotate", target, a, *flags), 2)
    assert problem in stderr
    assert f"did you mean {closest}?" in stderr
    assert "--force" in stderr
    assert bench.pending() == before
    ok(bench.polyarch("annotate", "--force", target, a, *flags))
    assert bench.pending() != before


def test_annotate_member_matched_by_normalized_reference(bench: Workbench) -> None:
    image = make_image(PLATFORMS[0], seed=145)
    bench.seed("src", {"latest": image})
    untagged = f"{bench.registry.host}/{bench.repo('src')}"
    by_digest = f"{untagged}@{image.manifest_digest}"
    target = bench.ref("src", "list")
    ok(bench.polyarch("create", "--insecure", target, untagged))
    # Created without a tag, annotated as :latest, then by digest: the same entry.
    ok(bench.polyarch("annotate", target, f"{untagged}:latest", "--os-features", "sse4"))
    ok(bench.polyarch("annotate", target, by_digest, "--variant", "v2"))
    ok(bench.polyarch("push", "--insecure", target))
    (entry,) = json.loads(skopeo_raw(target))["manifests"]
    assert entry["digest"] == image.manifest_digest
    assert entry["platform"] == {
        "architecture": "amd64",
        "os": "linux",
        "os.features": ["sse4"],
        "variant": "v2",
    }
    # docker normalizes the tag too, but knows the entry by name only.
    ok(bench.docker("create", "--insecure", target, untagged))
    ok(bench.docker("annotate", target, f"{untagged}:latest", "--os-features", "sse4"))
    assert "does not exist in" in docker_failed(
        bench.docker("annotate", target, by_digest, "--variant", "v2")
    )


def test_annotate_member_not_in_the_list_lists_members(bench: Workbench) -> None:
    a, b = bench.seed("src", images_for(PLATFORMS[:2], seed=150))
    target = bench.ref("src", "list")
    ok(bench.polyarch("create", "--insecure", target, a, b))
    before = bench.pending()
    stranger = bench.ref("src", "stranger")
    stderr = failed(bench.polyarch("annotate", target, stranger, "--os", "linux"), 3)
    assert stranger in stderr
    hint = stderr.split("hint: ", 1)[1]
    assert a in hint
    assert b in hint
    assert bench.pending() == before
    # Annotating a list that does not exist says how to make one.
    stderr = failed(bench.polyarch("annotate", bench.ref("src", "nolist"), a, "--os", "linux"), 3)
    assert "polyarch create" in stderr


def test_push_twice_pushes_nothing_the_second_time(bench: Workbench) -> None:
    members = bench.seed("src", images_for(PLATFORMS[:2], seed=160))
    target = bench.ref("dst", "1")
    first = polyarch_list(bench, target, members)
    start = bench.registry.mark()
    again = ok(bench.polyarch("push", "--insecure", target))
    served = bench.registry.requests(start)
    assert again.stdout == first + "\n"
    assert "nothing to push" in again.stderr
    assert writes(served) == []
    assert [e.method for e in served] == ["HEAD"]  # one look at the tag


def test_a_kept_list_says_what_was_pushed_until_it_changes(bench: Workbench) -> None:
    members = bench.seed("src", images_for(PLATFORMS[:2], seed=165))
    target = bench.ref("dst", "kept")
    ok(bench.polyarch("create", "--insecure", target, *members))
    assert "local, not pushed" in ok(bench.polyarch("inspect", "--format", "text", target)).stdout
    listed = json.loads(ok(bench.polyarch("ls", "--format", "json")).stdout)
    assert {"name": target, "images": 2, "attestations": 0, "pushed": None} in listed

    pushed = ok(bench.polyarch("push", "--insecure", "--format", "docker", target)).stdout.strip()
    assert pushed == sha256_digest(skopeo_raw(target))
    text = ok(bench.polyarch("inspect", "--format", "text", target)).stdout
    assert "not pushed" not in text
    assert f"pushed as {pushed}" in text
    # The JSON view shows what was pushed (a Docker list), not what a push would build.
    assert sha256_digest(ok(bench.polyarch("inspect", target)).stdout.encode()) == pushed
    listed = json.loads(ok(bench.polyarch("ls", "--format", "json")).stdout)
    assert {"name": target, "images": 2, "attestations": 0, "pushed": pushed} in listed
    table = ok(bench.polyarch("ls")).stdout.splitlines()
    assert table[0].split() == ["NAME", "ENTRIES", "PUSHED"]
    assert any(line.split()[:3] == [target, "2", pushed[:19]] for line in table[1:])

    # A change makes it a list not pushed again.
    ok(bench.polyarch("annotate", target, members[0], "--os-features", "sse4"))
    assert "local, not pushed" in ok(bench.polyarch("inspect", "--format", "text", target)).stdout
    listed = json.loads(ok(bench.polyarch("ls", "--format", "json")).stdout)
    assert {"name": target, "images": 2, "attestations": 0, "pushed": None} in listed


def test_ls_with_no_lists_says_how_to_make_one(bench: Workbench) -> None:
    result = ok(bench.polyarch("ls"))
    assert result.stdout == ""
    assert "polyarch create" in result.stderr
    assert json.loads(ok(bench.polyarch("ls", "--format", "json")).stdout) == []


def test_purge_removes_the_pending_list_only_after_success(bench: Workbench) -> None:
    images = images_for(PLATFORMS[:2], seed=170)
    members = bench.seed("src", images)
    target = bench.ref("src", "list")
    ok(bench.polyarch("create", "--insecure", target, *members))
    before = bench.pending()
    assert before
    # The member vanishes from the registry: the push fails, the list stays as it was.
    gone = images["p01"].manifest_digest
    deleted = bench.registry.request("DELETE", f"/v2/{bench.repo('src')}/manifests/{gone}")
    assert deleted.status == 202
    stderr = failed(bench.polyarch("push", "--insecure", "--purge", target), 5)
    assert "MANIFEST_BLOB_UNKNOWN" in stderr  # the registry refused the list
    assert gone in stderr
    assert bench.pending() == before
    # Back in place: the push succeeds and --purge removes the pending list.
    bench.seed("src", {"p01": images["p01"]})
    pushed = ok(bench.polyarch("push", "--insecure", "--purge", target))
    assert pushed.stdout.strip() == sha256_digest(skopeo_raw(target))
    assert bench.pending() == {}
    stderr = failed(bench.polyarch("push", "--insecure", target), 3)
    assert "polyarch create" in stderr


def test_failed_push_leaves_the_pending_list_byte_identical(
    auth_registry: RegistryServer, tmp_path: Path
) -> None:
    auth = Workbench(auth_registry, tmp_path, f"l{uuid.uuid4().hex[:10]}")
    write_docker_config(
        auth.docker_config, auth_registry.host, auth_registry.username, auth_registry.password
    )
    members = auth.seed("src", images_for(PLATFORMS[:2], seed=180))
    target = auth.ref("dst", "1")
    ok(auth.polyarch("create", "--insecure", target, *members))
    before = auth.pending()
    wrong = tmp_path / "wrong-config"
    write_docker_config(wrong, auth_registry.host, auth_registry.username, "not-the-password")
    start = auth_registry.mark()
    stderr = failed(auth.polyarch("push", "--insecure", "--purge", target, docker_config=wrong), 4)
    assert "not-the-password" not in stderr
    assert [e for e in writes(auth_registry.requests(start)) if e.status < 400] == []
    assert auth.pending() == before


def test_rm_several_and_missing(bench: Workbench) -> None:
    (a,) = bench.seed("src", images_for(PLATFORMS[:1], seed=190))
    first, second, third = (bench.ref("src", t) for t in ("one", "two", "three"))
    for target in (first, second, third):
        ok(bench.polyarch("create", "--insecure", target, a))
    assert len(bench.pending()) == 3
    assert ok(bench.polyarch("rm", first, second)).stdout == ""
    assert len(bench.pending()) == 1
    missing = bench.ref("src", "never")
    stderr = failed(bench.polyarch("rm", missing), 3)
    assert missing in stderr
    # A missing one among others: the others are still removed, the missing one named.
    stderr = failed(bench.polyarch("rm", third, first), 3)
    assert first in stderr
    assert third not in stderr
    assert bench.pending() == {}
    assert "Missing argument" in bench.polyarch("rm").stderr


@pytest.mark.parametrize(
    ("oci", "flag", "expected"),
    [
        pytest.param(False, "oci", OCI_INDEX, id="docker-members-as-oci"),
        pytest.param(True, "docker", DOCKER_MANIFEST_LIST, id="oci-members-as-docker"),
    ],
)
def test_format_overrides_the_media_type(
    bench: Workbench, oci: bool, flag: str, expected: str
) -> None:
    members = bench.seed("src", images_for(PLATFORMS[:2], seed=200, oci=oci))
    default = polyarch_list(bench, bench.ref("src", "default"), members)
    target = bench.ref("src", "forced")
    forced = polyarch_list(bench, target, members, (), "--format", flag)
    assert forced != default
    raw = skopeo_raw(target)
    assert sha256_digest(raw) == forced
    assert json.loads(raw)["mediaType"] == expected
    # Only the media type differs.
    reference = json.loads(skopeo_raw(bench.ref("src", "default")))
    assert json.loads(raw)["manifests"] == reference["manifests"]
    assert raw == skopeo_raw(bench.ref("src", "default")).replace(
        reference["mediaType"].encode(), expected.encode(), 1
    )


def test_auth_registry_with_docker_config_credentials(
    auth_registry: RegistryServer, tmp_path: Path
) -> None:
    bench = Workbench(auth_registry, tmp_path, f"l{uuid.uuid4().hex[:10]}")
    write_docker_config(
        bench.docker_config, auth_registry.host, auth_registry.username, auth_registry.password
    )
    members = bench.seed("src", images_for(PLATFORMS[:2], seed=210, oci=True))
    theirs = docker_list(bench, bench.ref("dst", "docker"), members)
    ours = polyarch_list(bench, bench.ref("dst", "ours"), members)
    creds = f"{auth_registry.username}:{auth_registry.password}"
    raw = skopeo_raw(bench.ref("dst", "ours"), creds=creds)
    assert sha256_digest(raw) == ours == theirs
    assert raw == skopeo_raw(bench.ref("dst", "docker"), creds=creds)


def test_auth_registry_without_credentials(auth_registry: RegistryServer, tmp_path: Path) -> None:
    bench = Workbench(auth_registry, tmp_path, f"l{uuid.uuid4().hex[:10]}")
    members = bench.seed("src", images_for(PLATFORMS[:1], seed=220))
    stderr = failed(bench.polyarch("create", "--insecure", bench.ref("dst", "1"), *members), 4)
    assert "log in" in stderr.lower() or "login" in stderr.lower()
    assert f"polyarch login {auth_registry.host}" in stderr
    assert bench.pending() == {}


# -- request counts ------------------------------------------------------------------------


def test_requests_for_32_members_in_another_repository(bench: Workbench) -> None:
    images = images_for(PLATFORMS, seed=32, oci=lambda i: i % 3 == 1)
    members = bench.seed("src", images)

    def served(tool: Any, target: str, user_agent: str) -> tuple[list[AccessLogEntry], str]:
        start = bench.registry.mark()
        ok(tool("create", "--insecure", target, *members))
        out = ok(tool("push", "--insecure", target)).stdout.strip().splitlines()[-1]
        entries = bench.registry.requests(start)
        assert all(e.user_agent.startswith(user_agent) for e in entries), Counter(
            e.user_agent for e in entries
        )
        return entries, out

    theirs, docker_digest = served(bench.docker, bench.ref("dst-docker", "1"), "Docker-Client/")
    ours, digest = served(bench.polyarch, bench.ref("dst-ours", "1"), "polyarch/")
    assert digest == docker_digest

    def summary(entries: list[AccessLogEntry]) -> str:
        counts = Counter(e.method for e in entries)
        return f"{len(entries)} ({', '.join(f'{m} {n}' for m, n in sorted(counts.items()))})"

    print("\n32 members from another repository, create+push requests:")
    print(f"  docker manifest: {summary(theirs)}")
    print(f"  polyarch:        {summary(ours)}")
    assert len(ours) <= len(theirs), (summary(ours), summary(theirs))
    assert all(e.status < 400 or e.method == "HEAD" for e in ours), [
        (e.method, e.uri, e.status) for e in ours if e.status >= 400
    ]


# -- lists and members in OCI layouts --------------------------------------------------


def layout_of(bench: Workbench, name: str, images: Mapping[str, SyntheticImage]) -> str:
    """A layout written by polyarch's own copy of each image, tagged as ``images`` says;
    its ``oci:PATH``."""
    for tag, image in images.items():
        (source,) = bench.seed(f"for-{name}", {tag: image})
        ok(bench.polyarch("copy", "--insecure", source, f"oci:{bench.tmp / name}:{tag}"))
    return f"oci:{bench.tmp / name}"


def test_a_registry_list_of_layout_members_is_pushed_with_their_content(
    bench: Workbench,
) -> None:
    images = images_for(PLATFORMS[:2], seed=180)
    layout = layout_of(bench, "members", images)
    members = [f"{layout}:{tag}" for tag in images]
    target = bench.ref("dst", "from-layout")
    digest = polyarch_list(bench, target, members)
    raw = skopeo_raw(target)
    assert sha256_digest(raw) == digest
    assert [e["digest"] for e in json.loads(raw)["manifests"]] == [
        image.manifest_digest for image in images.values()
    ]
    for image in images.values():
        child = f"{bench.registry.host}/{bench.repo('dst')}@{image.manifest_digest}"
        assert skopeo_raw(child) == image.manifest
    # docker reads what was pushed.
    shown = ok(bench.docker("inspect", "--insecure", target)).stdout
    assert {m["digest"] for m in json.loads(shown)["manifests"]} == {
        image.manifest_digest for image in images.values()
    }


def test_a_list_in_a_layout_takes_members_from_a_registry_and_from_the_layout(
    bench: Workbench,
) -> None:
    # OCI images, so an OCI index: skopeo 1.9 finds only OCI types by tag in a layout.
    registry_images = images_for(PLATFORMS[:1], seed=181, oci=True)
    (remote,) = bench.seed("src", registry_images)
    local_images = {"p01": make_image(PLATFORMS[1], seed=182, oci=True)}
    layout = layout_of(bench, "out", local_images)
    (local_tag,) = local_images
    target = f"{layout}:list"
    ok(bench.polyarch("create", "--insecure", target, remote, f"{layout}:{local_tag}"))
    text = ok(bench.polyarch("inspect", "--format", "text", target)).stdout
    assert "local, not pushed" in text
    # The pending list is found by its absolute name from anywhere.
    relative = ok(bench.polyarch("ls", "--format", "json")).stdout
    assert json.loads(relative)[0]["name"] == target

    start = bench.registry.mark()
    pushed = ok(bench.polyarch("push", "--insecure", target)).stdout.strip()
    assert writes(bench.registry.requests(start)) == []  # a layout push writes no registry
    raw = skopeo_raw(target)
    assert sha256_digest(raw) == pushed
    every = [*registry_images.values(), *local_images.values()]
    assert sorted(e["digest"] for e in json.loads(raw)["manifests"]) == sorted(
        image.manifest_digest for image in every
    )
    path = Path(layout.removeprefix("oci:"))
    for image in every:
        stored = path / "blobs" / "sha256" / image.manifest_digest[7:]
        assert stored.read_bytes() == image.manifest
        for blob_digest, data in image.blobs.items():
            assert (path / "blobs" / "sha256" / blob_digest[7:]).read_bytes() == data
    # What was pushed is readable as any layout image.
    copied = ok(bench.polyarch("copy", "--insecure", target, bench.ref("dst", "copied")))
    assert copied.stdout.strip() == pushed


def test_a_list_in_a_layout_needs_a_tag(bench: Workbench) -> None:
    (member,) = bench.seed("src", images_for(PLATFORMS[:1], seed=183))
    stderr = failed(bench.polyarch("create", "--insecure", f"oci:{bench.tmp}/untagged", member), 2)
    assert f"oci:{bench.tmp}/untagged:TAG" in stderr
    assert bench.pending() == {}


def test_layout_members_are_annotated_and_inspected_by_their_oci_names(
    bench: Workbench,
) -> None:
    images = images_for(PLATFORMS[:2], seed=184)
    layout = layout_of(bench, "members", images)
    first, second = (f"{layout}:{tag}" for tag in images)
    target = bench.ref("dst", "annotated")
    ok(bench.polyarch("create", "--insecure", target, first, second))
    ok(bench.polyarch("annotate", target, first, "--os-features", "sse4"))
    entry = json.loads(ok(bench.polyarch("inspect", "-v", target, first)).stdout)
    assert entry["Ref"] == first
    assert entry["Descriptor"]["platform"]["os.features"] == ["sse4"]


def test_a_damaged_pending_list_file_is_a_clean_error_and_hides_no_other(
    bench: Workbench,
) -> None:
    (member,) = bench.seed("src", images_for(PLATFORMS[:1], seed=185))
    good, bad = bench.ref("dst", "good"), bench.ref("dst", "bad")
    ok(bench.polyarch("create", "--insecure", good, member))
    ok(bench.polyarch("create", "--insecure", bad, member))
    (path,) = [p for p in (bench.home / "lists").iterdir() if "bad" in p.name]
    document = json.loads(path.read_text())
    for entry in document["entries"]:
        entry["source"] = "oci:/tmp/a\u0000b:t"  # a NUL no path can hold
    path.write_text(json.dumps(document))

    stderr = failed(bench.polyarch("push", "--insecure", bad), 6)
    assert "is damaged" in stderr
    listed = ok(bench.polyarch("ls", "--format", "json"))
    assert [row["name"] for row in json.loads(listed.stdout)] == [good]
    assert "polyarch: warning: " in listed.stderr


# -- annotations -----------------------------------------------------------------------


SOURCE = "org.opencontainers.image.source"
DESCRIPTION = "org.opencontainers.image.description"


def test_create_annotations_make_an_oci_index_and_docker_reads_it(bench: Workbench) -> None:
    members = bench.seed("src", images_for(PLATFORMS[:2], seed=190))  # Docker manifests
    target = bench.ref("dst", "annotated")
    annotation_file = bench.tmp / "annotations"
    annotation_file.write_text(f"# for GHCR's package page\n\n{DESCRIPTION}=hello = world\n")
    created = ok(
        bench.polyarch(
            "create", "--insecure", "--annotation", f"{SOURCE}=https://github.com/me/app",
            "--annotation-file", str(annotation_file), "--annotation", "com.example.empty=",
            target, *members,
        )
    )  # fmt: skip
    assert "pushed as an OCI index (a Docker manifest list has none)" in created.stderr
    text = ok(bench.polyarch("inspect", "--format", "text", target)).stdout
    assert f"annotation  {SOURCE}=https://github.com/me/app" in text

    # A Docker list cannot carry them: said, and nothing pushed.
    stderr = failed(bench.polyarch("push", "--insecure", "--format", "docker", target), 2)
    assert "a Docker manifest list has no annotations" in stderr
    assert (
        bench.registry.request("HEAD", f"/v2/{bench.repo('dst')}/manifests/annotated").status == 404
    )

    digest = ok(bench.polyarch("push", "--insecure", target)).stdout.strip()
    raw = skopeo_raw(target)
    assert sha256_digest(raw) == digest
    document = json.loads(raw)
    assert document["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert list(document)[-1] == "annotations"  # where the OCI Go struct writes them
    assert document["annotations"] == {
        "com.example.empty": "",
        DESCRIPTION: "hello = world",
        SOURCE: "https://github.com/me/app",
    }
    # docker reads the index (its own view of a list has no annotations to show).
    shown = json.loads(ok(bench.docker("inspect", "--insecure", target)).stdout)
    assert len(shown["manifests"]) == 2
    text = ok(bench.polyarch("inspect", "--format", "text", target)).stdout
    assert f"annotation  {DESCRIPTION}=hello = world" in text


def test_annotate_sets_an_entrys_annotations(bench: Workbench) -> None:
    members = bench.seed("src", images_for(PLATFORMS[:2], seed=191, oci=True))
    target = bench.ref("dst", "entry-annotated")
    ok(bench.polyarch("create", "--insecure", target, *members))
    ok(bench.polyarch("annotate", target, members[1], "--annotation", "com.example.tier=gold"))
    ok(bench.polyarch("annotate", target, members[1], "--annotation", "com.example.n=2"))
    ok(bench.polyarch("push", "--insecure", target))
    first, second = json.loads(skopeo_raw(target))["manifests"]
    assert "annotations" not in first
    assert second["annotations"] == {"com.example.n": "2", "com.example.tier": "gold"}
    assert second["platform"] == {"architecture": "arm64", "os": "linux", "variant": "v8"}
    text = ok(bench.polyarch("inspect", "--format", "text", target)).stdout
    assert "entry annotation  com.example.tier=gold" in text


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--annotation", "no-equals-sign"], "is not KEY=VALUE"),
        (["--annotation", "=value"], "is not KEY=VALUE"),
        (["--annotation", "two words=x"], "is not KEY=VALUE"),
        (["--annotation-file", "/nonexistent/file"], "does not exist"),
    ],
)
def test_a_bad_annotation_is_a_usage_error(
    bench: Workbench, args: list[str], fragment: str
) -> None:
    (member,) = bench.seed("src", images_for(PLATFORMS[:1], seed=192))
    result = bench.polyarch("create", "--insecure", *args, bench.ref("dst", "x"), member)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert fragment in result.stderr
    assert bench.pending() == {}


def test_push_under_several_tags_moves_the_content_once(bench: Workbench) -> None:
    images = images_for(PLATFORMS[:2], seed=193)
    members = bench.seed("src", images)
    target = bench.ref("dst", "1.0.0")
    ok(bench.polyarch("create", "--insecure", target, *members))
    start = bench.registry.mark()
    pushed = ok(bench.polyarch("push", "--insecure", "--tag", "1.0", "--tag", "latest", target))
    served = bench.registry.requests(start)
    digest = pushed.stdout.strip()
    assert "Tagged 1.0.0, 1.0, latest" in pushed.stderr
    for tag in ("1.0.0", "1.0", "latest"):
        assert sha256_digest(skopeo_raw(bench.ref("dst", tag))) == digest
    # Each child manifest once, each blob mounted once; the list once per tag.
    puts = [e.path.rsplit("/", 1)[1] for e in writes(served) if "/manifests/" in e.path]
    children = [image.manifest_digest for image in images.values()]
    assert sorted(puts) == sorted([*children, "1.0.0", "1.0", "latest"])
    mounted = [e.query["mount"][0] for e in served if e.method == "POST" and "mount" in e.query]
    assert len(mounted) == len(set(mounted))

    # Again, with one tag moved elsewhere: only that tag is put back.
    bench.seed("dst", {"1.0": make_image(PLATFORMS[0], seed=194)})
    start = bench.registry.mark()
    again = ok(bench.polyarch("push", "--insecure", "--tag", "1.0", "--tag", "latest", target))
    assert "Tagged 1.0" in again.stderr
    assert [e.path.rsplit("/", 1)[1] for e in writes(bench.registry.requests(start))] == ["1.0"]
    stderr = failed(bench.polyarch("push", "--insecure", "--tag", "bad tag", target), 2)
    assert "bad tag" in stderr
