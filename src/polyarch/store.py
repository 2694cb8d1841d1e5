"""The one storage interface every backend speaks: a registry repository or an OCI layout
(and, for writing one image, a docker archive: :class:`ImageSink`).

Operations (copy, push, pull) are written once against :class:`Store`. Capabilities not
every backend has are small separate protocols, probed with ``isinstance`` at run time.
Identifiers are a tag or a digest string; a digest always wins over a tag. Which backends
there are, and how a location opens one, is :mod:`polyarch.schemes`'s table.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from polyarch import mediatype as mt
from polyarch.digest import SUPPORTED_ALGORITHMS, Digest, is_supported
from polyarch.errors import BlobNotFoundError, ContentError, NotFoundError, SizeMismatchError
from polyarch.models import Descriptor, ImageManifest, Manifest

__all__ = [
    "BlobMounter",
    "ConditionalTagWriter",
    "ForeignBlobs",
    "ImageSink",
    "ReferrersLister",
    "SoleImage",
    "Store",
    "TagDeleter",
    "VerifiedBlobWriter",
    "WriteProgress",
    "digest_at",
    "fetchable",
    "get_described",
    "is_digest",
    "open_blob_or_fetch",
]

#: Streamed blobs arrive in chunks of at most this many bytes.
CHUNK_SIZE = 1024 * 1024


def is_digest(identifier: str) -> bool:
    """Whether an identifier names content by digest rather than by tag."""
    return ":" in identifier


@runtime_checkable
class Store(Protocol):
    """Content-addressed storage for manifests and blobs, plus tags."""

    @property
    def location(self) -> str:
        """Where this store is, for messages: ``127.0.0.1:5000/app``, ``oci:/tmp/x``."""
        ...

    def resolve(self, identifier: str) -> Descriptor:
        """The descriptor (media type, digest, size) of a tag or digest, without the body.

        :raises ManifestNotFoundError: nothing under that identifier.
        """
        ...

    def get_manifest(self, identifier: str) -> Manifest:
        """Fetch, verify and parse a manifest or index by tag or digest.

        :raises ManifestNotFoundError: nothing under that identifier.
        :raises ContentError: the bytes do not match the digest or are not a manifest.
        """
        ...

    def put_manifest(self, manifest: Manifest, *, tag: str | None = None) -> Descriptor:
        """Store the manifest's exact bytes under its digest, and under ``tag`` if given."""
        ...

    def has_blob(self, descriptor: Descriptor) -> bool:
        """Whether the blob ``descriptor`` names is present, with its size.

        :raises SizeMismatchError: a registry says it holds the digest with another size
            (a layout's file of another size is damage: not present, and replaced).
        """
        ...

    def open_blob(self, descriptor: Descriptor) -> AbstractContextManager[Iterator[bytes]]:
        """Stream a blob's bytes; the digest and size are verified as the stream ends.

        A consumer that stops early gets no verification: only a fully read stream is
        checked, and a mismatch raises from the iterator, before it is exhausted.

        :raises BlobNotFoundError: no such blob.
        """
        ...

    def get_blob(self, descriptor: Descriptor) -> bytes:
        """A small blob (a config) read whole and verified."""
        ...

    def put_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        """Store a blob from a stream, verifying digest and size before it becomes visible."""
        ...

    def list_tags(self) -> list[str]:
        """Every tag, sorted."""
        ...

    def iter_tags(self) -> Iterator[str]:
        """Every tag, as the store yields them (a registry page by page, each page sorted,
        the pages in its order), without holding them all.

        :raises ContentError: a registry whose pages loop or have no end.
        """
        ...

    def delete(self, identifier: str) -> None:
        """Delete a tag (layout) or a manifest by digest (registry).

        :raises ManifestNotFoundError: nothing under that identifier.
        """
        ...


@runtime_checkable
class VerifiedBlobWriter(Protocol):
    """A store that can take a stream that verifies itself without hashing it again."""

    def put_verified_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        """Store a blob from ``chunks`` that raise before they end when the bytes are not
        the descriptor's, as those of :meth:`Store.open_blob` for the same descriptor do."""
        ...


@runtime_checkable
class TagDeleter(Protocol):
    """A store where a tag can go without its manifest (a layout's ``index.json``); a
    registry's API deletes manifests, and every tag of one goes with it."""

    def delete_tag(self, tag: str) -> None:
        """Remove ``tag``; the manifest stays, under its other tags.

        :raises ManifestNotFoundError: no such tag.
        """
        ...


@runtime_checkable
class ConditionalTagWriter(Protocol):
    """A store that moves a tag only from where the writer last saw it: a layout under
    its lock; a registry when it honours ``If-Match`` (many ignore it, and then this is
    :meth:`Store.put_manifest`)."""

    def put_manifest_if(self, manifest: Manifest, *, tag: str, current: Digest | None) -> bool:
        """Put ``manifest`` under ``tag`` if the tag is at ``current`` (``None``: there is
        no such tag); ``False``, with the tag left alone, when it is not."""
        ...


@runtime_checkable
class ReferrersLister(Protocol):
    """A store that may list referrers itself: a registry with OCI 1.1's referrers API.
    Elsewhere the referrers tag holds them (:mod:`polyarch.referrers`)."""

    def list_referrers(self, subject: Digest) -> list[Descriptor] | None:
        """The entries the store lists as ``subject``'s referrers; ``None`` when it has no
        referrers API.

        :raises ContentError: a listing that is not an OCI index, or pages without end.
        """
        ...

    def lists_referrer(self, referrer: Digest) -> bool:
        """Whether the store said, as it took ``referrer`` (a manifest with a subject),
        that it lists it among its subject's referrers itself (``OCI-Subject``)."""
        ...


@runtime_checkable
class BlobMounter(Protocol):
    """A store that can link a blob from another store of the same backend without a copy."""

    def mount_origin(self, descriptor: Descriptor, source: Store) -> str | None:
        """Where :meth:`mount_blob` would link ``descriptor`` from, asking nothing of the
        registry: ``source``'s repository (another one of the same registry), else the
        one where the cache saw it last; ``None``: it would not try."""
        ...

    def mount_blob(self, descriptor: Descriptor, source: Store) -> bool:
        """Try to mount ``descriptor`` from ``source``; ``False`` if it had to be declined."""
        ...


@runtime_checkable
class Cached(Protocol):
    """A store some of whose reads a cache may answer (a registry's)."""

    def without_cache(self) -> Store:
        """The same store, every read asked of the backend."""
        ...


def uncached(store: Store) -> Store:
    """``store``, every read asked of the backend: what is there now, not what was."""
    return store.without_cache() if isinstance(store, Cached) else store


class Counted(Protocol):
    #: Requests sent so far.
    sent: int


@runtime_checkable
class RequestCounter(Protocol):
    """A store whose reads and writes are requests (a registry), counted."""

    @property
    def meter(self) -> Counted:
        """What counts the requests of this store's run (shared with other stores)."""
        ...


def requests_sent(*stores: Store) -> int:
    """Requests the runs of ``stores`` sent so far (a layout sends none); a count two
    stores share is counted once."""
    meters = {id(m): m for m in (s.meter for s in stores if isinstance(s, RequestCounter))}
    return sum(meter.sent for meter in meters.values())


@runtime_checkable
class ForeignBlobs(Protocol):
    """Where a non-distributable layer comes from when a store lacks it: the ``urls`` of
    its descriptor (:class:`polyarch.registry.UrlBlobs`)."""

    def open_blob(self, descriptor: Descriptor) -> AbstractContextManager[Iterator[bytes]]:
        """Stream the blob from the first of ``descriptor.urls`` that serves it, verified
        as :meth:`Store.open_blob` verifies.

        :raises BlobNotFoundError: none of them has it (or there are none).
        """
        ...


def fetchable(descriptor: Descriptor) -> bool:
    """Whether a blob a store lacks may be fetched from the URLs its descriptor names:
    only a non-distributable layer's, the one kind of blob meant to live elsewhere."""
    return mt.is_nondistributable(descriptor.media_type) and bool(descriptor.urls)


@contextlib.contextmanager
def open_blob_or_fetch(
    store: Store, descriptor: Descriptor, foreign: ForeignBlobs | None
) -> Iterator[tuple[Iterator[bytes], bool]]:
    """``store``'s blob, or, for a non-distributable layer it lacks, the blob from its
    URLs through ``foreign``; with whether it was fetched so.

    :raises BlobNotFoundError: neither has it.
    """
    with contextlib.ExitStack() as stack:
        try:
            chunks = stack.enter_context(store.open_blob(descriptor))
            fetched = False
        except BlobNotFoundError:
            # Raised before any byte: the URLs can still serve the blob from its start.
            if foreign is None or not fetchable(descriptor):
                raise
            chunks = stack.enter_context(foreign.open_blob(descriptor))
            fetched = True
        yield chunks, fetched


def digest_at(store: Store, identifier: str) -> Digest | None:
    """The digest ``identifier`` (a tag or a digest) resolves to in ``store``, ``None``
    when there is nothing there."""
    try:
        return store.resolve(identifier).digest
    except NotFoundError:
        return None


def get_described(store: Store, descriptor: Descriptor) -> Manifest:
    """The manifest an index entry (or another descriptor) names, checked against it:
    its digest (the store verifies the bytes) and its size.

    :raises ManifestNotFoundError: the store does not hold it.
    :raises SizeMismatchError: the bytes are not as long as the entry says.
    :raises ContentError: the entry's digest has an algorithm polyarch cannot verify
        (content's fault, not the user's: not an :class:`InvalidDigestError`).
    """
    if not is_supported(descriptor.digest):
        raise ContentError(
            f"an index or list in {store.location} names {descriptor.digest[:80]!r}, whose "
            f"algorithm polyarch cannot verify (it verifies {', '.join(SUPPORTED_ALGORITHMS)})"
        )
    manifest = store.get_manifest(descriptor.digest)
    if manifest.size != descriptor.size:
        # The digest vouches for the bytes, not for the entry's word on their size.
        raise SizeMismatchError(
            f"{store.location}@{descriptor.digest} is {manifest.size} bytes; the entry that "
            f"names it says {descriptor.size}",
            expected=descriptor.size,
            actual=manifest.size,
        )
    return manifest


@runtime_checkable
class SoleImage(Protocol):
    """A store whose location may name no image, meaning its only one (a layout)."""

    def only_image(self) -> str:
        """The digest of the only image in the store.

        :raises ManifestNotFoundError: it holds none, or several.
        """
        ...


@runtime_checkable
class ImageSink(Protocol):
    """A place one image is written to, and never read from (``docker-archive:``)."""

    @property
    def location(self) -> str: ...

    def check(self) -> None:
        """Refuse a destination that cannot be written, before anything is fetched.

        :raises InvalidInputError: saying why.
        """
        ...

    def write_image(
        self,
        source: Store,
        manifest: ImageManifest,
        *,
        tags: Sequence[str],
        foreign: ForeignBlobs | None = None,
        progress: WriteProgress | None = None,
    ) -> None:
        """Write ``manifest``'s image, its blobs streamed from ``source``, whole or not at all.

        :param foreign: where non-distributable layers ``source`` lacks are fetched from.
        :param progress: told of each blob as it is streamed in.
        """
        ...


class WriteProgress(Protocol):
    """What a sink reports while it writes; called on the writing thread."""

    def started(self, blob: Descriptor) -> None:
        """``blob`` is about to be streamed."""

    def advanced(self, blob: Descriptor, count: int) -> None:
        """``count`` more bytes of ``blob`` were written."""

    def finished(self, blob: Descriptor, *, fetched: bool) -> None:
        """``blob`` is written; ``fetched``: from its URLs, not from the source."""
