"""polyarch.digest against go-digest's and the image spec's own test tables, plus properties.

Every case of ``tests/vectors/digest.json`` runs under its upstream ``id``. polyarch
computes sha256, sha384 and sha512 (go-digest's ``TestParseDigest`` registers the same
three). BLAKE3 is *not* supported, so the cases that need go-digest's optional blake3
package expect ``unsupported`` instead (search for "deviation").
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from polyarch.digest import (
    CANONICAL_ALGORITHM,
    SUPPORTED_ALGORITHMS,
    Digest,
    DigestVerifier,
    is_valid_descriptor_digest,
    verify_bytes,
)
from polyarch.errors import (
    ContentError,
    DigestMismatchError,
    InvalidDigestError,
    InvalidInputError,
    SizeMismatchError,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
DIGESTS: dict[str, Any] = json.loads((VECTORS / "digest.json").read_text("utf-8"))
ERROR_KINDS = set(DIGESTS["facts"]["go_digest_defaults"]["errors"])
# The OCI grammar (descriptor.md), as in the "oci_grammar" EBNF of the vectors.
GRAMMAR_RE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")

Case = dict[str, Any]
HANDLED_GROUPS: set[str] = set()

EMPTY_SHA256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def group(test: str) -> dict[str, Any]:
    return next(g for g in DIGESTS["groups"] if g["test"] == test)


def cases(test: str, *, where: Any = None) -> list[Any]:
    """The cases of one upstream test, as pytest params with the case id as test id."""
    HANDLED_GROUPS.add(test)
    return [
        pytest.param(case, id=case["id"])
        for case in group(test)["cases"]
        if where is None or where(case)
    ]


def assert_invalid(text: str, kind: str) -> InvalidDigestError:
    with pytest.raises(InvalidDigestError) as info:
        Digest.parse(text)
    err = info.value
    assert err.kind == kind, err
    assert err.text == text
    assert repr(text) in str(err)
    return err


# --------------------------------------------------------------------------------------
# TestParseDigest


@pytest.mark.parametrize("case", cases("TestParseDigest"))
def test_parse_digest(case: Case) -> None:
    text = case["input"]
    if not case["valid"]:
        assert_invalid(text, case["error"])
        assert is_valid_descriptor_digest(text) is (case["error"] == "unsupported")
        return
    digest = Digest.parse(text)
    assert isinstance(digest, Digest)
    assert digest == text
    assert digest.algorithm == case["algorithm"]
    assert digest.encoded == case["encoded"]
    assert digest.short == case["encoded"][:12]
    # Parse(String()) round trips; NewDigestFromEncoded(alg, enc) gives the same digest.
    assert Digest.parse(str(digest)) == digest
    assert Digest.parse(f"{digest.algorithm}:{digest.encoded}") == digest
    assert is_valid_descriptor_digest(text)


def test_parse_digest_covers_all_polyarch_algorithms() -> None:
    # The upstream test registers exactly the algorithms polyarch supports.
    assert group("TestParseDigest")["registered_algorithms_in_test"] == SUPPORTED_ALGORITHMS
    assert DIGESTS["facts"]["go_digest_defaults"]["canonical"] == CANONICAL_ALGORITHM


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        # go-digest checks the length before the character set.
        ("sha256:" + "g" * 64, "invalid_format"),
        ("sha256:" + "A" * 64, "invalid_format"),
        ("sha256:" + "a" * 63 + "\n", "invalid_format"),
        ("sha256:" + "a" * 64 + "\n", "invalid_length"),
        ("sha256:" + "a" * 65, "invalid_length"),
        ("sha512:" + "a" * 127, "invalid_length"),
        ("sha384:" + "a" * 64, "invalid_length"),
        ("sha256:" + "a" * 32 + ":" + "a" * 31, "invalid_format"),
        ("SHA256:" + "a" * 64, "invalid_format"),
        ("sha256", "invalid_format"),
        (":" + "a" * 64, "invalid_format"),
        ("md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported"),
        ("blake3:" + "a" * 64, "unsupported"),
        ("foo-:abc", "invalid_format"),
        ("foo:ab c", "invalid_format"),
    ],
)
def test_parse_edge_cases(text: str, kind: str) -> None:
    assert_invalid(text, kind)


def test_parse_error_is_typed_input_error() -> None:
    err = assert_invalid("sha256:abc", "invalid_length")
    assert isinstance(err, InvalidInputError)
    assert isinstance(err, ValueError)
    assert err.exit_code == 2
    assert err.kind in ERROR_KINDS


def test_parse_returns_same_digest_object() -> None:
    digest = Digest.parse(EMPTY_SHA256)
    assert Digest.parse(digest) is digest
    assert repr(digest) == f"Digest({EMPTY_SHA256!r})"
    assert hash(digest) == hash(EMPTY_SHA256)
    assert {digest: 1}[EMPTY_SHA256] == 1


# --------------------------------------------------------------------------------------
# BLAKE3 (go-digest's optional blake3 package)


@pytest.mark.parametrize("case", cases("TestBLAKE3 + TestBLAKE3Vector"))
def test_blake3_is_unsupported(case: Case) -> None:
    # Deviation: polyarch does not implement BLAKE3 (the stdlib has no BLAKE3), so a
    # well-formed blake3 digest is "unsupported": carried in descriptors, never verified.
    if "input" in case:
        assert_invalid(case["input"], "unsupported")
        assert is_valid_descriptor_digest(case["input"])
        return
    expected = case["expected_digest"]
    assert_invalid(expected, "unsupported")
    with pytest.raises(InvalidDigestError) as info:
        Digest.of(bytes.fromhex(case["content_hex"]), "blake3")
    assert info.value.kind == "unsupported"
    with pytest.raises(InvalidDigestError) as info:
        DigestVerifier(expected)
    assert info.value.kind == "unsupported"


# --------------------------------------------------------------------------------------
# TestFlagInterface: choosing an algorithm by name


@pytest.mark.parametrize("case", cases("TestFlagInterface"))
def test_algorithm_choice(case: Case) -> None:
    args = case["args"]
    chosen = args[1] if args[0] == "-algorithm" else None

    def digest_with_choice() -> Digest:
        return Digest.of(b"x") if chosen is None else Digest.of(b"x", chosen)

    if "error" in case:
        with pytest.raises(InvalidDigestError) as info:
            digest_with_choice()
        assert info.value.kind == case["error"]
        return
    digest = digest_with_choice()
    assert digest.algorithm == case["expected_algorithm"]
    assert Digest.parse(digest) == digest


# --------------------------------------------------------------------------------------
# Algorithm-name grammar (RegisterAlgorithm name check)


@pytest.mark.parametrize(
    "case", cases("TestBadAlgorithmNameRegistration + TestGoodAlgorithmNameRegistration")
)
def test_algorithm_name_grammar(case: Case) -> None:
    name = case["name"]
    pattern = group("TestBadAlgorithmNameRegistration + TestGoodAlgorithmNameRegistration")[
        "algorithm_name_regexp"
    ]
    assert (re.fullmatch(pattern, name) is not None) is case["valid"]
    # polyarch has no registry of algorithms; a name that fits the grammar but is not
    # sha256/384/512 is "unsupported", one that does not fit is "invalid_format".
    text = f"{name}:{'a' * 64}"
    assert_invalid(text, "unsupported" if case["valid"] else "invalid_format")
    assert is_valid_descriptor_digest(text) is case["valid"]


# --------------------------------------------------------------------------------------
# TestVerifierUnsupportedDigest: Go panics, polyarch raises InvalidDigestError


@pytest.mark.parametrize("case", cases("TestVerifierUnsupportedDigest"))
def test_verifier_refuses_unusable_digest(case: Case) -> None:
    with pytest.raises(InvalidDigestError) as info:
        DigestVerifier(case["digest"])
    expected_kind = "invalid_format" if case["name"] in ("Empty", "EmptyAlg") else "unsupported"
    assert info.value.kind == expected_kind
    with pytest.raises(InvalidDigestError):
        verify_bytes(b"", case["digest"])


# --------------------------------------------------------------------------------------
# TestDescriptor (digest subset): OCI descriptor digest validation


@pytest.mark.parametrize(
    "case",
    cases("TestDescriptor (digest-related subset)", where=lambda c: c["digest"] is not None),
)
def test_descriptor_digest(case: Case) -> None:
    text = case["digest"]
    # The image-spec validator: the grammar, then go-digest Validate ignoring "unsupported".
    expected = case["go_digest_validate"] in ("ok", "unsupported")
    assert is_valid_descriptor_digest(text) is expected
    assert (GRAMMAR_RE.fullmatch(text) is not None) is case["digest_grammar_match"]
    if case["id"] != "TestDescriptor/29":  # fails upstream for its data field, not its digest
        assert expected is case["valid"]
    if case["go_digest_validate"] == "ok":
        assert Digest.parse(text) == text
    else:
        assert_invalid(text, case["go_digest_validate"])


def test_descriptor_data_field_digest() -> None:
    case = next(
        c for c in group("TestDescriptor (digest-related subset)")["cases"]
        if "data_decoded_sha256" in c
    )  # fmt: skip
    data = base64.b64decode(case["descriptor"]["data"])
    assert len(data) == case["data_decoded_size"]
    assert Digest.of(data) == case["data_decoded_sha256"] == case["digest"]


# --------------------------------------------------------------------------------------
# Known content digests


@pytest.mark.parametrize(
    "known",
    [
        pytest.param(k, id=f"known/{i}")
        for i, k in enumerate(DIGESTS["facts"]["known_content_digests"])
    ],
)
def test_known_content_digests(known: Case) -> None:
    if "content" in known:
        data = known["content"].encode("utf-8")
    else:
        data = bytes.fromhex(known["content_hex"])
    assert len(data) == known["size"]
    for algorithm in SUPPORTED_ALGORITHMS:
        if algorithm in known:
            digest = Digest.of(data, algorithm)
            assert digest == known[algorithm]
            assert isinstance(digest, Digest)
            assert Digest.parse(digest) == digest
            verify_bytes(data, known[algorithm], known["size"])
    if "blake3" in known:
        # Deviation: no BLAKE3 in polyarch (see test_blake3_is_unsupported).
        assert is_valid_descriptor_digest(known["blake3"])
        assert_invalid(known["blake3"], "unsupported")


def test_of_defaults_to_canonical_sha256() -> None:
    assert Digest.of(b"") == EMPTY_SHA256
    assert Digest.of(b"abc", "sha384") == "sha384:" + hashlib.sha384(b"abc").hexdigest()


def test_spec_example_digests() -> None:
    for example_case in DIGESTS["facts"]["oci_grammar"]["spec_examples"]:
        text = example_case["digest"]
        if text.endswith("..."):
            continue  # truncated in the spec table
        assert is_valid_descriptor_digest(text), text


# --------------------------------------------------------------------------------------
# DigestVerifier

DATA = b"https://github.com/opencontainers\n"
DATA_DIGEST = "sha256:2690af59371e9eca9453dc29882643f46e5ca47ec2862bd517b5e17351325153"


def test_verifier_accepts_matching_content() -> None:
    verifier = DigestVerifier(DATA_DIGEST, size=len(DATA))
    verifier.update(DATA[:10])
    verifier.update(b"")
    verifier.update(DATA[10:])
    verifier.verify()
    assert verifier.count == len(DATA)
    assert verifier.actual == DATA_DIGEST
    assert isinstance(verifier.expected, Digest)


def test_verifier_without_size() -> None:
    verifier = DigestVerifier(Digest.parse(DATA_DIGEST))
    verifier.update(DATA)
    verifier.verify()


def test_verifier_other_algorithms() -> None:
    for algorithm in SUPPORTED_ALGORITHMS:
        verify_bytes(DATA, Digest.of(DATA, algorithm), len(DATA))


def test_verifier_too_long_fails_at_once() -> None:
    verifier = DigestVerifier(DATA_DIGEST, size=len(DATA))
    verifier.update(DATA)
    with pytest.raises(SizeMismatchError) as info:
        verifier.update(b"x")
    assert info.value.expected == len(DATA)
    assert info.value.actual == len(DATA) + 1
    assert info.value.exit_code == 6


def test_verifier_too_long_stops_wrap_before_yielding_extra() -> None:
    verifier = DigestVerifier(DATA_DIGEST, size=len(DATA))
    seen: list[bytes] = []

    def endless() -> Any:
        while True:
            yield DATA

    def drain() -> None:
        for chunk in verifier.wrap(endless()):
            seen.append(chunk)

    with pytest.raises(SizeMismatchError):
        drain()
    # The declared bytes went through; the first byte beyond them was never yielded.
    assert seen == [DATA]
    assert verifier.count == 2 * len(DATA)


def test_verifier_too_short_fails_at_verify() -> None:
    verifier = DigestVerifier(DATA_DIGEST, size=len(DATA))
    verifier.update(DATA[:-1])  # no error yet
    with pytest.raises(SizeMismatchError) as info:
        verifier.verify()
    assert (info.value.expected, info.value.actual) == (len(DATA), len(DATA) - 1)


def test_verifier_mismatch() -> None:
    verifier = DigestVerifier(EMPTY_SHA256, size=len(DATA))
    verifier.update(DATA)
    with pytest.raises(DigestMismatchError) as info:
        verifier.verify()
    err = info.value
    assert err.expected == EMPTY_SHA256
    assert err.actual == DATA_DIGEST
    assert isinstance(err, ContentError)
    assert err.exit_code == 6
    assert EMPTY_SHA256 in str(err)
    assert DATA_DIGEST in str(err)


def test_verifier_wrap_passes_chunks_through_and_verifies() -> None:
    chunks = [DATA[:5], DATA[5:20], DATA[20:]]
    verifier = DigestVerifier(DATA_DIGEST, size=len(DATA))
    assert list(verifier.wrap(iter(chunks))) == chunks
    bad = DigestVerifier(EMPTY_SHA256)
    out: list[bytes] = []
    with pytest.raises(DigestMismatchError):
        out.extend(bad.wrap(chunks))
    assert out == chunks  # verified once exhausted, after every chunk went through


def test_verify_bytes() -> None:
    verify_bytes(DATA, DATA_DIGEST)
    verify_bytes(DATA, DATA_DIGEST, len(DATA))
    with pytest.raises(SizeMismatchError):
        verify_bytes(DATA, DATA_DIGEST, len(DATA) + 1)
    with pytest.raises(SizeMismatchError):
        verify_bytes(DATA, DATA_DIGEST, len(DATA) - 1)
    with pytest.raises(DigestMismatchError):
        verify_bytes(DATA + b"!", DATA_DIGEST)


# --------------------------------------------------------------------------------------
# Properties


@given(st.binary(), st.sampled_from(sorted(SUPPORTED_ALGORITHMS)))
def test_of_parses_back(data: bytes, algorithm: str) -> None:
    digest = Digest.of(data, algorithm)
    assert Digest.parse(str(digest)) == digest
    assert digest.algorithm == algorithm
    assert len(digest.encoded) == SUPPORTED_ALGORITHMS[algorithm]
    assert digest.encoded == hashlib.new(algorithm, data).hexdigest()


@given(st.text())
@example("")
@example(":")
@example("sha256:" + "é" * 64)
@example("sha256:" + "٣" * 64)  # a non-ASCII digit
@example("a:" + "\x00")
def test_parse_raises_only_invalid_digest_error(text: str) -> None:
    try:
        digest = Digest.parse(text)
    except InvalidDigestError as caught:
        error: InvalidDigestError | None = caught
    else:
        error = None
    if error is not None:
        assert error.kind in ERROR_KINDS
        assert error.text == text
    else:
        assert digest == text
        assert digest.algorithm in SUPPORTED_ALGORITHMS
        assert re.fullmatch(r"[a-f0-9]+", digest.encoded, re.ASCII)
        assert is_valid_descriptor_digest(text)


@given(
    st.from_regex(r"\A[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+\Z", fullmatch=True).filter(
        lambda t: t.partition(":")[0] not in SUPPORTED_ALGORITHMS
    )
)
def test_unknown_algorithms_in_the_grammar_pass_descriptor_validation(text: str) -> None:
    # OCI: "Implementations SHOULD allow digests with unrecognized algorithms to pass
    # validation if they comply with the grammar."
    assert is_valid_descriptor_digest(text)
    assert_invalid(text, "unsupported")


@given(st.binary(max_size=4096), st.lists(st.integers(min_value=0, max_value=4096)))
def test_verifier_accepts_any_chunking(data: bytes, cuts: list[int]) -> None:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    chunks = [data[a:b] for a, b in itertools.pairwise(points)]
    assert b"".join(chunks) == data
    verifier = DigestVerifier(Digest.of(data), size=len(data))
    for chunk in chunks:
        verifier.update(chunk)
    verifier.verify()
    wrapped = DigestVerifier(Digest.of(data, "sha512"), size=len(data))
    assert b"".join(wrapped.wrap(chunks)) == data


def test_every_vector_group_is_run() -> None:
    assert {g["test"] for g in DIGESTS["groups"]} == HANDLED_GROUPS
    total = sum(len(g["cases"]) for g in DIGESTS["groups"])
    assert total == DIGESTS["case_count"]
