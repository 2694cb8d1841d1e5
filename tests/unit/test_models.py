"""polyarch.models: manifests, indexes, configs and descriptors parsed from the bytes they keep.

Documents here have the shapes real registries serve (the examples of Docker's
manifest-v2-2.md and the OCI image spec, a ``docker buildx`` index with attestations).
The descriptor cases of ``digest.json`` and ``mediatypes.json`` (image-spec
``TestDescriptor``) run under their upstream ``id``. Every failure must be a polyarch
error with exit code 6 (bad content), never a stray ``KeyError`` or ``ValueError``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.errors import (
    AmbiguousDocumentError,
    ContentError,
    DigestMismatchError,
    InvalidManifestError,
    PolyarchError,
    UnsupportedMediaTypeError,
)
from polyarch.models import (
    MAX_MANIFEST_SIZE,
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    parse_manifest,
)
from polyarch.platform import Platform

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
DIGESTS: dict[str, Any] = json.loads((VECTORS / "digest.json").read_text("utf-8"))
MEDIA: dict[str, Any] = json.loads((VECTORS / "mediatypes.json").read_text("utf-8"))

Doc = dict[str, Any]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dump(doc: object) -> bytes:
    return json.dumps(doc, indent=3).encode()


def fake_digest(seed: str) -> str:
    return sha256(seed.encode())


def expect(
    error: type[ContentError], data: bytes, media_type: str | None = None, **kwargs: Any
) -> ContentError:
    """``parse_manifest`` must raise ``error``, a content error with exit code 6."""
    with pytest.raises(error) as info:
        parse_manifest(data, media_type, **kwargs)
    err = info.value
    assert isinstance(err, ContentError)
    assert err.exit_code == 6
    assert str(err)
    assert "\n" not in str(err)
    return err


# --------------------------------------------------------------------------------------
# Real-shaped documents

# docs/content/spec/manifest-v2-2.md, "Example Image Manifest" (+ a foreign layer).
DOCKER_MANIFEST: Doc = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {
        "mediaType": "application/vnd.docker.container.image.v1+json",
        "size": 7023,
        "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
    },
    "layers": [
        {
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": 32654,
            "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
        },
        {
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": 16724,
            "digest": "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b",
        },
        {
            "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            "size": 73109,
            "digest": "sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736",
            "urls": ["https://mcr.microsoft.com/v2/windows/servercore/blobs/sha256:ec4b"],
        },
    ],
}

# manifest-v2-2.md, "Example Manifest List".
DOCKER_LIST: Doc = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests": [
        {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "size": 7143,
            "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
            "platform": {"architecture": "ppc64le", "os": "linux"},
        },
        {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "size": 7682,
            "digest": "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
            "platform": {"architecture": "amd64", "os": "linux", "features": ["sse4"]},
        },
    ],
}

# image-spec manifest.md example, with an artifactType, a subject and a layer with urls.
OCI_MANIFEST: Doc = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "artifactType": "application/vnd.example+type",
    "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
        "size": 7023,
    },
    "layers": [
        {
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0",
            "size": 32654,
            "annotations": {"org.opencontainers.image.title": "base.tar.gz"},
        },
        {
            "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            "digest": "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b",
            "size": 16724,
            "urls": ["https://example.com/blobs/3c3a", "https://mirror.example.com/3c3a"],
        },
    ],
    "subject": {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
        "size": 7682,
    },
    "annotations": {"com.example.key1": "value1", "com.example.key2": "value2"},
}

# image-spec image-index.md example, plus index-level subject and artifactType.
OCI_INDEX: Doc = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "artifactType": "application/vnd.example.index",
    "manifests": [
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": 7143,
            "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
            "platform": {"architecture": "ppc64le", "os": "linux"},
        },
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": 7682,
            "digest": "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"org.opencontainers.image.ref.name": "1.0"},
        },
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": 5021,
            "digest": "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0",
            "platform": {
                "architecture": "amd64",
                "os": "windows",
                "os.version": "10.0.17763.1577",
                "os.features": ["win32k"],
            },
            "urls": ["https://example.com/manifests/9834"],
        },
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": 1024,
            "digest": "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
            "artifactType": "application/vnd.example.sbom",
        },
    ],
    "subject": {
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": "sha256:2690af59371e9eca9453dc29882643f46e5ca47ec2862bd517b5e17351325153",
        "size": 34,
    },
    "annotations": {"com.example.key1": "value1"},
}

# docker buildx: two images, each with an attestation manifest (provenance/SBOM).
AMD64 = fake_digest("amd64 image")
ARM64 = fake_digest("arm64 image")
AMD64_ATT = fake_digest("amd64 attestation")
ARM64_ATT = fake_digest("arm64 attestation")


def attestation_entry(digest: str, of: str) -> Doc:
    return {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "size": 566,
        "annotations": {
            "vnd.docker.reference.digest": of,
            "vnd.docker.reference.type": "attestation-manifest",
        },
        "platform": {"architecture": "unknown", "os": "unknown"},
    }


BUILDX_INDEX: Doc = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": AMD64,
            "size": 1054,
            "platform": {"architecture": "amd64", "os": "linux"},
        },
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": ARM64,
            "size": 1054,
            "platform": {"architecture": "arm64", "os": "linux"},
        },
        attestation_entry(AMD64_ATT, AMD64),
        attestation_entry(ARM64_ATT, ARM64),
    ],
}

SCHEMA1: Doc = {
    "schemaVersion": 1,
    "name": "library/hello-world",
    "tag": "latest",
    "architecture": "amd64",
    "fsLayers": [
        {"blobSum": "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"}
    ],
    "history": [{"v1Compatibility": "{}"}],
}


def test_docker_manifest() -> None:
    raw = dump(DOCKER_MANIFEST)
    manifest = parse_manifest(raw, mt.DOCKER_MANIFEST)
    assert isinstance(manifest, ImageManifest)
    assert not manifest.is_index
    assert manifest.raw == raw
    assert manifest.digest == sha256(raw)
    assert isinstance(manifest.digest, Digest)
    assert manifest.size == len(raw)
    assert manifest.media_type == mt.DOCKER_MANIFEST
    assert manifest.config == Descriptor(
        mt.DOCKER_CONFIG,
        Digest.parse("sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"),
        7023,
    )
    assert [layer.size for layer in manifest.layers] == [32654, 16724, 73109]
    assert manifest.layers[2].media_type == mt.DOCKER_FOREIGN_LAYER
    assert manifest.layers[2].urls == tuple(DOCKER_MANIFEST["layers"][2]["urls"])
    assert manifest.blobs == (manifest.config, *manifest.layers)
    assert all(mt.is_layer(layer.media_type) for layer in manifest.layers)
    assert manifest.subject is None
    assert manifest.artifact_type is None
    assert dict(manifest.annotations) == {}
    platform = Platform("linux", "amd64")
    assert manifest.descriptor(platform=platform) == Descriptor(
        mt.DOCKER_MANIFEST, manifest.digest, len(raw), platform=platform
    )


def test_docker_manifest_list() -> None:
    raw = dump(DOCKER_LIST)
    index = parse_manifest(raw, mt.DOCKER_MANIFEST_LIST)
    assert isinstance(index, ImageIndex)
    assert index.is_index
    assert index.media_type == mt.DOCKER_MANIFEST_LIST
    assert index.digest == sha256(raw)
    assert index.raw == raw
    assert [d.platform for d in index.manifests] == [
        Platform("linux", "ppc64le"),
        Platform("linux", "amd64"),  # Docker's "features" is ignored
    ]
    assert [d.size for d in index.manifests] == [7143, 7682]
    assert index.images == index.manifests
    assert index.descriptor() == Descriptor(mt.DOCKER_MANIFEST_LIST, index.digest, len(raw))


def test_oci_manifest() -> None:
    raw = dump(OCI_MANIFEST)
    manifest = parse_manifest(raw, mt.OCI_MANIFEST)
    assert isinstance(manifest, ImageManifest)
    assert manifest.media_type == mt.OCI_MANIFEST
    assert manifest.artifact_type == "application/vnd.example+type"
    assert dict(manifest.annotations) == OCI_MANIFEST["annotations"]
    assert manifest.subject == Descriptor.from_dict(OCI_MANIFEST["subject"])
    assert manifest.config.media_type == mt.OCI_CONFIG
    first, second = manifest.layers
    assert dict(first.annotations) == {"org.opencontainers.image.title": "base.tar.gz"}
    assert second.urls == ("https://example.com/blobs/3c3a", "https://mirror.example.com/3c3a")
    assert [layer.to_dict() for layer in manifest.layers] == OCI_MANIFEST["layers"]


def test_oci_index() -> None:
    raw = dump(OCI_INDEX)
    index = parse_manifest(raw, mt.OCI_INDEX)
    assert isinstance(index, ImageIndex)
    assert index.media_type == mt.OCI_INDEX
    assert index.artifact_type == "application/vnd.example.index"
    assert index.subject is not None
    assert index.subject.media_type == mt.OCI_INDEX
    assert dict(index.annotations) == {"com.example.key1": "value1"}
    amd64, windows, artifact = index.manifests[1:]
    assert amd64.annotations[mt.ANNOTATION_REF_NAME] == "1.0"
    assert windows.platform == Platform(
        "windows", "amd64", os_version="10.0.17763.1577", os_features=("win32k",)
    )
    assert windows.urls == ("https://example.com/manifests/9834",)
    assert artifact.platform is None
    assert artifact.artifact_type == "application/vnd.example.sbom"
    assert [d.to_dict() for d in index.manifests] == OCI_INDEX["manifests"]


ODD_BYTES = (
    b'\n\t{ "layers" :[ ] ,"config":{"size":2,\n"digest":'
    b'"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",'
    b'  "mediaType":"application/vnd.oci.empty.v1+json"},'
    b'"mediaType"   :   "application/vnd.oci.image.manifest.v1+json", "schemaVersion":2'
    b',"artifactType":"application/vnd.example.\\u0041"}  \r\n'
)


def test_raw_bytes_are_kept_exactly() -> None:
    manifest = parse_manifest(ODD_BYTES)
    assert manifest.raw == ODD_BYTES
    assert manifest.digest == sha256(ODD_BYTES)
    assert manifest.size == len(ODD_BYTES)
    assert manifest.artifact_type == "application/vnd.example.A"
    # Any re-serialization would have another digest.
    reserialized = json.dumps(json.loads(ODD_BYTES)).encode()
    assert manifest.digest != sha256(reserialized)
    assert parse_manifest(reserialized).digest == sha256(reserialized)


@pytest.mark.parametrize("indent", [None, 0, 2, 3, "\t"])
@pytest.mark.parametrize("doc", [DOCKER_LIST, OCI_INDEX, DOCKER_MANIFEST, OCI_MANIFEST])
def test_digest_is_of_the_exact_bytes(doc: Doc, indent: int | str | None) -> None:
    raw = json.dumps(doc, indent=indent, sort_keys=indent == 2).encode()
    parsed = parse_manifest(raw)
    assert parsed.raw is raw
    assert parsed.digest == sha256(raw)
    assert parse_manifest(raw, digest=sha256(raw)).digest == parsed.digest


def test_equal_documents_parse_equal_and_hash() -> None:
    raw = dump(OCI_INDEX)
    first, second = parse_manifest(raw), parse_manifest(bytes(raw))
    assert first == second
    assert hash(first) == hash(second)
    assert len({d for d in first.manifests}) == len(OCI_INDEX["manifests"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.digest = second.digest  # type: ignore[misc]


# --------------------------------------------------------------------------------------
# Media type: Content-Type header vs the document


@pytest.mark.parametrize(
    ("doc", "header"),
    [
        (DOCKER_MANIFEST, mt.DOCKER_MANIFEST),
        (DOCKER_LIST, mt.DOCKER_MANIFEST_LIST),
        (OCI_MANIFEST, mt.OCI_MANIFEST),
        (OCI_INDEX, mt.OCI_INDEX),
        (OCI_INDEX, f"{mt.OCI_INDEX}; charset=utf-8"),
        (OCI_INDEX, "application/json"),
        (OCI_INDEX, "application/json; charset=utf-8"),
        (OCI_INDEX, "text/plain"),
        (OCI_INDEX, "application/octet-stream"),
        (OCI_INDEX, ""),
        (OCI_INDEX, None),
        (DOCKER_MANIFEST, "application/json"),
    ],
)
def test_media_type_agrees(doc: Doc, header: str | None) -> None:
    # A header that names no manifest type is ignored; the document decides.
    assert parse_manifest(dump(doc), header).media_type == doc["mediaType"]


@pytest.mark.parametrize(
    ("doc", "header"),
    [
        (DOCKER_MANIFEST, mt.OCI_MANIFEST),
        (OCI_MANIFEST, mt.DOCKER_MANIFEST),
        (DOCKER_LIST, mt.OCI_INDEX),
        (OCI_INDEX, mt.DOCKER_MANIFEST_LIST),
        (OCI_INDEX, mt.OCI_MANIFEST),
        (OCI_MANIFEST, mt.OCI_INDEX),
    ],
)
def test_media_type_disagreement(doc: Doc, header: str) -> None:
    err = expect(InvalidManifestError, dump(doc), header)
    assert doc["mediaType"] in str(err)
    assert header in str(err)


@pytest.mark.parametrize(
    ("doc", "header", "detected"),
    [
        (OCI_INDEX, None, mt.OCI_INDEX),
        (OCI_INDEX, "application/json", mt.OCI_INDEX),
        (OCI_MANIFEST, None, mt.OCI_MANIFEST),
        (DOCKER_MANIFEST, None, mt.OCI_MANIFEST),
        # Without mediaType in the body, a manifest Content-Type says what it is.
        (DOCKER_LIST, mt.DOCKER_MANIFEST_LIST, mt.DOCKER_MANIFEST_LIST),
        (DOCKER_MANIFEST, mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST),
    ],
)
def test_missing_media_type(doc: Doc, header: str | None, detected: str) -> None:
    body = {k: v for k, v in doc.items() if k != "mediaType"}
    parsed = parse_manifest(dump(body), header)
    assert parsed.media_type == detected
    assert parsed.is_index is mt.is_index(detected)


def test_missing_media_type_layers_only() -> None:
    body = {"schemaVersion": 2, "layers": []}
    # A document with layers and no config is detected as a manifest, then refused.
    err = expect(InvalidManifestError, dump(body))
    assert "manifest config" in str(err)


def test_missing_media_type_and_no_shape() -> None:
    expect(InvalidManifestError, dump({"schemaVersion": 2}))
    expect(InvalidManifestError, dump({"schemaVersion": 2}), "application/json")


def test_header_of_other_kind_without_body_media_type() -> None:
    # The header says index but the body is shaped like a manifest.
    body = {k: v for k, v in OCI_MANIFEST.items() if k != "mediaType"}
    expect(InvalidManifestError, dump(body), mt.OCI_INDEX)


@pytest.mark.parametrize(
    "declared",
    [mt.OCI_ARTIFACT_MANIFEST, "application/vnd.example.unknown+json", mt.OCI_CONFIG],
)
def test_unknown_declared_media_type(declared: str) -> None:
    doc = {**OCI_MANIFEST, "mediaType": declared}
    err = expect(UnsupportedMediaTypeError, dump(doc))
    assert isinstance(err, UnsupportedMediaTypeError)
    assert err.media_type == declared


def test_artifact_manifest_draft_is_refused_clearly() -> None:
    # image-spec v1.1.0-rc2's artifact manifest: no schemaVersion, "blobs" for layers.
    doc = {
        "mediaType": mt.OCI_ARTIFACT_MANIFEST,
        "artifactType": "application/vnd.example.sbom",
        "blobs": [],
        "subject": OCI_MANIFEST["subject"],
    }
    err = expect(UnsupportedMediaTypeError, dump(doc), mt.OCI_ARTIFACT_MANIFEST)
    assert isinstance(err, UnsupportedMediaTypeError)
    assert err.media_type == mt.OCI_ARTIFACT_MANIFEST
    assert err.hint


# --------------------------------------------------------------------------------------
# Docker schema 1


@pytest.mark.parametrize(
    ("doc", "header"),
    [
        (SCHEMA1, mt.DOCKER_SCHEMA1_MANIFEST),
        (SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED_MANIFEST),
        (SCHEMA1, "application/json"),  # "for schema version 1, the media is optionally"
        (SCHEMA1, None),
        ({**SCHEMA1, "signatures": [{"header": {"alg": "ES256"}, "signature": "x"}]}, None),
        ({k: v for k, v in SCHEMA1.items() if k != "schemaVersion"}, None),
        ({k: v for k, v in SCHEMA1.items() if k != "fsLayers"}, None),
        ({**SCHEMA1, "mediaType": mt.DOCKER_SCHEMA1_MANIFEST}, None),
        ({**SCHEMA1, "mediaType": mt.DOCKER_SCHEMA1_SIGNED_MANIFEST}, "application/json"),
    ],
)
def test_schema1_is_unsupported(doc: Doc, header: str | None) -> None:
    err = expect(UnsupportedMediaTypeError, dump(doc), header)
    assert isinstance(err, UnsupportedMediaTypeError)
    assert mt.is_schema1(err.media_type)
    assert "schema 1" in str(err)
    assert err.hint is not None
    assert "schema 2" in err.hint


# --------------------------------------------------------------------------------------
# Malformed documents


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b" ",
        b"not json",
        b"{",
        b'{"schemaVersion": 2,}',
        b"\xff\xfe\x00",
        b'{"a": "\xff"}',
        b"{'schemaVersion': 2}",
        b"\x00" * 10,
        b"[" * 100_000,  # deeper than the JSON parser's recursion limit
        b'{"schemaVersion": ' + b"1" * 5000 + b"}",  # int longer than Python converts
        b'{"size": ' + b"9" * 5000 + b"}",
    ],
    ids=lambda data: repr(data[:24]),
)
def test_not_json(data: bytes) -> None:
    expect(InvalidManifestError, data)
    expect(InvalidManifestError, data, mt.OCI_INDEX)


@pytest.mark.parametrize("data", [b"[]", b'"x"', b"null", b"2", b"true", b"[{}]"])
def test_not_an_object(data: bytes) -> None:
    err = expect(InvalidManifestError, data)
    assert "object" in str(err)


def test_size_limit() -> None:
    doc = dump(OCI_INDEX)
    at_limit = doc + b" " * (MAX_MANIFEST_SIZE - len(doc))
    assert len(at_limit) == MAX_MANIFEST_SIZE
    assert parse_manifest(at_limit).size == MAX_MANIFEST_SIZE
    over = at_limit + b" "
    err = expect(InvalidManifestError, over)
    assert str(MAX_MANIFEST_SIZE) in str(err)
    with pytest.raises(InvalidManifestError):
        ImageConfig.parse(b"{}" + b" " * MAX_MANIFEST_SIZE)


@pytest.mark.parametrize("version", [3, 0, "2", None, 2.5, [2], {"v": 2}])
@pytest.mark.parametrize("doc", [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST])
def test_schema_version(doc: Doc, version: object) -> None:
    body = {**doc, "schemaVersion": version}
    err = expect(InvalidManifestError, dump(body))
    assert "schemaVersion" in str(err)


def test_schema_version_missing() -> None:
    body = {k: v for k, v in OCI_INDEX.items() if k != "schemaVersion"}
    expect(InvalidManifestError, dump(body))


def without(doc: Doc, key: str) -> Doc:
    return {k: v for k, v in doc.items() if k != key}


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param({**OCI_MANIFEST, "layers": {}}, id="layers-object"),
        pytest.param({**OCI_MANIFEST, "layers": "sha256:abc"}, id="layers-string"),
        pytest.param({**OCI_MANIFEST, "layers": [None]}, id="layer-null"),
        pytest.param({**OCI_MANIFEST, "layers": [[]]}, id="layer-list"),
        pytest.param(without(OCI_MANIFEST, "config"), id="config-missing"),
        pytest.param({**OCI_MANIFEST, "config": None}, id="config-null"),
        pytest.param({**OCI_MANIFEST, "config": "x"}, id="config-string"),
        pytest.param({**OCI_INDEX, "manifests": {}}, id="manifests-object"),
        pytest.param({**OCI_INDEX, "manifests": [1]}, id="manifest-entry-int"),
        pytest.param({**OCI_INDEX, "mediaType": 7}, id="media-type-int"),
        pytest.param({**OCI_INDEX, "mediaType": ["x"]}, id="media-type-list"),
        pytest.param({**OCI_INDEX, "annotations": []}, id="annotations-list"),
        pytest.param({**OCI_INDEX, "annotations": {"a": 1}}, id="annotation-int"),
        pytest.param({**OCI_INDEX, "annotations": "a=b"}, id="annotations-string"),
        pytest.param({**OCI_MANIFEST, "annotations": {"a": None}}, id="annotation-null"),
        pytest.param({**OCI_INDEX, "artifactType": 1}, id="artifact-type-int"),
        pytest.param({**OCI_MANIFEST, "artifactType": {}}, id="artifact-type-object"),
        pytest.param({**OCI_INDEX, "subject": "sha256:abc"}, id="subject-string"),
        pytest.param({**OCI_MANIFEST, "subject": {"digest": AMD64}}, id="subject-incomplete"),
    ],
)
def test_malformed_document(doc: Doc) -> None:
    expect(InvalidManifestError, dump(doc))


GOOD_DESCRIPTOR: Doc = {"mediaType": mt.OCI_MANIFEST, "digest": AMD64, "size": 1}


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"mediaType": None}, id="media-type-null"),
        pytest.param({"mediaType": ""}, id="media-type-empty"),
        pytest.param({"mediaType": 1}, id="media-type-int"),
        pytest.param({"digest": None}, id="digest-null"),
        pytest.param({"digest": 1}, id="digest-int"),
        pytest.param({"digest": "sha256:abc"}, id="digest-short"),
        pytest.param({"digest": AMD64.upper()}, id="digest-uppercase"),
        pytest.param({"digest": AMD64 + "0"}, id="digest-long"),
        pytest.param({"digest": "blake3"}, id="digest-no-encoded"),
        pytest.param({"size": -1}, id="size-negative"),
        pytest.param({"size": 1.0}, id="size-float"),
        pytest.param({"size": "1"}, id="size-string"),
        pytest.param({"size": True}, id="size-bool"),
        pytest.param({"size": None}, id="size-null"),
        pytest.param({"platform": "linux/amd64"}, id="platform-string"),
        pytest.param({"platform": []}, id="platform-list"),
        pytest.param({"platform": {"os": "linux", "architecture": 64}}, id="platform-arch-int"),
        pytest.param({"platform": {"os": "linux", "os.features": "x"}}, id="platform-features"),
        pytest.param({"urls": "https://x"}, id="urls-string"),
        pytest.param({"urls": [1]}, id="urls-int"),
        pytest.param({"urls": {"a": "b"}}, id="urls-object"),
        pytest.param({"annotations": {"a": ["b"]}}, id="annotations-nested"),
        pytest.param({"artifactType": 3}, id="artifact-type-int"),
    ],
)
def test_bad_descriptor_fields(fields: Doc) -> None:
    entry = {**GOOD_DESCRIPTOR, **fields}
    entry = {k: v for k, v in entry.items() if k not in fields or fields[k] is not None}
    with pytest.raises(InvalidManifestError) as info:
        Descriptor.from_dict(entry)
    assert info.value.exit_code == 6
    err = expect(InvalidManifestError, dump({**OCI_INDEX, "manifests": [GOOD_DESCRIPTOR, entry]}))
    assert "index entry 1" in str(err)
    err = expect(InvalidManifestError, dump({**OCI_MANIFEST, "layers": [entry]}))
    assert "layer 0" in str(err)
    expect(InvalidManifestError, dump({**OCI_MANIFEST, "config": entry}))
    expect(InvalidManifestError, dump({**OCI_MANIFEST, "subject": entry}))


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param({**OCI_MANIFEST, "layers": None}, id="layers-null"),
        pytest.param(without(OCI_MANIFEST, "layers"), id="layers-missing"),
        pytest.param({**OCI_INDEX, "manifests": None}, id="manifests-null"),
        pytest.param(without(OCI_INDEX, "manifests"), id="manifests-missing"),
    ],
)
def test_a_null_or_missing_list_is_empty_as_go_reads_it(doc: Doc) -> None:
    parsed = parse_manifest(dump(doc))
    if isinstance(parsed, ImageManifest):
        assert parsed.layers == ()
        assert parsed.blobs == (parsed.config,)
    else:
        assert isinstance(parsed, ImageIndex)
        assert parsed.manifests == ()


@pytest.mark.parametrize("name", ["mediaType", "digest", "size"])
def test_a_missing_descriptor_field_is_named(name: str) -> None:
    for entry in ({**GOOD_DESCRIPTOR, name: None}, without(GOOD_DESCRIPTOR, name)):
        err = expect(InvalidManifestError, dump({**OCI_MANIFEST, "layers": [entry]}))
        assert str(err) == f"invalid layer 0: it has no {name}"
        assert "None" not in str(err)


def test_a_missing_config_is_named() -> None:
    err = expect(InvalidManifestError, dump(without(OCI_MANIFEST, "config")))
    assert str(err) == "invalid manifest config: it is missing"


@pytest.mark.parametrize(
    ("doc", "stored_as"),
    [
        (OCI_MANIFEST, mt.DOCKER_MANIFEST),
        (DOCKER_MANIFEST, mt.OCI_MANIFEST),
        (OCI_INDEX, mt.DOCKER_MANIFEST_LIST),
        (DOCKER_LIST, mt.OCI_INDEX),
    ],
)
def test_a_stored_descriptor_may_name_another_type_of_the_same_kind(
    doc: Doc, stored_as: str
) -> None:
    """containerd reads go-containerregistry's test layouts, whose index.json says Docker v2
    for OCI manifests: the document's own type wins."""
    assert parse_manifest(dump(doc), stored_as, stored=True).media_type == doc["mediaType"]


@pytest.mark.parametrize(
    ("doc", "stored_as"),
    [(OCI_INDEX, mt.OCI_MANIFEST), (OCI_MANIFEST, mt.OCI_INDEX), (DOCKER_LIST, mt.DOCKER_MANIFEST)],
)
def test_an_index_stored_as_a_manifest_is_refused_in_the_layouts_words(
    doc: Doc, stored_as: str
) -> None:
    err = expect(InvalidManifestError, dump(doc), stored_as, stored=True)
    assert f"but was stored as {stored_as!r}" in str(err)
    assert "served" not in str(err)


def test_descriptor_not_an_object() -> None:
    for value in (None, [], "x", 1):
        with pytest.raises(InvalidManifestError):
            Descriptor.from_dict(value)


# --------------------------------------------------------------------------------------
# image-spec TestDescriptor cases


def descriptor_cases() -> list[Any]:
    group = next(
        g for g in DIGESTS["groups"] if g["test"] == "TestDescriptor (digest-related subset)"
    )
    media = MEDIA["media_type_syntax"]["descriptor_validation_cases"]
    return [pytest.param(c, id=c["id"]) for c in [*group["cases"], *media]]


# Deviations: polyarch reads descriptors leniently. It requires a non-empty mediaType
# string but does not check RFC 6838 syntax (unknown media types MUST NOT be errors, and
# registries serve what they stored), and it does not keep or check the "data" field.
LENIENT = {
    "TestDescriptor/3": "mediaType without subtype",
    "TestDescriptor/4": "mediaType type starts with '.'",
    "TestDescriptor/5": "mediaType subtype starts with '.'",
    "TestDescriptor/7": "mediaType type over 127 characters",
    "TestDescriptor/8": "mediaType subtype over 127 characters",
    "TestDescriptor/19": "artifactType subtype starts with '.'",
    "TestDescriptor/29": "data is not padded base64",
}


@pytest.mark.parametrize("case", descriptor_cases())
def test_spec_descriptor(case: Doc) -> None:
    descriptor = case["descriptor"]
    valid = case["valid"] or case["id"] in LENIENT
    body = dump({**OCI_INDEX, "manifests": [descriptor]})
    layer_body = dump({**OCI_MANIFEST, "layers": [descriptor]})
    if not valid:
        with pytest.raises(InvalidManifestError):
            Descriptor.from_dict(descriptor)
        expect(InvalidManifestError, body)
        expect(InvalidManifestError, layer_body)
        return
    parsed = Descriptor.from_dict(descriptor)
    assert parsed.media_type == descriptor["mediaType"]
    assert parsed.digest == descriptor["digest"]
    assert parsed.size == descriptor["size"]
    assert parsed.artifact_type == descriptor.get("artifactType")
    index = parse_manifest(body)
    assert isinstance(index, ImageIndex)
    assert index.manifests == (parsed,)
    manifest = parse_manifest(layer_body)
    assert isinstance(manifest, ImageManifest)
    assert manifest.layers == (parsed,)
    # An unknown-but-grammatical algorithm is carried as it is.
    assert parsed.to_dict()["digest"] == descriptor["digest"]


# --------------------------------------------------------------------------------------
# digest= argument


def test_digest_argument() -> None:
    raw = dump(OCI_INDEX)
    parsed = parse_manifest(raw, mt.OCI_INDEX, digest=sha256(raw))
    assert parsed.digest == sha256(raw)
    sha512 = "sha512:" + hashlib.sha512(raw).hexdigest()
    assert parse_manifest(raw, digest=sha512).digest == sha512


def test_digest_argument_mismatch() -> None:
    raw = dump(OCI_INDEX)
    err = expect(DigestMismatchError, raw, digest=AMD64)
    assert isinstance(err, DigestMismatchError)
    assert err.expected == AMD64
    assert err.actual == sha256(raw)
    # Checked on the bytes before anything else: even garbage is a mismatch first.
    expect(DigestMismatchError, b"not json", digest=AMD64)


# --------------------------------------------------------------------------------------
# Attestations (docker buildx)


def test_buildx_attestations() -> None:
    index = parse_manifest(dump(BUILDX_INDEX), mt.OCI_INDEX)
    assert isinstance(index, ImageIndex)
    image_amd64, image_arm64, att_amd64, att_arm64 = index.manifests
    assert not image_amd64.is_attestation
    assert image_amd64.attests is None
    assert att_amd64.is_attestation
    assert att_amd64.attests == AMD64
    assert isinstance(att_amd64.attests, Digest)
    assert att_arm64.attests == ARM64
    assert att_amd64.platform == Platform("unknown", "unknown")
    assert index.images == (image_amd64, image_arm64)
    assert index.attestations_of(AMD64) == (att_amd64,)
    assert index.attestations_of(Digest.parse(ARM64)) == (att_arm64,)
    assert index.attestations_of(AMD64_ATT) == ()
    assert index.attestations_of(fake_digest("nothing")) == ()


def test_attestation_needs_the_type_annotation() -> None:
    entry = attestation_entry(AMD64_ATT, AMD64)
    entry["annotations"] = {"vnd.docker.reference.digest": AMD64}
    descriptor = Descriptor.from_dict(entry)
    assert not descriptor.is_attestation
    assert descriptor.attests is None
    entry["annotations"] = {"vnd.docker.reference.type": "attestation-manifest"}
    descriptor = Descriptor.from_dict(entry)
    assert descriptor.is_attestation
    assert descriptor.attests is None


# --------------------------------------------------------------------------------------
# Descriptor JSON form


@pytest.mark.parametrize(
    "entry",
    [
        *OCI_INDEX["manifests"],
        *OCI_MANIFEST["layers"],
        OCI_MANIFEST["config"],
        *BUILDX_INDEX["manifests"],
        DOCKER_MANIFEST["layers"][2],
        {
            "mediaType": mt.OCI_MANIFEST,
            "digest": AMD64,
            "size": 0,
            "urls": ["https://a"],
            "annotations": {"k": "v"},
            "platform": {
                "architecture": "arm",
                "os": "linux",
                "os.version": "1",
                "os.features": ["b", "a"],
                "variant": "v7",
            },
            "artifactType": "application/vnd.example",
        },
    ],
)
def test_descriptor_round_trip(entry: Doc) -> None:
    descriptor = Descriptor.from_dict(entry)
    out = descriptor.to_dict()
    assert out == entry
    # Keys in the Go struct's order, so that what polyarch writes looks like Go's output.
    order = ["mediaType", "digest", "size", "urls", "annotations", "platform", "artifactType"]
    assert list(out) == [key for key in order if key in entry]
    assert Descriptor.from_dict(out) == descriptor
    assert hash(Descriptor.from_dict(out)) == hash(descriptor)
    assert json.loads(json.dumps(out)) == out


def test_descriptor_defaults() -> None:
    descriptor = Descriptor(mt.OCI_CONFIG, Digest.of(b"{}"), 2)
    assert descriptor.to_dict() == {
        "mediaType": mt.OCI_CONFIG,
        "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        "size": 2,
    }
    assert descriptor == Descriptor.from_dict({**descriptor.to_dict(), "urls": []})
    assert descriptor == Descriptor.from_dict({**descriptor.to_dict(), "annotations": {}})
    assert descriptor == Descriptor.from_dict({**descriptor.to_dict(), "platform": None})


def test_descriptor_keeps_unknown_algorithm() -> None:
    text = "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564"
    descriptor = Descriptor.from_dict({"mediaType": "x/y", "digest": text, "size": 1})
    assert descriptor.digest == text
    assert descriptor.digest.algorithm == "sha256+b64u"


# --------------------------------------------------------------------------------------
# ImageConfig


def test_image_config_linux_arm() -> None:
    data = dump(
        {
            "architecture": "arm",
            "variant": "v7",
            "os": "linux",
            "config": {"Env": ["PATH=/usr/bin"], "Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [AMD64]},
            "history": [{"created": "2024-01-01T00:00:00Z"}],
        }
    )
    config = ImageConfig.parse(data)
    assert config.platform == Platform("linux", "arm", "v7")
    assert config.raw == data
    assert config.digest == sha256(data)
    assert ImageConfig.parse(data, digest=sha256(data)) == config


def test_image_config_windows() -> None:
    data = dump(
        {
            "architecture": "amd64",
            "os": "windows",
            "os.version": "10.0.20348.2227",
            "os.features": ["win32k"],
            "variant": "",
        }
    )
    config = ImageConfig.parse(data)
    assert config.platform == Platform(
        "windows", "amd64", "", os_version="10.0.20348.2227", os_features=("win32k",)
    )


def test_image_config_without_platform_fields() -> None:
    config = ImageConfig.parse(b"{}")
    assert config.platform == Platform("", "")
    assert (
        config.digest == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )
    assert ImageConfig.parse(b'{"os": null, "architecture": ""}').platform == Platform("", "")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b"not json",
        b'{"architecture": 1}',
        b'{"os": ["linux"]}',
        b'{"os": "linux", "variant": {}}',
        b'{"os.features": "win32k"}',
        b'{"os.version": 10}',
    ],
)
def test_image_config_invalid(data: bytes) -> None:
    with pytest.raises(InvalidManifestError) as info:
        ImageConfig.parse(data)
    assert info.value.exit_code == 6


def test_image_config_digest_mismatch() -> None:
    with pytest.raises(DigestMismatchError) as info:
        ImageConfig.parse(b"{}", digest=AMD64)
    assert info.value.expected == AMD64
    assert info.value.exit_code == 6


# --------------------------------------------------------------------------------------
# Properties

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        "schemaVersion",
        "mediaType",
        "manifests",
        "layers",
        "config",
        "subject",
        "annotations",
        "artifactType",
        "fsLayers",
        "platform",
        "digest",
        "size",
        "urls",
    ]
)
DESCRIPTOR_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "mediaType": st.sampled_from([mt.OCI_MANIFEST, mt.OCI_LAYER, ""]) | JSON_VALUES,
        "digest": st.sampled_from([AMD64, "sha256+x:y", "sha256:abc", ""]) | JSON_VALUES,
        "size": st.integers() | JSON_VALUES,
        "platform": st.fixed_dictionaries(
            {}, optional={"os": JSON_VALUES, "architecture": JSON_VALUES}
        )
        | JSON_VALUES,
        "urls": JSON_VALUES,
        "annotations": st.dictionaries(st.text(), st.text()) | JSON_VALUES,
        "artifactType": JSON_VALUES,
    },
)
DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "schemaVersion": st.sampled_from([1, 2, 3]) | JSON_VALUES,
        "mediaType": st.sampled_from(sorted(mt.INDEX_TYPES | mt.MANIFEST_TYPES | mt.SCHEMA1_TYPES))
        | JSON_VALUES,
        "manifests": st.lists(DESCRIPTOR_LIKE, max_size=3) | JSON_VALUES,
        "layers": st.lists(DESCRIPTOR_LIKE, max_size=3) | JSON_VALUES,
        "config": DESCRIPTOR_LIKE | JSON_VALUES,
        "subject": DESCRIPTOR_LIKE | JSON_VALUES,
        "annotations": JSON_VALUES,
        "artifactType": JSON_VALUES,
        "fsLayers": JSON_VALUES,
    },
) | st.dictionaries(KEYS, JSON_VALUES)
HEADERS = st.none() | st.sampled_from(
    sorted(mt.INDEX_TYPES | mt.MANIFEST_TYPES | mt.SCHEMA1_TYPES | {"application/json"})
)


def parse_or_content_error(data: bytes, header: str | None) -> None:
    try:
        parsed = parse_manifest(data, header)
    except PolyarchError as caught:
        error: PolyarchError | None = caught
    else:
        error = None
    if error is not None:
        assert isinstance(error, ContentError), repr(error)
        assert error.exit_code == 6
    else:
        assert parsed.raw == data
        assert parsed.digest == sha256(data)


@given(st.binary(), HEADERS)
@example(b"[" * 100_000, None)
@example(b'{"schemaVersion": ' + b"1" * 5000 + b"}", None)
@example(b"\xef\xbb\xbf{}", None)
@example(b'"\\ud800"', None)
def test_arbitrary_bytes_raise_only_content_errors(data: bytes, header: str | None) -> None:
    parse_or_content_error(data, header)


@given(DOCUMENTS, HEADERS)
@settings(max_examples=300)
def test_arbitrary_documents_raise_only_content_errors(doc: Doc, header: str | None) -> None:
    parse_or_content_error(json.dumps(doc).encode(), header)


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
PLATFORMS = st.builds(
    Platform,
    os=st.sampled_from(["linux", "windows", "darwin", "unknown", ""]),
    architecture=st.sampled_from(["amd64", "arm64", "arm", "386", "s390x", "unknown"]),
    variant=st.sampled_from(["", "v6", "v7", "v8"]),
    os_version=st.sampled_from(["", "10.0.17763.1577"]),
    os_features=st.lists(TEXT, max_size=2).map(tuple),
)
DESCRIPTORS = st.builds(
    Descriptor,
    media_type=st.sampled_from(sorted(mt.INDEX_TYPES | mt.MANIFEST_TYPES)),
    digest=st.binary(max_size=16).map(Digest.of)
    | st.binary(max_size=16).map(lambda b: Digest.of(b, "sha512")),
    size=st.integers(min_value=0, max_value=2**63 - 1),
    platform=st.none() | PLATFORMS,
    annotations=st.dictionaries(TEXT, TEXT, max_size=3),
    urls=st.lists(TEXT, max_size=2).map(tuple),
    artifact_type=st.none() | TEXT.filter(bool),
)


@given(
    st.lists(DESCRIPTORS, max_size=6),
    st.sampled_from(sorted(mt.INDEX_TYPES)),
    st.dictionaries(TEXT, TEXT, max_size=2),
    st.sampled_from([None, 0, 3]),
    st.booleans(),
)
def test_generated_indexes_round_trip(
    manifests: list[Descriptor],
    media_type: str,
    annotations: dict[str, str],
    indent: int | None,
    ascii_only: bool,
) -> None:
    doc: Doc = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [d.to_dict() for d in manifests],
    }
    if annotations:
        doc["annotations"] = annotations
    raw = json.dumps(doc, indent=indent, ensure_ascii=ascii_only).encode()
    index = parse_manifest(raw, media_type, digest=sha256(raw))
    assert isinstance(index, ImageIndex)
    assert index.raw == raw
    assert index.digest == sha256(raw)
    assert index.media_type == media_type
    assert index.manifests == tuple(manifests)
    assert dict(index.annotations) == annotations
    assert [d.to_dict() for d in index.manifests] == doc["manifests"]
    rebuilt = {"schemaVersion": 2, "mediaType": index.media_type}
    rebuilt["manifests"] = [d.to_dict() for d in index.manifests]
    if index.annotations:
        rebuilt["annotations"] = dict(index.annotations)
    assert json.dumps(rebuilt, indent=indent, ensure_ascii=ascii_only).encode() == raw
    for descriptor in manifests:
        assert Descriptor.from_dict(descriptor.to_dict()) == descriptor


# --------------------------------------------------------------------------------------
# What Go's decoder (containerd, docker, skopeo) would read otherwise is refused


def _raw(document: str) -> bytes:
    return document.encode()


_ENTRY = f'"mediaType": "{mt.OCI_MANIFEST}", "digest": "{AMD64}", "size": 1054'
_PLATFORM = '"platform": {"architecture": "amd64", "os": "linux"}'
_INDEX_HEAD = f'"schemaVersion": 2, "mediaType": "{mt.OCI_INDEX}"'
_CONFIG = f'"config": {{"mediaType": "{mt.OCI_CONFIG}", "digest": "{AMD64}", "size": 2}}'
_MANIFEST_HEAD = f'"schemaVersion": 2, "mediaType": "{mt.OCI_MANIFEST}", {_CONFIG}'


@pytest.mark.parametrize(
    ("document", "key"),
    [
        # An index entry whose digest Go reads as B, an exact reader as A.
        (f'{{{_INDEX_HEAD}, "manifests": [{{{_ENTRY}, "Digest": "{ARM64}"}}]}}', "Digest"),
        (f'{{{_INDEX_HEAD}, "manifests": [{{{_ENTRY}, "SIZE": 7}}]}}', "SIZE"),
        (f'{{{_INDEX_HEAD}, "manifests": [{{{_ENTRY}, "\u017fize": 7}}]}}', "\u017fize"),
        (f'{{{_INDEX_HEAD}, "manifests": [{{{_ENTRY}, "MediaType": "x/y"}}]}}', "MediaType"),
        (f'{{{_INDEX_HEAD}, "manifests": [{{{_ENTRY}, "Platform": {{}}}}]}}', "Platform"),
        (
            f'{{{_INDEX_HEAD}, "manifests": [{{{_ENTRY}, "platform": '
            '{"architecture": "amd64", "os": "linux", "Architecture": "arm64"}}]}',
            "Architecture",
        ),
        (
            f'{{{_INDEX_HEAD}, "manifests": [{{{_ENTRY}, "platform": '
            '{"architecture": "amd64", "os": "linux", "O\u017f.version": "10"}}]}',
            "O\u017f.version",
        ),
        # A manifest that is two images: "layers" for an exact reader, "Layers" for Go.
        (f'{{{_MANIFEST_HEAD}, "layers": [], "Layers": [{{{_ENTRY}}}]}}', "Layers"),
        (f'{{{_MANIFEST_HEAD}, "layers": [], "Config": {{{_ENTRY}}}}}', "Config"),
        (f'{{{_MANIFEST_HEAD}, "layers": [], "SchemaVersion": 2}}', "SchemaVersion"),
        (f'{{{_MANIFEST_HEAD}, "layers": [{{{_ENTRY}, "dIgEsT": "{ARM64}"}}]}}', "dIgEsT"),
        (f'{{{_INDEX_HEAD}, "Manifests": [], "manifests": []}}', "Manifests"),
        (f'{{{_INDEX_HEAD}, "manifests": [], "Annotations": {{"a": "b"}}}}', "Annotations"),
        (
            f'{{{_INDEX_HEAD}, "manifests": [], "\u212aey": 1, "subject": null, "Subject": 1}}',
            "Subject",
        ),
    ],
)
def test_a_key_go_reads_as_a_field_spelled_otherwise_is_refused(document: str, key: str) -> None:
    with pytest.raises(AmbiguousDocumentError) as info:
        parse_manifest(_raw(document))
    assert info.value.key == key
    assert info.value.exit_code == 6
    assert str(info.value).startswith("ambiguous document: ")
    assert repr(key) in str(info.value)


@pytest.mark.parametrize(
    "document",
    [
        f'{{{_INDEX_HEAD}, "manifests": [{{{_ENTRY}, "digest": "{ARM64}"}}]}}',
        f'{{{_INDEX_HEAD}, "manifests": [], "manifests": [{{{_ENTRY}}}]}}',
        f'{{{_INDEX_HEAD}, "schemaVersion": 2, "manifests": []}}',
        f'{{{_INDEX_HEAD}, "manifests": [], "annotations": {{"a": "1", "a": "2"}}}}',
        f'{{{_INDEX_HEAD}, "manifests": [{{{_ENTRY}, {_PLATFORM}, {_PLATFORM}}}]}}',
        f'{{{_INDEX_HEAD}, "manifests": [], "annotations": {{"a": "\\udc00"}}}}',
    ],
)
def test_a_key_twice_or_a_lone_surrogate_is_refused(document: str) -> None:
    with pytest.raises(AmbiguousDocumentError):
        parse_manifest(_raw(document))


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (f'{{{_INDEX_HEAD}, "manifests": [], "layers": []}}', "layers"),
        (f'{{{_INDEX_HEAD}, "manifests": [], {_CONFIG}}}', "config"),
        (f'{{{_MANIFEST_HEAD}, "layers": [], "manifests": []}}', "manifests"),
        # Without a mediaType: "manifests" makes it an index, then "config" is too much.
        (f'{{"schemaVersion": 2, "manifests": [], {_CONFIG}}}', "config"),
    ],
)
def test_a_document_that_is_both_index_and_manifest_is_refused(document: str, field: str) -> None:
    with pytest.raises(AmbiguousDocumentError, match="read as either") as info:
        parse_manifest(_raw(document))
    assert info.value.field == field


def test_null_fields_of_the_other_kind_are_no_ambiguity() -> None:
    index = parse_manifest(_raw(f'{{{_INDEX_HEAD}, "manifests": [], "layers": null}}'))
    assert index.is_index


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf" + _raw(f'{{{_INDEX_HEAD}, "manifests": []}}'),
        f'{{{_INDEX_HEAD}, "manifests": []}}'.encode("utf-16"),
        _raw(f'{{{_INDEX_HEAD}, "manifests": [], "x": NaN}}'),
        _raw(f'{{"schemaVersion": 2.0, "mediaType": "{mt.OCI_INDEX}", "manifests": []}}'),
        _raw(
            f'{{{_INDEX_HEAD}, "manifests": [{{"mediaType": "{mt.OCI_MANIFEST}", '
            f'"digest": "{AMD64}", "size": 9223372036854775808}}]}}'
        ),
    ],
    ids=["bom", "utf-16", "nan", "schema-version-float", "size-over-int64"],
)
def test_what_go_cannot_read_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidManifestError):
        parse_manifest(data)


def test_the_largest_size_go_reads_is_accepted() -> None:
    entry = f'"mediaType": "{mt.OCI_MANIFEST}", "digest": "{AMD64}", "size": 9223372036854775807'
    index = parse_manifest(_raw(f'{{{_INDEX_HEAD}, "manifests": [{{{entry}}}]}}'))
    assert isinstance(index, ImageIndex)
    assert index.manifests[0].size == 2**63 - 1


@pytest.mark.parametrize(
    ("config", "key"),
    [
        (b'{"Architecture": "arm64", "os": "linux"}', "Architecture"),
        (b'{"architecture": "amd64", "OS": "windows", "os": "linux"}', "OS"),
        (b'{"architecture": "amd64", "os": "linux", "Variant": "v8"}', "Variant"),
        (b'{"architecture": "amd64", "os": "linux", "OS.Version": "1"}', "OS.Version"),
        (b'{"architecture": "amd64", "os": "linux", "RootFS": {}}', "RootFS"),
        (b'{"architecture": "amd64", "architecture": "arm64", "os": "linux"}', "architecture"),
    ],
)
def test_an_ambiguous_image_config_is_refused(config: bytes, key: str) -> None:
    with pytest.raises(AmbiguousDocumentError) as info:
        ImageConfig.parse(config)
    assert info.value.key == key


def test_an_image_config_keeps_docker_fields_that_are_not_ours() -> None:
    config = b'{"architecture": "amd64", "os": "linux", "container_config": {"Env": []}}'
    assert ImageConfig.parse(config).platform.architecture == "amd64"
