"""Which entry of an index each runtime family runs on a platform, by its own rule.

Pure: an index's entries and the platform of the machine in, one pick per family out. The
rules are read off each family's source (the versions named); where they differ, the same
index runs different images on the same machine:

``containerd``       (docker with the containerd store, nerdctl, Kubernetes) containerd
                     platforms ``Only`` + ``images.Manifest``: entries normalized
                     (``aarch64`` = ``arm64``, ``arm64/v8`` = ``arm64``), compatible ones
                     ranked by the host's ``platformVector`` (arm/v7, v6, v5; amd64, 386;
                     arm64, arm/v8..v5), best first, index order on a tie; entries
                     without a platform last, the first of them taken only if its config
                     matches; an entry whose ``os.features`` the host lacks is refused.
``containers/image`` (podman, skopeo, cri-o) ``WantedPlatforms`` + ``chooseInstance``: no
                     normalization, variants tried from the host's down (arm: v8, v7, v6,
                     v5; arm64: v8), then none; no amd64 or arm64 fallback; os.version and
                     features ignored; in an OCI index the earliest wanted variant wins,
                     zstd entries before others, then index order, and an entry without a
                     platform is the last resort (its config unread).
``go-containerregistry`` (crane, ko, kaniko) ``childByPlatform``: the first entry in index
                     order whose os and architecture are the platform's, and its variant
                     and os.version too when the platform names them (no normalization, no
                     fallback); an entry without a platform counts as linux/amd64.
``regclient``        (regctl, regsync) ``DescriptorListSearch``: normalized; compatible
                     entries (a variant at or below the host's), the best kept: the host's
                     exact variant, else the highest; entries without a platform skipped.
``docker classic``   (docker with the classic image store) ``filterManifests``: containerd's
                     ranking, but an entry without a platform is pulled without looking at
                     its config; on Windows, builds newer than the host's are left out and
                     those of the host's release come first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from polyarch import mediatype as mt
from polyarch.models import Descriptor
from polyarch.platform import Platform, format_all, is_compatible, normalize, preference_key

__all__ = ["FAMILIES", "Family", "Pick", "pick_all"]

#: What a family is asked about an entry without a platform: its config's platform, or
#: ``None`` when that cannot be told (an artifact, a nested index).
Learn = Callable[[Descriptor], Platform | None]

_ZSTD_ANNOTATION: Final = "io.github.containers.compression.zstd"
#: containers/image ``compatibility``: an architecture's variants, most capable first.
_C_IMAGE_VARIANTS: Final = {"arm": ("v8", "v7", "v6", "v5"), "arm64": ("v8",)}
_VARIANT_NUMBER: Final = re.compile(r"v?(\d+)")


@dataclass(frozen=True, slots=True)
class Pick:
    """One family's choice: the entry's position in the index (1-based), or ``None``."""

    family: str
    position: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    users: str
    pick: Callable[[Sequence[Descriptor], Platform, Learn | None, bool], tuple[int | None, str]]


def _label(entry: Descriptor) -> str:
    return format_all(entry.platform) if entry.platform is not None else "no platform"


def _runnable(entries: Sequence[Descriptor]) -> list[tuple[int, Descriptor]]:
    """Entries with their positions. No family reads the attestation annotation: buildx's
    attestations are left out by their platform (``unknown/unknown``), and an entry with
    a real platform is a candidate whatever its annotations say."""
    return list(enumerate(entries, 1))


def _containerd(
    entries: Sequence[Descriptor], host: Platform, learn: Learn | None, _oci: bool
) -> tuple[int | None, str]:
    return _ranked(entries, host, learn, check_config=True)


def _docker_classic(
    entries: Sequence[Descriptor], host: Platform, learn: Learn | None, _oci: bool
) -> tuple[int | None, str]:
    if normalize(host).os == "windows":
        return _docker_windows(entries, host)
    return _ranked(entries, host, learn, check_config=False)


def _ranked(
    entries: Sequence[Descriptor], host: Platform, learn: Learn | None, *, check_config: bool
) -> tuple[int | None, str]:
    """containerd's ``Only(host)``: compatible entries best first, index order on a tie,
    entries without a platform last; the first taken."""
    key = preference_key(host)
    placed = [
        (i, e, e.platform)
        for i, e in _runnable(entries)
        if e.platform is not None and is_compatible(host, e.platform)
    ]
    if placed:
        position, best, platform = sorted(placed, key=lambda item: key(item[2]))[0]
        how = (
            "an exact match"
            if normalize(platform) == normalize(host)
            else f"the best of what {format_all(normalize(host))} can run"
        )
        return position, f"{_label(best)}: {how}"
    unplaced = [(i, e) for i, e in _runnable(entries) if e.platform is None]
    if not unplaced:
        return None, "no entry it can run"
    position, first = unplaced[0]
    if not check_config:
        return position, "no platform: pulled as it is, its config unread"
    config = learn(first) if learn is not None else None
    if config is not None and is_compatible(host, config):
        return position, f"no platform; its config says {format_all(config)}"
    says = f"its config says {format_all(config)}" if config is not None else "no config to read"
    return None, f"entry {position} has no platform and {says}; no other is tried"


def _docker_windows(entries: Sequence[Descriptor], host: Platform) -> tuple[int | None, str]:
    wanted = normalize(host)
    host_build = _windows_build(wanted.os_version)
    kept: list[tuple[int, Descriptor]] = []
    for position, entry in _runnable(entries):
        platform = normalize(entry.platform) if entry.platform is not None else None
        if platform is None or platform.os != wanted.os:
            continue
        if platform.architecture != wanted.architecture:
            continue
        build = _windows_build(platform.os_version)
        if host_build is not None and build is not None and build > host_build:
            continue
        kept.append((position, entry))
    if not kept:
        return None, "no windows entry of this architecture and no newer build than the host's"
    release = ".".join(wanted.os_version.split(".")[:3])
    ordered = sorted(
        kept,
        key=lambda item: (
            not (
                release
                and item[1].platform is not None
                and item[1].platform.os_version.startswith(release + ".")
            )
        ),
    )
    position, entry = ordered[0]
    return position, f"{_label(entry)}: the first windows entry of the host's build or older"


def _windows_build(version: str) -> tuple[int, ...] | None:
    parts = version.split(".")[:3]
    if len(parts) < 3 or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def _host_variant(host: Platform) -> str:
    """The variant containers/image and regclient detect on a machine of ``host``: as
    given, else v8 on arm64 and v7 on arm (what those CPUs report)."""
    if host.variant:
        return host.variant
    return {"arm64": "v8", "arm": "v7"}.get(host.architecture, "")


def _containers_image(
    entries: Sequence[Descriptor], host: Platform, _learn: Learn | None, oci: bool
) -> tuple[int | None, str]:
    variant = _host_variant(host)
    order = _C_IMAGE_VARIANTS.get(host.architecture)
    if variant:
        variants = [*order[order.index(variant) :]] if order and variant in order else [variant]
        variants.append("")
    else:
        variants = ["", *(order or ())]
    wanted = [(host.os, host.architecture, v) for v in variants]
    shown = ", ".join(f"{a}/{v}" if v else a for _, a, v in wanted)
    best: tuple[int, bool, int] | None = None
    for position, entry in _runnable(entries):
        if entry.platform is None:
            if not oci:
                continue  # a Docker list's entry without a platform never matches
            rank = len(wanted)  # the last resort
        else:
            p = entry.platform
            spelled = (p.os, p.architecture, p.variant)
            if spelled not in wanted:
                continue
            rank = wanted.index(spelled)
        zstd = oci and entry.annotations.get(_ZSTD_ANNOTATION) == "true"
        candidate = (rank, not zstd, position)
        if best is None or candidate < best:
            best = candidate
    if best is None:
        return None, f"no entry spelled as one of {shown} (no normalization)"
    rank, _, position = best
    entry = entries[position - 1]
    if rank == len(wanted):
        return position, "no platform: the last resort, its config unread"
    why = f"{_label(entry)}: the earliest of {shown} an entry names"
    if oci and entry.annotations.get(_ZSTD_ANNOTATION) == "true":
        why += " (zstd preferred)"
    return position, why


def _go_containerregistry(
    entries: Sequence[Descriptor], host: Platform, _learn: Learn | None, _oci: bool
) -> tuple[int | None, str]:
    for position, entry in _runnable(entries):
        given = entry.platform or Platform("linux", "amd64")
        if (given.os, given.architecture) != (host.os, host.architecture):
            continue
        if host.os_version and given.os_version != host.os_version:
            continue
        if host.variant and given.variant != host.variant:
            continue
        if not set(host.os_features) <= set(given.os_features):
            continue
        assumed = " (no platform: taken for linux/amd64)" if entry.platform is None else ""
        return position, f"{_label(entry)}: the first entry that matches{assumed}"
    return None, "no entry with the same os and architecture (and variant, as written)"


def _regclient(
    entries: Sequence[Descriptor], host: Platform, _learn: Learn | None, _oci: bool
) -> tuple[int | None, str]:
    wanted = normalize(host)
    wanted_variant = normalize(
        Platform(wanted.os, wanted.architecture, _host_variant(host))
    ).variant
    best: tuple[int, Platform] | None = None
    for position, entry in _runnable(entries):
        if entry.platform is None:
            continue
        p = normalize(entry.platform)
        if not _regclient_compatible(wanted, wanted_variant, p):
            continue
        if best is None or _regclient_better(wanted_variant, p, best[1]):
            best = (position, p)
    if best is None:
        return None, "no entry of the same os and architecture at or below its variant"
    position, platform = best
    exact = platform.variant == wanted_variant
    how = "the host's variant" if exact else "the highest variant it can run"
    return position, f"{_label(entries[position - 1])}: {how}"


def _variant_level(variant: str) -> int:
    match = _VARIANT_NUMBER.fullmatch(variant)
    return int(match.group(1)) if match else 0


def _regclient_compatible(host: Platform, host_variant: str, target: Platform) -> bool:
    if host.os == "windows" and target.os == "linux":
        return target.architecture == host.architecture
    if host.os == "darwin" and target.os == "linux":
        return target.architecture == host.architecture
    if (target.os, target.architecture) != (host.os, host.architecture):
        return False
    release = host.os_version.split(".")[:3]
    if host.os == "windows" and host.os_version and target.os_version:
        return target.os_version.split(".")[:3] == release
    high, low = _variant_level(host_variant), _variant_level(target.variant)
    return high >= low or (high == 1 and target.variant == "") or (host_variant == "" and low == 1)


def _regclient_better(host_variant: str, a: Platform, b: Platform) -> bool:
    if (a.variant == host_variant) != (b.variant == host_variant):
        return a.variant == host_variant
    return _variant_level(a.variant) > _variant_level(b.variant)


FAMILIES: Final = (
    Family("containerd", "docker (containerd store), nerdctl, Kubernetes", _containerd),
    Family("containers/image", "podman, skopeo, cri-o", _containers_image),
    Family("go-containerregistry", "crane, ko, kaniko", _go_containerregistry),
    Family("regclient", "regctl, regsync", _regclient),
    Family("docker classic", "docker with the classic image store", _docker_classic),
)


def pick_all(
    entries: Sequence[Descriptor],
    host: Platform,
    *,
    media_type: str,
    learn: Learn | None = None,
) -> list[Pick]:
    """Each family's pick among ``entries`` (an index of ``media_type``) on a machine of
    ``host``."""
    oci = media_type == mt.OCI_INDEX
    return [Pick(family.name, *family.pick(entries, host, learn, oci)) for family in FAMILIES]
