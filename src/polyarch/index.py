"""Build manifest lists and indexes: pure functions from entries to exact bytes.

A list is serialized the way ``docker manifest push`` serializes it (distribution's
``manifestlist.FromDescriptors``), so that the same entries give the same bytes and thus
the same digest as docker:

- three-space indentation (Go ``json.MarshalIndent``), no trailing newline;
- entry fields in the order ``mediaType, size, digest, urls, annotations, platform``;
- ``platform`` always present, ``architecture`` and ``os`` always written, then
  ``os.version``, ``os.features``, ``variant`` when set;
- an OCI image index when the first entry is an OCI manifest, else a Docker manifest
  list. polyarch adds one rule: a list with annotations of its own, or entries with
  annotations (attestations), is an OCI index, as a Docker list has no annotations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from polyarch import gojson
from polyarch import mediatype as mt
from polyarch.errors import InvalidInputError
from polyarch.models import Descriptor, ImageIndex, parse_manifest
from polyarch.platform import Platform

__all__ = [
    "ListFormat",
    "build_index",
    "choose_media_type",
    "edited_index",
    "entry_json",
    "index_document",
]

ListFormat = Literal["docker", "oci"]

_UNKNOWN = Platform(os="unknown", architecture="unknown")


def choose_media_type(
    entries: Sequence[Descriptor],
    format: ListFormat | None = None,
    *,
    annotations: Mapping[str, str] | None = None,
) -> str:
    """The media type docker would give a list of ``entries`` (or the one ``format`` asks).

    :param annotations: the list's own annotations, which only an OCI index has.
    :raises InvalidInputError: ``format="docker"`` for a list or entries with annotations.
    """
    if format == "oci":
        return mt.OCI_INDEX
    annotated = bool(annotations) or any(e.annotations for e in entries)
    if format == "docker":
        if annotated:
            what = "annotations" if annotations else "annotated entries (attestations)"
            raise InvalidInputError(
                f"a Docker manifest list has no annotations, and this list has {what}",
                hint="push it as an OCI index (--format oci), or drop the annotations",
            )
        return mt.DOCKER_MANIFEST_LIST
    if annotated or (entries and entries[0].media_type == mt.OCI_MANIFEST):
        return mt.OCI_INDEX
    return mt.DOCKER_MANIFEST_LIST


def entry_json(entry: Descriptor) -> dict[str, Any]:
    """An index entry's JSON as docker writes it (fields in its order, keys sorted)."""
    out: dict[str, Any] = {"mediaType": entry.media_type, "size": entry.size}
    out["digest"] = str(entry.digest)
    if entry.urls:
        out["urls"] = list(entry.urls)
    if entry.annotations:
        out["annotations"] = dict(sorted(entry.annotations.items()))  # Go sorts map keys
    out["platform"] = (entry.platform or _UNKNOWN).to_dict()
    return out


def build_index(
    entries: Sequence[Descriptor],
    *,
    format: ListFormat | None = None,
    annotations: Mapping[str, str] | None = None,
) -> ImageIndex:
    """The manifest list (or OCI index) of ``entries``, in docker's exact serialization;
    ``annotations`` last, as the OCI Go struct writes them (keys sorted)."""
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": choose_media_type(entries, format, annotations=annotations),
        "manifests": [entry_json(entry) for entry in entries],
    }
    if annotations:
        document["annotations"] = dict(sorted(annotations.items()))
    index = parse_manifest(gojson.marshal_indent(document, "   "))
    assert isinstance(index, ImageIndex)
    return index


def index_document(index: ImageIndex) -> dict[str, Any]:
    """The JSON of ``index``, to change and write back with :func:`edited_index`
    (numbers kept as spelled: :func:`polyarch.gojson.load_as_spelled`)."""
    document: dict[str, Any] = gojson.load_as_spelled(index.raw)
    return document


def edited_index(document: Mapping[str, Any]) -> ImageIndex:
    """The index of ``document`` (from :func:`index_document`), written as docker writes."""
    index = parse_manifest(gojson.marshal_indent(document, "   "))
    assert isinstance(index, ImageIndex)
    return index
