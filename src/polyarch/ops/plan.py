"""``--dry-run``: what a copy or a push would do, found out by reading only.

A plan says what the tag points to now, how that differs from what would be written,
each blob (already there, to mount, to copy, left out), each manifest and tag to put, and
the requests the real run would make: the reads it makes as it goes (a HEAD to decide)
and the writes. Nothing is written, and nothing is read that the real run would not read.

The counts follow what the real run does: within one registry every blob is mounted (a
mount answers "already there" too), elsewhere a HEAD decides whether to upload (a POST
and a PUT at least; a large blob in chunks takes more), every manifest is put.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.errors import NotFoundError
from polyarch.models import Descriptor, ImageManifest, Manifest
from polyarch.ops import DEFAULT_JOBS
from polyarch.ops._pipeline import Pipeline
from polyarch.ops.copy import Attestations, gather, prepare_copy
from polyarch.ops.diff import Difference, diff_manifests
from polyarch.ops.pending import PendingList, same_repository
from polyarch.ops.walk import Walk
from polyarch.platform import Platform
from polyarch.store import BlobMounter, RequestCounter, Store, digest_at, requests_sent

if TYPE_CHECKING:
    from polyarch.index import ListFormat
    from polyarch.ops.lists import StoreOpener

__all__ = ["Plan", "Step", "plan_blobs", "plan_copy", "plan_push"]

Action = Literal["present", "mount", "copy", "skip", "put"]


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the run would do: a blob's transfer, a manifest's or a tag's put."""

    kind: Literal["blob", "manifest", "tag"]
    action: Action
    descriptor: Descriptor
    #: Requests it takes (a HEAD that decides counts).
    requests: int
    tag: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "action": self.action,
            "digest": str(self.descriptor.digest),
            "size": self.descriptor.size,
            "mediaType": self.descriptor.media_type,
            "requests": self.requests,
        }
        if self.tag is not None:
            out["tag"] = self.tag
        return out


@dataclass(frozen=True, slots=True)
class Plan:
    """What a run would do to ``target``: put ``digest`` under ``tags``."""

    target: str
    tags: tuple[str, ...]
    #: What the first tag is at now (``None``: nothing).
    now: Digest | None
    digest: Digest
    steps: tuple[Step, ...]
    #: The tag's content now against what would be written (``None``: nothing there).
    difference: Difference | None = None
    #: Requests the run makes before any step: manifests read from the source, the
    #: target's tags resolved.
    reads: int = 0

    @property
    def requests(self) -> int:
        """Every request the run would make: :attr:`reads`, then each step's."""
        return self.reads + sum(step.requests for step in self.steps)

    def count(self, kind: str, action: Action) -> int:
        return sum(1 for s in self.steps if s.kind == kind and s.action == action)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "tags": list(self.tags),
            "now": None if self.now is None else str(self.now),
            "digest": str(self.digest),
            "requests": self.requests,
            "reads": self.reads,
            "steps": [step.to_json() for step in self.steps],
            "difference": None if self.difference is None else self.difference.to_json(),
        }


def plan_blobs(
    source: Store,
    target: Store,
    blobs: Sequence[Descriptor],
    *,
    include_nondistributable: bool = False,
    jobs: int = DEFAULT_JOBS,
) -> list[Step]:
    """Each blob's transfer as :func:`polyarch.ops.copy.transfer_blob` would make it,
    decided by a HEAD at ``target``: a mount where one would be tried (one request,
    whether the blob is there or not; refused, it becomes an upload the plan cannot
    foresee), else the HEAD, and for a blob not there the source's GET (a registry's)
    and the upload's POST and PUT."""
    source_read = 1 if isinstance(source, RequestCounter) else 0

    def step(blob: Descriptor) -> Step:
        if not include_nondistributable and mt.is_nondistributable(blob.media_type):
            return Step("blob", "skip", blob, 0)
        mount = isinstance(target, BlobMounter) and target.mount_origin(blob, source) is not None
        there = target.has_blob(blob)
        if mount:
            return Step("blob", "present" if there else "mount", blob, 1)
        if there:
            return Step("blob", "present", blob, 1)
        return Step("blob", "copy", blob, 3 + source_read)

    unique = list({blob.digest: blob for blob in blobs}.values())
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(unique) or 1))) as pool:
        return list(pool.map(step, unique))


def plan_copy(
    source: Store,
    identifier: str,
    target: Store,
    *,
    tag: str,
    platforms: Sequence[Platform] = (),
    single: bool = False,
    attestations: Attestations = "keep",
    include_nondistributable: bool = False,
    jobs: int = DEFAULT_JOBS,
) -> Plan:
    """What :func:`polyarch.ops.copy.copy_image` with the same arguments would do
    (referrers left out: which there are is known only by listing them)."""
    before = requests_sent(source, target)
    prepared = prepare_copy(
        source, identifier, platforms=platforms, single=single, attestations=attestations
    )
    root = prepared.root
    now = digest_at(target, tag)
    if now == root.digest:
        # The copy stops there: all the tag names is at the target.
        return Plan(
            target.location,
            (tag,),
            now,
            root.digest,
            (),
            None,
            requests_sent(source, target) - before,
        )
    with Pipeline(jobs) as pipeline:
        collected = gather(Walk(source, root, known=prepared.made), root, pipeline)
        pipeline.wait()
    images, indexes = collected()
    # What the copy reads before it writes, as this plan read it: with the same cache.
    reads = requests_sent(source, target) - before
    steps = plan_blobs(
        source,
        target,
        [blob for image in images for blob in image.blobs],
        include_nondistributable=include_nondistributable,
        jobs=jobs,
    )
    manifests: list[Manifest] = [*images, *indexes[:-1]]
    steps += [Step("manifest", "put", m.descriptor(), 1) for m in manifests if m is not root]
    steps.append(Step("tag", "put", root.descriptor(), 1, tag=tag))
    return Plan(
        target.location,
        (tag,),
        now,
        root.digest,
        tuple(steps),
        _difference(target, now, source, root, prepared.made, jobs=jobs),
        reads=reads,
    )


def _difference(
    target: Store,
    now: Digest | None,
    source: Store,
    new: Manifest,
    made: dict[Digest, Manifest],
    *,
    jobs: int,
) -> Difference | None:
    """The content at the tag now against ``new``; ``None`` when nothing is there."""
    if now is None:
        return None
    try:
        current = target.get_manifest(now)
    except NotFoundError:
        return None  # gone since: nothing to compare with
    return diff_manifests(target, current, source, new, jobs=jobs, known=made)


def plan_push(
    pending: PendingList,
    *,
    open_store: StoreOpener,
    format: ListFormat | None = None,
    tags: Sequence[str] = (),
    jobs: int = DEFAULT_JOBS,
) -> Plan:
    """What :func:`polyarch.ops.lists.push_pending` with the same arguments would do."""
    from polyarch.referrers import referrers_tag

    reference = pending.reference
    index = pending.index(format)
    target = open_store(reference)
    every = pending.tags(tags)
    now = {tag: digest_at(target, tag) for tag in every}
    missing = [tag for tag in every if now[tag] != index.digest]
    steps: list[Step] = []
    if missing and len(missing) == len(every):
        listed = {entry.digest for entry in index.manifests}
        for entry in pending.entries:
            if entry.descriptor.digest not in listed or same_repository(entry.source, reference):
                continue
            manifest = entry.manifest
            if isinstance(manifest, ImageManifest):
                steps += plan_blobs(open_store(entry.source), target, manifest.blobs, jobs=jobs)
            steps.append(Step("manifest", "put", manifest.descriptor(), 1))
    subjects: set[Digest] = set()
    for _, referrer in pending.attestation_referrers():
        assert referrer.subject is not None
        steps.append(Step("manifest", "put", referrer.descriptor(), 1))
        subjects.add(referrer.subject.digest)
    for subject_digest in sorted(subjects):
        # Read, then written when it lacks them (a registry with the referrers API: not).
        steps.append(Step("tag", "put", index.descriptor(), 2, tag=referrers_tag(subject_digest)))
    steps += [Step("tag", "put", index.descriptor(), 1, tag=tag) for tag in missing]
    first = now[every[0]]
    difference = None
    if first is not None and first != index.digest:
        try:
            current = target.get_manifest(first)
        except NotFoundError:
            current = None
        if current is not None:
            difference = diff_manifests(target, current, target, index, details=False)
    return Plan(
        target.location, tuple(every), first, index.digest, tuple(steps), difference, len(every)
    )
