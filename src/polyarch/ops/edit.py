"""Editing an index that is already pushed (or in a layout): add entries, remove them,
annotate it or one of them, and put it back, in one command.

The index is read by tag, changed, and put back under the same tag (or another
reference): the entries it keeps keep their JSON as it was, new entries are written as
docker writes them, and children already there are not uploaded again. Before the put
the tag is read once more: if it moved since (someone else pushed), the edit is refused
(:class:`~polyarch.errors.ConflictError`, exit 7) rather than undoing their push.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.errors import ConflictError, InvalidInputError, NotFoundError
from polyarch.index import edited_index, entry_json, index_document
from polyarch.location import LayoutLocation, Location, RegistryLocation
from polyarch.models import Descriptor, ImageIndex
from polyarch.ops import DEFAULT_JOBS
from polyarch.ops._pipeline import Pipeline, Step
from polyarch.ops.copy import BlobTransfer, Transfers, copy_image
from polyarch.ops.images import registries_for, store_opener
from polyarch.ops.lists import check_duplicates, fetch_members
from polyarch.ops.pending import ListName, PendingEntry, parse_list_name, same_repository
from polyarch.platform import Platform, matches_strict
from polyarch.schemes import open_store, parse_location
from polyarch.store import Store, digest_at

if TYPE_CHECKING:
    from polyarch.ops.diff import Difference
    from polyarch.registry import Registries

__all__ = ["Edited", "Selector", "add_entries", "annotate_index", "remove_entries"]


@dataclass(frozen=True, slots=True)
class Selector:
    """Which entries: those of ``platform`` (exactly, after normalizing), or ``digest``."""

    platform: Platform | None = None
    digest: Digest | None = None

    def __post_init__(self) -> None:
        if (self.platform is None) == (self.digest is None):
            raise InvalidInputError("name the entries by --platform or by --digest (one)")

    def picks(self, entry: Descriptor) -> bool:
        if self.digest is not None:
            return entry.digest == self.digest
        return (
            entry.platform is not None
            and not entry.is_attestation
            and self.platform is not None
            and matches_strict(self.platform, entry.platform)
        )

    def __str__(self) -> str:
        return str(self.platform) if self.platform is not None else str(self.digest)


@dataclass(frozen=True, slots=True)
class Edited:
    """What an edit put: the index (its old and new digest) under ``reference``."""

    reference: str
    before: Digest
    after: Digest
    changed: bool
    #: With ``dry_run``: the index read against the one that would be put.
    difference: Difference | None = None
    #: Nothing was written: the edit as it would be.
    dry_run: bool = False
    #: With ``dry_run``: what the target tag names now (``None``: nothing), and the
    #: entries that would be copied into its repository first.
    now: Digest | None = None
    copies: tuple[Descriptor, ...] = ()


class _Edit:
    """The index read from ``location``, and where the edited one goes."""

    def __init__(
        self, location: str | Location, to: str | Location | None, registries: Registries | None
    ) -> None:
        self.location = _parsed(location)
        if self.location.tag is None:
            raise InvalidInputError(
                f"{self.location} names no tag: an edited index is put back under its tag",
                hint=f"{self.location}:TAG",
            )
        self.registries = registries
        self.store = open_store(self.location, registries=registries)
        index = self.store.get_manifest(self.location.tag)
        if not isinstance(index, ImageIndex):
            raise InvalidInputError(f"{self.location} is a single image, not an index")
        self.index = index
        self.target = _parsed(to) if to is not None else self.location
        if self.target.tag is None:
            raise InvalidInputError(f"{self.target} names no tag to put the index under")

    def document(self) -> dict[str, Any]:
        return index_document(self.index)

    def put(self, document: Mapping[str, Any], *, jobs: int, dry_run: bool = False) -> Edited:
        edited = edited_index(document)
        target_store = (
            self.store
            if self.target == self.location
            else open_store(self.target, registries=self.registries)
        )
        assert self.target.tag is not None
        assert self.location.tag is not None
        if same_repository(_name_of(self.target), _name_of(self.location)):
            missing: list[Descriptor] = []
        else:
            missing = [e for e in edited.manifests if not _has(target_store, e)]
        if dry_run:
            return self._planned(edited, target_store, missing)
        for entry in missing:  # children of another repository, once each
            copy_image(self.store, entry.digest, target_store, tag=None, jobs=jobs)
        now = digest_at(self.store, self.location.tag)
        if now != self.index.digest:
            raise ConflictError(
                f"{self.location} changed since it was read: it was {self.index.digest}, it "
                f"is {now or 'gone'}; nothing was put",
                hint="run the edit again, on what is there now",
            )
        if edited.digest == self.index.digest and self.target == self.location:
            return Edited(str(self.target), self.index.digest, edited.digest, changed=False)
        target_store.put_manifest(edited, tag=self.target.tag)
        return Edited(str(self.target), self.index.digest, edited.digest, changed=True)

    def _planned(self, edited: ImageIndex, target: Store, missing: list[Descriptor]) -> Edited:
        """The edit as it would be: against what the target tag names now."""
        from polyarch.ops.diff import diff_manifests

        assert self.target.tag is not None
        now = (
            self.index.digest
            if self.target == self.location
            else digest_at(target, self.target.tag)
        )
        difference = None
        if now is not None:
            current = self.index if now == self.index.digest else target.get_manifest(now)
            difference = diff_manifests(target, current, self.store, edited, details=False)
        return Edited(
            str(self.target),
            self.index.digest,
            edited.digest,
            edited.digest != now,
            difference,
            dry_run=True,
            now=now,
            copies=tuple(missing),
        )


def add_entries(
    location: str | Location,
    images: Sequence[str | Location],
    *,
    to: str | Location | None = None,
    registries: Registries | None = None,
    jobs: int = DEFAULT_JOBS,
    dry_run: bool = False,
) -> Edited:
    """Add ``images`` (each its platform from its config; an index brings its entries) to
    the pushed index at ``location``; an entry of the same digest is replaced in place.
    With ``dry_run``, nothing is copied or put: the result says what would be.

    :raises ConflictError: two images for one platform, or the tag moved meanwhile.
    """
    with registries_for(registries) as run:
        edit = _Edit(location, to, run)
        opener = store_opener(run)
        target = open_store(edit.target, registries=run)
        names = [parse_list_name(str(image)) for image in images]
        added = [entry for entries in fetch_members(opener, names, jobs=jobs) for entry in entries]
        if not dry_run:
            transfers = Transfers()
            shared: dict[Digest, Step[BlobTransfer]] = {}
            with Pipeline(jobs) as pipeline:  # into the index's repository first, the index last

                def place(entry: PendingEntry) -> None:
                    if not _has(target, entry.descriptor):
                        source = opener(entry.source)
                        transfers.manifest(
                            source, target, entry.manifest, pipeline, blob_steps=shared
                        )

                for entry in added:
                    pipeline.run(functools.partial(place, entry))
                pipeline.wait()
        return _with_added(edit, added, jobs=jobs, dry_run=dry_run)


def _with_added(edit: _Edit, added: Sequence[PendingEntry], *, jobs: int, dry_run: bool) -> Edited:
    document = edit.document()
    existing = [
        PendingEntry(parse_list_name(str(edit.location)), entry, b"")
        for entry in edit.index.manifests
    ]
    new_digests = {entry.descriptor.digest for entry in added}
    check_duplicates([e for e in existing if e.descriptor.digest not in new_digests] + list(added))
    entries: list[Any] = []
    placed: set[Digest] = set()
    by_digest = {entry.descriptor.digest: entry for entry in added}
    for entry_json_value, entry in zip(document["manifests"], edit.index.manifests, strict=True):
        replacement = by_digest.get(entry.digest)
        if replacement is not None:
            entries.append(entry_json(replacement.descriptor))
            placed.add(entry.digest)
        else:
            entries.append(entry_json_value)
    entries += [entry_json(e.descriptor) for e in added if e.descriptor.digest not in placed]
    document["manifests"] = entries
    if document.get("mediaType") == mt.DOCKER_MANIFEST_LIST and any(
        e.descriptor.annotations for e in added
    ):
        raise InvalidInputError(
            f"{edit.location} is a Docker manifest list, which has no annotations, and an "
            "added entry has some (an attestation)",
            hint="add the images without their attestations, or copy the list as OCI first",
        )
    return edit.put(document, jobs=jobs, dry_run=dry_run)


def remove_entries(
    location: str | Location,
    selector: Selector,
    *,
    to: str | Location | None = None,
    registries: Registries | None = None,
    jobs: int = DEFAULT_JOBS,
    dry_run: bool = False,
) -> Edited:
    """Remove the entries ``selector`` picks (and the attestations of those) from the
    pushed index at ``location``.

    :raises NotFoundError: no entry is picked.
    """
    edit = _Edit(location, to, registries)
    picked = {e.digest for e in edit.index.manifests if selector.picks(e)}
    if not picked:
        raise NotFoundError(f"{edit.location} has no entry {selector}")
    document = edit.document()
    document["manifests"] = [
        value
        for value, entry in zip(document["manifests"], edit.index.manifests, strict=True)
        if entry.digest not in picked and entry.attests not in picked
    ]
    if not document["manifests"]:
        raise InvalidInputError(
            f"that would leave {edit.location} with no entry", hint="delete it instead"
        )
    return edit.put(document, jobs=jobs, dry_run=dry_run)


def annotate_index(
    location: str | Location,
    annotations: Mapping[str, str],
    *,
    selector: Selector | None = None,
    to: str | Location | None = None,
    registries: Registries | None = None,
    jobs: int = DEFAULT_JOBS,
    dry_run: bool = False,
) -> Edited:
    """Add ``annotations`` to the pushed index at ``location`` (its own), or, with
    ``selector``, to the entries it picks.

    :raises InvalidInputError: a Docker manifest list (it has no annotations).
    """
    edit = _Edit(location, to, registries)
    if edit.index.media_type != mt.OCI_INDEX:
        raise InvalidInputError(
            f"{edit.location} is a Docker manifest list, which has no annotations",
            hint="copy it as an OCI index first (polyarch create of its images makes one)",
        )
    document = edit.document()
    if selector is None:
        document["annotations"] = dict(
            sorted({**(document.get("annotations") or {}), **annotations}.items())
        )
    else:
        picked = 0
        for value, entry in zip(document["manifests"], edit.index.manifests, strict=True):
            if selector.picks(entry):
                picked += 1
                merged = dict(sorted({**(value.get("annotations") or {}), **annotations}.items()))
                _set_before(value, "annotations", merged, "platform")
        if not picked:
            raise NotFoundError(f"{edit.location} has no entry {selector}")
    return edit.put(document, jobs=jobs, dry_run=dry_run)


def _set_before(document: dict[str, Any], key: str, value: object, before: str) -> None:
    """Set ``key``, a new one placed before ``before`` as docker's entries order them."""
    if key in document or before not in document:
        document[key] = value
        return
    items = list(document.items())
    document.clear()
    for name, item in items:
        if name == before:
            document[key] = value
        document[name] = item


def _parsed(location: str | Location) -> Location:
    return parse_location(location, default_tag=None) if isinstance(location, str) else location


def _name_of(location: Location) -> ListName:
    if isinstance(location, RegistryLocation):
        return location.reference
    if isinstance(location, LayoutLocation):
        return location
    raise InvalidInputError(f"an index is edited in a registry or a layout, not {location}")


def _has(store: Store, descriptor: Descriptor) -> bool:
    return digest_at(store, descriptor.digest) == descriptor.digest
