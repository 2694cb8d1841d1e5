"""``polyarch copy``, ``pull``, ``tags`` and ``digest`` as a user runs them, against real
registries on two loopback ports: output, exit codes, what lands where, and the requests
the registries served (their access logs).

Layouts compared with skopeo hold OCI images: skopeo 1.9 finds a tag in an OCI layout
only when its ``index.json`` entry has an OCI media type.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform as stdlib_platform
import re
import signal
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyarch.models import MAX_INDEX_DEPTH
from tests.clirun import POLYARCH, assert_clean_error, polyarch
from tests.content import (
    Content,
    assert_complete_in_layout,
    blob_requests,
    layout_tags,
    multi,
    registry_has_blob,
    registry_manifest,
    single,
    skopeo_raw,
    unique,
)
from tests.imagegen import OCI_MANIFEST, SyntheticImage, make_image, sha256_digest
from tests.registry_server import RegistryFactory, RegistryServer, parse_access_log

AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64_V8 = {"os": "linux", "architecture": "arm64", "variant": "v8"}
ARM64 = {"os": "linux", "architecture": "arm64"}
ARM_V7 = {"os": "linux", "architecture": "arm", "variant": "v7"}
ARM_V6 = {"os": "linux", "architecture": "arm", "variant": "v6"}
I386 = {"os": "linux", "architecture": "386"}
S390X = {"os": "linux", "architecture": "s390x"}

#: Indexes the pull table chooses from, by name: their platforms in index order.
INDEXES: dict[str, list[dict[str, str]]] = {
    "full": [AMD64, ARM64_V8, ARM_V7, ARM_V6],
    "only-32-bit-arm": [ARM_V7, ARM_V6],
    "arm64-without-variant": [AMD64, ARM64, ARM_V7],
    "only-386": [S390X, I386],
}


def ok(result: subprocess.CompletedProcess[bytes]) -> str:
    """The stdout of a command that must succeed."""
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    return result.stdout.decode()


@pytest.fixture(scope="module")
def other_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A second registry on another loopback port."""
    with RegistryServer(tmp_path_factory.mktemp("cli-other-registry")) as server:
        yield server


@pytest.fixture(scope="module")
def indexes(registry: RegistryServer) -> dict[str, tuple[str, list[SyntheticImage]]]:
    """Each of ``INDEXES`` pushed to the shared registry: name -> (reference, images)."""
    pushed = {}
    for seed, (name, platforms) in enumerate(INDEXES.items(), start=200):
        images = [make_image(p, seed=seed, oci=True) for p in platforms]
        reference = multi(images, attestations=True).push(registry, f"cli/pull-{name}", "1.0")
        pushed[name] = (reference, images)
    return pushed


# -- copy ---------------------------------------------------------------------------------


def test_copy_to_other_registry_prints_the_digest(
    registry: RegistryServer, other_registry: RegistryServer
) -> None:
    content = multi([make_image(p, seed=120, oci=False) for p in (AMD64, ARM64_V8)], oci=False)
    repository = unique("cli/copy")
    source = content.push(registry, repository, "1.0")

    result = polyarch("copy", source, f"{other_registry.host}/{repository}:copied")

    assert ok(result) == content.digest + "\n"
    assert registry_manifest(other_registry, repository, "copied") == content.root
    assert skopeo_raw(f"docker://{other_registry.host}/{repository}:copied") == content.root
    stderr = result.stderr.decode()
    assert f"blobs: {len(content.blobs)} copied" in stderr
    # Without a tag the destination keeps the source's.
    ok(polyarch("copy", source, f"{other_registry.host}/{repository}"))
    assert registry_manifest(other_registry, repository, "1.0") == content.root


def test_sizes_agree_in_progress_summary_and_tree(
    registry: RegistryServer, other_registry: RegistryServer
) -> None:
    """One unit system: a layer is the same figure in the progress lines, the copy
    summary and ``inspect --format text``, whose image line counts only layers."""
    image = make_image(AMD64, seed=133, layers=1, layer_size=300_000, oci=True)
    source = single(image).push(registry, unique("cli/units"), "1.0")
    (layer,) = image.layers
    shown = f"{layer.size / 1024:.1f} KiB"
    result = polyarch("copy", source, f"{other_registry.host}/{unique('cli/units')}:1.0")
    stderr = ok_stderr(result)
    line = next(line for line in stderr.splitlines() if layer.digest[7:19] in line)
    assert line.endswith(shown)
    total = sum(len(data) for data in image.blobs.values())
    assert f"copied ({total / 1024:.1f} KiB)" in stderr
    tree = polyarch("inspect", "--format", "text", source, text=True)
    assert tree.returncode == 0, tree.stderr
    assert tree.stdout.splitlines()[0].endswith(f"{shown} in 1 layer")
    assert f"  {shown}  tar+gzip" in tree.stdout


def ok_stderr(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stderr.decode()


def test_copy_within_a_registry_mounts(registry: RegistryServer) -> None:
    content = multi([make_image(p, seed=134, oci=True) for p in (AMD64, ARM_V7)])
    source_repository, target_repository = unique("cli/mount-a"), unique("cli/mount-b")
    source = content.push(registry, source_repository, "1.0")

    start = registry.mark()
    result = polyarch("copy", source, f"{registry.host}/{target_repository}:1.0")
    served = registry.requests(since=start)

    assert ok(result).strip() == content.digest
    assert f"0 copied (0 B), {len(content.blobs)} mounted" in result.stderr.decode()
    mounts = [e for e in blob_requests(served, "POST") if e.status == 201]
    assert sorted(e.query["mount"][0] for e in mounts) == sorted(content.blobs)
    assert blob_requests(served, "GET") == blob_requests(served, "PUT") == []
    assert registry_manifest(registry, target_repository, "1.0") == content.root


def test_copy_layout_to_layout_and_back(tmp_path: Path, registry: RegistryServer) -> None:
    content = multi([make_image(p, seed=121, oci=True) for p in (AMD64, ARM_V7)])
    repository = unique("cli/roundtrip")
    source = content.write_layout(tmp_path / "a", "1.0")

    assert ok(polyarch("copy", source, f"oci:{tmp_path / 'b'}:2.0")).strip() == content.digest
    assert ok(polyarch("copy", f"oci:{tmp_path / 'b'}", f"{registry.host}/{repository}:3.0"))
    assert (
        ok(
            polyarch("copy", f"{registry.host}/{repository}:3.0", f"oci:{tmp_path / 'c'}:4.0")
        ).strip()
        == content.digest
    )
    assert skopeo_raw(f"oci:{tmp_path / 'c'}:4.0") == content.root
    assert_complete_in_layout(tmp_path / "c", content)


def test_copy_platform_subset(registry: RegistryServer, other_registry: RegistryServer) -> None:
    images = [make_image(p, seed=122, oci=True) for p in (AMD64, ARM64_V8, ARM_V7)]
    content = multi(images, attestations=True)
    repository = unique("cli/subset")
    source = content.push(registry, repository, "1.0")

    digest = ok(
        polyarch(
            "copy",
            "--platform",
            "linux/amd64,linux/arm64",
            source,
            f"{other_registry.host}/{repository}:two",
        )
    ).strip()

    served = registry_manifest(other_registry, repository, "two")
    assert served is not None
    assert sha256_digest(served) == digest
    entries = json.loads(served)["manifests"]
    kept = {e["digest"] for e in entries}
    assert {images[0].manifest_digest, images[1].manifest_digest} < kept
    assert images[2].manifest_digest not in kept
    attests = [e["annotations"]["vnd.docker.reference.digest"] for e in entries[2:]]
    assert attests == [images[0].manifest_digest, images[1].manifest_digest]
    for entry in entries:
        assert registry_manifest(other_registry, repository, entry["digest"]) is not None
    # --platform given twice is the same as a comma-separated list.
    again = polyarch(
        "copy",
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/arm64/v8",
        source,
        f"{other_registry.host}/{repository}:again",
    )
    assert ok(again).strip() == digest


def test_copy_single_gives_the_plain_image(registry: RegistryServer, tmp_path: Path) -> None:
    images = [make_image(p, seed=123, oci=True) for p in (AMD64, ARM64_V8, ARM_V7)]
    source = multi(images, attestations=True).push(registry, unique("cli/single"), "1.0")

    result = polyarch(
        "copy", "--platform", "linux/arm/v7", "--single", source, f"oci:{tmp_path}/l:v7"
    )

    assert ok(result).strip() == images[2].manifest_digest
    assert skopeo_raw(f"oci:{tmp_path}/l:v7") == images[2].manifest


def test_copy_unknown_platform_exits_3_listing_platforms(
    registry: RegistryServer, tmp_path: Path
) -> None:
    images = [make_image(p, seed=124, oci=True) for p in (AMD64, ARM64_V8, ARM_V7)]
    source = multi(images, attestations=True).push(registry, unique("cli/unknown"), "1.0")

    result = polyarch("copy", "--platform", "linux/amd64,linux/ppc64le", source, f"oci:{tmp_path}")

    stderr = assert_clean_error(result, 3)
    assert "linux/ppc64le" in stderr
    assert "available platforms: linux/amd64, linux/arm64/v8, linux/arm/v7" in stderr
    assert "unknown" not in stderr  # attestations are not platforms one can ask for
    assert list(tmp_path.iterdir()) == []


def test_copy_platform_of_a_single_image_is_checked(
    registry: RegistryServer, tmp_path: Path
) -> None:
    image = make_image(AMD64, seed=133, oci=True)
    source = single(image).push(registry, unique("cli/one-image"), "1.0")

    # The image runs there: copied as it is (no index is made of it).
    for args in (["--platform", "linux/amd64"], ["--platform", "linux/amd64", "--single"]):
        result = polyarch("copy", *args, source, f"oci:{tmp_path}/ok:1")
        assert ok(result).strip() == image.manifest_digest
    # It does not: refused as pull refuses it, not silently copied.
    for args in (["--platform", "linux/s390x"], ["--platform", "linux/amd64,linux/arm64"]):
        result = polyarch("copy", *args, source, f"oci:{tmp_path}/no:1")
        stderr = assert_clean_error(result, 3)
        assert f"{source} is a single linux/amd64 image, which linux/" in stderr
    assert not (tmp_path / "no").exists()


# -- progress -----------------------------------------------------------------------------


def test_progress_off_a_terminal_is_one_line_per_blob(
    registry: RegistryServer, other_registry: RegistryServer
) -> None:
    image = make_image(AMD64, seed=125, layers=3, oci=True)
    repository = unique("cli/lines")
    source = single(image).push(registry, repository, "1.0")

    result = polyarch("copy", source, f"{other_registry.host}/{repository}:1.0")

    assert ok(result) == image.manifest_digest + "\n"
    lines = result.stderr.decode().splitlines()
    assert "\x1b" not in result.stderr.decode()
    assert "\r" not in result.stderr.decode()
    for digest in image.blobs:
        (line,) = [line for line in lines if digest[7:19] in line]
        assert line.split()[0] == "copied"
    # One line per blob, one per manifest, then the summary.
    assert len(lines) == len(image.blobs) + 2
    (manifest_line,) = [line for line in lines if line.startswith("manifest ")]
    assert image.manifest_digest[7:19] in manifest_line
    assert lines[-1].startswith("copied 1 manifests")

    again = polyarch("copy", source, f"{other_registry.host}/{repository}:1.0")
    assert again.stderr.decode().splitlines()[-1].endswith("nothing to copy; 2 requests")
    other_tag = polyarch("copy", source, f"{other_registry.host}/{repository}:2.0")
    words = [line.split()[0] for line in other_tag.stderr.decode().splitlines()]
    assert words.count("present") == len(image.blobs)


@pytest.mark.parametrize("kind", ["oci", "docker-archive"])
def test_pull_shows_the_same_progress_to_a_layout_and_to_an_archive(
    registry: RegistryServer, tmp_path: Path, kind: str
) -> None:
    image = make_image(AMD64, seed=128, layers=2, oci=True)
    content = multi([image, make_image(ARM_V7, seed=128, oci=True)])
    source = content.push(registry, unique("cli/pull-lines"), "1.0")
    destination = f"oci:{tmp_path}/l" if kind == "oci" else f"docker-archive:{tmp_path}/x.tar"

    result = polyarch("pull", "--platform", "linux/amd64", source, destination, text=True)

    assert result.returncode == 0, result.stderr
    assert result.stdout == image.manifest_digest + "\n"
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{image.manifest_digest}: linux/amd64 is an exact match")
    for digest in image.blobs:
        (line,) = [line for line in lines if digest[7:19] in line]
        assert line.split()[0] == "copied"
    quiet = polyarch("pull", "-q", "--platform", "linux/amd64", source, destination, text=True)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""


def test_quiet_prints_only_the_digest(
    registry: RegistryServer, other_registry: RegistryServer
) -> None:
    image = make_image(AMD64, seed=126, oci=True)
    repository = unique("cli/quiet")
    source = single(image).push(registry, repository, "1.0")

    result = polyarch("copy", "--quiet", source, f"{other_registry.host}/{repository}:1.0")

    assert result.returncode == 0
    assert result.stdout == (image.manifest_digest + "\n").encode()
    assert result.stderr == b""


def test_progress_on_a_terminal_draws_and_does_not_crash(
    registry: RegistryServer, other_registry: RegistryServer
) -> None:
    image = make_image(AMD64, seed=127, layers=4, layer_size=512 * 1024, oci=True)
    repository = unique("cli/tty")
    source = single(image).push(registry, repository, "1.0")
    master, slave = os.openpty()
    output = bytearray()

    def drain() -> None:
        with contextlib.suppress(OSError):  # EIO once the child closed the terminal
            while chunk := os.read(master, 65536):
                output.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        proc = subprocess.run(
            [POLYARCH, "copy", source, f"{other_registry.host}/{repository}:1.0"],
            stdout=subprocess.PIPE,
            stderr=slave,
            env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"},
            timeout=60,
            check=False,
        )
    finally:
        os.close(slave)
        reader.join(timeout=10)
        os.close(master)

    text = output.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert proc.stdout == (image.manifest_digest + "\n").encode()
    assert "Traceback" not in text
    assert "\x1b[" in text, "rich drew nothing on the terminal"
    assert f"{len(image.blobs)} copied" in text
    assert registry_manifest(other_registry, repository, "1.0") == image.manifest


# -- interrupted copies resume ------------------------------------------------------------


def test_killed_copy_resumes_without_uploading_again(
    registry: RegistryServer, registry_factory: RegistryFactory
) -> None:
    destination = registry_factory()
    image = make_image(AMD64, seed=128, layers=6, layer_size=4 * 1024 * 1024, oci=True)
    repository = unique("cli/resume")
    source = single(image).push(registry, repository, "1.0")
    target = f"{destination.host}/{repository}:1.0"

    start = destination.mark()
    proc = subprocess.Popen(
        [POLYARCH, "copy", "--jobs", "1", source, target],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            with destination.log_path.open("rb") as log:
                log.seek(start)
                served = parse_access_log(log.read(), base=start)
            if [e for e in blob_requests(served, "PUT") if e.status == 201]:
                break
            time.sleep(0.002)
        finished_first = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)  # exactly the PID we started
    finally:
        proc.kill()
        proc.communicate()
    assert not finished_first, "the copy finished before it could be killed"
    assert proc.returncode == -signal.SIGKILL

    assert registry_manifest(destination, repository, "1.0") is None
    present = {d for d in image.blobs if registry_has_blob(destination, repository, d)}
    assert 1 <= len(present) < len(image.blobs)

    start = destination.mark()
    result = polyarch("copy", "--jobs", "1", source, target)
    served = destination.requests(since=start)

    assert ok(result).strip() == image.manifest_digest
    assert registry_manifest(destination, repository, "1.0") == image.manifest
    assert skopeo_raw(f"docker://{target}") == skopeo_raw(f"docker://{source}")
    uploaded = {e.query["digest"][0] for e in blob_requests(served, "PUT")}
    assert uploaded == set(image.blobs) - present
    assert f"{len(present)} already there" in result.stderr.decode()


# -- content that does not match its digest ---------------------------------------------


def assert_aborted(result: subprocess.CompletedProcess[bytes], source: str, bad: str) -> str:
    """Exit 6 with an error that names the damaged blob and where it came from; the
    progress lines of the blobs that made it come before."""
    stderr = result.stderr.decode()
    assert result.returncode == 6, stderr
    assert "Traceback" not in stderr
    assert result.stdout == b""
    error, hint = stderr.splitlines()[-2:]
    assert error.startswith("polyarch: error: content digest mismatch: expected " + bad)
    assert hint.startswith(f"hint: {source} serves damaged bytes for blob {bad}")
    return stderr


def corrupt(path: Path) -> None:
    """Change the bytes of a file, keeping its size (so only the digest can tell)."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def assert_nothing_half_written_in_layout(layout: Path, bad: str) -> None:
    assert (layout / "oci-layout").is_file()  # the blobs that were sound got there
    assert not (layout / "blobs" / "sha256" / bad[7:]).exists()
    assert [p for p in layout.rglob("*") if ".tmp" in p.name or p.name.startswith(".")] == []
    assert layout_tags(layout) == {}


def assert_nothing_half_written_in_registry(
    server: RegistryServer, repository: str, image: SyntheticImage, bad: str
) -> None:
    assert registry_manifest(server, repository, "1.0") is None
    assert registry_manifest(server, repository, image.manifest_digest) is None
    assert not registry_has_blob(server, repository, bad)


def corrupt_image(seed: int) -> tuple[SyntheticImage, str]:
    """An image and the digest of the layer to corrupt (the last one: copied last)."""
    image = make_image(AMD64, seed=seed, layers=3, layer_size=64 * 1024, oci=True)
    return image, image.layers[-1].digest


def test_corrupt_blob_in_source_layout_aborts(
    tmp_path: Path, other_registry: RegistryServer
) -> None:
    image, bad = corrupt_image(129)
    source = Content(image.manifest, OCI_MANIFEST, (), dict(image.blobs)).write_layout(
        tmp_path / "src", "1.0"
    )
    corrupt(tmp_path / "src" / "blobs" / "sha256" / bad[7:])
    repository = unique("cli/corrupt-layout")

    for destination in (f"oci:{tmp_path / 'dst'}:1.0", f"{other_registry.host}/{repository}:1.0"):
        assert_aborted(polyarch("copy", source, destination), f"oci:{tmp_path / 'src'}", bad)
    assert_nothing_half_written_in_layout(tmp_path / "dst", bad)
    assert_nothing_half_written_in_registry(other_registry, repository, image, bad)


def test_corrupt_blob_in_source_registry_aborts(
    tmp_path: Path, registry_factory: RegistryFactory, other_registry: RegistryServer
) -> None:
    source_registry = registry_factory()  # its storage is about to be damaged
    image, bad = corrupt_image(130)
    repository = unique("cli/corrupt-registry")
    source = single(image).push(source_registry, repository, "1.0")
    blobs = source_registry.data_dir / "docker" / "registry" / "v2" / "blobs" / "sha256"
    corrupt(blobs / bad[7:9] / bad[7:] / "data")

    where = f"{source_registry.host}/{repository}"
    for destination in (f"oci:{tmp_path / 'dst'}:1.0", f"{other_registry.host}/{repository}:1.0"):
        assert_aborted(polyarch("copy", source, destination), where, bad)
    assert_nothing_half_written_in_layout(tmp_path / "dst", bad)
    assert_nothing_half_written_in_registry(other_registry, repository, image, bad)

    stderr = assert_clean_error(
        polyarch("pull", "-q", source, f"docker-archive:{tmp_path}/x.tar"), 6
    )
    assert bad in stderr
    assert list(tmp_path.glob("*.tar*")) == []
    assert list(tmp_path.glob(".x.tar*")) == []


# -- pull -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "host", "expected", "exact"),
    [
        ("full", "linux/amd64", 0, True),
        ("full", "linux/arm64", 1, True),
        ("full", "linux/arm/v7", 2, True),
        ("full", "linux/arm/v6", 3, True),
        ("full", "linux/armhf", 2, True),  # a common spelling of arm/v7
        ("only-32-bit-arm", "linux/arm/v8", 0, False),  # arm/v8 takes v7 before v6
        ("only-32-bit-arm", "linux/arm/v7", 0, True),
        ("arm64-without-variant", "linux/arm64", 1, True),
        ("arm64-without-variant", "linux/arm64/v8", 1, True),
        ("arm64-without-variant", "linux/aarch64", 1, True),
        ("only-386", "linux/amd64", 1, False),
        ("only-386", "linux/x86_64", 1, False),
    ],
)
def test_pull_picks_the_right_child(
    indexes: dict[str, tuple[str, list[SyntheticImage]]],
    tmp_path: Path,
    index: str,
    host: str,
    expected: int,
    exact: bool,
) -> None:
    reference, images = indexes[index]
    chosen = images[expected]

    result = polyarch("pull", "--platform", host, reference, f"oci:{tmp_path}/l:got")

    assert ok(result) == chosen.manifest_digest + "\n"
    assert layout_tags(tmp_path / "l") == {"got": chosen.manifest_digest}
    assert skopeo_raw(f"oci:{tmp_path}/l:got") == chosen.manifest
    assert_complete_in_layout(tmp_path / "l", single(chosen))
    stored = {p.name for p in (tmp_path / "l" / "blobs" / "sha256").iterdir()}
    assert stored == {d[7:] for d in [*chosen.blobs, chosen.manifest_digest]}
    stderr = result.stderr.decode()
    assert chosen.manifest_digest in stderr
    assert ("is an exact match" in stderr) == exact
    assert ("is the best entry it can run" in stderr) == (not exact)

    # inspect --platform makes the same choice and explains it the same way.
    inspected = polyarch("inspect", "--platform", host, reference)
    assert inspected.stdout == chosen.manifest
    assert inspected.stderr == result.stderr.splitlines(keepends=True)[0]


def test_pull_fetches_each_manifest_once(
    registry: RegistryServer, indexes: dict[str, tuple[str, list[SyntheticImage]]], tmp_path: Path
) -> None:
    reference, images = indexes["full"]
    start = registry.mark()
    ok(polyarch("pull", "--platform", "linux/arm64", reference, f"oci:{tmp_path}/l"))
    served = [e for e in registry.requests(since=start) if "/manifests/" in e.path]
    # The index by tag, the chosen child by digest: choosing it and copying it share it.
    assert [(e.method, e.path.rsplit("/", 1)[1]) for e in served] == [
        ("GET", "1.0"),
        ("GET", images[1].manifest_digest),
    ]


@pytest.mark.parametrize(
    ("index", "host", "listing"),
    [
        ("only-32-bit-arm", "linux/amd64", "linux/arm/v7, linux/arm/v6"),
        ("only-386", "linux/arm64", "linux/s390x, linux/386"),
        ("full", "windows/amd64", "linux/amd64, linux/arm64/v8, linux/arm/v7, linux/arm/v6"),
    ],
)
def test_pull_nothing_fits_lists_platforms(
    indexes: dict[str, tuple[str, list[SyntheticImage]]],
    tmp_path: Path,
    index: str,
    host: str,
    listing: str,
) -> None:
    reference, _ = indexes[index]
    for destination in (f"oci:{tmp_path}/l", f"docker-archive:{tmp_path}/x.tar"):
        stderr = assert_clean_error(polyarch("pull", "--platform", host, reference, destination), 3)
        assert f"available platforms: {listing}" in stderr
    assert list(tmp_path.iterdir()) == []


def test_pull_all_keeps_the_whole_index(
    indexes: dict[str, tuple[str, list[SyntheticImage]]], tmp_path: Path
) -> None:
    reference, _ = indexes["full"]
    root = skopeo_raw(f"docker://{reference}")

    assert ok(polyarch("pull", "--platform", "all", reference, f"oci:{tmp_path}/l")) == (
        sha256_digest(root) + "\n"
    )
    # No tag named: the source's.
    assert layout_tags(tmp_path / "l") == {"1.0": sha256_digest(root)}
    assert skopeo_raw(f"oci:{tmp_path}/l:1.0") == root
    for entry in json.loads(root)["manifests"]:
        assert (tmp_path / "l" / "blobs" / "sha256" / entry["digest"][7:]).is_file()


def host_architecture() -> str:
    machine = stdlib_platform.machine().lower()
    names = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
    if machine not in names:
        pytest.skip(f"no entry of the test index for a {machine} host")
    return names[machine]


def test_pull_defaults_to_the_host_platform(
    indexes: dict[str, tuple[str, list[SyntheticImage]]], tmp_path: Path
) -> None:
    reference, images = indexes["full"]
    env = {k: v for k, v in os.environ.items() if k != "POLYARCH_PLATFORM"}
    (native,) = [i for i in images if i.platform["architecture"] == host_architecture()]
    result = subprocess.run(
        [POLYARCH, "pull", reference, f"oci:{tmp_path}/native"],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert ok(result).strip() == native.manifest_digest

    # POLYARCH_PLATFORM stands in for the machine.
    emulated = polyarch(
        "pull", reference, f"oci:{tmp_path}/v6:x", env={"POLYARCH_PLATFORM": "linux/arm/v6"}
    )
    assert ok(emulated).strip() == images[3].manifest_digest
    # --platform wins over both.
    chosen = polyarch(
        "pull",
        "--platform",
        "linux/arm64",
        reference,
        f"oci:{tmp_path}/v8:x",
        env={"POLYARCH_PLATFORM": "linux/arm/v6"},
    )
    assert ok(chosen).strip() == images[1].manifest_digest


def test_pull_docker_archive_is_read_by_skopeo(
    indexes: dict[str, tuple[str, list[SyntheticImage]]], tmp_path: Path
) -> None:
    reference, images = indexes["full"]
    chosen = images[1]
    archive = tmp_path / "arm64.tar"

    result = polyarch("pull", "--platform", "linux/arm64", reference, f"docker-archive:{archive}")

    assert ok(result).strip() == chosen.manifest_digest
    info = json.loads(
        subprocess.run(
            ["skopeo", "inspect", f"docker-archive:{archive}"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    )
    assert (info["Os"], info["Architecture"]) == ("linux", "arm64")
    assert info["Layers"] == [layer.diff_id for layer in chosen.layers]
    manifest = json.loads(skopeo_raw(f"docker-archive:{archive}"))
    assert manifest["config"]["digest"] == chosen.config_digest
    config = subprocess.run(
        ["skopeo", "inspect", "--config", "--raw", f"docker-archive:{archive}"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert config == chosen.config
    with tarfile.open(archive) as tar:
        (entry,) = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert entry["RepoTags"] == [reference]
    assert [p.name for p in tmp_path.iterdir()] == ["arm64.tar"]


# -- tags and digest --------------------------------------------------------------------


def test_tags_of_a_registry_repository_and_a_layout(
    registry: RegistryServer, tmp_path: Path
) -> None:
    image = make_image(AMD64, seed=131, oci=True)
    repository = unique("cli/tags")
    for tag in ("2.0", "1.0", "latest"):
        single(image).push(registry, repository, tag)

    assert ok(polyarch("tags", f"{registry.host}/{repository}")) == "1.0\n2.0\nlatest\n"
    assert_clean_error(polyarch("tags", f"{registry.host}/{unique('cli/none')}"), 3)

    for tag in ("b", "a"):
        ok(polyarch("copy", f"{registry.host}/{repository}:1.0", f"oci:{tmp_path}/l:{tag}"))
    assert ok(polyarch("tags", f"oci:{tmp_path}/l")) == "a\nb\n"
    assert ok(polyarch("tags", f"oci:{tmp_path}/l:a")) == "a\nb\n"


def test_digest_is_one_head_request(registry: RegistryServer, tmp_path: Path) -> None:
    content = multi([make_image(p, seed=132, oci=True) for p in (AMD64, ARM64_V8)])
    repository = unique("cli/digest")
    reference = content.push(registry, repository, "1.0")

    start = registry.mark()
    result = polyarch("digest", reference)
    served = registry.requests(since=start)

    assert ok(result) == content.digest + "\n"
    assert [(e.method, e.path, e.status) for e in served] == [
        ("HEAD", f"/v2/{repository}/manifests/1.0", 200)
    ]
    layout = content.write_layout(tmp_path / "layout", "x")
    assert ok(polyarch("digest", layout)) == content.digest + "\n"


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["copy", "{src}", "{host}/cli/bad@sha256:" + "a" * 64], "names a digest"),
        (["copy", "--all", "--platform", "linux/amd64", "{src}", "{host}/x:1"], "--all"),
        (["copy", "--single", "{src}", "{host}/x:1"], "--single"),
        (
            ["copy", "--single", "--platform", "linux/amd64,linux/arm64", "{src}", "{host}/x"],
            "--single",
        ),
        (["copy", "--platform", "linux/armv7", "{src}", "{host}/x:1"], "arm/v7"),
        (["copy", "--jobs", "0", "{src}", "{host}/x:1"], "--jobs"),
        (["pull", "{src}", "{host}/cli/bad:1.0"], "polyarch copy"),
        (["pull", "--platform", "all", "{src}", "docker-archive:/tmp/never.tar"], "oci:"),
        (["pull", "{src}", "oci:/tmp/never@sha256:" + "b" * 64], "digest"),
    ],
)
def test_bad_input_exits_2_before_any_request(
    registry: RegistryServer, args: list[str], fragment: str
) -> None:
    source = f"{registry.host}/cli/bad-source:1.0"
    start = registry.mark()
    result = polyarch(*[a.format(src=source, host=registry.host) for a in args])
    stderr = assert_clean_error(result, 2)
    assert fragment in stderr
    if args[0] == "pull" and "{host}/cli" in args[-1]:
        assert "hint: to copy between registries, use: polyarch copy" in stderr
    assert registry.requests(since=start) == []
    assert not Path("/tmp/never.tar").exists()


def test_help_names_the_commands() -> None:
    text = ok(polyarch("--help"))
    for command in ("copy", "pull", "tags", "digest"):
        assert re.search(rf"^\s+{command}\s", text, re.MULTILINE), command


def test_copy_of_an_untagged_layout_is_tagged_latest(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "hello-multiarch"
    result = subprocess.run(
        ["polyarch", "copy", "-q", f"oci:{example}", f"oci:{tmp_path / 'copy'}"],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    from polyarch.layout import LayoutStore

    assert LayoutStore(tmp_path / "copy").list_tags() == ["latest"]


# -- indexes of indexes -------------------------------------------------------------------------

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def push_nested(registry: RegistryServer, repository: str, depth: int) -> str:
    """An amd64 image wrapped in ``depth`` indexes, each the only entry of the next (with
    the platform of what it holds); the outermost is tagged ``1``. Returns its reference."""
    image = make_image(AMD64, seed=77, oci=True)
    registry.push_image(repository, image)
    entry = {**image.descriptor()}
    for level in range(depth):
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]})
        data = index.encode()
        tag = "1" if level == depth - 1 else None
        digest = registry.push_manifest(repository, tag or sha256_digest(data), data, OCI_INDEX)
        entry = {"mediaType": OCI_INDEX, "digest": digest, "size": len(data), "platform": AMD64}
    return f"{registry.host}/{repository}:1"


def test_indexes_nested_as_deep_as_allowed_work(registry: RegistryServer, tmp_path: Path) -> None:
    reference = push_nested(registry, unique("cli/nested-ok"), MAX_INDEX_DEPTH)
    assert json.loads(ok(polyarch("inspect", "--verbose", reference)))
    ok(polyarch("pull", "--platform", "linux/amd64", reference, f"oci:{tmp_path}/pulled"))
    ok(polyarch("copy", reference, f"oci:{tmp_path}/copied:1"))


def test_indexes_nested_deeper_are_refused(registry: RegistryServer, tmp_path: Path) -> None:
    """A registry could serve an endless chain of made-up indexes: every command stops at
    MAX_INDEX_DEPTH levels with a clear error (exit 6), and nothing is written."""
    reference = push_nested(registry, unique("cli/nested-deep"), MAX_INDEX_DEPTH + 1)
    for args in (
        ("inspect", "--verbose", reference),
        ("inspect", "--platform", "linux/amd64", reference),
        ("pull", "--platform", "linux/amd64", reference, f"oci:{tmp_path}/pulled"),
        ("copy", reference, f"oci:{tmp_path}/copied:1"),
    ):
        stderr = assert_clean_error(polyarch(*args), 6)
        assert f"nested more than {MAX_INDEX_DEPTH} levels deep" in stderr, args
    assert not (tmp_path / "pulled").exists()
    assert not (tmp_path / "copied").exists()
