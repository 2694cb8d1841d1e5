"""OCI 1.1 referrers, pure: manifests that name another as their ``subject`` (signatures,
SBOMs, attestations), the lists that name them, and buildx attestations made into them.

A store lists the referrers of a manifest in one of two ways (distribution-spec 1.1,
"Listing Referrers"): a registry with the referrers API answers ``GET
/v2/NAME/referrers/DIGEST`` itself; anywhere else (CNCF distribution 2.8, Docker Hub, an
OCI layout) an OCI index under the *referrers tag* ``ALG-HEX`` of the subject holds them,
and whoever pushes a referrer adds it there. Everything here is that list's content: what
to add and how, never the requests.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from polyarch import gojson
from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.errors import ConflictError, InvalidManifestError
from polyarch.index import edited_index, index_document
from polyarch.models import Descriptor, ImageIndex, ImageManifest, Manifest, parse_manifest

__all__ = [
    "EMPTY_CONFIG",
    "EMPTY_JSON",
    "attestation_referrer",
    "attestation_subject",
    "listing_entry",
    "referrers_tag",
    "with_referrers",
]

#: The OCI empty JSON blob, ``{}``: the config of an artifact with nothing to configure.
EMPTY_JSON: Final = b"{}"
EMPTY_CONFIG: Final = Descriptor(mt.OCI_EMPTY, Digest.of(EMPTY_JSON), len(EMPTY_JSON))

_NOT_IN_TAG = re.compile(r"[^A-Za-z0-9_.-]")


def referrers_tag(subject: Digest) -> str:
    """The tag the referrers tag schema keeps ``subject``'s referrers under: the algorithm,
    ``-``, the encoded digest cut to 64 characters, anything a tag cannot hold as ``-``."""
    algorithm, _, encoded = str(subject).partition(":")
    return _NOT_IN_TAG.sub("-", f"{algorithm}-{encoded[:64]}")


def listing_entry(manifest: Manifest) -> Descriptor:
    """How a referrers list names ``manifest``: its type, digest and size, its
    ``artifactType`` (an image manifest without one: its config's type, as the spec
    says) and its annotations."""
    artifact_type = manifest.artifact_type
    if artifact_type is None and isinstance(manifest, ImageManifest):
        artifact_type = manifest.config.media_type
    return Descriptor(
        manifest.media_type,
        manifest.digest,
        manifest.size,
        annotations=manifest.annotations,
        artifact_type=artifact_type,
    )


def _entry_json(entry: Descriptor) -> dict[str, Any]:
    """A referrers list entry: no platform (the list is not one of platforms)."""
    out = entry.to_dict()
    out.pop("platform", None)
    return out


def with_referrers(
    listing: Manifest | None, entries: Sequence[Descriptor], *, where: str
) -> ImageIndex | None:
    """The referrers list ``listing`` (``None``: there is none yet) with ``entries``
    added last, those it names already left out; ``None`` when it names them all.
    Entries it had keep their JSON.

    :param where: the referrers tag, for messages.
    :raises ConflictError: something other than an OCI index is under the tag: polyarch
        never writes over it.
    """
    if listing is not None and listing.media_type != mt.OCI_INDEX:
        raise ConflictError(
            f"{where} holds {listing.media_type}, not the OCI index of a referrers list",
            hint="the referrers tag schema keeps that tag for the list; move what is there",
        )
    known = (
        {entry.digest for entry in listing.manifests} if isinstance(listing, ImageIndex) else set()
    )
    new = []
    for entry in entries:
        if entry.digest not in known:
            known.add(entry.digest)
            new.append(_entry_json(entry))
    if not new:
        return None
    if listing is None:
        document: dict[str, Any] = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX}
    else:
        assert isinstance(listing, ImageIndex)
        document = index_document(listing)
    document["manifests"] = [*(document.get("manifests") or []), *new]
    return edited_index(document)


def attestation_subject(
    attestation: Descriptor, images: Mapping[Digest, Descriptor]
) -> Descriptor | None:
    """What a referrer made of ``attestation`` (an index entry) names as its subject: the
    entry of the image it describes, as type, digest and size; ``None`` when ``images``
    (entries by digest) has no such image."""
    image = images.get(attestation.attests) if attestation.attests is not None else None
    if image is None or image.is_attestation:
        return None
    return Descriptor(image.media_type, image.digest, image.size)


def attestation_referrer(attestation: ImageManifest, subject: Descriptor) -> ImageManifest:
    """buildx's attestation manifest as an OCI 1.1 referrer of the image it describes,
    in the shape BuildKit writes with ``oci-artifact=true``: artifact type
    :data:`~polyarch.mediatype.ATTESTATION_ARTIFACT`, the empty config, the same in-toto
    layers (their JSON as it was), the image as ``subject``, its annotations kept.

    A new manifest (a new digest): its layers are the attestation's blobs, its config is
    :data:`EMPTY_JSON`, which the store must be given. An attestation BuildKit wrote in
    that shape already (it names its image as ``subject``) is a referrer as it is.

    :param subject: the image's entry in the index that held the attestation.
    :raises InvalidManifestError: the attestation names another subject than its entry's.
    """
    if attestation.subject is not None:
        if attestation.subject.digest != subject.digest:
            raise InvalidManifestError(
                f"attestation {attestation.digest} describes {subject.digest} by its index "
                f"entry, but names {attestation.subject.digest} as its subject"
            )
        return attestation
    original: dict[str, Any] = gojson.load_as_spelled(attestation.raw)
    # The fields in the order of the OCI Go struct, as BuildKit writes them.
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": mt.ATTESTATION_ARTIFACT,
        "config": {
            **EMPTY_CONFIG.to_dict(),
            "data": base64.b64encode(EMPTY_JSON).decode(),
        },
        "layers": original.get("layers") or [],
        "subject": {
            "mediaType": subject.media_type,
            "digest": str(subject.digest),
            "size": subject.size,
        },
    }
    if original.get("annotations"):
        document["annotations"] = original["annotations"]
    manifest = parse_manifest(gojson.marshal_indent(document, "  "))
    assert isinstance(manifest, ImageManifest)
    return manifest
