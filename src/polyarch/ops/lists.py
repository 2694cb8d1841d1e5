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

import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.errors import (
    ConflictError,
    InvalidInputError,
    InvalidPlatformError,
    PolyarchError,
)
from polyarch.location import LayoutLocation
from polyarch.models import Descriptor, ImageManifest
from polyarch.ops import DEFAULT_JOBS
from polyarch.ops._pipeline import Pipeline, Step
from polyarch.ops.pending import (
    ListName,
    PendingEntry,
    PendingList,
    PendingListStore,
    Pushed,
    same_repository,
)
from polyarch.ops.walk import Walk
from polyarch.platform import Platform, normalize, suggest_architecture, unusual_platform
from polyarch.reference import DEFAULT_TAG
from polyarch.store import SoleImage, Store, digest_at

if TYPE_CHECKING:
    from polyarch.index import ListFormat
    from polyarch.ops.copy import Attestations, BlobTransfer, Transfers

__all__ = [
    "PushResult",
    "StoreOpener",
    "annotate_list",
    "build_list",
    "check_duplicates",
    "create_list",
    "fetch_member",
    "fetch_members",
    "push_list",
    "push_pending",
    "validate_platform",
]

log = logging.getLogger(__name__)

#: Opens the repository (or layout) a name is in.
StoreOpener = Callable[[ListName], Store]


# -- create ----------------------------------------------------------------------------


def fetch_member(open_store: StoreOpener, member: ListName) -> list[PendingEntry]:
    """The entries one member contributes: one image, or every entry of an index."""
    return fetch_members(open_store, [member])[0]


def fetch_members(
    open_store: StoreOpener, members: Sequence[ListName], *, jobs: int = DEFAULT_JOBS
) -> list[list[PendingEntry]]:
    """The entries each member contributes (:func:`fetch_member`), every member and every
    child of a member that is an index fetched at once: each image's config as soon as
    the image is in."""
    with Pipeline(jobs) as pipeline:
        steps = [pipeline.run(functools.partial(_member, open_store, m, pipeline)) for m in members]
        pipeline.wait()
    return [entries() for entries in (step.result() for step in steps)]


def _member(
    open_store: StoreOpener, member: ListName, pipeline: Pipeline
) -> Callable[[], list[PendingEntry]]:
    """Fetch ``member`` on ``pipeline``: its entries, to be asked for once the pipeline is done."""
    store = open_store(member)
    identifier = member.identifier
    if identifier is None:  # oci:PATH alone: the layout's only image
        identifier = store.only_image() if isinstance(store, SoleImage) else DEFAULT_TAG
    manifest = store.get_manifest(identifier)
    walk = Walk(store, manifest, where=str(member))
    if isinstance(manifest, ImageManifest):
        if not mt.is_config(manifest.config.media_type):
            raise InvalidInputError(
                f"{member} is not a container image (config type {manifest.config.media_type})"
            )
        config = walk.config(manifest)
        entry = PendingEntry(member, manifest.descriptor(platform=config.platform), manifest.raw)
        return lambda: [entry]
    index = manifest
    children = [d for d in index.manifests if mt.is_manifest(d.media_type)]
    skipped = len(index.manifests) - len(children)
    if skipped:
        log.warning("%s: skipping %d nested entries that are not image manifests", member, skipped)

    def child_entry(child: Descriptor) -> PendingEntry:
        image = walk.child(index, child, depth=0)
        platform = child.platform
        if platform is None and not child.is_attestation and isinstance(image, ImageManifest):
            # An index entry without a platform: the image's config says what it is.
            platform = walk.config(image).platform
        return PendingEntry(member, replace(child, platform=platform), image.raw)

    steps = [pipeline.run(functools.partial(child_entry, child)) for child in children]
    return lambda: [step.result() for step in steps]


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


def build_list(
    reference: ListName,
    members: Sequence[ListName],
    *,
    open_store: StoreOpener,
    jobs: int = DEFAULT_JOBS,
    base: Sequence[PendingEntry] = (),
    annotations: Mapping[str, str] | None = None,
    attestations: Attestations = "keep",
) -> PendingList:
    """A list named ``reference`` of ``members``, in memory: each member fetched (its
    platform from its config; a member that is an index brings all its entries), nothing
    saved. :func:`push_pending` pushes it.

    A list in an OCI layout (``oci:PATH:TAG``) is pushed into that layout; members may be
    in registries or layouts, whatever the list's place.

    :param base: the entries of an existing list that the members are added to (a
        re-added member's entries replace its old ones).
    :param annotations: the index's own annotations (``org.opencontainers.image.source``,
        ``...description``: what GHCR shows on a package's page); they make it an OCI
        index when its format is chosen, as a Docker manifest list has none.
    :param attestations: ``"drop"`` leaves out the attestation manifests that members
        which are indexes (buildx images) bring; ``"keep"`` keeps each beside its image;
        ``"referrers"`` keeps them out of the index, for push to put each as an OCI 1.1
        referrer of its image.
    :raises ConflictError: two images claim one platform.
    :raises InvalidInputError: a list in a layout named without a tag.
    """
    if isinstance(reference, LayoutLocation) and reference.tag is None:
        raise InvalidInputError(
            f"{reference} names no tag for the list to be pushed under",
            hint=f"name one: {reference.familiar_name}:TAG",
        )
    fetched = fetch_members(open_store, members, jobs=jobs)
    new = [entry for entries in fetched for entry in entries]
    if attestations == "drop":
        new = [entry for entry in new if not entry.is_attestation]
    entries = _merge(base, new)
    check_duplicates(entries)
    return PendingList(
        reference,
        tuple(entries),
        annotations=dict(annotations or {}),
        attestations_as_referrers=attestations == "referrers",
    )


def create_list(
    reference: ListName,
    members: Sequence[ListName],
    *,
    open_store: StoreOpener,
    store: PendingListStore,
    amend: bool = False,
    jobs: int = DEFAULT_JOBS,
    annotations: Mapping[str, str] | None = None,
    attestations: Attestations | None = None,
) -> PendingList:
    """:func:`build_list`, saved in ``store`` (``polyarch create``); with ``amend``, the
    annotations given are added to the list's own, and ``attestations`` (``None``: as
    the list was created, ``"keep"`` for a new one) applies to its entries too.

    :raises ConflictError: the list exists and ``amend`` is false, or two images claim
        one platform.
    """
    existing = store.load(reference)
    if existing is not None and not amend:
        raise ConflictError(
            f"a pending list {reference.familiar} exists already",
            hint=f"add to it with --amend, or start over after: polyarch rm {reference.familiar}",
        )
    if attestations is None:
        moving = existing is not None and existing.attestations_as_referrers
        attestations = "referrers" if moving else "keep"
    base = existing.entries if existing else ()
    if attestations == "drop":
        base = tuple(entry for entry in base if not entry.is_attestation)
    pending = build_list(
        reference,
        members,
        open_store=open_store,
        jobs=jobs,
        base=base,
        annotations={**(existing.annotations if existing else {}), **(annotations or {})},
        attestations=attestations,
    )
    store.save(pending)
    return pending


# -- annotate --------------------------------------------------------------------------


def annotate_list(
    reference: ListName,
    member: ListName,
    *,
    store: PendingListStore,
    os: str | None = None,
    architecture: str | None = None,
    variant: str | None = None,
    os_version: str | None = None,
    os_features: Iterable[str] = (),
    force: bool = False,
    annotations: Mapping[str, str] | None = None,
) -> PendingEntry:
    """Change the platform (and annotations) of one entry of a pending list.

    :param annotations: added to the entry's descriptor annotations (a value replaces
        the one a key had).

    :param force: set a platform no image is known to be built for (see
        :func:`validate_platform`).

    :raises NotFoundError: no such list, or the member is not in it.
    :raises InvalidInputError: several entries match (name one by digest), or the
        resulting platform is not valid.
    """
    pending = store.get(reference)
    index = pending.find(member)
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
    if updated != current:  # an entry annotated only keeps the platform it had
        validate_platform(updated, force=force)
    descriptor = replace(
        entry.descriptor,
        platform=updated,
        annotations={**entry.descriptor.annotations, **(annotations or {})},
    )
    new_entry = replace(entry, descriptor=descriptor)
    entries = list(pending.entries)
    entries[index] = new_entry
    check_duplicates(entries)
    store.save(replace(pending, entries=tuple(entries), pushed=None))
    return new_entry


def validate_platform(platform: Platform, *, force: bool = False) -> None:
    """An annotated platform must be one the platform grammar accepts, spelled canonically,
    and (unless ``force``) one images are built for: a known os/architecture pair and a
    known variant of the architecture (:func:`polyarch.platform.unusual_platform`).

    :raises InvalidPlatformError: with the closest known spelling when there is one.
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
    unusual = (
        None if force else unusual_platform(platform.os, platform.architecture, platform.variant)
    )
    if unusual is not None:
        problem, closest = unusual
        raise InvalidPlatformError(
            problem,
            text=spec,
            suggestion=closest,
            hint=(f"did you mean {closest}? " if closest else "") + f"(--force sets {spec} anyway)",
        )


# -- push ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushResult:
    """What a push did."""

    reference: ListName
    digest: Digest
    changed: bool
    copied_manifests: tuple[ListName, ...] = ()
    #: Every tag now at :attr:`digest`, the list's own first; those put by this push are
    #: in :attr:`tagged`.
    tags: tuple[str, ...] = ()
    tagged: tuple[str, ...] = ()


def push_pending(
    pending: PendingList,
    *,
    open_store: StoreOpener,
    format: ListFormat | None = None,
    jobs: int = DEFAULT_JOBS,
    on_manifest: Callable[[ListName], None] | None = None,
    tags: Sequence[str] = (),
) -> PushResult:
    """Push a list: member content into the target repository (or layout), then the list.

    Members in the target repository need nothing. Members elsewhere on the same registry
    have their blobs mounted and their manifests put by digest (as docker does); members
    elsewhere are copied. The list goes last, so the target never holds a list whose
    entries are missing. A target already at the list's digest gets no request more.

    :param on_manifest: told each member manifest put, as it is.
    :param tags: more tags in the same repository for the same list: the content goes
        once, the list is put under each tag not already at its digest.
    """
    reference = pending.reference
    index = pending.index(format)
    target = open_store(reference)
    every = pending.tags(tags)
    missing = [tag for tag in every if digest_at(target, tag) != index.digest]
    if not missing and not pending.referrers:
        return PushResult(reference, index.digest, changed=False, tags=tuple(every))

    listed = {entry.digest for entry in index.manifests}
    foreign = [
        e
        for e in pending.entries
        if e.descriptor.digest in listed and not same_repository(e.source, reference)
    ]
    # Only push moves content: inspect and create, which read pending lists too, need
    # not load the copy machinery.
    from polyarch.ops.copy import Transfers

    transfers = Transfers()

    def pushed(entry: PendingEntry) -> ListName:
        name = reference.with_tag(None).with_digest(entry.descriptor.digest)
        if on_manifest is not None:
            on_manifest(name)
        return name

    copied: list[ListName] = []
    # A tag already at the list's digest: the target holds all it names (a registry
    # takes a manifest only then), and only the other tags need it.
    if foreign and len(missing) == len(every):
        # Each member on its own: its blobs, then its manifest, whatever the others are at.
        shared: dict[Digest, Step[BlobTransfer]] = {}
        steps: list[Step[ListName]] = []
        with Pipeline(jobs) as pipeline:
            for entry in foreign:
                source = open_store(entry.source)
                put = transfers.manifest(
                    source, target, entry.manifest, pipeline, blob_steps=shared
                )
                steps.append(pipeline.run(functools.partial(pushed, entry), after=[put]))
            pipeline.wait()
        copied = [step.result() for step in steps]
    # Even when the list is there: the same index without attestations may have been
    # pushed by a push that dropped them.
    attached = _push_referrers(pending, target, open_store, transfers, jobs=jobs)
    for tag in missing:
        target.put_manifest(index, tag=tag)
    return PushResult(
        reference,
        index.digest,
        changed=bool(missing) or attached,
        copied_manifests=tuple(copied),
        tags=tuple(every),
        tagged=tuple(missing),
    )


def _push_referrers(
    pending: PendingList,
    target: Store,
    open_store: StoreOpener,
    transfers: Transfers,
    *,
    jobs: int,
) -> bool:
    """The list's attestations put into ``target`` as referrers of their images (which
    are there already), and listed under them; whether a referrers tag was written."""
    if not pending.referrers:
        return False
    from polyarch.ops.referrers import attach_all, place_attestations

    converted = [
        (open_store(entry.source), referrer) for entry, referrer in pending.attestation_referrers()
    ]
    place_attestations(target, converted, transfers, target.put_manifest, jobs=jobs)
    return attach_all(target, [referrer for _, referrer in converted], jobs=jobs)


def push_list(
    reference: ListName,
    *,
    open_store: StoreOpener,
    store: PendingListStore,
    format: ListFormat | None = None,
    purge: bool = False,
    jobs: int = DEFAULT_JOBS,
    on_manifest: Callable[[ListName], None] | None = None,
    tags: Sequence[str] = (),
) -> PushResult:
    """:func:`push_pending` of the list saved in ``store`` (``polyarch push``): left as it
    was if anything fails; after the push removed (``purge``) or kept, saying what was
    pushed.

    :raises NotFoundError: no such pending list.
    """
    pending = store.get(reference)
    result = push_pending(
        pending,
        open_store=open_store,
        format=format,
        jobs=jobs,
        on_manifest=on_manifest,
        tags=tags,
    )
    _after_push(store, pending, Pushed(result.digest, format), purge=purge)
    return result


def _after_push(
    store: PendingListStore, pending: PendingList, pushed: Pushed, *, purge: bool
) -> None:
    """Remove the pushed list, or keep it saying what was pushed (``inspect`` shows it)."""
    if purge:
        store.remove(pending.reference)
    elif pending.pushed != pushed:
        try:
            store.save(replace(pending, pushed=pushed))
        except PolyarchError as err:  # the push itself succeeded: say so, not fail
            log.warning("pushed, but the local list could not record it: %s", err)
