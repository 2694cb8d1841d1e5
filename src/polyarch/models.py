"""Manifests, indexes, configs and descriptors, parsed from bytes that they keep.

The bytes are the truth: every model holds the exact ``raw`` bytes it was parsed from and
its ``digest`` is computed over them. Nothing here re-serializes fetched content; models
built by polyarch itself (a new index) are serialized once and parsed back, so they obey
the same rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from polyarch import mediatype as mt
from polyarch.digest import Digest, is_valid_descriptor_digest, verify_bytes
from polyarch.errors import (
    AmbiguousDocumentError,
    InvalidManifestError,
    InvalidPlatformError,
    UnsupportedMediaTypeError,
)
from polyarch.jsonread import AmbiguousJSONError, Fields, loads
from polyarch.platform import Platform

__all__ = [
    "MAX_INDEX_DEPTH",
    "MAX_MANIFEST_SIZE",
    "Descriptor",
    "ImageConfig",
    "ImageIndex",
    "ImageManifest",
    "Manifest",
    "check_index_fields",
    "load_document",
    "parse_manifest",
    "too_deep",
]

#: Registries commonly refuse manifests above 4 MiB; reading more is never needed and a
#: hostile registry must not make us buffer an endless body.
MAX_MANIFEST_SIZE: Final = 4 * 1024 * 1024
#: How many indexes deep an index may nest (an index whose entry is an index, and so on).
#: Nesting is rare (buildx, some mirrors: one or two levels); content addressing rules out
#: cycles, but a registry could serve an endless chain of made-up indexes.
MAX_INDEX_DEPTH: Final = 8

#: The largest size a descriptor may state: Go reads it into an int64.
MAX_SIZE: Final = 2**63 - 1

_EMPTY: Mapping[str, str] = MappingProxyType({})

# The JSON fields of the Go structs containerd, docker and skopeo read these documents
# into (OCI image-spec ``specs-go/v1``; distribution's ``schema2`` and ``manifestlist``):
# a key Go would take for one of them must be spelled as it is (see polyarch.jsonread).
#: Manifests and indexes alike: containerd reads both into one struct to tell them apart.
_DOCUMENT_FIELDS: Final = Fields(
    (
        "schemaVersion",
        "mediaType",
        "artifactType",
        "config",
        "layers",
        "manifests",
        "subject",
        "annotations",
    )
)
_DESCRIPTOR_FIELDS: Final = Fields(
    ("mediaType", "digest", "size", "urls", "annotations", "data", "platform", "artifactType")
)
#: Docker's manifest-list platform adds ``features`` to the OCI fields.
_PLATFORM_FIELDS: Final = Fields(
    ("architecture", "os", "os.version", "os.features", "variant", "features")
)
_CONFIG_FIELDS: Final = Fields(
    (
        "created",
        "author",
        "architecture",
        "variant",
        "os",
        "os.version",
        "os.features",
        "config",
        "rootfs",
        "history",
    )
)


def too_deep(where: str) -> InvalidManifestError:
    """The error for an index nested more than :data:`MAX_INDEX_DEPTH` levels deep."""
    return InvalidManifestError(
        f"{where}: indexes nested more than {MAX_INDEX_DEPTH} levels deep; polyarch stops "
        "there (no registry needs that many)"
    )


def _fail(what: str, problem: str) -> InvalidManifestError:
    return InvalidManifestError(f"invalid {what}: {problem}")


def _ambiguous(
    what: str, problem: str, *, key: str | None = None, field: str | None = None
) -> AmbiguousDocumentError:
    return AmbiguousDocumentError(
        f"ambiguous document: {what} {problem}; refusing it", key=key, field=field
    )


def _check_fields(document: Mapping[str, object], fields: Fields, what: str) -> None:
    """Refuse a key that Go would read as one of ``fields`` although spelled otherwise.

    :raises AmbiguousDocumentError: naming the key and the field.
    """
    found = fields.misspelled(document)
    if found is not None:
        key, field = found
        raise _ambiguous(
            what,
            f"has the key {key!r}, which Go's decoder (containerd, docker, skopeo) reads as "
            f"{field!r}",
            key=key,
            field=field,
        )


def _str_map(value: object, what: str) -> Mapping[str, str]:
    if value is None:
        return _EMPTY
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _fail(what, "annotations must be an object of strings")
    return dict(value)


@dataclass(frozen=True, slots=True)
class Descriptor:
    """What a manifest says about another piece of content: type, digest, size, and more.

    Equality covers every field; the hash leaves out ``annotations`` (a mapping).
    """

    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)
    urls: tuple[str, ...] = ()
    artifact_type: str | None = None

    @classmethod
    def from_dict(cls, data: object, *, what: str = "descriptor") -> Descriptor:
        """Parse the JSON form of a descriptor.

        :raises InvalidManifestError: a field is missing or has the wrong type.
        """
        if not isinstance(data, dict):
            raise _fail(what, "expected an object")
        _check_fields(data, _DESCRIPTOR_FIELDS, what)
        media_type = data.get("mediaType")
        digest = data.get("digest")
        size = data.get("size")
        if not isinstance(media_type, str) or not media_type:
            raise _fail(what, "mediaType must be a non-empty string")
        if not isinstance(digest, str) or not is_valid_descriptor_digest(digest):
            raise _fail(what, f"digest {digest!r} is not a valid digest")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SIZE:
            raise _fail(what, f"size {size!r} must be an integer from 0 to {MAX_SIZE}")
        platform = None
        platform_data = data.get("platform")
        if platform_data is not None:
            if isinstance(platform_data, dict):
                _check_fields(platform_data, _PLATFORM_FIELDS, f"the platform of {what}")
            try:
                platform = Platform.from_dict(platform_data)
            except InvalidPlatformError as err:
                raise _fail(what, f"platform: {err}") from err
        urls = data.get("urls") or []
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise _fail(what, "urls must be a list of strings")
        artifact_type = data.get("artifactType")
        if artifact_type is not None and not isinstance(artifact_type, str):
            raise _fail(what, "artifactType must be a string")
        # An unsupported-but-well-formed algorithm is carried, never verified.
        return cls(
            media_type=media_type,
            digest=str.__new__(Digest, digest),
            size=size,
            platform=platform,
            annotations=_str_map(data.get("annotations"), what),
            urls=tuple(urls),
            artifact_type=artifact_type,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, fields in the OCI Go struct's order (mediaType, digest, size, urls,
        annotations, platform, artifactType), the optional ones only when set."""
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))  # as Go writes maps
        if self.platform is not None:
            out["platform"] = self.platform.to_dict()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out

    @property
    def is_attestation(self) -> bool:
        """An index entry that holds buildx attestations (provenance, SBOM), not an image."""
        return self.annotations.get(mt.ANNOTATION_REFERENCE_TYPE) == mt.ATTESTATION_MANIFEST

    @property
    def attests(self) -> Digest | None:
        """For an attestation entry, the digest of the image it describes."""
        subject = self.annotations.get(mt.ANNOTATION_REFERENCE_DIGEST)
        return str.__new__(Digest, subject) if self.is_attestation and subject else None


class _Content:
    """What a manifest or an index is as stored: its exact bytes, under their digest."""

    __slots__ = ()
    raw: bytes
    media_type: str
    digest: Digest

    @property
    def size(self) -> int:
        return len(self.raw)

    def descriptor(self, *, platform: Platform | None = None) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size, platform=platform)


@dataclass(frozen=True, slots=True)
class ImageManifest(_Content):
    """A single image (or artifact): one config blob and its layers."""

    raw: bytes = field(repr=False)
    media_type: str
    digest: Digest
    config: Descriptor
    layers: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)
    artifact_type: str | None = None

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """Every blob the image needs: the config, then the layers in order."""
        return (self.config, *self.layers)

    @property
    def is_index(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class ImageIndex(_Content):
    """A multi-platform list: a Docker manifest list or an OCI image index."""

    raw: bytes = field(repr=False)
    media_type: str
    digest: Digest
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)
    artifact_type: str | None = None

    @property
    def images(self) -> tuple[Descriptor, ...]:
        """The entries that are runnable images, attestations left out."""
        return tuple(d for d in self.manifests if not d.is_attestation)

    def attestations_of(self, digest: str) -> tuple[Descriptor, ...]:
        """The attestation entries that describe the image ``digest``."""
        return tuple(d for d in self.manifests if d.attests == digest)

    @property
    def is_index(self) -> bool:
        return True


Manifest: TypeAlias = ImageManifest | ImageIndex


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """An image configuration blob; polyarch reads only its platform fields."""

    raw: bytes = field(repr=False)
    digest: Digest
    platform: Platform

    @classmethod
    def parse(cls, data: bytes, *, digest: str | None = None) -> ImageConfig:
        """Parse a config blob, checking it against ``digest`` when given.

        :raises InvalidManifestError: not a JSON object, or platform fields of wrong type.
        :raises DigestMismatchError: the bytes are not those of ``digest``.
        """
        if digest is not None:
            verify_bytes(data, digest)
        doc = load_document(data, "image config")
        _check_fields(doc, _CONFIG_FIELDS, "the image config")
        try:
            platform = Platform.from_dict(
                {
                    key: doc[key]
                    for key in ("architecture", "os", "os.version", "os.features", "variant")
                    if doc.get(key) not in (None, "")
                }
            )
        except InvalidPlatformError as err:
            raise _fail("image config", str(err)) from err
        return cls(
            raw=data, digest=Digest.parse(digest) if digest else Digest.of(data), platform=platform
        )


def load_document(data: bytes, what: str, *, limit: int = MAX_MANIFEST_SIZE) -> dict[str, Any]:
    """A JSON object read as Go reads it (:mod:`polyarch.jsonread`).

    :raises AmbiguousDocumentError: JSON that Go would read otherwise.
    :raises InvalidManifestError: over ``limit`` bytes, not JSON, or not an object.
    """
    if len(data) > limit:
        raise _fail(what, f"{len(data)} bytes is over the {limit} byte limit")
    try:
        doc = loads(data)
    except AmbiguousJSONError as err:
        raise _ambiguous(f"the {what}", str(err), key=err.key) from err
    except ValueError as err:
        raise _fail(what, f"not JSON ({err})") from err
    if not isinstance(doc, dict):
        raise _fail(what, "expected a JSON object")
    return doc


def check_index_fields(document: Mapping[str, object], what: str) -> None:
    """Refuse an index document (a layout's ``index.json``) with a key Go would read as
    one of its fields although spelled otherwise.

    :raises AmbiguousDocumentError: naming the key.
    """
    _check_fields(document, _DOCUMENT_FIELDS, what)


def _detect_media_type(doc: Mapping[str, Any]) -> str:
    """Guess the type of a manifest that does not say (OCI makes ``mediaType`` optional)."""
    if doc.get("schemaVersion") == 1 or "fsLayers" in doc:
        return mt.DOCKER_SCHEMA1_MANIFEST
    if "manifests" in doc:
        return mt.OCI_INDEX
    if "config" in doc or "layers" in doc:
        return mt.OCI_MANIFEST
    raise _fail("manifest", "no mediaType and neither 'manifests' nor 'config' present")


def parse_manifest(
    data: bytes, media_type: str | None = None, *, digest: str | None = None
) -> Manifest:
    """Parse manifest or index bytes as sent by a registry or read from disk.

    :param media_type: the Content-Type the bytes came with, if any. When it names a
        manifest type it must agree with the document's own ``mediaType``.
    :param digest: the digest the bytes were asked for; they are verified against it.
    :raises DigestMismatchError: the bytes do not have ``digest``.
    :raises UnsupportedMediaTypeError: Docker schema 1, or a type that is no manifest.
    :raises InvalidManifestError: not JSON, too large, or a malformed document.
    """
    if digest is not None:
        verify_bytes(data, digest)
    doc = load_document(data, "manifest")
    _check_fields(doc, _DOCUMENT_FIELDS, "the manifest")
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise _fail("manifest", "mediaType must be a string")
    header = media_type.split(";")[0].strip() if media_type else None
    known = mt.INDEX_TYPES | mt.MANIFEST_TYPES | mt.SCHEMA1_TYPES
    if header not in known:
        header = None  # application/json, text/plain...: the document decides.
    if declared and header and declared != header and not mt.is_schema1(header):
        raise _fail("manifest", f"it says mediaType {declared!r} but was served as {header!r}")
    kind = declared or header or _detect_media_type(doc)
    if mt.is_schema1(kind) or doc.get("schemaVersion") == 1:
        raise UnsupportedMediaTypeError(
            "Docker schema 1 manifests are not supported (deprecated, removed in distribution v3)",
            media_type=kind,
            hint="rebuild or re-push the image with a current tool to get a schema 2 manifest",
        )
    if not (mt.is_index(kind) or mt.is_manifest(kind)):
        # Before the schemaVersion check: the draft artifact manifest has none.
        raise UnsupportedMediaTypeError(
            f"unsupported manifest media type {kind!r}",
            media_type=kind,
            hint="OCI artifact manifests were never released; artifacts are image manifests "
            "with an artifactType"
            if kind == mt.OCI_ARTIFACT_MANIFEST
            else None,
        )
    version = doc.get("schemaVersion")
    if isinstance(version, bool) or not isinstance(version, int) or version != 2:
        # 2.0 too: Go cannot read a float into the int field.
        raise _fail("manifest", f"schemaVersion must be 2, not {version!r}")
    # containerd refuses what could be read as both (images.validateMediaType).
    foreign = ("config", "layers") if mt.is_index(kind) else ("manifests",)
    for name in foreign:
        if doc.get(name) is not None:
            what = "an index" if mt.is_index(kind) else "an image manifest"
            raise _ambiguous(
                "the manifest",
                f"is {what} ({kind}) with {name!r}, which could be read as either "
                "(containerd refuses it too)",
                field=name,
            )
    the_digest = Digest.parse(digest) if digest else Digest.of(data)
    subject = (
        Descriptor.from_dict(doc["subject"], what="subject")
        if doc.get("subject") is not None
        else None
    )
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _fail("manifest", "artifactType must be a string")
    annotations = _str_map(doc.get("annotations"), "manifest")
    if mt.is_index(kind):
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise _fail("index", "'manifests' must be a list")
        return ImageIndex(
            raw=data,
            media_type=kind,
            digest=the_digest,
            manifests=tuple(
                Descriptor.from_dict(entry, what=f"index entry {i}")
                for i, entry in enumerate(entries)
            ),
            subject=subject,
            annotations=annotations,
            artifact_type=artifact_type,
        )
    if mt.is_manifest(kind):
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise _fail("manifest", "'layers' must be a list")
        return ImageManifest(
            raw=data,
            media_type=kind,
            digest=the_digest,
            config=Descriptor.from_dict(doc.get("config"), what="manifest config"),
            layers=tuple(
                Descriptor.from_dict(layer, what=f"layer {i}") for i, layer in enumerate(layers)
            ),
            subject=subject,
            annotations=annotations,
            artifact_type=artifact_type,
        )
    raise UnsupportedMediaTypeError(f"unsupported manifest media type {kind!r}", media_type=kind)
