"""Lists from a spec file or from a template, as manifest-tool makes them, so that its
users switch without rewriting anything::

    image: registry.example/app:1.0          # the list
    tags: ["1", "latest"]                    # more tags for it
    manifests:
      - image: registry.example/app:amd64
        platform: {architecture: amd64, os: linux}
      - image: registry.example/app:arm64
        platform: {architecture: arm64, os: linux, variant: v8, osversion: "", features: []}

``push from-args`` makes the same from ``--platforms linux/amd64,linux/arm64/v8
--template app:OS-ARCHVARIANT --target app:1.0``: ``OS``, ``ARCH`` and ``VARIANT`` in the
template are replaced by each platform's parts (``app:linux-arm64v8``).

A key the format does not have is an error naming it (a typo must not be a silently
missing platform); so is a key given twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from polyarch.errors import InvalidInputError, InvalidPlatformError, NotFoundError
from polyarch.ops import DEFAULT_JOBS
from polyarch.ops._yaml import load_yaml, mapping_of, string_of
from polyarch.ops.pending import ListName, PendingList, parse_list_name
from polyarch.platform import Platform
from polyarch.reference import DEFAULT_TAG

if TYPE_CHECKING:
    from polyarch.ops.lists import StoreOpener

__all__ = ["ListSpec", "SpecEntry", "from_template", "parse_spec", "spec_list"]

_TOP_KEYS = frozenset({"image", "tags", "manifests"})
_ENTRY_KEYS = frozenset({"image", "platform"})
#: manifest-tool reads ``platform`` into the OCI Go struct with YAML's lower-cased field
#: names; ``features`` is the older Docker field.
_PLATFORM_KEYS = {
    "architecture": "architecture",
    "os": "os",
    "variant": "variant",
    "osversion": "os.version",
    "os.version": "os.version",
    "osfeatures": "os.features",
    "os.features": "os.features",
    "features": "features",
}
#: The largest spec file read.
MAX_SPEC_SIZE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SpecEntry:
    """One member: an image, and the platform the list names it with (``None``: its
    config's)."""

    image: str
    platform: Platform | None = None


@dataclass(frozen=True, slots=True)
class ListSpec:
    """A list to push: its name, more tags, its members."""

    image: str
    tags: tuple[str, ...]
    manifests: tuple[SpecEntry, ...]


def parse_spec(text: str, *, where: str) -> ListSpec:
    """Read a manifest-tool spec (YAML).

    :raises InvalidInputError: not YAML, a key the format does not have or one given
        twice, a value of the wrong type, an invalid platform; ``where`` names the file.
    """
    document = load_yaml(text, where=where)
    top = mapping_of(document, where, "the spec", _TOP_KEYS)
    image = string_of(top.get("image"), where, "image")
    tags = top.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise InvalidInputError(f"{where}: tags must be a list of tags")
    manifests = top.get("manifests")
    if not isinstance(manifests, list) or not manifests:
        raise InvalidInputError(f"{where}: manifests must be a list of images, one at least")
    entries = []
    for number, value in enumerate(manifests, start=1):
        what = f"manifests[{number}]"
        entry = mapping_of(value, where, what, _ENTRY_KEYS)
        platform = entry.get("platform")
        entries.append(
            SpecEntry(
                string_of(entry.get("image"), where, f"{what}.image"),
                None if platform is None else _platform(platform, where, f"{what}.platform"),
            )
        )
    return ListSpec(image, tuple(tags), tuple(entries))


def _platform(value: object, where: str, what: str) -> Platform:
    fields = mapping_of(value, where, what, frozenset(_PLATFORM_KEYS))
    document: dict[str, Any] = {}
    for key, item in fields.items():
        name = _PLATFORM_KEYS[key]
        if name == "features":
            name = "os.features"  # what the OCI platform calls them
        if item is None or item == "" or item == []:
            continue
        document[name] = item
    try:
        return Platform.from_dict(document)
    except InvalidPlatformError as err:
        raise InvalidInputError(f"{where}: {what}: {err}") from err


def from_template(
    platforms: Sequence[Platform], template: str, target: str, tags: Sequence[str] = ()
) -> ListSpec:
    """The spec ``push from-args`` means: one member a platform, its image the template
    with ``OS``, ``ARCH`` and ``VARIANT`` replaced (manifest-tool's placeholders)."""
    if not any(word in template for word in ("OS", "ARCH", "VARIANT")):
        raise InvalidInputError(
            f"the template {template!r} has none of OS, ARCH, VARIANT: every platform would "
            "name the same image",
            hint="e.g. --template registry.example/app:OS-ARCHVARIANT",
        )
    entries = tuple(
        SpecEntry(
            template.replace("ARCH", p.architecture)
            .replace("OS", p.os)
            .replace("VARIANT", p.variant),
            p,
        )
        for p in platforms
    )
    return ListSpec(target, tuple(tags), entries)


def spec_list(
    spec: ListSpec,
    *,
    open_store: StoreOpener,
    jobs: int = DEFAULT_JOBS,
    ignore_missing: bool = False,
    on_missing: Callable[[str], None] | None = None,
) -> PendingList:
    """The list ``spec`` describes, in memory: each member fetched, named with the
    platform the spec gives it (else its config's).

    :param ignore_missing: leave out members that do not exist (each told to
        ``on_missing``) rather than fail.
    :raises NotFoundError: members that do not exist, all of them named.
    :raises InvalidInputError: a platform given for a member that is itself a list.
    """
    from polyarch.ops.lists import build_list, check_duplicates

    names = [parse_list_name(entry.image) for entry in spec.manifests]
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(names)))) as pool:
        present = list(pool.map(lambda name: _exists(open_store, name), names))
    missing = [
        entry.image for entry, there in zip(spec.manifests, present, strict=True) if not there
    ]
    if missing and not ignore_missing:
        raise NotFoundError(
            f"{len(missing)} of the images do not exist: {', '.join(missing)}",
            hint="push them first, or leave them out with --ignore-missing",
        )
    for image in missing:
        if on_missing is not None:
            on_missing(image)
    kept = [(n, e) for n, e, there in zip(names, spec.manifests, present, strict=True) if there]
    if not kept:
        raise NotFoundError("none of the images exists: there is no list to push")
    pending = build_list(
        parse_list_name(spec.image), [name for name, _ in kept], open_store=open_store, jobs=jobs
    )
    platforms = {name: entry.platform for name, entry in kept if entry.platform is not None}
    images = Counter(entry.source for entry in pending.images)
    for name in platforms:
        if images[name] > 1:
            raise InvalidInputError(
                f"{name} is a list of {images[name]} images: the spec cannot give it one platform",
                hint="name each image of it instead, or leave its platform out",
            )
    entries = [
        entry
        if entry.is_attestation or entry.source not in platforms
        else replace(entry, descriptor=replace(entry.descriptor, platform=platforms[entry.source]))
        for entry in pending.entries
    ]
    check_duplicates(entries)
    return replace(pending, entries=tuple(entries))


def _exists(open_store: StoreOpener, name: ListName) -> bool:
    try:
        open_store(name).resolve(name.identifier or DEFAULT_TAG)
    except NotFoundError:
        return False
    return True
