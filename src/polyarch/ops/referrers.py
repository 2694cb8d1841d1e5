"""OCI 1.1 referrers through any store: list a manifest's referrers, and list new ones
under their subject (the store does it itself, or the referrers tag holds them).

What a store lists is the store's word, not content: each referrer is fetched by the
digest listed and must name the subject it was listed under, else it is left out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.errors import (
    ConflictError,
    ContentError,
    InvalidManifestError,
    ManifestNotFoundError,
)
from polyarch.models import Descriptor, ImageIndex, ImageManifest, Manifest
from polyarch.ops import DEFAULT_JOBS
from polyarch.ops.walk import Walk
from polyarch.referrers import (
    EMPTY_CONFIG,
    EMPTY_JSON,
    listing_entry,
    referrers_tag,
    with_referrers,
)
from polyarch.store import (
    ConditionalTagWriter,
    ReferrersLister,
    Store,
    digest_at,
    get_described,
)

if TYPE_CHECKING:
    from polyarch.ops.copy import Transfers

__all__ = [
    "MAX_REFERRER_DEPTH",
    "Referrer",
    "ReferrerWalk",
    "Subject",
    "attach",
    "attach_all",
    "list_referrers",
    "place_attestations",
    "referrers_of",
]

log = logging.getLogger(__name__)

#: How many referrers deep a tree is followed: an image, its SBOM, the SBOM's signature
#: is two. Content addressing rules out cycles, but a store could list made-up referrers
#: of referrers without end.
MAX_REFERRER_DEPTH: Final = 4
#: Writes of one referrers tag tried when another writer changes it in between.
MAX_TAG_WRITES: Final = 4
#: The most referrers fetched in one walk (an image's signatures, SBOMs and attestations
#: are a handful; a build's history of them, hundreds).
MAX_REFERRERS: Final = 1000


def list_referrers(store: Store, subject: Digest) -> list[Descriptor]:
    """The manifests ``store`` lists as ``subject``'s referrers: through its referrers
    API when it has one, else from the referrers tag (none there: none at all). Entries
    that name no manifest are left out, with a warning.

    :raises InvalidManifestError: the referrers tag holds something that is no OCI index.
    """
    listed = store.list_referrers(subject) if isinstance(store, ReferrersLister) else None
    if listed is None:
        tag = referrers_tag(subject)
        try:
            listing = store.get_manifest(tag)
        except ManifestNotFoundError:
            return []
        if not isinstance(listing, ImageIndex) or listing.media_type != mt.OCI_INDEX:
            raise InvalidManifestError(
                f"{store.location}:{tag} is a {listing.media_type}, not the OCI index of a "
                f"referrers list (the referrers tag of {subject})"
            )
        listed = list(listing.manifests)
    listed = _first_of_each(listed)
    manifests = [e for e in listed if mt.is_manifest(e.media_type) or mt.is_index(e.media_type)]
    if len(manifests) != len(listed):
        log.warning(
            "%s lists %d referrers of %s that are not manifests; left out",
            store.location,
            len(listed) - len(manifests),
            subject,
        )
    return manifests


def _first_of_each(descriptors: Sequence[Descriptor]) -> list[Descriptor]:
    """``descriptors`` in order, each digest once (where it first is)."""
    first: dict[Digest, Descriptor] = {}
    for descriptor in descriptors:
        first.setdefault(descriptor.digest, descriptor)
    return list(first.values())


def attach(store: Store, subject: Digest, referrers: Sequence[Manifest]) -> bool:
    """List ``referrers`` (in ``store`` already, each naming ``subject``) among
    ``subject``'s referrers: those the store said it lists itself need nothing, the
    others go into the referrers tag, in one write. Whether the tag was written.

    The tag is read, changed and written back only if it is still where it was read
    (:class:`~polyarch.store.ConditionalTagWriter`: a layout's lock, a registry's
    ``If-Match``); when another writer moved it in between, it is read again, up to
    :data:`MAX_TAG_WRITES` times. A registry that ignores ``If-Match`` (CNCF
    distribution) cannot say so: a writer whose list lands in the same instant as ours
    can still lose its entry, or ours.

    :raises ConflictError: the tag holds something else than a referrers list, or kept
        changing.
    """
    unlisted = [
        r
        for r in referrers
        if not (isinstance(store, ReferrersLister) and store.lists_referrer(r.digest))
    ]
    if not unlisted:
        return False
    tag = referrers_tag(subject)
    where = f"{store.location}:{tag}"
    entries = [listing_entry(r) for r in unlisted]
    for _ in range(MAX_TAG_WRITES):  # bounded: another writer may keep changing it
        try:
            current: Manifest | None = store.get_manifest(tag)
        except ManifestNotFoundError:
            current = None
        updated = with_referrers(current, entries, where=where)
        if updated is None:
            return False
        if isinstance(store, ConditionalTagWriter):
            seen = None if current is None else current.digest
            if store.put_manifest_if(updated, tag=tag, current=seen):
                return True
            continue  # moved since it was read: read it again
        store.put_manifest(updated, tag=tag)
        if digest_at(store, tag) == updated.digest:
            return True
    raise ConflictError(
        f"{where} changed under each of {MAX_TAG_WRITES} writes of its referrers list",
        hint="another tool writes referrers of the same image at the same time; run again",
    )


@dataclass(frozen=True, slots=True)
class Referrer:
    """A referrer, fetched and checked against its subject, with its own referrers."""

    manifest: Manifest
    referrers: tuple[Referrer, ...] = ()

    @property
    def entry(self) -> Descriptor:
        """How a referrers list names it, read off the manifest (never the store's word)."""
        return listing_entry(self.manifest)


class ReferrerWalk:
    """Referrer trees in one store, each manifest fetched once however often it is
    listed, at most :data:`MAX_REFERRERS` in all: a store can list made-up referrers,
    or the same one again and again, at every level."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._seen: set[Digest] = set()
        self._lock = threading.Lock()

    def _first_time(self, digest: Digest) -> bool:
        with self._lock:
            if digest in self._seen:
                return False
            if len(self._seen) >= MAX_REFERRERS:
                raise ContentError(
                    f"{self.store.location} lists more than {MAX_REFERRERS} referrers for "
                    "what is looked at; polyarch stops there"
                )
            self._seen.add(digest)
            return True

    def tree(self, subject: Digest, *, depth: int = 0) -> tuple[Referrer, ...]:
        """``subject``'s referrers, each fetched and checked, with theirs, down to
        :data:`MAX_REFERRER_DEPTH` levels (deeper ones are named in a warning). A listed
        manifest the store does not hold, or that names another subject, is left out,
        with a warning.

        :raises SizeMismatchError: a referrer is not as long as its listing says.
        :raises ContentError: more than :data:`MAX_REFERRERS` referrers.
        """
        listed = list_referrers(self.store, subject)
        if depth >= MAX_REFERRER_DEPTH:
            if listed:
                log.warning(
                    "%s@%s has referrers %d levels down; polyarch follows %d levels and "
                    "leaves these out",
                    self.store.location,
                    subject,
                    depth + 1,
                    MAX_REFERRER_DEPTH,
                )
            return ()
        found: list[Referrer] = []
        for entry in listed:
            if not self._first_time(entry.digest):
                continue
            manifest = self._fetched(subject, entry)
            if manifest is not None:
                found.append(Referrer(manifest, self.tree(manifest.digest, depth=depth + 1)))
        return tuple(found)

    def _fetched(self, subject: Digest, entry: Descriptor) -> Manifest | None:
        try:
            manifest = get_described(self.store, entry)
        except ManifestNotFoundError:
            # A referrers tag outlives what it lists when that is deleted: common, and
            # harmless once left out.
            log.warning(
                "%s lists %s among the referrers of %s, but does not hold it; left out",
                self.store.location,
                entry.digest,
                subject,
            )
            return None
        if manifest.subject is None or manifest.subject.digest != subject:
            log.warning(
                "%s lists %s among the referrers of %s, but its subject is %s; left out",
                self.store.location,
                entry.digest,
                subject,
                manifest.subject.digest if manifest.subject else "none",
            )
            return None
        return manifest


@dataclass(frozen=True, slots=True)
class Subject:
    """A manifest, as its index names it (platform included) or as stored, and its
    referrers."""

    descriptor: Descriptor
    referrers: tuple[Referrer, ...]


def referrers_of(store: Store, manifest: Manifest, *, jobs: int = DEFAULT_JOBS) -> list[Subject]:
    """The referrer trees of ``manifest`` and, for an index, of every entry (those of
    nested indexes too), looked up on ``jobs`` threads; in index order, the root first.

    :raises InvalidManifestError: indexes nested deeper than ``MAX_INDEX_DEPTH``.
    """
    walk = Walk(store, manifest)
    subjects: list[Descriptor] = [manifest.descriptor()]

    def entries(index: ImageIndex, depth: int) -> None:
        for entry in index.manifests:
            subjects.append(entry)
            if mt.is_index(entry.media_type):
                child = walk.child(index, entry, depth=depth)
                if isinstance(child, ImageIndex):
                    entries(child, depth + 1)

    if isinstance(manifest, ImageIndex):
        entries(manifest, 0)
    unique = _first_of_each(subjects)
    referrers = ReferrerWalk(store)
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(unique)))) as pool:
        trees = list(pool.map(lambda s: referrers.tree(s.digest), unique))
    return [Subject(s, tree) for s, tree in zip(unique, trees, strict=True)]


def attach_all(store: Store, referrers: Sequence[Manifest], *, jobs: int = DEFAULT_JOBS) -> bool:
    """:func:`attach` of each subject's ``referrers`` (each names its subject), the
    subjects on ``jobs`` threads: one subject's tag is written by one thread only.
    Whether a tag was written."""
    by_subject: dict[Digest, list[Manifest]] = {}
    for referrer in referrers:
        assert referrer.subject is not None, "a referrer names its subject"
        by_subject.setdefault(referrer.subject.digest, []).append(referrer)
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(by_subject) or 1))) as pool:
        return any(list(pool.map(lambda item: attach(store, *item), by_subject.items())))


def place_attestations(
    target: Store,
    converted: Sequence[tuple[Store, ImageManifest]],
    transfers: Transfers,
    put: Callable[[Manifest], object],
    *,
    jobs: int = DEFAULT_JOBS,
) -> None:
    """Attestations made into referrers (:func:`polyarch.referrers.attestation_referrer`)
    put into ``target``: their blobs from the store each came from (the empty config,
    which no store need hold, made here), then the manifests. Listing them under their
    subjects is :func:`attach_all`'s."""
    if not converted:
        return
    blobs = {
        blob.digest: (source, blob)
        for source, referrer in converted
        for blob in referrer.blobs
        if blob.digest != EMPTY_CONFIG.digest
    }
    empty = any(referrer.config.digest == EMPTY_CONFIG.digest for _, referrer in converted)
    if empty and not target.has_blob(EMPTY_CONFIG):
        target.put_blob(EMPTY_CONFIG, [EMPTY_JSON])
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(lambda item: transfers.blob(item[0], target, item[1]), blobs.values()))
        list(pool.map(put, [referrer for _, referrer in converted]))
