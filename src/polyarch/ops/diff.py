"""``diff``: what changed between two images or indexes (any stores), platform by
platform: entries added, removed or changed (which config, which layers), annotations.

Entries are matched by platform (normalized, with ``os.version`` and features), an
attestation by the platform of the image it describes, an entry without a platform by
its config's. A single image is compared as an index of one entry. Only what differs is
fetched: two entries at one digest are the same content, and are not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from polyarch.digest import Digest
from polyarch.models import Descriptor, ImageIndex, ImageManifest, Manifest
from polyarch.ops import DEFAULT_JOBS
from polyarch.ops.walk import Walk
from polyarch.platform import Platform, format_all, normalize
from polyarch.store import Store

__all__ = ["AnnotationChanges", "Difference", "EntryChange", "diff_manifests"]

Change = Literal["added", "removed", "changed", "same"]


@dataclass(frozen=True, slots=True)
class AnnotationChanges:
    """Keys only in B (added), only in A (removed), in both with other values (changed:
    key -> (A's, B's))."""

    added: Mapping[str, str] = field(default_factory=dict)
    removed: Mapping[str, str] = field(default_factory=dict)
    changed: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    @classmethod
    def between(cls, a: Mapping[str, str], b: Mapping[str, str]) -> AnnotationChanges:
        return cls(
            added={k: v for k, v in sorted(b.items()) if k not in a},
            removed={k: v for k, v in sorted(a.items()) if k not in b},
            changed={k: (a[k], v) for k, v in sorted(b.items()) if k in a and a[k] != v},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "added": dict(self.added),
            "removed": dict(self.removed),
            "changed": {k: {"a": a, "b": b} for k, (a, b) in self.changed.items()},
        }


@dataclass(frozen=True, slots=True)
class EntryChange:
    """One platform's entry in A and in B (``None`` where it is not)."""

    key: str
    a: Descriptor | None
    b: Descriptor | None
    #: For a changed image: the configs, and the layers only in A and only in B.
    config: tuple[Digest, Digest] | None = None
    layers_removed: tuple[Descriptor, ...] = ()
    layers_added: tuple[Descriptor, ...] = ()
    layers_kept: int = 0
    annotations: AnnotationChanges = field(default_factory=AnnotationChanges)

    @property
    def change(self) -> Change:
        if self.a is None:
            return "added"
        if self.b is None:
            return "removed"
        if self.a.digest != self.b.digest or self.annotations:
            return "changed"
        return "same"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"platform": self.key, "change": self.change}
        if self.a is not None:
            out["a"] = str(self.a.digest)
        if self.b is not None:
            out["b"] = str(self.b.digest)
        if self.config is not None:
            out["config"] = {"a": str(self.config[0]), "b": str(self.config[1])}
        if self.layers_added or self.layers_removed:
            out["layers"] = {
                "added": [str(layer.digest) for layer in self.layers_added],
                "removed": [str(layer.digest) for layer in self.layers_removed],
                "kept": self.layers_kept,
            }
        if self.annotations:
            out["annotations"] = self.annotations.to_json()
        return out


@dataclass(frozen=True, slots=True)
class Difference:
    """A against B: each platform's entry, and the indexes' own annotations."""

    a: Descriptor
    b: Descriptor
    entries: tuple[EntryChange, ...]
    annotations: AnnotationChanges
    #: The media types of A and B when they differ (an OCI index against a Docker list).
    media_types: tuple[str, str] | None = None

    @property
    def same(self) -> bool:
        """The same bytes."""
        return self.a.digest == self.b.digest

    @property
    def equivalent(self) -> bool:
        """Other bytes, if not :attr:`same`, that say the same: the same entries,
        annotations and format (the JSON spelled otherwise: spacing, field order)."""
        return not (
            self.annotations or self.media_types or any(e.change != "same" for e in self.entries)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "a": {"mediaType": self.a.media_type, "digest": str(self.a.digest)},
            "b": {"mediaType": self.b.media_type, "digest": str(self.b.digest)},
            "same": self.same,
            "equivalent": self.equivalent,
            "entries": [e.to_json() for e in self.entries],
            "annotations": self.annotations.to_json(),
        }


def diff_manifests(
    a_store: Store,
    a: Manifest,
    b_store: Store,
    b: Manifest,
    *,
    jobs: int = DEFAULT_JOBS,
    known: Mapping[Digest, Manifest] | None = None,
    details: bool = True,
) -> Difference:
    """Compare ``a`` (of ``a_store``) with ``b`` (of ``b_store``).

    :param known: manifests under ``b`` that ``b_store`` does not hold (made on the way).
    :param details: read the children of entries that differ (configs, layers); without
        it nothing but ``a`` and ``b`` is read, and entries without a platform are
        matched by digest.
    """
    a_walk, b_walk = Walk(a_store, a), Walk(b_store, b, known=known)
    if a.digest == b.digest:
        return Difference(a.descriptor(), b.descriptor(), (), AnnotationChanges())
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        a_entries = _keyed(a_walk, a, pool, details=details)
        b_entries = _keyed(b_walk, b, pool, details=details)
        keys = [*a_entries, *(k for k in b_entries if k not in a_entries)]

        def compare(key: str) -> EntryChange:
            a_entry, b_entry = a_entries.get(key), b_entries.get(key)
            if not details and a_entry is not None and b_entry is not None:
                annotations = AnnotationChanges.between(
                    a_entry[1].annotations, b_entry[1].annotations
                )
                return EntryChange(key, a_entry[1], b_entry[1], annotations=annotations)
            return _entry(key, a_walk, a_entry, b_walk, b_entry)

        entries = tuple(pool.map(compare, keys))
    kinds = (a.media_type, b.media_type)
    return Difference(
        a.descriptor(),
        b.descriptor(),
        entries,
        AnnotationChanges.between(a.annotations, b.annotations),
        kinds if kinds[0] != kinds[1] else None,
    )


_Keyed = dict[str, tuple[ImageIndex | None, Descriptor]]


def _keyed(walk: Walk, manifest: Manifest, pool: ThreadPoolExecutor, *, details: bool) -> _Keyed:
    """Each entry by the key it is matched on; a single image as its own one entry."""
    if isinstance(manifest, ImageManifest):
        platform = walk.platform_of(manifest) if details else None
        if platform is None:  # an artifact has no platform: it is its digest
            return {str(manifest.digest): (None, manifest.descriptor())}
        return {_key(platform): (None, manifest.descriptor(platform=platform))}
    by_digest = {e.digest: e for e in manifest.images}
    unplaced = [e for e in manifest.images if e.platform is None] if details else []
    learned = dict(
        zip(
            [e.digest for e in unplaced],
            pool.map(lambda e: _learned_platform(walk, manifest, e), unplaced),
            strict=True,
        )
    )
    keyed: _Keyed = {}
    again: dict[str, int] = {}
    for entry in manifest.manifests:
        if entry.is_attestation:
            subject = by_digest.get(entry.attests) if entry.attests else None
            platform = (subject.platform or learned.get(subject.digest)) if subject else None
            key = f"attestation of {_key(platform) if platform else entry.attests}"
        else:
            platform = entry.platform or learned.get(entry.digest)
            key = _key(platform) if platform is not None else str(entry.digest)
        if key in again:  # two entries of one platform: both kept, in order
            again[key] += 1
            key = f"{key} #{again[key]}"
        again.setdefault(key, 1)
        keyed[key] = (manifest, entry)
    return keyed


def _learned_platform(walk: Walk, index: ImageIndex, entry: Descriptor) -> Platform | None:
    child = walk.child(index, entry, depth=0)
    return walk.platform_of(child) if isinstance(child, ImageManifest) else None


def _key(platform: Platform) -> str:
    return format_all(normalize(platform))


def _entry(
    key: str,
    a_walk: Walk,
    a: tuple[ImageIndex | None, Descriptor] | None,
    b_walk: Walk,
    b: tuple[ImageIndex | None, Descriptor] | None,
) -> EntryChange:
    if a is None or b is None:
        return EntryChange(key, a[1] if a else None, b[1] if b else None)
    (a_index, a_entry), (b_index, b_entry) = a, b
    annotations = AnnotationChanges.between(a_entry.annotations, b_entry.annotations)
    if a_entry.digest == b_entry.digest:
        return EntryChange(key, a_entry, b_entry, annotations=annotations)
    a_image = _image(a_walk, a_index, a_entry)
    b_image = _image(b_walk, b_index, b_entry)
    if a_image is None or b_image is None:
        return EntryChange(key, a_entry, b_entry, annotations=annotations)
    b_layers = {layer.digest for layer in b_image.layers}
    a_layers = {layer.digest for layer in a_image.layers}
    return EntryChange(
        key,
        a_entry,
        b_entry,
        config=(a_image.config.digest, b_image.config.digest),
        layers_removed=tuple(x for x in a_image.layers if x.digest not in b_layers),
        layers_added=tuple(x for x in b_image.layers if x.digest not in a_layers),
        layers_kept=sum(1 for x in b_image.layers if x.digest in a_layers),
        annotations=annotations,
    )


def _image(walk: Walk, index: ImageIndex | None, entry: Descriptor) -> ImageManifest | None:
    """The image an entry names (the root itself for a single image); ``None`` for a
    nested index, compared by digest only."""
    if index is None:
        root = walk.root
        return root if isinstance(root, ImageManifest) else None
    child = walk.child(index, entry, depth=0)
    return child if isinstance(child, ImageManifest) else None
