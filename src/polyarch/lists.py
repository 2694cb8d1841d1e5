"""The pending-list workflow of ``docker manifest``: create, annotate, push, rm.

A pending list lives in ``$POLYARCH_HOME/lists`` (default ``~/.polyarch``) as one JSON
file, written atomically, holding every entry's exact manifest bytes. ``push`` therefore
needs no second fetch of what ``create`` fetched, and a failed push leaves the file as it
was.

What polyarch does beyond docker: members may be indexes themselves (a buildx image
with attestations: its images are added with their platforms, attestations stay linked to
their subjects), members may live on another registry (copied at push), and a second
push of an unchanged list is recognized and skipped.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from polyarch import mediatype as mt
from polyarch.atomic import write_atomically
from polyarch.digest import Digest
from polyarch.errors import (
    ConflictError,
    ContentError,
    InvalidInputError,
    InvalidManifestError,
    InvalidPlatformError,
    NotFoundError,
    os_error,
)
from polyarch.home import (
    HASHED_NAME_MARK,
    default_home,
    pending_list_path,
    pending_lists_directory,
)
from polyarch.models import (
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    load_document,
    parse_manifest,
)
from polyarch.platform import Platform, normalize, suggest_architecture
from polyarch.reference import Reference
from polyarch.store import get_described

if TYPE_CHECKING:
    from polyarch.index import ListFormat
    from polyarch.registry import Registries

__all__ = [
    "PendingEntry",
    "PendingList",
    "PendingListStore",
    "PushResult",
    "annotate_list",
    "create_list",
    "default_home",
    "push_list",
]

log = logging.getLogger(__name__)

FILE_VERSION = 1
DEFAULT_JOBS = 8
#: The largest pending-list file read: every entry's manifest bytes, base64, up to the
#: manifest size limit each, for lists of a few hundred entries.
MAX_FILE_SIZE = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """One entry of a pending list: where it came from, its descriptor, its bytes."""

    source: Reference
    descriptor: Descriptor
    raw: bytes = field(repr=False)

    @property
    def manifest(self) -> ImageManifest | ImageIndex:
        return parse_manifest(self.raw, self.descriptor.media_type, digest=self.descriptor.digest)

    @property
    def is_attestation(self) -> bool:
        return self.descriptor.is_attestation

    def to_json(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "descriptor": self.descriptor.to_dict(),
            "raw": base64.b64encode(self.raw).decode(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingEntry:
        descriptor = Descriptor.from_dict(data["descriptor"])
        raw = base64.b64decode(data["raw"], validate=True)
        if Digest.of(raw, descriptor.digest.algorithm) != descriptor.digest:
            raise ContentError(f"the saved bytes of {descriptor.digest} do not match it")
        return cls(Reference.parse(data["source"], default_tag=None), descriptor, raw)


@dataclass(frozen=True, slots=True)
class PendingList:
    """A manifest list being prepared: its target reference and its entries, in order."""

    reference: Reference
    entries: tuple[PendingEntry, ...]

    def index(self, format: ListFormat | None = None) -> ImageIndex:
        """The exact list ``push`` sends.

        Entries are ordered as docker orders them, by the file name its store gives each
        member (``/`` and ``:`` replaced), so the same members give docker's digest
        whatever order they were named in; the entries of one index member keep their
        order.
        """
        # Only push and inspect build the list: create need not load index and gojson.
        from polyarch.index import build_index

        ordered = sorted(self.entries, key=lambda e: _docker_file_name(str(e.source)))
        return build_index([entry.descriptor for entry in ordered], format=format)

    @property
    def images(self) -> tuple[PendingEntry, ...]:
        return tuple(e for e in self.entries if not e.is_attestation)


def _docker_file_name(reference: str) -> str:
    return reference.replace(":", "-").replace("/", "_")


class PendingListStore:
    """Pending lists on disk, one file each, replaced atomically."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = home if home is not None else default_home()

    @property
    def directory(self) -> Path:
        return pending_lists_directory(self.home)

    def path_for(self, reference: Reference) -> Path:
        return pending_list_path(reference, self.home)

    def load(self, reference: Reference) -> PendingList | None:
        path = self.path_for(reference)
        doc = self._read(path)
        if doc is None:
            return None
        try:
            if doc.get("version") != FILE_VERSION:
                raise ValueError(f"unknown version {doc.get('version')!r}")
            if doc.get("reference", str(reference)) != str(reference):
                raise ValueError(f"it holds the list {doc.get('reference')!r}")
            entries = tuple(PendingEntry.from_json(e) for e in doc["entries"])
        except (KeyError, TypeError, ValueError, AttributeError, ContentError) as err:
            raise InvalidManifestError(f"pending list file {path} is damaged: {err}") from err
        return PendingList(reference, entries)

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        """The parsed file, ``None`` when there is none.

        :raises InvalidManifestError: it cannot be read, or is not a JSON object.
        """
        try:
            with path.open("rb") as stream:
                data = stream.read(MAX_FILE_SIZE + 1)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise InvalidManifestError(
                f"pending list file {path} is unreadable: {err.strerror}"
            ) from err
        return load_document(data, f"pending list file {path}", limit=MAX_FILE_SIZE)

    def save(self, pending: PendingList) -> None:
        path = self.path_for(pending.reference)
        doc = {
            "version": FILE_VERSION,
            "reference": str(pending.reference),
            "entries": [entry.to_json() for entry in pending.entries],
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, json.dumps(doc, indent=1).encode())
        except OSError as err:
            raise os_error(err, f"save the pending list {path}") from None

    def remove(self, reference: Reference) -> bool:
        try:
            self.path_for(reference).unlink()
        except FileNotFoundError:
            return False
        return True

    def names(self) -> list[Reference]:
        """The references of the pending lists, from their file names (or, for a name
        too long to be one, from the file); files that are not pending lists are left
        out."""
        if not self.directory.is_dir():
            return []
        names: list[Reference] = []
        for path in self.directory.glob("*.json"):
            text: object = unquote(path.name.removesuffix(".json"))
            try:
                if HASHED_NAME_MARK in path.name:
                    text = (self._read(path) or {}).get("reference")
                if isinstance(text, str):
                    names.append(Reference.parse(text, default_tag=None))
            except (InvalidInputError, ContentError) as err:
                log.warning("%s is not a pending list: %s", path, err)
        return sorted(names, key=str)


# -- create ----------------------------------------------------------------------------


def _fetch_member(registries: Registries, member: Reference) -> list[PendingEntry]:
    """The entries one member contributes: one image, or every entry of an index."""
    store = registries.store(member)
    identifier = member.identifier
    assert identifier is not None
    manifest = store.get_manifest(identifier)
    if isinstance(manifest, ImageManifest):
        return [_image_entry(store, member, manifest)]
    entries: list[PendingEntry] = []
    children = [d for d in manifest.manifests if mt.is_manifest(d.media_type)]
    skipped = [d for d in manifest.manifests if not mt.is_manifest(d.media_type)]
    if skipped:
        log.warning(
            "%s: skipping %d nested entries that are not image manifests", member, len(skipped)
        )
    for child in children:
        raw = get_described(store, child).raw
        platform = child.platform
        if platform is None and not child.is_attestation:
            # An index entry without a platform: the image's config says what it is.
            config = _config_of(store, parse_manifest(raw, digest=child.digest))
            platform = config.platform
        entries.append(PendingEntry(member, replace(child, platform=platform), raw))
    return entries


def _config_of(store: Any, manifest: ImageManifest | ImageIndex) -> ImageConfig:
    assert isinstance(manifest, ImageManifest)
    return ImageConfig.parse(store.get_blob(manifest.config), digest=manifest.config.digest)


def _image_entry(store: Any, member: Reference, manifest: ImageManifest) -> PendingEntry:
    if not mt.is_config(manifest.config.media_type):
        raise InvalidInputError(
            f"{member} is not a container image (config type {manifest.config.media_type})"
        )
    config = _config_of(store, manifest)
    return PendingEntry(member, manifest.descriptor(platform=config.platform), manifest.raw)


def _platform_key(platform: Platform | None) -> tuple[str, ...]:
    if platform is None:
        return ()
    p = normalize(platform)
    return (p.os, p.architecture, p.variant, p.os_version, *sorted(p.os_features))


def check_duplicates(entries: Sequence[PendingEntry]) -> None:
    """Two images for one platform make a list no machine can resolve: refuse it.

    :raises ConflictError: naming both members.
    """
    seen: dict[tuple[str, ...], PendingEntry] = {}
    for entry in entries:
        if entry.is_attestation:
            continue
        key = _platform_key(entry.descriptor.platform)
        other = seen.get(key)
        if other is not None and other.descriptor.digest != entry.descriptor.digest:
            raise ConflictError(
                f"{other.source} and {entry.source} are both {entry.descriptor.platform}",
                hint="annotate one with another platform, or leave one out",
            )
        seen[key] = entry


def _merge(old: Sequence[PendingEntry], new: Sequence[PendingEntry]) -> list[PendingEntry]:
    """Amend: entries of a re-added member replace its old ones, in the old place."""
    members = {e.source for e in new}
    merged: list[PendingEntry] = []
    placed = False
    for entry in old:
        if entry.source in members:
            if not placed:
                merged.extend(new)
                placed = True
        else:
            merged.append(entry)
    if not placed:
        merged.extend(new)
    # The same image named twice (by tag and by digest) is one entry.
    unique: dict[str, PendingEntry] = {}
    for entry in merged:
        unique.setdefault(entry.descriptor.digest, entry)
    return list(unique.values())


def create_list(
    reference: Reference,
    members: Sequence[Reference],
    *,
    registries: Registries,
    store: PendingListStore,
    amend: bool = False,
    jobs: int = DEFAULT_JOBS,
) -> PendingList:
    """Fetch every member concurrently and save the pending list.

    :raises ConflictError: the list exists and ``amend`` is false, or two images claim
        one platform.
    """
    existing = store.load(reference)
    if existing is not None and not amend:
        raise ConflictError(
            f"a pending list {reference.familiar} exists already",
            hint=f"add to it with --amend, or start over after: polyarch rm {reference.familiar}",
        )
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(members)))) as pool:
        fetched = list(pool.map(lambda m: _fetch_member(registries, m), members))
    new = [entry for entries in fetched for entry in entries]
    entries = _merge(existing.entries if existing else (), new)
    check_duplicates(entries)
    pending = PendingList(reference, tuple(entries))
    store.save(pending)
    return pending


# -- annotate --------------------------------------------------------------------------


def _select(pending: PendingList, member: Reference) -> list[int]:
    """Indexes of the entries ``member`` names: by member reference, or by digest."""
    hits = [
        i
        for i, e in enumerate(pending.entries)
        if not e.is_attestation
        and (
            e.source == member
            or (member.digest is not None and e.descriptor.digest == member.digest)
            or (member.digest is not None and e.source == member.with_digest(None))
        )
    ]
    if member.digest is not None:
        exact = [i for i in hits if pending.entries[i].descriptor.digest == member.digest]
        hits = exact or hits
    return hits


def annotate_list(
    reference: Reference,
    member: Reference,
    *,
    store: PendingListStore,
    os: str | None = None,
    architecture: str | None = None,
    variant: str | None = None,
    os_version: str | None = None,
    os_features: Iterable[str] = (),
) -> PendingEntry:
    """Change the platform of one entry of a pending list.

    :raises NotFoundError: no such list, or the member is not in it.
    :raises InvalidInputError: several entries match (name one by digest), or the
        resulting platform is not valid.
    """
    pending = store.load(reference)
    if pending is None:
        raise NotFoundError(
            f"no pending list {reference.familiar}",
            hint=f"create it first: polyarch create {reference.familiar} IMAGE...",
        )
    hits = _select(pending, member)
    if not hits:
        present = ", ".join(sorted({e.source.familiar for e in pending.images}))
        raise NotFoundError(
            f"{member.familiar} is not in the pending list {reference.familiar}",
            hint=f"its members: {present}" if present else None,
        )
    if len(hits) > 1:
        choices = ", ".join(
            f"{pending.entries[i].descriptor.platform} = {pending.entries[i].descriptor.digest}"
            for i in hits
        )
        raise InvalidInputError(
            f"{member.familiar} has {len(hits)} entries in {reference.familiar} ({choices})",
            hint=f"name one by digest: {member.with_digest(None).familiar_name}@sha256:...",
        )
    index = hits[0]
    entry = pending.entries[index]
    current = entry.descriptor.platform or Platform(os="", architecture="")
    features = list(current.os_features)
    for feature in os_features:
        if feature not in features:
            features.append(feature)
    updated = Platform(
        os=os if os else current.os,
        architecture=architecture if architecture else current.architecture,
        variant=variant if variant else current.variant,
        os_version=os_version if os_version else current.os_version,
        os_features=tuple(features),
    )
    validate_platform(updated)
    new_entry = replace(entry, descriptor=replace(entry.descriptor, platform=updated))
    entries = list(pending.entries)
    entries[index] = new_entry
    check_duplicates(entries)
    store.save(replace(pending, entries=tuple(entries)))
    return new_entry


def validate_platform(platform: Platform) -> None:
    """An annotated platform must be one the platform grammar accepts, spelled canonically.

    :raises InvalidPlatformError: with the canonical spelling when one can be guessed.
    """
    if not platform.os or not platform.architecture:
        raise InvalidInputError("a list entry needs both an OS and an architecture")
    suggestion = suggest_architecture(platform.architecture, platform.variant)
    if suggestion is not None and suggestion != (platform.architecture, platform.variant):
        arch, variant = suggestion
        flags = f"--arch {arch}" + (f" --variant {variant}" if variant else "")
        raise InvalidPlatformError(
            f"{platform.architecture!r} is not how architectures are spelled in an index",
            text=platform.architecture,
            suggestion=f"{platform.os}/{arch}" + (f"/{variant}" if variant else ""),
            hint=f"did you mean {flags}?",
        )
    spec = f"{platform.os}/{platform.architecture}" + (
        f"/{platform.variant}" if platform.variant else ""
    )
    Platform.parse(spec, host=platform)  # the grammar's own checks


# -- push ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushResult:
    """What a push did."""

    reference: Reference
    digest: Digest
    changed: bool
    copied_manifests: tuple[Reference, ...] = ()


def push_list(
    reference: Reference,
    *,
    registries: Registries,
    store: PendingListStore,
    format: ListFormat | None = None,
    purge: bool = False,
    jobs: int = DEFAULT_JOBS,
    on_manifest: Callable[[Reference], None] | None = None,
) -> PushResult:
    """Push a pending list: member content into the target repository, then the list.

    Members in the target repository need nothing. Members elsewhere on the same registry
    have their blobs mounted and their manifests put by digest (as docker does); members
    on another registry are copied. The list goes last, so the registry never holds a
    list whose entries are missing. The pending list is left as it was if anything fails.

    :raises NotFoundError: no such pending list.
    """
    pending = store.load(reference)
    if pending is None:
        raise NotFoundError(
            f"no pending list {reference.familiar}",
            hint=f"create it first: polyarch create {reference.familiar} IMAGE...",
        )
    index = pending.index(format)
    target = registries.store(reference)
    tag = reference.tag or "latest"
    try:
        unchanged = target.resolve(tag).digest == index.digest
    except NotFoundError:
        unchanged = False
    if unchanged:
        if purge:
            store.remove(reference)
        return PushResult(reference, index.digest, changed=False)

    foreign = [
        e
        for e in pending.entries
        if (e.source.registry, e.source.repository) != (reference.registry, reference.repository)
    ]
    # Only push moves content: inspect and create, which read pending lists too, need
    # not load the copy machinery.
    from polyarch.copy import Transfers

    transfers = Transfers()

    def push_entry(entry: PendingEntry) -> Reference:
        source = registries.store(entry.source)
        transfers.manifest(source, target, entry.manifest)
        pushed = reference.with_tag(None).with_digest(entry.descriptor.digest)
        if on_manifest is not None:
            on_manifest(pushed)
        return pushed

    copied: list[Reference] = []
    if foreign:
        with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(foreign)))) as pool:
            copied = list(pool.map(push_entry, foreign))
    target.put_manifest(index, tag=tag)
    if purge:
        store.remove(reference)
    return PushResult(reference, index.digest, changed=True, copied_manifests=tuple(copied))
