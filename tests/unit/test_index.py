"""polyarch.index.build_index: a manifest list in docker's exact bytes.

``tests/vectors/docker_lists.json`` holds lists the real ``docker manifest push`` (Docker
CLI 28.2.2) pushed to a registry, read back with ``skopeo inspect --raw``: the entries in
docker's order and the exact bytes. ``build_index`` must give the same bytes, hence the
same digest. The remaining tests state the rules those bytes follow.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.errors import InvalidInputError
from polyarch.index import build_index, choose_media_type
from polyarch.models import Descriptor, ImageIndex, parse_manifest
from polyarch.platform import Platform

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
DOCKER_LISTS: dict[str, Any] = json.loads((VECTORS / "docker_lists.json").read_text("utf-8"))

ATTESTATION = {
    mt.ANNOTATION_REFERENCE_TYPE: mt.ATTESTATION_MANIFEST,
    mt.ANNOTATION_REFERENCE_DIGEST: "sha256:" + "a" * 64,
}


def digest(seed: str) -> Digest:
    return Digest.of(seed.encode())


def entry(
    media_type: str = mt.DOCKER_MANIFEST,
    *,
    seed: str = "x",
    platform: Platform | None = None,
    annotations: dict[str, str] | None = None,
    urls: tuple[str, ...] = (),
) -> Descriptor:
    return Descriptor(
        media_type,
        digest(seed),
        100 + len(seed),
        platform=platform if platform is not None else Platform("linux", "amd64"),
        annotations=annotations or {},
        urls=urls,
    )


def doc(index: ImageIndex) -> Any:
    return json.loads(index.raw)


@pytest.mark.parametrize("case", DOCKER_LISTS["cases"], ids=lambda c: c["name"])
def test_same_bytes_as_docker_manifest_push(case: dict[str, Any]) -> None:
    entries = [Descriptor.from_dict(e) for e in case["entries"]]
    index = build_index(entries)
    assert index.raw == case["bytes"].encode()
    assert index.digest == case["digest"]
    assert index.digest == "sha256:" + hashlib.sha256(index.raw).hexdigest()


def test_result_is_a_parsed_index_of_the_entries() -> None:
    entries = [
        entry(seed="a"),
        entry(mt.OCI_MANIFEST, seed="b", platform=Platform("linux", "s390x")),
    ]
    index = build_index(entries)
    assert isinstance(index, ImageIndex)
    assert index == parse_manifest(index.raw)
    assert [d.digest for d in index.manifests] == [e.digest for e in entries]
    assert [d.platform for d in index.manifests] == [e.platform for e in entries]


def test_field_order() -> None:
    platform = Platform(
        "windows", "arm64", variant="v8", os_version="10.0.26100.1742", os_features=("win32k",)
    )
    index = build_index(
        [entry(mt.OCI_MANIFEST, platform=platform, annotations=ATTESTATION, urls=("https://u",))]
    )
    top = doc(index)
    assert list(top) == ["schemaVersion", "mediaType", "manifests"]
    (first,) = top["manifests"]
    assert list(first) == ["mediaType", "size", "digest", "urls", "annotations", "platform"]
    assert list(first["platform"]) == ["architecture", "os", "os.version", "os.features", "variant"]


def test_three_space_indent_and_no_trailing_newline() -> None:
    raw = build_index([entry()]).raw
    assert raw.startswith(b'{\n   "schemaVersion": 2,\n   "mediaType": ')
    assert b'\n      {\n         "mediaType": ' in raw
    assert raw.endswith(b"\n   ]\n}")


def test_annotations_sorted_by_key_and_html_escaped() -> None:
    index = build_index([entry(annotations={"z": "<b>", "a": "x&y", "m": "1"})])
    assert list(doc(index)["manifests"][0]["annotations"]) == ["a", "m", "z"]
    assert b'"z": "\\u003cb\\u003e"' in index.raw
    assert b'"a": "x\\u0026y"' in index.raw


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        pytest.param([], mt.DOCKER_MANIFEST_LIST, id="empty"),
        pytest.param([mt.DOCKER_MANIFEST], mt.DOCKER_MANIFEST_LIST, id="docker"),
        pytest.param([mt.OCI_MANIFEST], mt.OCI_INDEX, id="oci"),
        pytest.param(
            [mt.DOCKER_MANIFEST, mt.OCI_MANIFEST], mt.DOCKER_MANIFEST_LIST, id="docker-first"
        ),
        pytest.param([mt.OCI_MANIFEST, mt.DOCKER_MANIFEST], mt.OCI_INDEX, id="oci-first"),
        # Only the first entry counts; an index entry first is not an OCI *manifest*.
        pytest.param([mt.OCI_INDEX, mt.OCI_MANIFEST], mt.DOCKER_MANIFEST_LIST, id="index-first"),
    ],
)
def test_media_type_follows_the_first_entry(types: list[str], expected: str) -> None:
    entries = [entry(t, seed=str(i)) for i, t in enumerate(types)]
    assert choose_media_type(entries) == expected
    index = build_index(entries)
    assert index.media_type == expected
    assert doc(index)["mediaType"] == expected


def test_annotations_anywhere_force_an_oci_index() -> None:
    entries = [entry(seed="a"), entry(seed="b", annotations=ATTESTATION)]
    assert build_index(entries).media_type == mt.OCI_INDEX


@pytest.mark.parametrize("first", [mt.DOCKER_MANIFEST, mt.OCI_MANIFEST])
def test_format_overrides_the_rule(first: str) -> None:
    entries = [entry(first)]
    assert build_index(entries, format="oci").media_type == mt.OCI_INDEX
    assert build_index(entries, format="docker").media_type == mt.DOCKER_MANIFEST_LIST


def test_format_docker_with_annotations_is_an_input_error() -> None:
    with pytest.raises(InvalidInputError, match="annotations") as caught:
        build_index([entry(), entry(seed="b", annotations=ATTESTATION)], format="docker")
    assert caught.value.exit_code == 2
    assert caught.value.hint is not None
    assert "--format oci" in caught.value.hint
    # Annotations are fine in an OCI index, asked for or not.
    assert build_index([entry(annotations=ATTESTATION)], format="oci").media_type == mt.OCI_INDEX


@pytest.mark.parametrize(
    "platform",
    [
        None,
        Platform("linux", "amd64"),
        Platform("linux", "arm", variant="v7"),
        Platform("windows", "amd64", os_version="10.0.17763.5458"),
    ],
    ids=str,
)
def test_platform_always_present_with_architecture_and_os(platform: Platform | None) -> None:
    descriptor = Descriptor(mt.OCI_MANIFEST, digest("p"), 1, platform=platform)
    written = doc(build_index([descriptor]))["manifests"][0]["platform"]
    assert list(written)[:2] == ["architecture", "os"]
    if platform is None:
        assert written == {"architecture": "unknown", "os": "unknown"}
    else:
        assert Platform.from_dict(written) == platform


def test_empty_optional_platform_fields_are_left_out() -> None:
    written = doc(build_index([entry(platform=Platform("linux", "amd64"))]))["manifests"][0]
    assert written["platform"] == {"architecture": "amd64", "os": "linux"}
    assert "urls" not in written
    assert "annotations" not in written


def test_same_entries_same_bytes_in_given_order() -> None:
    a, b = entry(seed="a"), entry(seed="b", platform=Platform("linux", "386"))
    assert build_index([a, b]).raw == build_index([a, b]).raw
    assert build_index([a, b]).digest != build_index([b, a]).digest  # no sorting here


def test_index_annotations_come_last_sorted_and_make_an_oci_index() -> None:
    index = build_index([entry()], annotations={"z": "1", "a": "<2>"})
    assert index.media_type == mt.OCI_INDEX  # the entry alone gives a Docker list
    assert list(doc(index)) == ["schemaVersion", "mediaType", "manifests", "annotations"]
    assert list(doc(index)["annotations"]) == ["a", "z"]
    assert b'"a": "\\u003c2\\u003e"' in index.raw  # escaped as Go escapes
    assert index.annotations == {"a": "<2>", "z": "1"}
    with pytest.raises(InvalidInputError, match="has no annotations"):
        build_index([entry()], format="docker", annotations={"a": "b"})
    assert build_index([entry()], annotations={}).media_type == mt.DOCKER_MANIFEST_LIST
