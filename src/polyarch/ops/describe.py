"""What an image or a list is made of: every child, its platform, its config and layers.

Written once against :class:`~polyarch.store.Store`, so a registry repository and an OCI
layout are described alike. The children of an index are fetched concurrently, each
worker fetching a child's manifest and then its config blob; a nested index is described
the same way, one level down::

    describe(store, "1.0")
      -> IndexDescription(index, children=(ImageDescription(manifest, entry, config), ...))
      or ImageDescription(manifest, config)                  a single image

Nothing is re-serialized: every manifest and config keeps the exact bytes it was read as,
verified against its digest. Layers are described by their descriptors; no layer blob is
read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeAlias

from polyarch.models import (
    MAX_INDEX_DEPTH,
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    Manifest,
    too_deep,
)
from polyarch.ops import DEFAULT_JOBS
from polyarch.ops.walk import Walk
from polyarch.platform import Platform, format_all
from polyarch.store import Store

__all__ = [
    "Description",
    "ImageDescription",
    "IndexDescription",
    "describe",
    "describe_manifest",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImageDescription:
    """One image manifest, the index entry that named it (if any) and its config blob.

    :ivar entry: the descriptor of the index entry this image was reached through, with
        its platform and annotations as the index states them; ``None`` for an image
        that was asked for directly.
    :ivar config_blob: the config's exact bytes, verified; ``None`` when configs were not
        fetched or the blob is too large to be a config.
    :ivar config: ``config_blob`` parsed, when its media type is an image config.
    """

    manifest: ImageManifest
    entry: Descriptor | None = None
    config_blob: bytes | None = field(default=None, repr=False)
    config: ImageConfig | None = None

    @property
    def descriptor(self) -> Descriptor:
        """Media type, digest and size of the manifest's own bytes, with :attr:`platform`."""
        return self.manifest.descriptor(platform=self.platform)

    @property
    def platform(self) -> Platform | None:
        """The index entry's platform (what a runtime picks by), else the config's."""
        if self.entry is not None and self.entry.platform is not None:
            return self.entry.platform
        return self.config.platform if self.config is not None else None

    @property
    def config_platform_differs(self) -> bool:
        """The index entry names another platform than the image's config says."""
        if self.entry is None or self.entry.platform is None or self.config is None:
            return False
        return format_all(self.entry.platform) != format_all(self.config.platform)

    @property
    def is_attestation(self) -> bool:
        """A buildx attestation (provenance, SBOM) rather than a runnable image."""
        return self.entry is not None and self.entry.is_attestation

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        return self.manifest.layers

    @property
    def total_size(self) -> int:
        """Bytes of the manifest, its config and its layers (compressed, as stored)."""
        return self.manifest.size + sum(blob.size for blob in self.manifest.blobs)


@dataclass(frozen=True, slots=True)
class IndexDescription:
    """An index (or Docker manifest list) and a description of each entry, in order."""

    index: ImageIndex
    children: tuple[Description, ...]
    entry: Descriptor | None = None

    @property
    def descriptor(self) -> Descriptor:
        return self.index.descriptor(platform=self.platform)

    @property
    def platform(self) -> Platform | None:
        """The platform of the index entry this index was reached through, if any."""
        return self.entry.platform if self.entry is not None else None

    @property
    def images(self) -> tuple[Description, ...]:
        """The children that are not attestations."""
        return tuple(c for c in self.children if not _is_attestation(c))

    @property
    def attestations(self) -> tuple[ImageDescription, ...]:
        return tuple(
            c for c in self.children if isinstance(c, ImageDescription) and c.is_attestation
        )


Description: TypeAlias = ImageDescription | IndexDescription


def _is_attestation(description: Description) -> bool:
    return isinstance(description, ImageDescription) and description.is_attestation


def describe(
    store: Store, identifier: str, *, configs: bool = True, jobs: int = DEFAULT_JOBS
) -> Description:
    """Fetch the manifest under ``identifier`` and everything it is made of.

    :param configs: fetch each image's config blob (one request per image); without
        them a child's platform is the index entry's alone.
    :param jobs: children fetched at once.
    :raises ManifestNotFoundError: the manifest, or one an index names, is missing; the
        message says which entry.
    :raises BlobNotFoundError: a config blob is missing.
    :raises ContentError: bytes that do not match their digest, or a malformed manifest
        or image config.
    """
    return describe_manifest(store, store.get_manifest(identifier), configs=configs, jobs=jobs)


def describe_manifest(
    store: Store, manifest: Manifest, *, configs: bool = True, jobs: int = DEFAULT_JOBS
) -> Description:
    """Describe a manifest already fetched from ``store`` (see :func:`describe`).

    :raises InvalidManifestError: indexes nested deeper than ``MAX_INDEX_DEPTH``.
    """
    return _Describing(Walk(store, manifest), configs=configs, jobs=jobs).of(manifest)


class _Describing:
    def __init__(self, walk: Walk, *, configs: bool, jobs: int) -> None:
        self.walk = walk
        self.configs = configs
        self.jobs = jobs

    def of(
        self,
        manifest: Manifest,
        reached: tuple[ImageIndex, Descriptor] | None = None,
        depth: int = 0,
    ) -> Description:
        entry = None if reached is None else reached[1]
        if isinstance(manifest, ImageManifest):
            if not self.configs:
                return ImageDescription(manifest, entry)
            blob = self.walk.config_blob(manifest, reached=reached)
            if blob is None:
                log.debug("not reading %s: %d bytes", manifest.config.digest, manifest.config.size)
                return ImageDescription(manifest, entry)
            return ImageDescription(manifest, entry, blob, self.walk.image_config(manifest, blob))

        def child(listed: Descriptor) -> Callable[[], Description]:
            # Each worker fetches a child and then its config: no phase waits for another.
            def run() -> Description:
                found = self.walk.child(manifest, listed, depth=depth)
                return self.of(found, (manifest, listed), depth + 1)

            return run

        if depth >= MAX_INDEX_DEPTH:
            raise too_deep(self.walk.where)
        tasks = [child(listed) for listed in manifest.manifests]
        return IndexDescription(manifest, _run_all(tasks, self.jobs), entry)


def _run_all(tasks: Sequence[Callable[[], Description]], jobs: int) -> tuple[Description, ...]:
    """Run ``tasks`` on up to ``jobs`` threads, results in order. The error of the first
    failing task (in order) is raised, and tasks not yet started are cancelled."""
    if len(tasks) <= 1:
        return tuple(task() for task in tasks)
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(tasks)))) as pool:
        futures: list[Future[Description]] = [pool.submit(task) for task in tasks]
        try:
            return tuple(future.result() for future in futures)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
