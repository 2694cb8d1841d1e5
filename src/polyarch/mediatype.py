"""Media types of the OCI image spec and Docker's image manifest v2.2, and what they mean."""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACCEPT_MANIFESTS",
    "ANNOTATION_REFERENCE_DIGEST",
    "ANNOTATION_REFERENCE_TYPE",
    "ANNOTATION_REF_NAME",
    "ATTESTATION_ARTIFACT",
    "ATTESTATION_MANIFEST",
    "DOCKER_CONFIG",
    "DOCKER_FOREIGN_LAYER",
    "DOCKER_LAYER",
    "DOCKER_LAYER_TAR",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "DOCKER_PLUGIN_CONFIG",
    "DOCKER_SCHEMA1_MANIFEST",
    "DOCKER_SCHEMA1_SIGNED_MANIFEST",
    "INDEX_TYPES",
    "IN_TOTO_LAYER",
    "MANIFEST_TYPES",
    "NONDISTRIBUTABLE_TYPES",
    "OCI_ARTIFACT_MANIFEST",
    "OCI_CONFIG",
    "OCI_EMPTY",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_LAYER_GZIP",
    "OCI_LAYER_NONDISTRIBUTABLE",
    "OCI_LAYER_NONDISTRIBUTABLE_GZIP",
    "OCI_LAYER_NONDISTRIBUTABLE_ZSTD",
    "OCI_LAYER_ZSTD",
    "OCI_LAYOUT_HEADER",
    "OCI_MANIFEST",
    "SCHEMA1_TYPES",
    "is_config",
    "is_index",
    "is_layer",
    "is_manifest",
    "is_nondistributable",
    "is_schema1",
]

OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY: Final = "application/vnd.oci.empty.v1+json"
OCI_LAYOUT_HEADER: Final = "application/vnd.oci.layout.header.v1+json"
OCI_LAYER: Final = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD: Final = "application/vnd.oci.image.layer.v1.tar+zstd"
#: Deprecated since image-spec v1.1.0, but in images still served (Windows base layers).
OCI_LAYER_NONDISTRIBUTABLE: Final = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDISTRIBUTABLE_GZIP: Final = (
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
)
OCI_LAYER_NONDISTRIBUTABLE_ZSTD: Final = (
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
)
#: Only in image-spec v1.1.0-rc1/rc2, never released; recognized so it can be refused clearly.
OCI_ARTIFACT_MANIFEST: Final = "application/vnd.oci.artifact.manifest.v1+json"

DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_PLUGIN_CONFIG: Final = "application/vnd.docker.plugin.v1+json"
DOCKER_LAYER: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_TAR: Final = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_FOREIGN_LAYER: Final = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v1+prettyjws"

#: Annotations buildx puts on the index entry of an attestation manifest (provenance, SBOM):
#: its platform is ``unknown/unknown`` and it names the image it describes by digest.
ANNOTATION_REFERENCE_TYPE: Final = "vnd.docker.reference.type"
ANNOTATION_REFERENCE_DIGEST: Final = "vnd.docker.reference.digest"
ATTESTATION_MANIFEST: Final = "attestation-manifest"
IN_TOTO_LAYER: Final = "application/vnd.in-toto+json"
#: The ``artifactType`` BuildKit gives an attestation manifest it stores as an OCI 1.1
#: referrer of its image (``oci-artifact=true``): the form ``--attestations referrers``
#: writes.
ATTESTATION_ARTIFACT: Final = "application/vnd.docker.attestation.manifest.v1+json"
#: OCI layout: the tag of an ``index.json`` entry.
ANNOTATION_REF_NAME: Final = "org.opencontainers.image.ref.name"

INDEX_TYPES: Final = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES: Final = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
SCHEMA1_TYPES: Final = frozenset({DOCKER_SCHEMA1_MANIFEST, DOCKER_SCHEMA1_SIGNED_MANIFEST})
#: Layers a registry need not hold: their descriptor names the ``urls`` they come from
#: (Windows base layers, on mcr.microsoft.com), and copies leave them out unless asked.
NONDISTRIBUTABLE_TYPES: Final = frozenset(
    {
        DOCKER_FOREIGN_LAYER,
        OCI_LAYER_NONDISTRIBUTABLE,
        OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
    }
)

#: What a client sends to get any manifest or index, most wanted first. Schema 1 is not
#: asked for: a registry that only has schema 1 answers with it anyway, and we refuse it.
ACCEPT_MANIFESTS: Final = (
    OCI_INDEX,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    DOCKER_MANIFEST,
)

_LAYER_PREFIXES: Final = (
    "application/vnd.oci.image.layer.",
    "application/vnd.docker.image.rootfs.",
    "application/vnd.docker.container.image.rootfs.",
)


def is_index(media_type: str) -> bool:
    """A multi-platform list: Docker manifest list or OCI image index."""
    return media_type in INDEX_TYPES


def is_manifest(media_type: str) -> bool:
    """A single image manifest, Docker v2.2 or OCI (artifacts use the OCI manifest too)."""
    return media_type in MANIFEST_TYPES


def is_schema1(media_type: str) -> bool:
    """A Docker schema 1 manifest, deprecated and removed from distribution v3."""
    return media_type in SCHEMA1_TYPES


def is_config(media_type: str) -> bool:
    """An image configuration blob, the only config type whose platform we read."""
    return media_type in (OCI_CONFIG, DOCKER_CONFIG)


def is_layer(media_type: str) -> bool:
    """A filesystem layer blob of any compression, distributable or not."""
    return media_type.startswith(_LAYER_PREFIXES)


def is_nondistributable(media_type: str) -> bool:
    """A layer that may not be pushed: Docker's foreign layer, OCI's non-distributable
    ones (deprecated by image-spec v1.1.0, still found in Windows images)."""
    return media_type in NONDISTRIBUTABLE_TYPES
