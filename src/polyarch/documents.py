"""Reading the JSON of manifests, indexes, descriptors and configs the way Go does, and
the errors of what is not one: the field names of the Go structs containerd, docker and
skopeo read them into, and the refusal of whatever Go would read otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from polyarch.errors import AmbiguousDocumentError, InvalidManifestError
from polyarch.jsonread import AmbiguousJSONError, Fields, loads

__all__ = [
    "CONFIG_FIELDS",
    "DESCRIPTOR_FIELDS",
    "DOCUMENT_FIELDS",
    "MAX_MANIFEST_SIZE",
    "PLATFORM_FIELDS",
    "ambiguous",
    "check_fields",
    "check_index_fields",
    "invalid",
    "load_document",
]

#: Registries commonly refuse manifests above 4 MiB; reading more is never needed and a
#: hostile registry must not make us buffer an endless body.
MAX_MANIFEST_SIZE: Final = 4 * 1024 * 1024

# The JSON fields of the Go structs containerd, docker and skopeo read these documents
# into (OCI image-spec ``specs-go/v1``; distribution's ``schema2`` and ``manifestlist``):
# a key Go would take for one of them must be spelled as it is (see polyarch.jsonread).
#: Manifests and indexes alike: containerd reads both into one struct to tell them apart.
DOCUMENT_FIELDS: Final = Fields(
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
DESCRIPTOR_FIELDS: Final = Fields(
    ("mediaType", "digest", "size", "urls", "annotations", "data", "platform", "artifactType")
)
#: Docker's manifest-list platform adds ``features`` to the OCI fields.
PLATFORM_FIELDS: Final = Fields(
    ("architecture", "os", "os.version", "os.features", "variant", "features")
)
CONFIG_FIELDS: Final = Fields(
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


def invalid(what: str, problem: str) -> InvalidManifestError:
    return InvalidManifestError(f"invalid {what}: {problem}")


def ambiguous(
    what: str, problem: str, *, key: str | None = None, field: str | None = None
) -> AmbiguousDocumentError:
    return AmbiguousDocumentError(
        f"ambiguous document: {what} {problem}; refusing it", key=key, field=field
    )


def check_fields(document: Mapping[str, object], fields: Fields, what: str) -> None:
    """Refuse a key that Go would read as one of ``fields`` although spelled otherwise.

    :raises AmbiguousDocumentError: naming the key and the field.
    """
    found = fields.misspelled(document)
    if found is not None:
        key, field = found
        raise ambiguous(
            what,
            f"has the key {key!r}, which Go's decoder (containerd, docker, skopeo) reads as "
            f"{field!r}",
            key=key,
            field=field,
        )


def load_document(data: bytes, what: str, *, limit: int = MAX_MANIFEST_SIZE) -> dict[str, Any]:
    """A JSON object read as Go reads it (:mod:`polyarch.jsonread`).

    :raises AmbiguousDocumentError: JSON that Go would read otherwise.
    :raises InvalidManifestError: over ``limit`` bytes, not JSON, or not an object.
    """
    if len(data) > limit:
        raise invalid(what, f"{len(data)} bytes is over the {limit} byte limit")
    try:
        doc = loads(data)
    except AmbiguousJSONError as err:
        raise ambiguous(f"the {what}", str(err), key=err.key) from err
    except ValueError as err:
        raise invalid(what, f"not JSON ({err})") from err
    if not isinstance(doc, dict):
        raise invalid(what, "expected a JSON object")
    return doc


def check_index_fields(document: Mapping[str, object], what: str) -> None:
    """Refuse an index document (a layout's ``index.json``) with a key Go would read as
    one of its fields although spelled otherwise.

    :raises AmbiguousDocumentError: naming the key.
    """
    check_fields(document, DOCUMENT_FIELDS, what)
