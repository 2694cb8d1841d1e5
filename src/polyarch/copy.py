"""Move content between stores: blobs first, then manifests, never a dangling reference.

Every transfer takes the cheapest path that is safe: a blob the target has is skipped, a
blob in another repository of the same registry is mounted, anything else is streamed
from source to target with its digest verified on the way, never held whole in memory.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from enum import Enum

from polyarch.models import Descriptor, ImageManifest, Manifest
from polyarch.store import BlobMounter, Store

__all__ = ["BlobTransfer", "Transfers", "transfer_blob"]

log = logging.getLogger(__name__)


class BlobTransfer(Enum):
    """How a blob reached the target."""

    PRESENT = "present"
    MOUNTED = "mounted"
    COPIED = "copied"


def transfer_blob(source: Store, target: Store, descriptor: Descriptor) -> BlobTransfer:
    """Make ``descriptor`` present in ``target``, taking it from ``source`` if needed.

    Within one registry a mount is tried first: it also answers "already there" for
    free, so no HEAD is spent. Elsewhere a HEAD decides whether to stream.
    """
    # Not mountable (another registry, or the source lacks it): fall through to a copy.
    if isinstance(target, BlobMounter) and target.mount_blob(descriptor, source):
        return BlobTransfer.MOUNTED
    if target.has_blob(descriptor.digest):
        return BlobTransfer.PRESENT
    with source.open_blob(descriptor) as chunks:
        target.put_blob(descriptor, chunks)
    return BlobTransfer.COPIED


@dataclass
class Transfers:
    """Blob transfers shared by concurrent workers, so a blob two images share moves once."""

    source_of: dict[str, BlobTransfer] = field(default_factory=dict)
    _claimed: dict[str, threading.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def blob(self, source: Store, target: Store, descriptor: Descriptor) -> None:
        key = f"{target.location}@{descriptor.digest}"
        with self._lock:
            event = self._claimed.get(key)
            mine = event is None
            if mine:
                event = self._claimed[key] = threading.Event()
        assert event is not None
        if not mine:
            event.wait()
            if key not in self.source_of:
                # The first worker failed; try again ourselves rather than assume success.
                self.source_of[key] = transfer_blob(source, target, descriptor)
            return
        try:
            self.source_of[key] = transfer_blob(source, target, descriptor)
        finally:
            event.set()

    def manifest(self, source: Store, target: Store, manifest: Manifest) -> None:
        """Copy one image manifest: its blobs, then the manifest itself (by digest)."""
        if isinstance(manifest, ImageManifest):
            for blob in manifest.blobs:
                self.blob(source, target, blob)
        target.put_manifest(manifest)

    def count(self, kind: BlobTransfer) -> int:
        return sum(1 for value in self.source_of.values() if value is kind)
