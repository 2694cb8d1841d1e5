"""Each runtime family's pick (:mod:`polyarch.selection`), on indexes where they disagree:
the table read off containerd/platforms v1.0.0-rc.5, containers/image (container-libs),
go-containerregistry, regclient and moby's classic store, each row checked per family."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.models import Descriptor
from polyarch.platform import Platform
from polyarch.selection import FAMILIES, pick_all

FAMILY_NAMES = [f.name for f in FAMILIES]


def entry(n: int, platform: str | None, **annotations: str) -> Descriptor:
    parsed = None
    if platform is not None:
        spec, _, features = platform.partition("+")
        os_part, _, rest = spec.partition("/")
        os_name, _, version = os_part.partition("@")
        arch, _, variant = rest.partition("/")
        parsed = Platform(
            os_name, arch, variant, version, tuple(features.split(",")) if features else ()
        )
    return Descriptor(
        mt.OCI_MANIFEST, Digest(f"sha256:{n:064x}"), 100, platform=parsed, annotations=annotations
    )


def host(text: str) -> Platform:
    os_part, _, rest = text.partition("/")
    os_name, _, version = os_part.partition("@")
    arch, _, variant = rest.partition("/")
    return Platform(os_name, arch, variant, version)


# (host, entries, config of entry 1 when it has no platform, picks in FAMILIES order)
ROWS: list[tuple[str, str, list[Descriptor], str | None, tuple[int | None, ...]]] = [
    ("arm without variant is v7 to some", "linux/arm/v7",
     [entry(1, "linux/arm"), entry(2, "linux/arm/v6")], None, (1, 2, None, 1, 1)),
    ("arm64 against arm64/v8", "linux/arm64",
     [entry(1, "linux/arm64"), entry(2, "linux/arm64/v8")], None, (1, 2, 1, 1, 1)),
    ("only 386 on amd64", "linux/amd64", [entry(1, "linux/386")], None, (1, None, None, None, 1)),
    ("only arm/v7 on arm64", "linux/arm64",
     [entry(1, "linux/arm/v7")], None, (1, None, None, None, 1)),
    ("a platform-less entry first", "linux/amd64",
     [entry(1, None), entry(2, "linux/amd64")], None, (2, 2, 1, 2, 2)),
    ("a platform-less amd64 image on arm64", "linux/arm64",
     [entry(1, None)], "linux/amd64", (None, 1, None, None, 1)),
    ("aarch64 spelled", "linux/arm64", [entry(1, "linux/aarch64")], None, (1, None, None, 1, 1)),
    ("arm variants around the host's", "linux/arm",
     [entry(1, "linux/arm/v5"), entry(2, "linux/arm/v8")], None, (1, 1, 1, 1, 1)),
    ("os.features the host lacks", "linux/amd64",
     [entry(1, "linux/amd64+x"), entry(2, "linux/amd64")], None, (2, 1, 1, 1, 2)),
    ("zstd preferred by containers/image", "linux/amd64",
     [entry(1, "linux/amd64"),
      entry(2, "linux/amd64", **{"io.github.containers.compression.zstd": "true"})],
     None, (1, 2, 1, 1, 1)),
    ("windows builds", "windows@10.0.20348/amd64",
     [entry(1, "windows@10.0.17763.5000/amd64"), entry(2, "windows@10.0.20348.2000/amd64")],
     None, (2, 1, None, 2, 2)),
    ("only an older windows build", "windows@10.0.20348/amd64",
     [entry(1, "windows@10.0.17763.5000/amd64")], None, (None, 1, None, None, 1)),
    # No family reads the annotation: a real platform is a candidate whatever it says.
    ("an attestation's annotation on a real platform", "linux/arm64",
     [entry(1, "linux/arm64", **{"vnd.docker.reference.type": "attestation-manifest",
                                 "vnd.docker.reference.digest": f"sha256:{2:064x}"})],
     None, (1, 1, 1, 1, 1)),
    ("buildx's attestation entry", "linux/amd64",
     [entry(1, "unknown/unknown", **{"vnd.docker.reference.type": "attestation-manifest"}),
      entry(2, "linux/amd64")], None, (2, 2, 2, 2, 2)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("wanted", "entries", "config", "expected"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_each_family_picks_as_its_source_says(
    wanted: str, entries: list[Descriptor], config: str | None, expected: tuple[int | None, ...]
) -> None:
    configs: Mapping[Digest, Platform] = {entries[0].digest: host(config)} if config else {}

    picks = pick_all(
        entries, host(wanted), media_type=mt.OCI_INDEX, learn=lambda e: configs.get(e.digest)
    )

    assert {p.family: p.position for p in picks} == dict(zip(FAMILY_NAMES, expected, strict=True))
    assert all(p.reason for p in picks)


def test_a_docker_list_entry_without_a_platform_is_never_a_containers_image_pick() -> None:
    picks = pick_all(
        [entry(1, None)], host("linux/arm64"), media_type=mt.DOCKER_MANIFEST_LIST, learn=None
    )
    assert {p.family: p.position for p in picks}["containers/image"] is None


def test_attestations_are_no_family_s_pick() -> None:
    attestation = entry(
        1, "unknown/unknown", **{"vnd.docker.reference.type": "attestation-manifest"}
    )
    picks = pick_all([attestation], host("linux/amd64"), media_type=mt.OCI_INDEX)
    assert [p.position for p in picks] == [None] * len(FAMILIES)
