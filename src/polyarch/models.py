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
from polyarch.documents import (
    CONFIG_FIELDS,
    DESCRIPTOR_FIELDS,
    DOCUMENT_FIELDS,
    MAX_MANIFEST_SIZE,
    PLATFORM_FIELDS,
    ambiguous,
    check_fields,
    invalid,
    load_document,
)
from polyarch.errors import (
    InvalidManifestError,
    InvalidPlatformError,
    UnsupportedMediaTypeError,
)
from polyarch.platform import Platform

__all__ = [
    "MAX_INDEX_DEPTH",
    "MAX_MANIFEST_SIZE",
    "Descriptor",
    "ImageConfig",
    "ImageIndex",
    "ImageManifest",
    "Manifest",
    "parse_manifest",
    "too_deep",
]

#: How many indexes deep an index may nest (an index whose entry is an index, and so on).
#: Nesting is rare (buildx, some mirrors: one or two levels); content addressing rules out
#: cycles, but a registry could serve an endless chain of made-up indexes.
MAX_INDEX_DEPTH: Final = 8

#: The largest size a descriptor may state: Go reads it into an int64.
MAX_SIZE: Final = 2**63 - 1

_EMPTY: Mapping[str, str] = MappingProxyType({})


def too_deep(where: str) -> InvalidManifestError:
    """The error for an index nested more than :data:`MAX_INDEX_DEPTH` levels deep."""
    return InvalidManifestError(
        f"{where}: indexes nested more than {MAX_INDEX_DEPTH} levels deep; polyarch stops "
        "there (no registry needs that many)"
    )


def _str_map(value: object, what: str) -> Mapping[str, str]:
    if value is None:
        return _EMPTY
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise invalid(what, "annotations must be an object of strings")
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
        if data is None:
            raise invalid(what, "it is missing")
        if not isinstance(data, dict):
            raise invalid(what, "expected an object")
        check_fields(data, DESCRIPTOR_FIELDS, what)
        for name in ("mediaType", "digest", "size"):
            if data.get(name) is None:
                raise invalid(what, f"it has no {name}")
        media_type = data.get("mediaType")
        digest = data.get("digest")
        size = data.get("size")
        if not isinstance(media_type, str) or not media_type:
            raise invalid(what, "mediaType must be a non-empty string")
        if not isinstance(digest, str) or not is_valid_descriptor_digest(digest):
            raise invalid(what, f"digest {digest!r} is not a valid digest")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SIZE:
            raise invalid(what, f"size {size!r} must be an integer from 0 to {MAX_SIZE}")
        platform = None
        platform_data = data.get("platform")
        if platform_data is not None:
            if isinstance(platform_data, dict):
                check_fields(platform_data, PLATFORM_FIELDS, f"the platform of {what}")
            try:
                platform = Platform.from_dict(platform_data)
            except InvalidPlatformError as err:
                raise invalid(what, f"platform: {err}") from err
        urls = data.get("urls") or []
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise invalid(what, "urls must be a list of strings")
        artifact_type = data.get("artifactType")
        if artifact_type is not None and not isinstance(artifact_type, str):
            raise invalid(what, "artifactType must be a string")
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
        check_fields(doc, CONFIG_FIELDS, "the image config")
        try:
            platform = Platform.from_dict(
                {
                    key: doc[key]
                    for key in ("architecture", "os", "os.version", "os.features", "variant")
                    if doc.get(key) not in (None, "")
                }
            )
        except InvalidPlatformError as err:
            raise invalid("image config", str(err)) from err
        return cls(
            raw=data, digest=Digest.parse(digest) if digest else Digest.of(data), platform=platform
        )


def _detect_media_type(doc: Mapping[str, Any]) -> str:
    """Guess the type of a manifest that does not say (OCI makes ``mediaType`` optional)."""
    if doc.get("schemaVersion") == 1 or "fsLayers" in doc:
        return mt.DOCKER_SCHEMA1_MANIFEST
    if "manifests" in doc:
        return mt.OCI_INDEX
    if "config" in doc or "layers" in doc:
        return mt.OCI_MANIFEST
    raise invalid("manifest", "no mediaType and neither 'manifests' nor 'config' present")


def parse_manifest(
    data: bytes,
    media_type: str | None = None,
    *,
    digest: str | None = None,
    stored: bool = False,
) -> Manifest:
    """Parse manifest or index bytes as sent by a registry or read from disk.

    :param media_type: the Content-Type the bytes came with, if any. When it names a
        manifest type it must agree with the document's own ``mediaType``.
    :param digest: the digest the bytes were asked for; they are verified against it.
    :param stored: ``media_type`` is what a descriptor on disk says (a layout's
        ``index.json``), not what a registry served. As containerd does, a descriptor may
        then name another manifest type of the same kind (Docker v2 for an OCI manifest, as
        go-containerregistry's test layouts do): the document's own ``mediaType`` wins, and
        the caller sees it in the result. Only an index stored as a manifest (or the
        reverse) is refused.
    :raises DigestMismatchError: the bytes do not have ``digest``.
    :raises UnsupportedMediaTypeError: Docker schema 1, or a type that is no manifest.
    :raises InvalidManifestError: not JSON, too large, or a malformed document.
    """
    if digest is not None:
        verify_bytes(data, digest)
    doc = load_document(data, "manifest")
    check_fields(doc, DOCUMENT_FIELDS, "the manifest")
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise invalid("manifest", "mediaType must be a string")
    header = media_type.split(";")[0].strip() if media_type else None
    known = mt.INDEX_TYPES | mt.MANIFEST_TYPES | mt.SCHEMA1_TYPES
    if header not in known:
        header = None  # application/json, text/plain...: the document decides.
    if declared and header and declared != header and not mt.is_schema1(header):
        same_kind = mt.is_index(declared) == mt.is_index(header) and (
            mt.is_index(declared) or mt.is_manifest(declared)
        )
        if not (stored and same_kind):
            how = "stored as" if stored else "served as"
            raise invalid("manifest", f"it says mediaType {declared!r} but was {how} {header!r}")
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
        raise invalid("manifest", f"schemaVersion must be 2, not {version!r}")
    # containerd refuses what could be read as both (images.validateMediaType).
    foreign = ("config", "layers") if mt.is_index(kind) else ("manifests",)
    for name in foreign:
        if doc.get(name) is not None:
            what = "an index" if mt.is_index(kind) else "an image manifest"
            raise ambiguous(
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
        raise invalid("manifest", "artifactType must be a string")
    annotations = _str_map(doc.get("annotations"), "manifest")
    if mt.is_index(kind):
        entries = doc.get("manifests")
        if entries is None:
            entries = []  # Go reads null (or no field) as an empty list
        if not isinstance(entries, list):
            raise invalid("index", "'manifests' must be a list")
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
        if layers is None:
            layers = []  # Go reads null (or no field) as an empty list
        if not isinstance(layers, list):
            raise invalid("manifest", "'layers' must be a list")
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
