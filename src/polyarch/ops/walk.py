"""Going down an index tree in one store: the one place children and configs are fetched.

Every child is fetched by the entry that names it and checked against that entry (the
store checks the digest, :func:`~polyarch.store.get_described` the size), no deeper than
:data:`~polyarch.models.MAX_INDEX_DEPTH` indexes (a registry could serve an endless chain
of made-up indexes); a missing child is named by its place in its index. Every config is
fetched, bounded and parsed here. ``copy`` (all children, concurrently), ``describe`` (each
child with its config) and ``resolve`` (one child a level) go down with a :class:`Walk`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.errors import BlobNotFoundError, InvalidManifestError, ManifestNotFoundError
from polyarch.models import (
    MAX_INDEX_DEPTH,
    MAX_MANIFEST_SIZE,
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    Manifest,
    too_deep,
)
from polyarch.platform import Platform, format_all
from polyarch.store import Store, get_described

__all__ = ["Walk"]


class Walk:
    """A walk down from ``root`` in ``store``; ``where`` names the root in messages.

    ``depth`` arguments count the indexes above the one whose children are asked for (0:
    the root's own). The last few manifests and configs a walk fetched it keeps, by
    digest: choosing a platform-less entry reads the child and its config before the walk
    goes down into it.
    """

    def __init__(
        self,
        store: Store,
        root: Manifest,
        *,
        where: str | None = None,
        known: Mapping[Digest, Manifest] | None = None,
    ) -> None:
        """:param known: manifests made on the way (an index rewritten without some of
        its entries), found here rather than in ``store``."""
        self.store = store
        self.root = root
        self.where = where or f"{store.location}@{root.digest}"
        self._known: Mapping[Digest, Manifest] = known or {}
        self._manifests: _Recent[Manifest] = _Recent()
        self._configs: _Recent[bytes] = _Recent()

    def child(self, index: ImageIndex, entry: Descriptor, *, depth: int) -> Manifest:
        """The manifest ``entry`` of ``index`` names, checked against it.

        :raises InvalidManifestError: ``index`` is nested too deep to go further.
        :raises ManifestNotFoundError: the store lacks it; the message names the entry.
        :raises SizeMismatchError: it is not as long as the entry says.
        """
        if depth >= MAX_INDEX_DEPTH:
            raise too_deep(self.where)
        known = self._known.get(entry.digest) or self._manifests.get(entry.digest)
        if known is not None and known.size == entry.size:
            return known
        try:
            child = self._manifests[entry.digest] = get_described(self.store, entry)
            return child
        except ManifestNotFoundError as err:
            raise ManifestNotFoundError(
                f"{self.label(index, entry)} is missing: {err}",
                where=err.where,
                hint="the list names a manifest the repository does not hold: push that "
                "image by digest, or rebuild the list",
            ) from err

    def children(
        self, index: ImageIndex, *, depth: int, pool: ThreadPoolExecutor | None = None
    ) -> Sequence[Manifest]:
        """Every child of ``index``, in order; fetched on ``pool`` when given."""
        if depth >= MAX_INDEX_DEPTH:
            raise too_deep(self.where)
        if pool is None:
            return [self.child(index, entry, depth=depth) for entry in index.manifests]
        return list(pool.map(lambda e: self.child(index, e, depth=depth), index.manifests))

    def config_blob(
        self, image: ImageManifest, *, reached: tuple[ImageIndex, Descriptor] | None = None
    ) -> bytes | None:
        """The config's exact bytes, verified; ``None`` when it is larger than a config
        can be (an artifact's payload, maybe: not worth reading).

        :param reached: the index and entry ``image`` was reached through, for messages.
        :raises BlobNotFoundError: the store lacks it; the message names the entry.
        """
        if image.config.size > MAX_MANIFEST_SIZE:
            return None
        known = self._configs.get(image.config.digest)
        if known is not None and len(known) == image.config.size:
            return known
        try:
            blob = self._configs[image.config.digest] = self.store.get_blob(image.config)
            return blob
        except BlobNotFoundError as err:
            if reached is None:
                raise
            raise BlobNotFoundError(
                f"the config of {self.label(*reached)} is missing: {err}", digest=err.digest
            ) from err

    def config(self, image: ImageManifest) -> ImageConfig:
        """The image's config, fetched and parsed.

        :raises InvalidManifestError: too large to be one, or not an image config.
        """
        blob = self.config_blob(image)
        if blob is None:
            raise InvalidManifestError(
                f"the config of {self.where} ({image.config.digest}) is "
                f"{image.config.size} bytes, over the {MAX_MANIFEST_SIZE} byte limit"
            )
        return ImageConfig.parse(blob, digest=image.config.digest)

    def platform_of(self, image: ImageManifest) -> Platform | None:
        """The platform ``image``'s config says; ``None`` for an artifact (a config that
        is no image config's, or too large to be one).

        :raises BlobNotFoundError: the store lacks the config.
        :raises ContentError: an image config that is not one.
        """
        if not mt.is_config(image.config.media_type):
            return None
        blob = self.config_blob(image)
        return (
            None if blob is None else ImageConfig.parse(blob, digest=image.config.digest).platform
        )

    @staticmethod
    def image_config(image: ImageManifest, blob: bytes) -> ImageConfig | None:
        """``blob`` (the config of ``image``) parsed, when its media type is an image
        config's; ``None`` for an artifact's."""
        if not mt.is_config(image.config.media_type):
            return None
        return ImageConfig.parse(blob, digest=image.config.digest)

    def label(self, index: ImageIndex, entry: Descriptor) -> str:
        """``entry N (linux/amd64) of STORE@DIGEST``, for messages."""
        if entry.is_attestation:
            what = "attestation"
        elif entry.platform is not None:
            what = format_all(entry.platform)
        else:
            what = "no platform"
        position = next((i for i, e in enumerate(index.manifests) if e is entry), -1) + 1
        return f"entry {position} ({what}) of {self.store.location}@{index.digest}"


T = TypeVar("T")


class _Recent(Generic[T]):
    """The last :attr:`SIZE` values put, by digest: enough for what a walk reads twice,
    never a copy of every config a hostile index names (up to 4 MiB each)."""

    SIZE = 4

    def __init__(self) -> None:
        self._values: dict[Digest, T] = {}
        self._lock = threading.Lock()  # copy walks the children of an index on a pool

    def get(self, digest: Digest) -> T | None:
        with self._lock:
            return self._values.get(digest)

    def __setitem__(self, digest: Digest, value: T) -> None:
        with self._lock:
            self._values.pop(digest, None)
            self._values[digest] = value
            while len(self._values) > self.SIZE:
                del self._values[next(iter(self._values))]
