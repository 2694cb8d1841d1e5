"""The OCI image layout store.

::

    PATH/
      oci-layout          {"imageLayoutVersion": "1.0.0"}
      index.json          the roots; a tag is the org.opencontainers.image.ref.name annotation
      blobs/ALG/ENCODED   every manifest, config and layer, named by its digest

Every write lands whole or not at all: bytes go to a temporary file beside their final
name, are verified and flushed, then renamed into place. ``index.json`` is rewritten the
same way under an exclusive lock on the layout directory, so concurrent writers never
lose each other's tags. No symbolic link below ``PATH`` is ever followed (``_dir.py``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from polyarch import mediatype as mt
from polyarch.digest import Digest, DigestVerifier
from polyarch.documents import MAX_MANIFEST_SIZE, check_index_fields, load_document
from polyarch.errors import (
    BlobNotFoundError,
    InvalidInputError,
    InvalidManifestError,
    ManifestNotFoundError,
)
from polyarch.layout._dir import LayoutDir
from polyarch.models import Descriptor, Manifest, parse_manifest
from polyarch.store import CHUNK_SIZE, is_digest

__all__ = ["LayoutStore"]

log = logging.getLogger(__name__)

LAYOUT_VERSION = "1.0.0"
#: The most of ``index.json`` read: its entries are small, but a layout may hold many tags.
MAX_INDEX_SIZE: Final = 64 * 1024 * 1024


class LayoutStore:
    """A :class:`~polyarch.store.Store` over one OCI image layout directory.

    The directory is created on the first write; reading a missing layout is an error.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._dir = LayoutDir(self.path)
        self._ready = False
        self._init_lock = threading.Lock()

    @property
    def location(self) -> str:
        return f"oci:{self.path}"

    def __repr__(self) -> str:
        return f"LayoutStore({str(self.path)!r})"

    # -- reading ---------------------------------------------------------------------------

    @staticmethod
    def _blob_name(digest: Digest) -> tuple[str, str, str]:
        digest = Digest.parse(str(digest))  # never a path from an unchecked string
        return ("blobs", digest.algorithm, digest.encoded)

    def _read_index(self) -> dict[str, Any]:
        data = self._dir.read("index.json", limit=MAX_INDEX_SIZE)
        if data is None:
            if not self._dir.exists():
                raise ManifestNotFoundError(f"no OCI layout at {self.path}", where=self.location)
            return {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}
        what = f"{self.path}/index.json"
        doc = load_document(data, what, limit=MAX_INDEX_SIZE)
        check_index_fields(doc, what)
        if not isinstance(doc.get("manifests", []), list):
            raise InvalidManifestError(f"{what} is not an OCI image index")
        return doc

    def roots(self) -> list[Descriptor]:
        """The entries of index.json: the images the layout holds, tagged or not."""
        return [
            Descriptor.from_dict(entry, what=f"{self.path}/index.json entry")
            for entry in self._read_index().get("manifests", [])
        ]

    def resolve(self, identifier: str) -> Descriptor:
        roots = self.roots()
        if is_digest(identifier):
            digest = Digest.parse(identifier)
            for root in roots:
                if root.digest == digest:
                    return root
            # Not a root, but possibly a child of one: the bytes tell what it is.
            return self._read_manifest(digest, None).descriptor()
        matches = [r for r in roots if r.annotations.get(mt.ANNOTATION_REF_NAME) == identifier]
        if not matches:
            raise ManifestNotFoundError(
                f"tag {identifier!r} not found in {self.location}",
                where=f"{self.location}:{identifier}",
                hint=_tags_hint(self._tags_of(roots)),
            )
        others = sorted({m.digest for m in matches[1:] if m.digest != matches[0].digest})
        if others:
            # skopeo (containers/image) takes the first entry with the name: so do we, and
            # say so, since another tool may take another.
            log.warning(
                "%s: tag %r appears %d times in index.json; using the first, %s (also: %s)",
                self.location,
                identifier,
                len(matches),
                matches[0].digest,
                ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else ""),
            )
        return matches[0]

    def _read_manifest(self, digest: Digest, media_type: str | None) -> Manifest:
        data = self._dir.read(*self._blob_name(digest), limit=MAX_MANIFEST_SIZE)
        if data is None:
            raise ManifestNotFoundError(
                f"manifest {digest} not found in {self.location}",
                where=f"{self.location}@{digest}",
            )
        manifest = parse_manifest(data, media_type, digest=digest, stored=True)
        if media_type in mt.INDEX_TYPES | mt.MANIFEST_TYPES and manifest.media_type != media_type:
            log.warning(
                "%s: %s is stored as %s but is %s; reading it as what it is",
                self.location,
                digest,
                media_type,
                manifest.media_type,
            )
        return manifest

    def get_manifest(self, identifier: str) -> Manifest:
        descriptor = self.resolve(identifier)
        return self._read_manifest(descriptor.digest, descriptor.media_type)

    def has_blob(self, descriptor: Descriptor) -> bool:
        # A file of another size is damaged (a disk error, a hand edit): not the blob, and
        # put_blob replaces it.
        return self._dir.size_of(*self._blob_name(descriptor.digest)) == descriptor.size

    @contextlib.contextmanager
    def open_blob(self, descriptor: Descriptor) -> Iterator[Iterator[bytes]]:
        with self._dir.open(*self._blob_name(descriptor.digest)) as f:
            if f is None:
                raise BlobNotFoundError(
                    f"blob {descriptor.digest} not found in {self.location}",
                    digest=descriptor.digest,
                )
            verifier = DigestVerifier(descriptor.digest, descriptor.size)
            yield verifier.wrap(iter(lambda: f.read(CHUNK_SIZE), b""))

    def get_blob(self, descriptor: Descriptor) -> bytes:
        with self.open_blob(descriptor) as chunks:
            return b"".join(chunks)

    def list_tags(self) -> list[str]:
        return self._tags_of(self.roots())

    def only_image(self) -> str:
        """The digest of the layout's only image (what ``oci:PATH`` alone means).

        :raises ManifestNotFoundError: the layout holds no image, or several.
        """
        roots = self.roots()
        if len(roots) == 1:
            return roots[0].digest
        tags = self._tags_of(roots)
        problem = "has no image" if not roots else f"holds {len(roots)} images"
        raise ManifestNotFoundError(
            f"{self.location} {problem}; name one with :TAG or @DIGEST",
            where=self.location,
            hint=f"tags: {', '.join(tags)}" if tags else None,
        )

    def iter_tags(self) -> Iterator[str]:
        return iter(self.list_tags())

    @staticmethod
    def _tags_of(roots: list[Descriptor]) -> list[str]:
        return sorted(
            {
                name
                for root in roots
                if (name := root.annotations.get(mt.ANNOTATION_REF_NAME)) is not None
            }
        )

    # -- writing ---------------------------------------------------------------------------

    def _ensure_layout(self) -> None:
        if self._ready:
            return
        with self._init_lock, self._dir.locked() as root:  # made if missing
            self._dir.check_tree(root)
            if self._dir.size_of("oci-layout") is None:
                self._create_layout(root)
            self._ready = True

    def _create_layout(self, root: int) -> None:
        # Only files of a layout (and the temporary files of one being written) may be
        # there already: never turn someone's directory into a layout.
        stray = [
            name
            for name in self._dir.names(root)
            if name not in ("blobs", "index.json") and not name.startswith(".")
        ]
        if stray:
            raise InvalidInputError(
                f"{self.path} is a non-empty directory that is not an OCI layout",
                hint="name a new or empty directory",
            )
        with self._dir.directory("blobs", create=True):
            pass
        if self._dir.size_of("index.json") is None:
            self._write_index(
                {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}, root
            )
        # The marker last: its presence says the layout is complete.
        marker = json.dumps({"imageLayoutVersion": LAYOUT_VERSION}).encode()
        self._dir.write("oci-layout", chunks=[marker], root=root)

    def put_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        verifier = DigestVerifier(descriptor.digest, descriptor.size)
        self.put_verified_blob(descriptor, verifier.wrap(chunks))

    def put_verified_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        """:meth:`put_blob` for chunks that verify themselves (another store's
        ``open_blob``): they raise from inside the write, before the blob gets its name."""
        self._ensure_layout()
        if self.has_blob(descriptor):
            return
        self._dir.write(*self._blob_name(descriptor.digest), chunks=chunks)

    def put_manifest(self, manifest: Manifest, *, tag: str | None = None) -> Descriptor:
        descriptor = manifest.descriptor()
        self.put_blob(descriptor, [manifest.raw])
        if tag is not None:
            self._set_tag(descriptor, tag)
        return descriptor

    def put_manifest_if(self, manifest: Manifest, *, tag: str, current: Digest | None) -> bool:
        """:meth:`put_manifest` under ``tag``, done under the layout's lock only if the
        tag is at ``current`` (``None``: no such tag) as it is read there."""
        descriptor = manifest.descriptor()
        self.put_blob(descriptor, [manifest.raw])
        return self._set_tag(descriptor, tag, conditional=True, current=current)

    def _set_tag(
        self,
        descriptor: Descriptor,
        tag: str,
        *,
        conditional: bool = False,
        current: Digest | None = None,
    ) -> bool:
        """Point ``tag`` at ``descriptor``; ``conditional``: only if it is at ``current``
        now (its first entry, as :meth:`resolve` reads it; ``None``: no such tag)."""
        with self._locked() as root:
            doc = self._read_index()
            entries = self._checked_entries(doc)
            tagged = [
                entry
                for entry in entries
                if (entry.get("annotations") or {}).get(mt.ANNOTATION_REF_NAME) == tag
            ]
            if conditional and (tagged[0]["digest"] if tagged else None) != current:
                return False
            kept = [entry for entry in entries if not any(entry is t for t in tagged)]
            entry = Descriptor(
                descriptor.media_type,
                descriptor.digest,
                descriptor.size,
                annotations={mt.ANNOTATION_REF_NAME: tag},
            ).to_dict()
            doc["manifests"] = [*kept, entry]
            self._write_index(doc, root)
            return True

    def delete(self, identifier: str) -> None:
        with self._locked() as root:
            doc = self._read_index()
            entries = self._checked_entries(doc)
            if is_digest(identifier):
                kept = [e for e in entries if e.get("digest") != identifier]
            else:
                kept = [
                    e
                    for e in entries
                    if (e.get("annotations") or {}).get(mt.ANNOTATION_REF_NAME) != identifier
                ]
            if len(kept) == len(entries):
                raise ManifestNotFoundError(
                    f"{identifier!r} not found in {self.location}",
                    where=f"{self.location}:{identifier}",
                )
            doc["manifests"] = kept
            self._write_index(doc, root)

    def delete_tag(self, tag: str) -> None:
        if is_digest(tag):
            raise ValueError(f"{tag} is a digest, not a tag")
        self.delete(tag)

    def _checked_entries(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        """The entries of a read index.json, each checked to be a descriptor: a damaged
        index is refused (InvalidManifestError), never rewritten with its damage."""
        entries: list[dict[str, Any]] = doc.get("manifests", [])
        for entry in entries:
            Descriptor.from_dict(entry, what=f"{self.path}/index.json entry")
        return entries

    def _write_index(self, doc: dict[str, Any], root: int) -> None:
        data = json.dumps(doc, indent=2).encode() + b"\n"
        self._dir.write("index.json", chunks=[data], root=root)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        self._ensure_layout()
        with self._dir.locked() as root:
            yield root


def _tags_hint(tags: list[str]) -> str:
    if not tags:
        return "the layout has no tags; name an image by @DIGEST"
    shown = ", ".join(tags[:10]) + (", ..." if len(tags) > 10 else "")
    return f"tags in the layout: {shown}"
