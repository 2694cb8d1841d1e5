"""Pick the entry of an index that a platform should run, and say why.

Unlike go-containerregistry, which takes the *first* entry that matches, the choice is
the *best* one: the exact platform if the index has it, else the most preferred compatible
one (containerd's order: an ``arm64`` host takes ``arm64`` before ``arm/v7``; ``amd64``
falls back to ``386``). Among entries of the same platform the first wins, as the OCI spec
says. Attestation manifests are never chosen.

Entries without a ``platform`` are candidates too, as in containerd (``images.Manifest``)
and containers/image: only when no entry with a platform fits, in index order, each judged
by what it names: an image by its config's platform, a nested index by what it would
choose. Content that is no image (an artifact's config) is never chosen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from polyarch.digest import Digest
from polyarch.errors import NoMatchingPlatformError
from polyarch.models import Descriptor, ImageIndex, ImageManifest, Manifest
from polyarch.ops.walk import Walk
from polyarch.platform import (
    Platform,
    format_all,
    is_compatible,
    matches_strict,
    normalize,
    rank,
)

if TYPE_CHECKING:
    from polyarch.store import Store

__all__ = ["Choice", "Learn", "available_platforms", "choose", "image_for_platform", "learner"]

log = logging.getLogger(__name__)

#: The platform a platform-less entry turns out to have (``None``: no image for it).
Learn = Callable[[Descriptor], Platform | None]


@dataclass(frozen=True, slots=True)
class Choice:
    """The chosen index entry, and a sentence that explains the choice.

    ``position`` counts from 1; ``from_config`` says the entry has no platform of its own
    and ``platform`` is what its content says.
    """

    descriptor: Descriptor
    platform: Platform
    wanted: Platform
    exact: bool
    position: int = 0
    from_config: bool = False

    @property
    def reason(self) -> str:
        match = (
            f"an exact match for {self.wanted}"
            if self.exact
            else f"the best entry {self.wanted} can run (no exact match)"
        )
        if self.from_config:
            return (
                f"entry {self.position} has no platform; its config says "
                f"{format_all(self.platform)}, {match}"
            )
        if self.exact:
            return f"{self.platform} is an exact match for {self.wanted}"
        return f"no exact match for {self.wanted}; {self.platform} is the best entry it can run"


def available_platforms(
    index: ImageIndex, learned: dict[Digest, Platform | None] | None = None
) -> tuple[str, ...]:
    """The platforms of the runnable entries in index order, with OS version and
    features (three Windows builds are three entries); a platform-less entry as what its
    content said when it was looked at, else ``(no platform) DIGEST``."""
    shown: list[str] = []
    for entry in index.images:
        if entry.platform is not None:
            shown.append(format_all(entry.platform))
        elif learned is not None and (platform := learned.get(entry.digest)) is not None:
            shown.append(f"{format_all(platform)} (no platform; from its config)")
        else:
            shown.append(f"(no platform) {entry.digest}")
    return tuple(shown)


def choose(index: ImageIndex, wanted: Platform, *, learn: Learn | None = None) -> Choice:
    """The entry of ``index`` that a machine of platform ``wanted`` should run.

    :param learn: how to find out the platform of an entry that has none; without it such
        entries are never chosen.
    :raises NoMatchingPlatformError: nothing in the index runs on ``wanted``; the error
        lists the platforms that are there.
    """
    entries = [d for d in index.images if d.platform is not None]
    ranked = rank(wanted, [d.platform for d in entries if d.platform is not None])
    if ranked:
        best = ranked[0]
        # rank returns platforms; the first entry carrying that platform is the one to run.
        descriptor = next(d for d in entries if d.platform == best)
        assert descriptor.platform is not None
        return Choice(
            descriptor=descriptor,
            platform=descriptor.platform,
            wanted=wanted,
            exact=matches_strict(wanted, descriptor.platform),
            position=_position(index, descriptor),
        )
    learned: dict[Digest, Platform | None] = {}
    if learn is not None:
        for entry in index.images:
            if entry.platform is not None:
                continue
            platform = learned[entry.digest] = learn(entry)
            if platform is not None and is_compatible(wanted, platform):
                return Choice(
                    descriptor=entry,
                    platform=platform,
                    wanted=wanted,
                    exact=matches_strict(wanted, platform),
                    position=_position(index, entry),
                    from_config=True,
                )
    available = available_platforms(index, learned)
    listing = ", ".join(available) if available else "none"
    raise NoMatchingPlatformError(
        f"no image for {normalize(wanted)} in {index.digest}: available platforms: {listing}",
        wanted=str(wanted),
        available=available,
    )


def _position(index: ImageIndex, entry: Descriptor) -> int:
    return next(i for i, e in enumerate(index.manifests) if e is entry) + 1


#: The most entries without a platform one choice looks into (nested ones included): a
#: hostile index can name thousands, each a nested index naming thousands more.
MAX_LOOKED_AT = 16


class _Looked:
    """What one choice learned of entries without a platform, by digest (the same digest
    is the same content, wherever it is named), and how many more it may look at."""

    def __init__(self) -> None:
        self.platforms: dict[Digest, Platform | None] = {}
        self.left = MAX_LOOKED_AT
        self.warned = False


def learner(
    walk: Walk, index: ImageIndex, wanted: Platform, *, depth: int, looked: _Looked | None = None
) -> Learn:
    """What :func:`choose` asks about the platform-less entries of ``index`` (``depth``
    indexes below the walk's root): each looked at once, through ``walk``, at most
    :data:`MAX_LOOKED_AT` of them for one choice."""
    seen = looked if looked is not None else _Looked()

    def learn(entry: Descriptor) -> Platform | None:
        if entry.digest in seen.platforms:
            return seen.platforms[entry.digest]
        if seen.left <= 0:
            if not seen.warned:
                seen.warned = True
                log.warning(
                    "%s: more than %d entries without a platform; the rest are not looked at",
                    walk.where,
                    MAX_LOOKED_AT,
                )
            return None
        seen.left -= 1
        platform = seen.platforms[entry.digest] = _platform_of(entry)
        return platform

    def _platform_of(entry: Descriptor) -> Platform | None:
        child = walk.child(index, entry, depth=depth)
        if isinstance(child, ImageIndex):
            try:
                inner = learner(walk, child, wanted, depth=depth + 1, looked=seen)
                return choose(child, wanted, learn=inner).platform
            except NoMatchingPlatformError:
                return None
        blob = walk.config_blob(child, reached=(index, entry))
        config = None if blob is None else walk.image_config(child, blob)
        return None if config is None else config.platform

    return learn


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
        learn = learner(walk, manifest, wanted, depth=len(choices))
        choice = choose(manifest, wanted, learn=learn)
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
