"""Fuzzing every parser of outside input: nothing escapes but the documented errors.

The property tests beside each module already feed arbitrary *text* to the reference,
platform and digest parsers and arbitrary bytes and random documents to
``parse_manifest``. Here the inputs are the ones a damaged file or a hostile registry
produces: *almost* right. Each strategy starts from a valid document (an image manifest,
an index with attestations, an image config, a pending-list file, an OCI layout's
``index.json``) and mutates it: a value replaced by arbitrary JSON, a key dropped or
added, a type twisted (``"size": "12"``, ``"size": true``, ``"manifests": {}``), a number
out of range. The consumers of a parsed value are fuzzed too (platform resolution, the
subset index of ``copy --platform``, layout reads and writes), since a value that parses
is one they will meet.

The rule checked everywhere (``errors.py``): a failure is a :class:`PolyarchError` of
the class the parser documents, and a parse error of user input (reference, platform,
digest, location) is also a ``ValueError``. Any other exception fails the test as it is.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from polyarch import mediatype as mt
from polyarch.digest import SUPPORTED_ALGORITHMS, Digest, DigestVerifier, verify_bytes
from polyarch.errors import (
    ContentError,
    DigestMismatchError,
    InvalidDigestError,
    InvalidInputError,
    InvalidLocationError,
    InvalidManifestError,
    InvalidPlatformError,
    InvalidReferenceError,
    NoMatchingPlatformError,
    NotFoundError,
    PolyarchError,
    SizeMismatchError,
)
from polyarch.layout import LayoutStore
from polyarch.location import LayoutLocation, RegistryLocation
from polyarch.models import Descriptor, ImageConfig, ImageIndex, ImageManifest, parse_manifest
from polyarch.ops.copy import select_entries, subset_index
from polyarch.ops.pending import PendingListStore
from polyarch.ops.resolve import choose
from polyarch.platform import (
    Platform,
    format_all,
    is_compatible,
    matches,
    matches_strict,
    normalize,
    rank,
)
from polyarch.reference import Reference
from polyarch.schemes import parse_location

T = TypeVar("T")
Doc = Any

#: The parse errors of what a person types: ``except ValueError`` must catch them.
USER_INPUT_ERRORS = (
    InvalidReferenceError,
    InvalidPlatformError,
    InvalidDigestError,
    InvalidLocationError,
)
HOST = Platform(os="linux", architecture="arm", variant="v7")
FUZZ = settings(max_examples=150, deadline=None)


def outcome(
    expected: type[PolyarchError] | tuple[type[PolyarchError], ...], call: Callable[[], T]
) -> T | PolyarchError:
    """``call()``'s result, or the documented error it raised; anything else propagates."""
    try:
        return call()
    except PolyarchError as caught:
        err = caught
    assert isinstance(err, expected), f"{type(err).__name__} ({err}) is not {expected}"
    assert isinstance(err, ValueError) == isinstance(err, USER_INPUT_ERRORS), repr(err)
    assert str(err), "an error without a message"
    return err


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- arbitrary JSON, and valid documents bent out of shape ---------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([-1, 0, 2**63, 2**64 + 1, 10**30])
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "sha256:", "linux", "amd64", mt.OCI_MANIFEST, "\u0000", "\ud7ff"])
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(doc: Doc, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position in ``doc`` (the root included), as key/index paths."""
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found.extend(_paths(value, (*prefix, i)))
    return found


def _twist(draw: st.DrawFn, value: Doc) -> Doc:
    """The same content in a type a careless producer might have written."""
    if isinstance(value, bool):
        return draw(st.sampled_from([int(value), str(value).lower(), None]))
    if isinstance(value, int):
        return draw(
            st.sampled_from(
                [str(value), float(value), -value - 1, value + 2**64, True, None, [value]]
            )
        )
    if isinstance(value, str):
        return draw(
            st.sampled_from(
                [
                    "",
                    value.upper(),
                    value + "\u212a",
                    value[: len(value) // 2],
                    [value],
                    {"value": value},
                    len(value),
                    None,
                ]
            )
        )
    if isinstance(value, list):
        return draw(
            st.sampled_from([{}, {"0": value[0]} if value else {}, value * 2, value[::-1], None])
        )
    if isinstance(value, dict):
        return draw(st.sampled_from([[], list(value.values()), list(value), None, ""]))
    return draw(JSON)


@st.composite
def mutated(draw: st.DrawFn, valid: Doc, *, max_mutations: int = 3) -> Doc:
    """``valid`` (deep-copied) with one to ``max_mutations`` random mutations."""
    doc = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, max_mutations))):
        path = draw(st.sampled_from(_paths(doc)))
        how = draw(st.sampled_from(["replace", "twist", "delete", "add", "duplicate"]))
        if not path:
            if how in ("replace", "twist"):
                doc = draw(JSON) if how == "replace" else _twist(draw, doc)
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if how == "replace":
            parent[key] = draw(JSON)
        elif how == "twist":
            parent[key] = _twist(draw, parent[key])
        elif how == "delete":
            del parent[key]
        elif how == "add" and isinstance(parent[key], dict):
            parent[key][draw(st.text(max_size=8))] = draw(JSON)
        elif how == "add" and isinstance(parent[key], list):
            parent[key].append(draw(JSON))
        elif how == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
    return doc


def encodings(doc: Doc) -> st.SearchStrategy[bytes]:
    """How a document may be written: any indentation, ASCII or not."""
    return st.sampled_from(
        [
            json.dumps(doc).encode(),
            json.dumps(doc, indent=3).encode(),
            json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass"),
        ]
    )


# -- valid seeds --------------------------------------------------------------------------

CONFIG_DOC = {
    "architecture": "arm",
    "os": "linux",
    "variant": "v7",
    "os.features": ["sse4"],
    "config": {"Cmd": ["/bin/sh"]},
    "rootfs": {"type": "layers", "diff_ids": [sha256(b"layer")]},
}
CONFIG = json.dumps(CONFIG_DOC).encode()
LAYER = b"layer bytes"


def _descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def _manifest(oci: bool) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST if oci else mt.DOCKER_MANIFEST,
        "config": _descriptor(mt.OCI_CONFIG if oci else mt.DOCKER_CONFIG, CONFIG),
        "layers": [
            _descriptor(mt.OCI_LAYER if oci else mt.DOCKER_LAYER, LAYER),
            _descriptor(
                mt.OCI_LAYER if oci else mt.DOCKER_LAYER,
                LAYER * 2,
                urls=["https://example.com/layer"],
                annotations={"org.example": "x"},
            ),
        ],
        "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
    }


IMAGE_DOCS = [_manifest(oci=True), _manifest(oci=False)]
IMAGE_BYTES = [json.dumps(doc, indent=3).encode() for doc in IMAGE_DOCS]


def _index(oci: bool) -> dict[str, Any]:
    image = IMAGE_BYTES[0 if oci else 1]
    media_type = mt.OCI_MANIFEST if oci else mt.DOCKER_MANIFEST
    entries = [
        _descriptor(media_type, image, platform={"architecture": "amd64", "os": "linux"}),
        _descriptor(
            media_type,
            image + b" ",
            platform={"architecture": "arm", "os": "linux", "variant": "v7"},
        ),
        _descriptor(
            mt.OCI_MANIFEST,
            b"attestation",
            platform={"architecture": "unknown", "os": "unknown"},
            annotations={
                mt.ANNOTATION_REFERENCE_TYPE: mt.ATTESTATION_MANIFEST,
                mt.ANNOTATION_REFERENCE_DIGEST: sha256(image),
            },
        ),
    ]
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX if oci else mt.DOCKER_MANIFEST_LIST,
        "manifests": entries,
    }
    if oci:
        doc["annotations"] = {"org.example": "index"}
        doc["subject"] = _descriptor(mt.OCI_MANIFEST, image)
    return doc


MANIFEST_DOCS = [*IMAGE_DOCS, _index(oci=True), _index(oci=False)]
HEADERS = st.none() | st.sampled_from(
    sorted(mt.INDEX_TYPES | mt.MANIFEST_TYPES | {"application/json", mt.OCI_MANIFEST + "; x=y"})
)


# -- platforms ----------------------------------------------------------------------------

PLATFORM_DOC = {
    "architecture": "arm64",
    "os": "linux",
    "variant": "v8",
    "os.version": "10.0",
    "os.features": ["a", "b"],
}
PLATFORM_DICTS = (
    JSON
    | mutated(PLATFORM_DOC)
    | st.dictionaries(
        st.sampled_from(["architecture", "os", "variant", "os.version", "os.features", "features"]),
        JSON,
    )
)


@FUZZ
@given(PLATFORM_DICTS)
@example([])
@example({"os.features": "gpu"})
@example({"architecture": "arm", "os": "linux", "variant": None})
def test_platform_from_dict_raises_only_invalid_platform(data: Doc) -> None:
    parsed = outcome(InvalidPlatformError, lambda: Platform.from_dict(data))
    if isinstance(parsed, Platform):
        # Whatever an index says, the platform relations and the formats must cope.
        assert Platform.from_dict(parsed.to_dict()) == parsed
        canonical = normalize(parsed)
        assert normalize(canonical) == canonical
        format_all(parsed)
        str(parsed)
        for host in (HOST, parsed, canonical):
            matches(host, parsed)
            matches_strict(host, parsed)
            is_compatible(host, parsed)
        assert HOST in rank(HOST, [parsed, HOST])


@st.composite
def near_specifiers(draw: st.DrawFn) -> str:
    """A valid platform specifier with one part replaced, dropped, added or cased wrong."""
    parts = draw(
        st.sampled_from(
            [["linux", "amd64"], ["linux", "arm", "v7"], ["windows", "amd64"], ["linux", "arm64"]]
        )
    )
    i = draw(st.integers(0, len(parts)))
    part = draw(st.text("armv678x_641ARMlinux()+%.-*/", max_size=8))
    how = draw(st.sampled_from(["replace", "insert", "drop", "upper"]))
    if how == "replace" and i < len(parts):
        parts[i] = part
    elif how == "insert":
        parts.insert(i, part)
    elif how == "drop" and i < len(parts):
        del parts[i]
    elif how == "upper" and i < len(parts):
        parts[i] = parts[i].upper()
    return "/".join(parts)


def _platform_or_none(data: Doc) -> Platform | None:
    try:
        return Platform.from_dict(data)
    except InvalidPlatformError:
        return None


ODD_HOSTS = mutated(PLATFORM_DOC).map(_platform_or_none).filter(lambda p: p is not None)


@FUZZ
@given(near_specifiers(), st.just(HOST) | ODD_HOSTS)
def test_platform_parse_with_any_host_raises_only_invalid_platform(
    text: str, host: Platform
) -> None:
    # A host read from a machine (or given by a caller) may be odd too: never a crash.
    parsed = outcome(InvalidPlatformError, lambda: Platform.parse(text, host=host))
    if isinstance(parsed, Platform) and host == HOST:
        assert parsed.os
        assert parsed.architecture
        canonical = normalize(parsed)
        assert Platform.parse(format_all(canonical), host=host) == canonical


# -- digests ------------------------------------------------------------------------------

DIGEST_TEXT = st.text(max_size=140) | st.builds(
    lambda algorithm, data, cut: f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()[:cut]}",
    st.sampled_from(sorted(SUPPORTED_ALGORITHMS)),
    st.binary(max_size=8),
    st.integers(0, 200),
)


@FUZZ
@given(DIGEST_TEXT, st.binary(max_size=64), st.none() | st.integers(-2, 70))
def test_digest_verifier_raises_only_documented_errors(
    text: str, data: bytes, size: int | None
) -> None:
    verifier = outcome(InvalidDigestError, lambda: DigestVerifier(text, size))
    if not isinstance(verifier, DigestVerifier):
        return
    right = Digest.of(data, verifier.expected.algorithm) == text and size in (None, len(data))
    result = outcome(
        (SizeMismatchError, DigestMismatchError),
        lambda: b"".join(verifier.wrap([data[:3], data[3:]])),
    )
    assert (result == data) == right
    verified = outcome(
        (SizeMismatchError, DigestMismatchError), lambda: verify_bytes(data, text, size)
    )
    assert (verified is None) == right


@FUZZ
@given(st.binary(max_size=64), st.text(max_size=12))
@example(b"", "md5")
@example(b"", "sha3_256")
def test_digest_of_an_unknown_algorithm_is_invalid_digest(data: bytes, algorithm: str) -> None:
    digest = outcome(InvalidDigestError, lambda: Digest.of(data, algorithm))
    if isinstance(digest, Digest):
        assert algorithm in SUPPORTED_ALGORITHMS
        assert Digest.parse(digest) == digest


# -- references and locations -------------------------------------------------------------

REFERENCE_TEXT = st.sampled_from(
    ["ubuntu", "ghcr.io/o/app:1.0", "localhost:5000/a/b@" + sha256(b"x"), "[::1]:5000/x:y"]
)
FRAGMENTS = st.text("aA0:/@._-[]%#+ \u212ashx", max_size=20) | st.text(max_size=20)


@FUZZ
@given(REFERENCE_TEXT, FRAGMENTS, FRAGMENTS, FRAGMENTS)
def test_reference_builders_raise_only_invalid_reference(
    text: str, tag: str, digest: str, repository: str
) -> None:
    ref = Reference.parse(text)
    for build in (
        lambda: Reference.parse(text, default_tag=tag),
        lambda: Reference.parse(text.partition("@")[0].rpartition(":")[0] or text, default_tag=tag),
        lambda: ref.with_tag(tag),
        lambda: ref.with_digest(digest),
        lambda: ref.with_repository(repository),
    ):
        built = outcome(InvalidReferenceError, build)
        if isinstance(built, Reference):
            assert Reference.parse(str(built), default_tag=None) == built


@st.composite
def near_locations(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["oci:", "oci:./dir", "oci:/a/b:", "docker://", "", "oci:x@"]))
    middle = draw(FRAGMENTS)
    suffix = draw(st.sampled_from(["", ":1.0", "@" + sha256(b"x"), "@sha256:", ":", "/"]))
    return prefix + middle + suffix


@FUZZ
@given(st.text(max_size=40) | near_locations(), st.none() | st.sampled_from(["latest", "1.0"]))
@example("oci:", None)
@example("oci:dir:", "latest")
@example("oci:dir@sha256:" + "0" * 63, None)
@example("docker://", None)
def test_parse_location_raises_only_invalid_input(text: str, default_tag: str | None) -> None:
    location = outcome(InvalidInputError, lambda: parse_location(text, default_tag=default_tag))
    if isinstance(location, InvalidInputError):
        assert isinstance(location, USER_INPUT_ERRORS)
    elif isinstance(location, LayoutLocation):
        assert location.path
        assert text.startswith("oci:")
    else:
        assert isinstance(location, RegistryLocation)
        assert parse_location(str(location), default_tag=default_tag) == location


# -- manifests, configs and descriptors ---------------------------------------------------


@FUZZ
@given(JSON | mutated(_descriptor(mt.OCI_MANIFEST, b"x", platform=PLATFORM_DOC)))
@example({"mediaType": "a", "digest": "sha256:" + "0" * 64, "size": True})
@example({"mediaType": "a", "digest": "foo+bar:baz", "size": 0})
def test_descriptor_from_dict_raises_only_invalid_manifest(data: Doc) -> None:
    descriptor = outcome(InvalidManifestError, lambda: Descriptor.from_dict(data))
    if isinstance(descriptor, Descriptor):
        assert Descriptor.from_dict(descriptor.to_dict()) == descriptor
        assert descriptor.size >= 0


@st.composite
def manifest_bytes(draw: st.DrawFn) -> bytes:
    doc = draw(mutated(draw(st.sampled_from(MANIFEST_DOCS))))
    return draw(encodings(doc))


@settings(max_examples=400, deadline=None)
@given(manifest_bytes(), HEADERS)
def test_mutated_manifests_raise_only_content_errors(data: bytes, header: str | None) -> None:
    manifest = outcome(ContentError, lambda: parse_manifest(data, header))
    if isinstance(manifest, PolyarchError):
        return
    assert manifest.raw == data
    assert manifest.digest == sha256(data)
    # What reads a parsed manifest must cope with whatever parsed.
    again = parse_manifest(data, manifest.media_type, digest=manifest.digest)
    assert again == manifest
    if isinstance(manifest, ImageManifest):
        assert manifest.blobs[0] == manifest.config
        return
    assert isinstance(manifest, ImageIndex)
    manifest.images  # noqa: B018
    for entry in manifest.manifests:
        manifest.attestations_of(entry.digest)
    for host in (HOST, Platform(os="linux", architecture="amd64")):
        chosen = outcome(NoMatchingPlatformError, lambda host=host: choose(manifest, host))
        if isinstance(chosen, NoMatchingPlatformError):
            continue
        entries = select_entries(manifest, [host])
        # copy --platform: a new index of just those entries, each entry's JSON kept.
        subset = outcome(ContentError, lambda entries=entries: subset_index(manifest, entries))
        if isinstance(subset, ImageIndex):
            assert {d.digest for d in subset.manifests} == {d.digest for d in entries}


@FUZZ
@given(
    JSON.map(lambda v: json.dumps(v).encode()) | mutated(CONFIG_DOC).flatmap(encodings),
    st.booleans(),
)
@example(b"[]", False)
@example(b'{"architecture": 1}', False)
@example(b'{"os": "linux", "os.features": "x"}', True)
@example(b"[" * 100_000, False)
def test_image_config_raises_only_content_errors(data: bytes, with_digest: bool) -> None:
    digest = sha256(data) if with_digest else None
    config = outcome(ContentError, lambda: ImageConfig.parse(data, digest=digest))
    if isinstance(config, ImageConfig):
        assert config.digest == sha256(data)
        assert Platform.from_dict(config.platform.to_dict()) == config.platform
    wrong = outcome(ContentError, lambda: ImageConfig.parse(data, digest=sha256(data + b" ")))
    assert isinstance(wrong, ContentError)


# -- files on disk: pending lists and OCI layouts -----------------------------------------

LIST_REFERENCE = Reference.parse("registry.example/app:1.0")


def _pending_file() -> dict[str, Any]:
    raw = IMAGE_BYTES[0]
    return {
        "version": 1,
        "reference": str(LIST_REFERENCE),
        "entries": [
            {
                "source": "registry.example/app:amd64",
                "descriptor": _descriptor(
                    mt.OCI_MANIFEST, raw, platform={"architecture": "amd64", "os": "linux"}
                ),
                "raw": base64.b64encode(raw).decode(),
            }
        ],
    }


PENDING_FILE = _pending_file()


@pytest.fixture(scope="module")
def pending_store(tmp_path_factory: pytest.TempPathFactory) -> PendingListStore:
    store = PendingListStore(tmp_path_factory.mktemp("fuzz-home"))
    store.directory.mkdir(parents=True)
    return store


@FUZZ
@given(st.binary(max_size=200) | mutated(PENDING_FILE, max_mutations=2).flatmap(encodings))
@example(b"[" * 100_000)
@example(b'{"version": 1, "entries": [' + b"1" * 5000 + b"]}")
@example(b"\xff\xfe")
def test_damaged_pending_list_file_is_invalid_manifest(
    pending_store: PendingListStore, data: bytes
) -> None:
    pending_store.path_for(LIST_REFERENCE).write_bytes(data)
    pending = outcome(InvalidManifestError, lambda: pending_store.load(LIST_REFERENCE))
    if isinstance(pending, InvalidManifestError):
        return
    assert pending is not None
    # A file that loads is one push can use: its index builds and every entry parses.
    pending.index()
    for entry in pending.entries:
        assert entry.manifest.digest == entry.descriptor.digest


def test_pending_list_seed_loads(pending_store: PendingListStore) -> None:
    """The fuzzing above starts from a file that is valid."""
    pending_store.path_for(LIST_REFERENCE).write_bytes(json.dumps(PENDING_FILE).encode())
    pending = pending_store.load(LIST_REFERENCE)
    assert pending is not None
    assert len(pending.entries) == 1


LAYOUT_INDEX = {
    "schemaVersion": 2,
    "mediaType": mt.OCI_INDEX,
    "manifests": [
        _descriptor(mt.OCI_MANIFEST, IMAGE_BYTES[0], annotations={mt.ANNOTATION_REF_NAME: "1.0"}),
        _descriptor(mt.OCI_MANIFEST, IMAGE_BYTES[0]),
    ],
}


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A layout whose index.json each example overwrites; it holds IMAGE_BYTES[0]."""
    path = tmp_path_factory.mktemp("fuzz-layout")
    store = LayoutStore(path)
    store.put_manifest(parse_manifest(IMAGE_BYTES[0]), tag="1.0")
    return path


@FUZZ
@given(st.binary(max_size=200) | mutated(LAYOUT_INDEX).flatmap(encodings))
@example(b"[" * 100_000)
@example(b'{"manifests": [' + b"1" * 5000 + b"]}")
@example(b'{"manifests": [1, "x", null]}')
@example(b'{"manifests": [{"annotations": []}]}')
def test_layout_with_a_damaged_index_raises_only_documented_errors(
    layout: Path, data: bytes
) -> None:
    (layout / "index.json").write_bytes(data)
    store = LayoutStore(layout)  # a new store: nothing remembered from the last example
    errors = (ContentError, NotFoundError, InvalidDigestError)
    roots = outcome(errors, store.roots)
    outcome(errors, store.list_tags)
    found = outcome(errors, lambda: store.get_manifest("1.0"))
    if isinstance(found, ImageManifest):
        assert found.raw == IMAGE_BYTES[0]
        assert isinstance(roots, list)
    outcome(errors, lambda: store.get_manifest(sha256(IMAGE_BYTES[0])))
    # Writing a tag into a damaged layout is refused, and leaves index.json as it was.
    written = outcome(errors, lambda: store.put_manifest(parse_manifest(IMAGE_BYTES[0]), tag="2.0"))
    if isinstance(written, PolyarchError):
        assert (layout / "index.json").read_bytes() == data
    else:
        assert store.resolve("2.0").digest == sha256(IMAGE_BYTES[0])
    outcome(errors, lambda: store.delete("1.0"))


def test_subset_index_keeps_numbers_it_cannot_respell() -> None:
    """Found by the fuzzing above: a float anywhere in an index (in an unknown field, which
    the spec lets through) made ``copy --platform`` fail with a TypeError (exit 70)."""
    doc = _index(oci=True)
    doc["manifests"][0]["org.example.weight"] = "WEIGHT"
    doc["manifests"][1]["org.example.weights"] = "WEIGHTS"
    raw = (
        json.dumps(doc, indent=3)
        .replace('"WEIGHT"', "1.50")
        .replace('"WEIGHTS"', "[1E400, -0.0, 2.5e-7]")
        .encode()
    )
    index = parse_manifest(raw)
    assert isinstance(index, ImageIndex)
    amd64 = subset_index(index, select_entries(index, [Platform.parse("linux/amd64")]))
    # The amd64 image and its attestation.
    assert amd64.manifests == (index.manifests[0], index.manifests[2])
    assert b'"org.example.weight": 1.50' in amd64.raw  # spelled as it was
    arm = subset_index(index, select_entries(index, [HOST]))
    assert b"1E400,\n" in arm.raw
    assert b"2.5e-7\n" in arm.raw
