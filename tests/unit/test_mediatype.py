"""polyarch.mediatype against the OCI and Docker media-type table of ``mediatypes.json``.

Every media type of the table runs under its own string as test id. Its ``category``
and ``status`` say what each predicate must answer; the only exceptions are written down
in ``EXPECTED_EXCEPTIONS`` with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from polyarch import mediatype as mt

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
TABLE: dict[str, Any] = json.loads((VECTORS / "mediatypes.json").read_text("utf-8"))
MEDIA_TYPES: list[dict[str, Any]] = TABLE["media_types"]
BY_TYPE = {entry["media_type"]: entry for entry in MEDIA_TYPES}

PREDICATES = ("is_index", "is_manifest", "is_config", "is_layer", "is_schema1")

# Where polyarch's answer is not simply the category's:
EXPECTED_EXCEPTIONS: dict[str, dict[str, bool]] = {
    # The plugin config is a config blob, but not an image config: it has no platform
    # fields, and is_config means "an image configuration whose platform we read".
    mt.DOCKER_PLUGIN_CONFIG: {"is_config": False},
}


def expected_predicates(entry: dict[str, Any]) -> dict[str, bool]:
    category, status = entry["category"], entry["status"]
    schema1 = entry["family"] == "docker" and "removed from distribution v3" in status
    expected = {
        "is_index": category == "index",
        # Only current single-image manifests; schema 1 and the never-released artifact
        # manifest are recognized only to be refused.
        "is_manifest": category == "manifest" and status == "current",
        "is_config": category == "config",
        # Every layer, whatever its compression, distributable or not, even schema 1's.
        "is_layer": category == "layer",
        "is_schema1": category == "manifest" and schema1,
    }
    expected.update(EXPECTED_EXCEPTIONS.get(entry["media_type"], {}))
    return expected


def test_table_is_complete() -> None:
    assert len(MEDIA_TYPES) == TABLE["count"]
    assert len(BY_TYPE) == TABLE["count"]
    assert {e["category"] for e in MEDIA_TYPES} <= set(TABLE["categories"])
    assert set(EXPECTED_EXCEPTIONS) <= set(BY_TYPE)


@pytest.mark.parametrize("entry", [pytest.param(e, id=e["media_type"]) for e in MEDIA_TYPES])
def test_classification(entry: dict[str, Any]) -> None:
    media_type = entry["media_type"]
    actual = {name: getattr(mt, name)(media_type) for name in PREDICATES}
    assert actual == expected_predicates(entry)
    # At most one of the content kinds; schema 1 manifests are not "manifests".
    assert sum(actual.values()) <= 1


@pytest.mark.parametrize(
    "media_type",
    [
        "",
        "application/json",
        "application/octet-stream",
        "application/vnd.oci.image.index.v1+json; charset=utf-8",
        "APPLICATION/VND.OCI.IMAGE.INDEX.V1+JSON",
        "application/vnd.in-toto+json",
        "application/vnd.oci.image.config.v1+json+extra",
    ],
)
def test_other_strings_are_nothing(media_type: str) -> None:
    # Predicates compare exact strings; the caller strips Content-Type parameters.
    assert not any(getattr(mt, name)(media_type) for name in PREDICATES)


# Constant name -> the spec string, as the table (and the specs it cites) spell it.
CONSTANTS = {
    "OCI_INDEX": "application/vnd.oci.image.index.v1+json",
    "OCI_MANIFEST": "application/vnd.oci.image.manifest.v1+json",
    "OCI_CONFIG": "application/vnd.oci.image.config.v1+json",
    "OCI_EMPTY": "application/vnd.oci.empty.v1+json",
    "OCI_LAYOUT_HEADER": "application/vnd.oci.layout.header.v1+json",
    "OCI_LAYER": "application/vnd.oci.image.layer.v1.tar",
    "OCI_LAYER_GZIP": "application/vnd.oci.image.layer.v1.tar+gzip",
    "OCI_LAYER_ZSTD": "application/vnd.oci.image.layer.v1.tar+zstd",
    "OCI_ARTIFACT_MANIFEST": "application/vnd.oci.artifact.manifest.v1+json",
    "DOCKER_MANIFEST": "application/vnd.docker.distribution.manifest.v2+json",
    "DOCKER_MANIFEST_LIST": "application/vnd.docker.distribution.manifest.list.v2+json",
    "DOCKER_CONFIG": "application/vnd.docker.container.image.v1+json",
    "DOCKER_PLUGIN_CONFIG": "application/vnd.docker.plugin.v1+json",
    "DOCKER_LAYER": "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "DOCKER_LAYER_TAR": "application/vnd.docker.image.rootfs.diff.tar",
    "DOCKER_FOREIGN_LAYER": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "DOCKER_SCHEMA1_MANIFEST": "application/vnd.docker.distribution.manifest.v1+json",
    "DOCKER_SCHEMA1_SIGNED_MANIFEST": "application/vnd.docker.distribution.manifest.v1+prettyjws",
}


@pytest.mark.parametrize(("name", "value"), CONSTANTS.items(), ids=list(CONSTANTS))
def test_constants_equal_spec_strings(name: str, value: str) -> None:
    assert getattr(mt, name) == value
    assert value in BY_TYPE, "every constant is a media type of the table"


def test_go_constants_of_the_table_are_defined() -> None:
    defined = {getattr(mt, name) for name in mt.__all__ if isinstance(getattr(mt, name), str)}
    # Every current OCI type polyarch uses is there; the descriptor type and the
    # non-distributable layers (deprecated) need no constant.
    for entry in MEDIA_TYPES:
        if entry["family"] == "oci" and entry["status"] == "current":
            if entry["category"] == "descriptor":
                continue
            assert entry["media_type"] in defined, entry["media_type"]


def test_type_sets() -> None:
    assert {m for m, e in BY_TYPE.items() if e["category"] == "index"} == mt.INDEX_TYPES
    assert {
        m for m, e in BY_TYPE.items() if e["category"] == "manifest" and e["status"] == "current"
    } == mt.MANIFEST_TYPES
    assert {mt.DOCKER_SCHEMA1_MANIFEST, mt.DOCKER_SCHEMA1_SIGNED_MANIFEST} == mt.SCHEMA1_TYPES
    assert not mt.INDEX_TYPES & mt.MANIFEST_TYPES
    assert not (mt.INDEX_TYPES | mt.MANIFEST_TYPES) & mt.SCHEMA1_TYPES


def test_accept_manifests() -> None:
    accept = mt.ACCEPT_MANIFESTS
    assert set(accept) == mt.INDEX_TYPES | mt.MANIFEST_TYPES
    assert len(accept) == len(set(accept)) == 4
    # distribution v3 registers exactly these four manifest schemas.
    registered = TABLE["usage_rules"]["distribution_v3_registered_manifest_types"]["list"]
    assert set(accept) == set(registered)
    # Indexes are asked for before single manifests, and schema 1 never.
    assert {accept[0], accept[1]} == mt.INDEX_TYPES
    assert not set(accept) & mt.SCHEMA1_TYPES
    assert mt.OCI_ARTIFACT_MANIFEST not in accept


def test_empty_descriptor_media_type() -> None:
    empty = TABLE["empty_descriptor"]
    assert empty["mediaType"] == mt.OCI_EMPTY
    assert not mt.is_config(mt.OCI_EMPTY)
    assert not mt.is_layer(mt.OCI_EMPTY)


def test_annotation_constants() -> None:
    assert mt.ANNOTATION_REFERENCE_TYPE == "vnd.docker.reference.type"
    assert mt.ANNOTATION_REFERENCE_DIGEST == "vnd.docker.reference.digest"
    assert mt.ATTESTATION_MANIFEST == "attestation-manifest"
    assert mt.ANNOTATION_REF_NAME == "org.opencontainers.image.ref.name"
    assert mt.IN_TOTO_LAYER == "application/vnd.in-toto+json"


def test_nondistributable_layers_are_the_ones_that_may_not_be_pushed() -> None:
    # The table says so in its words: "should never be pushed", "distribution restrictions".
    expected = {
        entry["media_type"]
        for entry in MEDIA_TYPES
        if entry["category"] == "layer"
        and ("never be pushed" in entry["meaning"] or "restrictions" in entry["meaning"])
    }
    assert expected == {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
    assert {e["media_type"] for e in MEDIA_TYPES if mt.is_nondistributable(e["media_type"])} == (
        expected
    )
    assert expected == mt.NONDISTRIBUTABLE_TYPES
    assert all(mt.is_layer(media_type) for media_type in expected)
