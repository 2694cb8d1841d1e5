"""Pick the entry of an index that a platform should run, and say why.

Unlike go-containerregistry, which takes the *first* entry that matches, the choice is
the *best* one: the exact platform if the index has it, else the most preferred compatible
one (containerd's order: an ``arm64`` host takes ``arm64`` before ``arm/v7``; ``amd64``
falls back to ``386``). Among entries of the same platform the first wins, as the OCI spec
says. Attestation manifests are never chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from polyarch.errors import NoMatchingPlatformError
from polyarch.models import Descriptor, ImageIndex, ImageManifest, Manifest
from polyarch.ops.walk import Walk
from polyarch.platform import Platform, is_compatible, matches_strict, normalize, rank

if TYPE_CHECKING:
    from polyarch.store import Store

__all__ = ["Choice", "available_platforms", "choose", "image_for_platform"]


@dataclass(frozen=True, slots=True)
class Choice:
    """The chosen index entry, and a sentence that explains the choice."""

    descriptor: Descriptor
    platform: Platform
    wanted: Platform
    exact: bool

    @property
    def reason(self) -> str:
        if self.exact:
            return f"{self.platform} is an exact match for {self.wanted}"
        return f"no exact match for {self.wanted}; {self.platform} is the best entry it can run"


def available_platforms(index: ImageIndex) -> tuple[str, ...]:
    """The platforms of the runnable entries, formatted, in index order."""
    return tuple(str(d.platform) for d in index.images if d.platform is not None)


def choose(index: ImageIndex, wanted: Platform) -> Choice:
    """The entry of ``index`` that a machine of platform ``wanted`` should run.

    :raises NoMatchingPlatformError: nothing in the index runs on ``wanted``; the error
        lists the platforms that are there.
    """
    entries = [d for d in index.images if d.platform is not None]
    ranked = rank(wanted, [d.platform for d in entries if d.platform is not None])
    if not ranked:
        available = available_platforms(index)
        listing = ", ".join(available) if available else "none"
        raise NoMatchingPlatformError(
            f"no image for {normalize(wanted)} in {index.digest}: available platforms: {listing}",
            wanted=str(wanted),
            available=available,
        )
    best = ranked[0]
    # rank returns platforms; the first entry carrying that platform is the one to run.
    descriptor = next(d for d in entries if d.platform == best)
    assert descriptor.platform is not None
    return Choice(
        descriptor=descriptor,
        platform=descriptor.platform,
        wanted=wanted,
        exact=matches_strict(wanted, descriptor.platform),
    )


def image_for_platform(
    store: Store, manifest: Manifest, wanted: Platform, *, where: str
) -> tuple[ImageManifest, list[Choice]]:
    """Walk from ``manifest`` down to the image that ``wanted`` should run.

    Indexes are resolved with :func:`choose` (nested ones too); a single image is checked
    against its config, as ``docker pull --platform`` does.

    :returns: the image and the choices made on the way, for explaining them.
    :raises NoMatchingPlatformError: nothing fits; the error lists what is there.
    """
    choices: list[Choice] = []
    walk = Walk(store, manifest, where=where)
    while isinstance(manifest, ImageIndex):
        choice = choose(manifest, wanted)
        choices.append(choice)
        manifest = walk.child(manifest, choice.descriptor, depth=len(choices) - 1)
    config = walk.config(manifest)
    if not choices and not is_compatible(wanted, config.platform):
        raise NoMatchingPlatformError(
            f"{where} is a single {config.platform} image, which {normalize(wanted)} cannot run",
            wanted=str(wanted),
            available=(str(config.platform),),
        )
    return manifest, choices
