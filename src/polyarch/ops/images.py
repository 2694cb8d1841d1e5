"""The operations a program asks for by name, over locations as users write them:
resolve a platform, copy, pull, build and push a list. The command line is these, with
output; a program calls them the same way (``polyarch.copy(...)``).

Every location is text (``oci:PATH[:TAG|@DIGEST]``, ``docker-archive:FILE``, a registry
reference) or a parsed :class:`~polyarch.location.Location`; registry access goes through
``registries`` (one :class:`~polyarch.registry.Registries` shares a run's connections and
tokens; default options when left out, closed by the caller when given).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from polyarch.location import LayoutLocation, Location, RegistryLocation
from polyarch.models import Descriptor, ImageManifest
from polyarch.ops import DEFAULT_JOBS
from polyarch.ops.copy import (
    Attestations,
    BlobTransfer,
    CopyProgress,
    CopyResult,
    Transfers,
    copy_image,
)
from polyarch.ops.resolve import Choice, image_for_platform
from polyarch.ops.targets import archive_tags, check_copy_destination, copy_tag, pull_destination
from polyarch.platform import Platform
from polyarch.schemes import Target, open_location, open_store, open_target, parse_location
from polyarch.store import ImageSink, Store

if TYPE_CHECKING:
    from polyarch.digest import Digest
    from polyarch.index import ListFormat
    from polyarch.ops.check import Report
    from polyarch.ops.diff import Difference
    from polyarch.ops.explain import Explanation
    from polyarch.ops.lists import PushResult, StoreOpener
    from polyarch.ops.pending import ListName, PendingList
    from polyarch.ops.plan import Plan
    from polyarch.ops.referrers import Subject
    from polyarch.ops.spec import ListSpec
    from polyarch.registry import Registries

__all__ = [
    "Resolved",
    "build_list",
    "copy",
    "copy_digests",
    "diff",
    "explain",
    "lint",
    "plan_copy",
    "pull",
    "push_list",
    "push_spec",
    "referrers_of",
    "registries_for",
    "resolve_platform",
    "store_opener",
    "verify",
]


@contextmanager
def registries_for(given: Registries | None) -> Iterator[Registries]:
    """The caller's registries, or a run's own, closed at the end (its clients are made
    only when a registry is reached: a layout needs no HTTP client)."""
    if given is not None:
        yield given
        return
    from polyarch.registry import Registries

    with Registries() as own:
        yield own


@dataclass(frozen=True, slots=True)
class Resolved:
    """The image a platform runs, and the index entries chosen on the way (each with the
    sentence that explains it, :attr:`~polyarch.ops.resolve.Choice.reason`)."""

    image: ImageManifest
    choices: tuple[Choice, ...]
    store: Store


def resolve_platform(
    image: str | Location, platform: Platform, *, registries: Registries | None = None
) -> Resolved:
    """The image of ``image`` that a ``platform`` machine runs: the best entry of an index
    (nested ones too; entries without a platform judged by their config, as containerd
    does), or a single image checked against its config.

    :raises NoMatchingPlatformError: nothing fits; ``available`` lists what is there.
    """
    target = open_target(image, registries=registries)
    manifest, choices = image_for_platform(
        target.store, target.get_manifest(), platform, where=str(target)
    )
    return Resolved(manifest, tuple(choices), target.store)


def copy(
    source: str | Location,
    destination: str | Location,
    *,
    registries: Registries | None = None,
    platforms: Sequence[Platform] = (),
    single: bool = False,
    include_nondistributable: bool = False,
    attestations: Attestations = "keep",
    referrers: bool = False,
    jobs: int = DEFAULT_JOBS,
    progress: CopyProgress | None = None,
    trust_target: bool = True,
    shared: Transfers | None = None,
) -> CopyResult:
    """Copy an image or a whole index from ``source`` to ``destination`` (registries and
    layouts, any combination), digests kept; under the destination's tag, else the
    source's, else ``latest``.

    :param platforms: keep only these platforms of an index (a new, valid index).
    :param single: with exactly one platform, copy that plain image instead of an index.
    :param include_nondistributable: copy non-distributable layers (Windows base layers)
        too, from the source or else from the URLs they name; by default they are left
        out, their descriptors kept, as skopeo and crane do.
    :param attestations: ``"drop"`` leaves buildx's attestation manifests out of every
        index written (nested ones too); ``"referrers"`` puts them as OCI 1.1 referrers
        of their images instead.
    :param referrers: carry the referrers (signatures, SBOMs, attestations) of every
        manifest copied, and theirs.
    :param trust_target: ``False``: copy what is missing even when the destination's tag
        is at the digest already (see :func:`~polyarch.ops.copy.copy_image`).
    :param shared: the transfers of a run of many copies, so that none moves a blob
        another moves to the same place.
    :raises InvalidInputError: a destination that names a digest, or cannot be read back.
    """
    with registries_for(registries) as run:
        src, target, tag = _copy_ends(source, destination, run)
        return copy_image(
            src.store,
            src.identifier,
            target,
            tag=tag,
            platforms=platforms,
            single=single,
            jobs=jobs,
            progress=progress,
            include_nondistributable=include_nondistributable,
            foreign=run.urls() if include_nondistributable else None,
            attestations=attestations,
            referrers=referrers,
            trust_target=trust_target,
            shared=shared,
        )


def copy_digests(
    source: str | Location,
    destination: str | Location,
    *,
    registries: Registries | None = None,
    platforms: Sequence[Platform] = (),
    single: bool = False,
    attestations: Attestations = "keep",
) -> tuple[Digest | None, Digest]:
    """What :func:`copy` with the same arguments would find at ``destination`` now
    (``None``: nothing) and leave there; reads only."""
    from polyarch.ops.copy import prepare_copy
    from polyarch.store import digest_at

    with registries_for(registries) as run:
        src, target, tag = _copy_ends(source, destination, run)
        prepared = prepare_copy(
            src.store, src.identifier, platforms=platforms, single=single, attestations=attestations
        )
        return digest_at(target, tag), prepared.root.digest


def _copy_ends(
    source: str | Location, destination: str | Location, registries: Registries
) -> tuple[Target, Store, str]:
    """A copy's source, its destination's store (checked to be one a copy writes), and
    the tag the copy is written under."""
    src = open_target(source, registries=registries)
    target = _parsed(destination)
    check_copy_destination(target)
    return src, open_store(target, registries=registries), copy_tag(src.location, target)


def plan_copy(
    source: str | Location,
    destination: str | Location,
    *,
    registries: Registries | None = None,
    platforms: Sequence[Platform] = (),
    single: bool = False,
    include_nondistributable: bool = False,
    attestations: Attestations = "keep",
    jobs: int = DEFAULT_JOBS,
) -> Plan:
    """What :func:`copy` with the same arguments would do, found out by reading only."""
    from polyarch.ops import plan

    with registries_for(registries) as run:
        src, target, tag = _copy_ends(source, destination, run)
        return plan.plan_copy(
            src.store,
            src.identifier,
            target,
            tag=tag,
            platforms=platforms,
            single=single,
            attestations=attestations,
            include_nondistributable=include_nondistributable,
            jobs=jobs,
        )


def pull(
    image: str | Location,
    destination: str | Location,
    *,
    platform: Platform | None,
    registries: Registries | None = None,
    jobs: int = DEFAULT_JOBS,
    progress: CopyProgress | None = None,
    on_choice: Callable[[Choice], None] | None = None,
) -> Descriptor:
    """Write the image ``platform`` runs (``None``: the whole index) to an OCI layout
    (``oci:DIR[:TAG]``) or a docker archive (``docker-archive:FILE``, for docker load).

    The destination is checked before anything is fetched. Non-distributable layers the
    source lacks are fetched from the URLs they name (HTTPS only, no credentials sent
    there): a layout or an archive must be complete.

    :param on_choice: told each index entry chosen, before any blob moves.
    :returns: the descriptor of the manifest written.
    :raises InvalidInputError: a destination pull cannot write (a registry: use
        :func:`copy`), or a whole index to a docker archive.
    """
    target = _parsed(destination)
    pull_destination(target, whole_index=platform is None)
    with registries_for(registries) as run:
        opened = open_location(target, registries=run)
        if isinstance(opened, ImageSink):
            opened.check()
        source = open_target(image, registries=run)
        identifier = source.identifier
        manifest = None
        if platform is not None:
            manifest, choices = image_for_platform(
                source.store, source.get_manifest(), platform, where=str(source)
            )
            for choice in choices:
                if on_choice is not None:
                    on_choice(choice)
            identifier = manifest.digest
        if isinstance(opened, ImageSink):
            assert manifest is not None  # a sink takes one platform: checked above
            opened.write_image(
                source.store,
                manifest,
                tags=archive_tags(source.location),
                foreign=run.urls(),
                progress=None if progress is None else _SinkProgress(progress),
            )
            return manifest.descriptor()
        result = copy_image(
            source.store,
            identifier,
            opened,
            tag=copy_tag(source.location, target),
            jobs=jobs,
            progress=progress,
            manifest=manifest,  # chosen above: not fetched twice
            include_nondistributable=True,
            foreign=run.urls(),
        )
        return result.descriptor


class _SinkProgress:
    """A sink's progress told to a copy's progress display: one view for both."""

    def __init__(self, progress: CopyProgress) -> None:
        self._progress = progress

    def started(self, blob: Descriptor) -> None:
        self._progress.blob_started(blob)

    def advanced(self, blob: Descriptor, count: int) -> None:
        self._progress.blob_advanced(blob, count)

    def finished(self, blob: Descriptor, *, fetched: bool) -> None:
        self._progress.blob_finished(blob, BlobTransfer.FETCHED if fetched else BlobTransfer.COPIED)


def build_list(
    name: str | ListName,
    members: Sequence[str | ListName],
    *,
    registries: Registries,
    jobs: int = DEFAULT_JOBS,
    annotations: Mapping[str, str] | None = None,
    attestations: Attestations = "keep",
) -> PendingList:
    """A manifest list named ``name`` (a registry reference, or ``oci:PATH:TAG``) of
    ``members`` (images or indexes, in registries or layouts), built in memory as ``docker
    manifest create`` builds it: each entry's platform from its image config. Nothing is
    saved or pushed; :func:`push_list` pushes it. ``annotations`` are the index's own
    (they make it an OCI index).

    :raises ConflictError: two members are images of one platform.
    """
    from polyarch.ops import lists

    return lists.build_list(
        _list_name(name),
        [_list_name(member) for member in members],
        open_store=store_opener(registries),
        jobs=jobs,
        annotations=annotations,
        attestations=attestations,
    )


def push_list(
    pending: PendingList,
    *,
    registries: Registries,
    format: ListFormat | None = None,
    jobs: int = DEFAULT_JOBS,
    tags: Sequence[str] = (),
) -> PushResult:
    """Push a list built by :func:`build_list` (or loaded from the pending lists): the
    members' content where it is missing, then the list under its tag. The digest is
    what ``docker manifest push`` prints for the same members.

    :param format: ``"docker"`` or ``"oci"``; by default docker's choice, from the first
        entry.
    :param tags: more tags in the list's repository to push it under (content once).
    """
    from polyarch.ops import lists

    return lists.push_pending(
        pending, open_store=store_opener(registries), format=format, jobs=jobs, tags=tags
    )


def push_spec(
    spec: ListSpec,
    *,
    registries: Registries | None = None,
    format: ListFormat | None = None,
    jobs: int = DEFAULT_JOBS,
    ignore_missing: bool = False,
    on_missing: Callable[[str], None] | None = None,
    on_manifest: Callable[[ListName], None] | None = None,
) -> PushResult:
    """Build and push the list a spec describes (:func:`polyarch.ops.spec.parse_spec` of
    manifest-tool's YAML, or :func:`polyarch.ops.spec.from_template`) under its image's
    tag and its other tags, content once.

    :param ignore_missing: leave out members that do not exist (each told to
        ``on_missing``) rather than fail naming them all.
    :param on_manifest: told each member manifest put.
    """
    from polyarch.ops.lists import push_pending
    from polyarch.ops.spec import spec_list

    with registries_for(registries) as run:
        opener = store_opener(run)
        pending = spec_list(
            spec,
            open_store=opener,
            jobs=jobs,
            ignore_missing=ignore_missing,
            on_missing=on_missing,
        )
        return push_pending(
            pending,
            open_store=opener,
            format=format,
            jobs=jobs,
            tags=spec.tags,
            on_manifest=on_manifest,
        )


def referrers_of(
    image: str | Location, *, registries: Registries | None = None, jobs: int = DEFAULT_JOBS
) -> list[Subject]:
    """The OCI 1.1 referrers (signatures, SBOMs, attestations) of ``image`` and, for an
    index, of each entry, theirs nested: through the registry's referrers API, or the
    referrers tag where it has none (and in layouts)."""
    from polyarch.ops.referrers import referrers_of as of_store

    with registries_for(registries) as run:
        target = open_target(image, registries=run)
        return of_store(target.store, target.get_manifest(), jobs=jobs)


def lint(
    image: str | Location,
    *,
    require: Sequence[Platform] = (),
    registries: Registries | None = None,
    jobs: int = DEFAULT_JOBS,
) -> Report:
    """What is wrong with ``image`` (:func:`polyarch.ops.check.lint`): each finding with
    a severity and a stable code; ``report.exit_code()`` is the CLI's."""
    from polyarch.ops import check

    with registries_for(registries) as run:
        target = open_target(image, registries=run)
        return check.lint(
            target.store, target.get_manifest(), reference=str(target), require=require, jobs=jobs
        )


def verify(
    image: str | Location,
    *,
    expected: Digest | None = None,
    require: Sequence[Platform] = (),
    registries: Registries | None = None,
    jobs: int = DEFAULT_JOBS,
) -> Report:
    """Whether ``image`` is complete as a pull needs it (:func:`polyarch.ops.check.verify`):
    at ``expected``, every child and blob there (blobs by HEAD)."""
    from polyarch.ops import check

    with registries_for(registries) as run:
        target = open_target(image, registries=run)
        return check.verify(
            target.store,
            target.identifier,
            reference=str(target),
            expected=expected,
            require=require,
            jobs=jobs,
        )


def diff(
    a: str | Location, b: str | Location, *, registries: Registries | None = None
) -> Difference:
    """``a`` against ``b``, platform by platform (:func:`polyarch.ops.diff.diff_manifests`)."""
    from polyarch.ops.diff import diff_manifests

    with registries_for(registries) as run:
        first, second = open_target(a, registries=run), open_target(b, registries=run)
        return diff_manifests(
            first.store, first.get_manifest(), second.store, second.get_manifest()
        )


def explain(
    image: str | Location, platform: Platform, *, registries: Registries | None = None
) -> Explanation:
    """Which entry of ``image`` each runtime family runs on ``platform``, and why
    (:mod:`polyarch.selection`)."""
    from polyarch.ops import explain as explaining

    with registries_for(registries) as run:
        target = open_target(image, registries=run)
        return explaining.explain(target.store, target.get_manifest(), platform)


def store_opener(registries: Registries) -> StoreOpener:
    """The stores a list's names are in: a registry repository through ``registries``,
    or a layout."""

    def open_store_of(name: ListName) -> Store:
        location = name if isinstance(name, LayoutLocation) else RegistryLocation(name)
        return open_store(location, registries=registries)

    return open_store_of


def _parsed(location: str | Location) -> Location:
    return parse_location(location, default_tag=None) if isinstance(location, str) else location


def _list_name(name: str | ListName) -> ListName:
    if not isinstance(name, str):
        return name
    from polyarch.ops.pending import parse_list_name

    return parse_list_name(name)
