"""Move content between stores: blobs first, then manifests, never a dangling reference.

Every transfer takes the cheapest path that is safe: a blob the target has is skipped, a
blob in another repository of the same registry is mounted, anything else is streamed
from source to target with its digest verified on the way, never held whole in memory.

Non-distributable layers (Docker's foreign layers, OCI's non-distributable ones: Windows
base layers) are left out by default, as skopeo and crane leave them: their descriptors
stay in the manifests, byte for byte, and name the URLs they come from. Asked to include
them, a copy takes them from the source, or, when it lacks them, from those URLs.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Literal, TypeVar

from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.errors import AuthError, DigestMismatchError, InvalidInputError, SizeMismatchError
from polyarch.models import (
    Descriptor,
    ImageIndex,
    ImageManifest,
    Manifest,
)
from polyarch.ops import DEFAULT_JOBS
from polyarch.ops._pipeline import Pipeline, Step
from polyarch.ops.resolve import choose, image_for_platform, learner
from polyarch.ops.walk import Walk
from polyarch.platform import Platform
from polyarch.store import (
    BlobMounter,
    ForeignBlobs,
    Store,
    VerifiedBlobWriter,
    digest_at,
    is_digest,
    open_blob_or_fetch,
)

if TYPE_CHECKING:
    from polyarch.ops.referrers import Referrer

#: What a copy or a list does with buildx's attestation manifests: keep them as index
#: entries, drop them, or move them out of the index into OCI 1.1 referrers of their images.
Attestations = Literal["keep", "drop", "referrers"]

__all__ = [
    "Attestations",
    "BlobTransfer",
    "CopyProgress",
    "CopyResult",
    "Transfers",
    "copy_image",
    "gather",
    "prepare_copy",
    "select_entries",
    "subset_index",
    "transfer_blob",
]

log = logging.getLogger(__name__)


class BlobTransfer(Enum):
    """How a blob reached the target."""

    PRESENT = "present"
    MOUNTED = "mounted"
    COPIED = "copied"
    #: A non-distributable layer the source lacks, streamed from the URLs it names.
    FETCHED = "fetched"
    #: A non-distributable layer left out: its descriptor names where it comes from.
    SKIPPED = "skipped"


def transfer_blob(
    source: Store,
    target: Store,
    descriptor: Descriptor,
    *,
    on_bytes: Callable[[int], None] | None = None,
    include_nondistributable: bool = False,
    foreign: ForeignBlobs | None = None,
) -> BlobTransfer:
    """Make ``descriptor`` present in ``target``, taking it from ``source`` if needed.

    Within one registry a mount is tried first: it also answers "already there" for
    free, so no HEAD is spent. Elsewhere a HEAD decides whether to stream.

    :param include_nondistributable: transfer non-distributable layers too (else they
        are skipped, no request spent on them).
    :param foreign: where such a layer that ``source`` lacks is fetched from (its URLs).
    """
    if not include_nondistributable and mt.is_nondistributable(descriptor.media_type):
        return BlobTransfer.SKIPPED
    # Not mountable (another registry, or the source lacks it): fall through to a copy.
    if isinstance(target, BlobMounter) and target.mount_blob(descriptor, source):
        return BlobTransfer.MOUNTED
    if target.has_blob(descriptor):
        return BlobTransfer.PRESENT
    # Re-iterable: a target whose upload fails midway starts again from a fresh read.
    stream = _BlobSource(source, descriptor, on_bytes, foreign)
    try:
        if isinstance(target, VerifiedBlobWriter):
            # open_blob verifies as it streams: hashing the same bytes again is waste.
            target.put_verified_blob(descriptor, stream)
        else:
            target.put_blob(descriptor, stream)
    except (DigestMismatchError, SizeMismatchError) as err:
        # The verifier knows what the bytes should be, not where they came from.
        err.hint = err.hint or (
            f"{source.location} serves damaged bytes for blob {descriptor.digest}; nothing "
            f"of it was written to {target.location}. Push the image to the source again."
        )
        raise
    return BlobTransfer.FETCHED if stream.fetched else BlobTransfer.COPIED


class _BlobSource:
    """A blob of ``source`` that can be read more than once: each iteration opens it
    anew, so a target can restart a failed upload from the first byte (a registry does,
    see :meth:`polyarch.registry.RegistryStore.put_blob`). A non-distributable layer the
    source lacks comes from its URLs through ``foreign``, when given."""

    def __init__(
        self,
        source: Store,
        descriptor: Descriptor,
        on_bytes: Callable[[int], None] | None,
        foreign: ForeignBlobs | None = None,
    ) -> None:
        self._source = source
        self._descriptor = descriptor
        self._on_bytes = on_bytes
        self._foreign = foreign
        self.fetched = False

    def __iter__(self) -> Iterator[bytes]:
        with open_blob_or_fetch(self._source, self._descriptor, self._foreign) as opened:
            chunks, self.fetched = opened
            for chunk in chunks:
                if self._on_bytes is not None:
                    self._on_bytes(len(chunk))
                yield chunk


@dataclass
class Transfers:
    """Blob transfers shared by concurrent workers, so a blob two images share moves once
    (and two copies of one run, through :meth:`sharing`); each counts its own."""

    source_of: dict[str, BlobTransfer] = field(default_factory=dict)
    #: Transfer non-distributable layers too, from the source or else through ``foreign``.
    include_nondistributable: bool = False
    foreign: ForeignBlobs | None = None
    _claimed: dict[str, threading.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: How each blob this one was asked for got there (what :meth:`count` counts).
    _mine: dict[str, BlobTransfer] = field(default_factory=dict)

    def sharing(
        self, *, include_nondistributable: bool = False, foreign: ForeignBlobs | None = None
    ) -> Transfers:
        """Transfers that move no blob this one moves (or moved) again, counted apart: the
        copies of one sync, images that share layers written at once."""
        return Transfers(
            self.source_of, include_nondistributable, foreign, self._claimed, self._lock
        )

    def blob(
        self,
        source: Store,
        target: Store,
        descriptor: Descriptor,
        *,
        on_bytes: Callable[[int], None] | None = None,
    ) -> BlobTransfer:
        key = f"{target.location}@{descriptor.digest}"
        with self._lock:
            event = self._claimed.get(key)
            mine = event is None
            if mine:
                event = self._claimed[key] = threading.Event()
        assert event is not None
        if not mine:
            event.wait()
            done = self.source_of.get(key)
            if done is not None:
                # Moved by the first worker, or left out by it: the same answer for both.
                seen = done if done is BlobTransfer.SKIPPED else BlobTransfer.PRESENT
                self._mine.setdefault(key, seen)  # moved by this one's own worker: as it said
                return seen
            # The first worker failed; try again ourselves rather than assume success.
        try:
            how = transfer_blob(
                source,
                target,
                descriptor,
                on_bytes=on_bytes,
                include_nondistributable=self.include_nondistributable,
                foreign=self.foreign,
            )
            self.source_of[key] = how
            self._mine[key] = how
            return how
        finally:
            event.set()

    def manifest(
        self,
        source: Store,
        target: Store,
        manifest: Manifest,
        pipeline: Pipeline,
        *,
        blob_steps: dict[Digest, Step[BlobTransfer]] | None = None,
    ) -> Step[Descriptor]:
        """Copy one image manifest on ``pipeline``: its blobs at once, then the manifest
        itself (by digest) as soon as they are there; the step that puts it.

        :param blob_steps: the blob steps of the other manifests put into ``target`` on
            ``pipeline``: a blob they share is one step, which all of them wait for."""
        blobs = manifest.blobs if isinstance(manifest, ImageManifest) else ()
        needed = _blob_steps(
            pipeline,
            blobs,
            {} if blob_steps is None else blob_steps,
            self._lock,
            lambda blob: self.blob(source, target, blob),
        )
        return pipeline.run(functools.partial(target.put_manifest, manifest), after=needed)

    def count(self, kind: BlobTransfer) -> int:
        return sum(1 for value in self._mine.values() if value is kind)


R = TypeVar("R")


def _blob_steps(
    pipeline: Pipeline,
    blobs: Sequence[Descriptor],
    table: dict[Digest, Step[R]],
    lock: threading.Lock,
    work: Callable[[Descriptor], R],
) -> list[Step[R]]:
    """The steps that move ``blobs`` on ``pipeline``: one step a digest, the one ``table``
    (guarded by ``lock``) has when another manifest shares the blob, else a new one
    running ``work``, kept there."""
    steps: list[Step[R]] = []
    with lock:
        for blob in blobs:
            step = table.get(blob.digest)
            if step is None:
                step = table[blob.digest] = pipeline.run(functools.partial(work, blob))
            steps.append(step)
    return steps


# -- whole images ------------------------------------------------------------------------


class CopyProgress:
    """What a copy reports while it runs; the default reports nothing.

    Called from worker threads: implementations must be thread-safe.
    """

    def blob_started(self, descriptor: Descriptor) -> None:
        """A blob is about to be transferred."""

    def blob_advanced(self, descriptor: Descriptor, count: int) -> None:
        """``count`` more bytes of ``descriptor`` were streamed."""

    def blob_finished(self, descriptor: Descriptor, how: BlobTransfer) -> None:
        """The blob is at the target."""

    def manifest_finished(self, descriptor: Descriptor) -> None:
        """A manifest is at the target."""


@dataclass(frozen=True, slots=True)
class CopyResult:
    """What ended up at the target, and how the blobs got there."""

    descriptor: Descriptor
    manifests: int
    blobs: dict[BlobTransfer, int]
    bytes_copied: int
    #: Referrers put at the target (carried, or attestations moved into referrers).
    referrers: int = 0
    #: The tag written (``None``: the copy was put by digest only).
    tag: str | None = None
    #: The target held the image already (at the tag): nothing of it was written.
    there: bool = False


def select_entries(
    index: ImageIndex, platforms: Sequence[Platform], *, walk: Walk | None = None
) -> list[Descriptor]:
    """The entries a platform subset keeps: the best entry for each platform asked for
    (:func:`polyarch.ops.resolve.choose`), in index order, plus their attestations.

    :param walk: the walk ``index`` is the root of, to judge entries without a platform
        by their content; without it they are never kept.
    :raises NoMatchingPlatformError: a platform no entry can serve.
    """
    chosen = {
        choose(
            index,
            platform,
            learn=None if walk is None else learner(walk, index, platform, depth=0),
        ).descriptor.digest
        for platform in platforms
    }
    return [
        entry
        for entry in index.manifests
        if entry.digest in chosen or (entry.attests is not None and entry.attests in chosen)
    ]


def subset_index(index: ImageIndex, entries: Sequence[Descriptor]) -> ImageIndex:
    """A new index with only ``entries`` of ``index``, each entry's JSON kept as it was."""
    from polyarch.index import edited_index, index_document  # only a subset is rewritten

    document = index_document(index)
    keep = {entry.digest for entry in entries}
    document["manifests"] = [m for m in document["manifests"] if m.get("digest") in keep]
    return edited_index(document)


def without_attestations(
    walk: Walk,
    index: ImageIndex,
    *,
    made: dict[Digest, Manifest],
    dropped: list[tuple[ImageIndex, Descriptor]] | None = None,
    depth: int = 0,
) -> ImageIndex:
    """``index`` without its attestation entries, nested indexes too (each rewritten one
    is named by its new digest and size, and kept in ``made`` for the copy to find);
    ``index`` itself when it has none. Entries kept keep their JSON as it was.

    :param dropped: told each attestation entry left out, with the index it was in.
    """
    from polyarch.index import edited_index, index_document  # only a rewrite needs them

    document = index_document(index)
    kept: list[object] = []
    changed = False
    for entry_json, entry in zip(document["manifests"], index.manifests, strict=True):
        if entry.is_attestation:
            changed = True
            if dropped is not None:
                dropped.append((index, entry))
            continue
        if mt.is_index(entry.media_type):
            child = walk.child(index, entry, depth=depth)
            if isinstance(child, ImageIndex):
                new = without_attestations(walk, child, made=made, dropped=dropped, depth=depth + 1)
                if new.digest != child.digest:
                    entry_json = {**entry_json, "digest": str(new.digest), "size": new.size}
                    changed = True
        kept.append(entry_json)
    if not changed:
        return index
    document["manifests"] = kept
    rewritten = edited_index(document)
    made[rewritten.digest] = rewritten
    return rewritten


@dataclass(frozen=True, slots=True)
class PreparedCopy:
    """What a copy writes, before anything is: the root (a subset, an image of it, or the
    index without attestations), the digest asked for, the indexes rewritten on the way,
    and the attestation entries left out (with the index each was in)."""

    root: Manifest
    top: Digest
    made: dict[Digest, Manifest]
    dropped: list[tuple[ImageIndex, Descriptor]]


def prepare_copy(
    source: Store,
    identifier: str,
    *,
    manifest: Manifest | None = None,
    platforms: Sequence[Platform] = (),
    single: bool = False,
    attestations: Attestations = "keep",
) -> PreparedCopy:
    """The root :func:`copy_image` writes, from the manifest at ``identifier`` (see
    there for the parameters); reads only.

    :raises InvalidInputError: ``single`` without exactly one platform.
    :raises ValueError: ``manifest`` is not the one ``identifier`` names.
    :raises NoMatchingPlatformError: a platform the index (or image) cannot serve.
    """
    if single and len(platforms) != 1:
        raise InvalidInputError("--single needs exactly one --platform")
    if manifest is not None and is_digest(identifier) and manifest.digest != identifier:
        raise ValueError(f"the manifest given is {manifest.digest}, not {identifier}")
    root = manifest if manifest is not None else source.get_manifest(identifier)
    top = root.digest
    dropped: list[tuple[ImageIndex, Descriptor]] = []
    if isinstance(root, ImageIndex) and platforms:
        walk = Walk(source, root)
        entries = select_entries(root, platforms, walk=walk)
        if single:
            image = next(e for e in entries if not e.is_attestation)
            # The image's attestations are in the index it leaves: moved from there.
            dropped = [(root, e) for e in entries if e.is_attestation]
            root = walk.child(root, image, depth=0)
        else:
            root = subset_index(root, entries)
    elif isinstance(root, ImageManifest) and platforms:
        # A single image has no entries to pick: it must run on every platform asked for.
        where = f"{source.location}{'@' if is_digest(identifier) else ':'}{identifier}"
        for platform in platforms:
            image_for_platform(source, root, platform, where=where)
    made: dict[Digest, Manifest] = {}
    if attestations != "keep" and isinstance(root, ImageIndex):
        root = without_attestations(Walk(source, root), root, made=made, dropped=dropped)
    return PreparedCopy(root, top, made, dropped)


def copy_image(
    source: Store,
    identifier: str,
    target: Store,
    *,
    tag: str | None,
    platforms: Sequence[Platform] = (),
    single: bool = False,
    jobs: int = DEFAULT_JOBS,
    progress: CopyProgress | None = None,
    manifest: Manifest | None = None,
    include_nondistributable: bool = False,
    foreign: ForeignBlobs | None = None,
    attestations: Attestations = "keep",
    referrers: bool = False,
    trust_target: bool = True,
    shared: Transfers | None = None,
) -> CopyResult:
    """Copy an image or a whole index from ``source`` to ``target``.

    Each image goes on its own as soon as it is fetched: its blobs (on up to ``jobs``
    threads, shared by all), then its manifest; the nested indexes after all their
    images, the root last, so the target never holds a manifest whose content is
    missing, and the tag is written only when all is there. A copy that fails (a child
    missing) may leave what it wrote by digest, whole: blobs and image manifests, which
    no tag names. Blobs the target has are skipped, so an interrupted copy resumes where
    it stopped.

    :param platforms: keep only these platforms of an index (a new, valid index).
    :param single: with exactly one platform, copy the plain image instead of an index.
    :param attestations: ``"drop"`` leaves buildx's attestation manifests out of every
        index written (nested ones included: each rewritten index gets a new digest);
        ``"keep"`` keeps each beside the image it describes; ``"referrers"`` drops them
        and puts each as an OCI 1.1 referrer of its image instead (BuildKit's
        ``oci-artifact`` form: a new manifest, with the same in-toto layers).
    :param referrers: carry the source's referrers (signatures, SBOMs, attestations) of
        every manifest copied unchanged, and theirs, and list them at the target (its
        referrers API, or the referrers tag).
    :param trust_target: a target whose tag is at the digest already holds all of it (a
        registry takes a manifest only then), and nothing is written; ``False`` checks and
        writes what is missing anyway (a child deleted since).
    :param shared: the transfers of the run this copy is one of (a sync): a blob another
        copy moves to the same target is waited for, not moved again.
    :param manifest: the manifest ``identifier`` names, when the caller has fetched it
        already (``pull`` has, to choose it): it is not fetched again.
    :param include_nondistributable: copy non-distributable layers too; by default they
        are left out (``BlobTransfer.SKIPPED``), their descriptors unchanged.
    :param foreign: with ``include_nondistributable``, where such a layer the source
        lacks is fetched from (the URLs it names); without it, a missing one fails.
    :raises InvalidInputError: ``single`` without exactly one platform.
    :raises ValueError: ``manifest`` is not the one ``identifier`` names.
    :raises NoMatchingPlatformError: a platform the index (or the single image) cannot
        serve.
    """
    report = progress or CopyProgress()
    prepared = prepare_copy(
        source,
        identifier,
        manifest=manifest,
        platforms=platforms,
        single=single,
        attestations=attestations,
    )
    root, top, made, dropped = prepared.root, prepared.top, prepared.made, prepared.dropped
    # A registry takes a manifest only when all it names is there: the same digest at the
    # target is the whole image there (``verify`` checks every blob when asked to).
    there = trust_target and _digest_there(target, tag or root.digest) == root.digest
    if there and not referrers and attestations != "referrers":
        return CopyResult(
            root.descriptor(), 0, dict.fromkeys(BlobTransfer, 0), 0, tag=tag, there=True
        )
    transfers = (shared or Transfers()).sharing(
        include_nondistributable=include_nondistributable, foreign=foreign
    )
    copied = [0]
    lock = threading.Lock()

    def count(blob: Descriptor) -> Callable[[int], None]:
        def advanced(n: int) -> None:
            with lock:
                copied[0] += n
            report.blob_advanced(blob, n)

        return advanced

    def copy_blob(blob: Descriptor) -> None:
        report.blob_started(blob)
        how = transfers.blob(source, target, blob, on_bytes=count(blob))
        report.blob_finished(blob, how)

    def put(manifest: Manifest, tag: str | None = None) -> Descriptor:
        descriptor = target.put_manifest(manifest, tag=tag)
        report.manifest_finished(descriptor)
        return descriptor

    with Pipeline(jobs) as pipeline:
        blob_steps: dict[Digest, Step[None]] = {}

        def write(image: ImageManifest) -> None:
            # Each image on its own: its blobs, then it, whatever the others are at.
            blobs = _blob_steps(pipeline, image.blobs, blob_steps, lock, copy_blob)
            if image is not root:
                pipeline.run(functools.partial(put, image), after=blobs)

        collected = gather(
            Walk(source, root, known=made), root, pipeline, each_image=None if there else write
        )
        pipeline.wait()
    images, indexes = collected()
    for index in indexes[:-1] if not there else ():
        put(index)  # nested indexes, innermost first
    # Referrers before the tag: a copy that fails over them leaves the tag as it was.
    moved = _Referrers(source, target, transfers, put, jobs=jobs)
    if attestations == "referrers":
        moved.attestations(Walk(source, root, known=made), dropped)
    if referrers:
        rewritten = set(made)
        if root.digest != top:
            moved.left_behind(top)  # what describes the whole describes no part of it
            if isinstance(root, ImageIndex):
                rewritten.add(root.digest)  # a subset
        moved.carry([m.digest for m in (*images, *indexes) if m.digest not in rewritten], root)
    moved.attach()
    descriptor = root.descriptor() if there else put(root, tag)
    return CopyResult(
        descriptor=descriptor,
        manifests=0 if there else len(images) + len(indexes),
        blobs={kind: transfers.count(kind) for kind in BlobTransfer},
        bytes_copied=copied[0],
        referrers=moved.count,
        tag=tag,
        there=there,
    )


def _digest_there(target: Store, identifier: str) -> Digest | None:
    """What ``identifier`` names at ``target`` now; ``None`` when nothing, or when
    asking is not allowed (a push-only credential): the copy then writes all."""
    try:
        return digest_at(target, identifier)
    except AuthError:
        return None


class _Referrers:
    """The referrers a copy puts at the target: each put with its content, then listed
    under its subject (one write of each subject's referrers tag, however many)."""

    def __init__(
        self,
        source: Store,
        target: Store,
        transfers: Transfers,
        put: Callable[[Manifest], Descriptor],
        *,
        jobs: int,
    ) -> None:
        self.source = source
        self.target = target
        self.transfers = transfers
        self.put = put
        self.jobs = max(1, jobs)
        self.placed: dict[Digest, Manifest] = {}

    @property
    def count(self) -> int:
        return len(self.placed)

    def attestations(self, walk: Walk, dropped: Sequence[tuple[ImageIndex, Descriptor]]) -> None:
        """buildx's attestations, left out of the index, as referrers of their images."""
        from polyarch.ops.referrers import place_attestations
        from polyarch.referrers import attestation_referrer, attestation_subject

        converted: list[tuple[Store, ImageManifest]] = []
        for index, entry in dropped:
            subject = attestation_subject(entry, {e.digest: e for e in index.manifests})
            attestation = walk.child(index, entry, depth=0)
            if subject is None or not isinstance(attestation, ImageManifest):
                log.warning(
                    "%s describes no image of its index; it is left out", walk.label(index, entry)
                )
                continue
            converted.append((self.source, attestation_referrer(attestation, subject)))
        place_attestations(self.target, converted, self.transfers, self.put, jobs=self.jobs)
        self.placed.update((referrer.digest, referrer) for _, referrer in converted)

    def carry(self, subjects: Sequence[Digest], root: Manifest) -> None:
        """The source's referrers of ``subjects``, and theirs, down to
        :data:`~polyarch.ops.referrers.MAX_REFERRER_DEPTH` levels; ``root`` (not tagged
        yet) is put by digest first when it has some."""
        from polyarch.ops.referrers import ReferrerWalk

        walk = ReferrerWalk(self.source)
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            trees = list(pool.map(walk.tree, subjects))
        for subject, tree in zip(subjects, trees, strict=True):
            if tree and subject == root.digest:
                self.put(root)  # a subject the registry holds, for any that checks
            self._carry(tree)

    def _carry(self, tree: Sequence[Referrer]) -> None:
        for referrer in tree:
            manifest = referrer.manifest
            if isinstance(manifest, ImageIndex):
                copy_image(
                    self.source,
                    manifest.digest,
                    self.target,
                    tag=None,
                    manifest=manifest,
                    jobs=self.jobs,
                )
            else:
                for blob in manifest.blobs:
                    self.transfers.blob(self.source, self.target, blob)
                self.put(manifest)
            self.placed[manifest.digest] = manifest
            self._carry(referrer.referrers)

    def left_behind(self, whole: Digest) -> None:
        """Say so when the index that was rewritten (a subset, or without attestations)
        has referrers: they describe it, not what was written."""
        from polyarch.ops.referrers import list_referrers

        count = len(list_referrers(self.source, whole))
        if count:
            log.warning(
                "%d referrer%s of %s@%s describe that index, not the one written (a part of "
                "it, or it without attestations); left out",
                count,
                "s" * (count != 1),
                self.source.location,
                whole,
            )

    def attach(self) -> None:
        """List what was placed under its subjects."""
        from polyarch.ops.referrers import attach_all

        attach_all(self.target, list(self.placed.values()), jobs=self.jobs)


def gather(
    walk: Walk,
    root: Manifest,
    pipeline: Pipeline,
    *,
    each_image: Callable[[ImageManifest], None] | None = None,
) -> Callable[[], tuple[list[ImageManifest], list[ImageIndex]]]:
    """Every image under ``root`` and every index, fetched as steps of ``pipeline``: each
    child as soon as its index is in, ``each_image`` told each image (``root`` too, when
    it is one) on the step that fetched it, so what is done with it need not wait for the
    others. Returns what to call once the pipeline is done: the images in index order, each
    once, and the indexes, the innermost first and ``root`` last.

    :raises InvalidManifestError: (from the pipeline) indexes nested deeper than
        ``MAX_INDEX_DEPTH``.
    """
    children: dict[Digest, list[Step[Manifest]]] = {}
    seen: set[Digest] = {root.digest}
    lock = threading.Lock()

    def visit(manifest: Manifest, depth: int) -> None:
        if isinstance(manifest, ImageManifest):
            if each_image is not None:
                each_image(manifest)
            return
        steps = [
            pipeline.run(functools.partial(fetch, manifest, entry, depth))
            for entry in manifest.manifests
        ]
        with lock:
            children[manifest.digest] = steps

    def fetch(index: ImageIndex, entry: Descriptor, depth: int) -> Manifest:
        child = walk.child(index, entry, depth=depth)
        with lock:
            first = child.digest not in seen
            seen.add(child.digest)
        if first:
            visit(child, depth + 1)
        return child

    visit(root, 0)

    def collected() -> tuple[list[ImageManifest], list[ImageIndex]]:
        images: list[ImageManifest] = []
        indexes: list[ImageIndex] = []
        listed: set[Digest] = set()

        def down(manifest: Manifest) -> None:
            if isinstance(manifest, ImageManifest):
                images.append(manifest)
                return
            for step in children[manifest.digest]:
                child = step.result()
                if child.digest not in listed:
                    listed.add(child.digest)
                    down(child)
            indexes.append(manifest)

        down(root)
        return images, indexes

    return collected
