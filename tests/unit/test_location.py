"""polyarch.location: ``oci:PATH[:TAG|@DIGEST]`` and registry references as users type them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyarch.digest import Digest
from polyarch.errors import InvalidInputError, InvalidLocationError, InvalidReferenceError
from polyarch.location import LayoutLocation, RegistryLocation
from polyarch.reference import Reference
from polyarch.schemes import parse_location

DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize(
    ("text", "path", "tag", "digest"),
    [
        ("oci:dir", "dir", None, None),
        ("oci:./image", "./image", None, None),
        ("oci:/var/lib/images/app", "/var/lib/images/app", None, None),
        ("oci:dir:1.0", "dir", "1.0", None),
        ("oci:./a/b:1.0", "./a/b", "1.0", None),
        ("oci:dir:latest", "dir", "latest", None),
        ("oci:dir:_x", "dir", "_x", None),
        ("oci:dir:" + "a" * 128, "dir", "a" * 128, None),
        (f"oci:dir@{DIGEST}", "dir", None, DIGEST),
        (f"oci:./a/b@{DIGEST}", "./a/b", None, DIGEST),
        # The tag is after the last ':' only when that part has no '/'.
        ("oci:/x:y/z", "/x:y/z", None, None),
        ("oci:/x:y/z:tag", "/x:y/z", "tag", None),
        (f"oci:/x:y/z@{DIGEST}", "/x:y/z", None, DIGEST),
        ("oci:a:b:c", "a:b", "c", None),
        ("oci:C:/images/app", "C:/images/app", None, None),
        ("oci:dir/", "dir/", None, None),
        # A digest wins; a ':' before it belongs to the path.
        (f"oci:dir:tag@{DIGEST}", "dir:tag", None, DIGEST),
        (f"oci:a@b@{DIGEST}", "a@b", None, DIGEST),
    ],
)
def test_layout_locations(text: str, path: str, tag: str | None, digest: str | None) -> None:
    location = parse_location(text)
    assert location == LayoutLocation(
        path=path, tag=tag, digest=Digest.parse(digest) if digest else None
    )
    assert isinstance(location, LayoutLocation)
    if digest is not None:
        assert isinstance(location.digest, Digest)
    assert location.identifier == (digest or tag)
    assert str(location) == text
    assert parse_location(str(location)) == location


def test_layout_location_ignores_default_tag() -> None:
    # A layout without tag or digest means its only image, never "latest".
    assert parse_location("oci:dir", default_tag="latest") == LayoutLocation("dir")
    assert parse_location("oci:dir").identifier is None


@pytest.mark.parametrize(
    "text",
    [
        "oci:",
        "oci::1.0",
        f"oci:@{DIGEST}",
        "oci:dir:",
        "oci:dir:-tag",
        "oci:dir:.tag",
        "oci:dir:a+b",
        "oci:dir:tág",
        "oci:dir:٣",
        "oci:dir:" + "a" * 129,
        "oci:dir@",
        "oci:dir@sha256:abc",
        "oci:dir@sha256:" + "A" * 64,
        "oci:dir@latest",
        "oci:dir@md5:d41d8cd98f00b204e9800998ecf8427e",
        "oci:dir@blake3:" + "a" * 64,
    ],
)
def test_bad_layout_locations(text: str) -> None:
    with pytest.raises(InvalidLocationError) as info:
        parse_location(text)
    err = info.value
    assert isinstance(err, InvalidInputError)
    assert isinstance(err, ValueError)
    assert err.exit_code == 2
    assert repr(text) in str(err)


def test_bad_layout_digest_keeps_cause() -> None:
    with pytest.raises(InvalidLocationError) as info:
        parse_location("oci:dir@sha256:abc")
    assert info.value.__cause__ is not None
    assert getattr(info.value.__cause__, "kind", None) == "invalid_length"


def test_empty_path_has_hint() -> None:
    with pytest.raises(InvalidLocationError) as info:
        parse_location("oci::1.0")
    assert info.value.hint is not None
    assert "oci:PATH" in info.value.hint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alpine", "docker.io/library/alpine:latest"),
        ("docker://alpine", "docker.io/library/alpine:latest"),
        ("library/alpine:3.20", "docker.io/library/alpine:3.20"),
        ("docker://docker.io/library/alpine:3.20", "docker.io/library/alpine:3.20"),
        ("ghcr.io/owner/app", "ghcr.io/owner/app:latest"),
        ("localhost:5000/app:1.0", "localhost:5000/app:1.0"),
        ("docker://localhost:5000/app:1.0", "localhost:5000/app:1.0"),
        (f"alpine@{DIGEST}", f"docker.io/library/alpine@{DIGEST}"),
        (f"ghcr.io/a/b:1@{DIGEST}", f"ghcr.io/a/b:1@{DIGEST}"),
        ("index.docker.io/user/app:v2", "docker.io/user/app:v2"),
    ],
)
def test_registry_locations(text: str, expected: str) -> None:
    location = parse_location(text)
    assert isinstance(location, RegistryLocation)
    assert location.reference == Reference.parse(text.removeprefix("docker://"))
    assert str(location) == expected
    assert location.identifier == location.reference.identifier
    # str() is a full reference, and reads back to the same location.
    assert parse_location(str(location)) == location
    assert parse_location(f"docker://{location}") == location


def test_registry_default_tag() -> None:
    location = parse_location("ghcr.io/owner/app", default_tag=None)
    assert isinstance(location, RegistryLocation)
    assert location.reference.tag is None
    assert location.identifier is None
    assert str(location) == "ghcr.io/owner/app"
    assert parse_location("ghcr.io/owner/app", default_tag="edge").identifier == "edge"
    assert parse_location(f"ghcr.io/owner/app@{DIGEST}", default_tag="edge").identifier == DIGEST


@pytest.mark.parametrize(
    "text",
    [
        "",
        "docker://",
        "Alpine",
        "docker://ghcr.io/Owner/app",
        "alpine:",
        "alpine:-bad",
        "alpine@sha256:abc",
        "ghcr.io/a/b@sha256:" + "A" * 64,
        "a//b",
        "docker://docker://alpine",
    ],
)
def test_bad_registry_locations(text: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_location(text)
    assert info.value.exit_code == 2
    assert isinstance(info.value, InvalidInputError)


@pytest.mark.parametrize(
    "text",
    [
        "ftp://example.com/image",
        "http://registry.example.com/app:1",
        "https://ghcr.io/owner/app",
        "Docker://alpine",
        "oci-archive://x.tar",
        "://alpine",
    ],
)
def test_unsupported_schemes(text: str) -> None:
    with pytest.raises(InvalidLocationError) as info:
        parse_location(text)
    err = info.value
    assert err.exit_code == 2
    assert repr(text) in str(err)
    assert err.hint is not None


PATHS = st.from_regex(r"\A[./]?[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.:-]+)*/?\Z", fullmatch=True).filter(
    lambda p: ":" not in p.rpartition("/")[2]
)
TAGS = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z", fullmatch=True)
DIGESTS = st.binary(max_size=8).map(Digest.of)


@given(PATHS, st.none() | TAGS, st.none() | DIGESTS)
def test_layout_str_round_trip(path: str, tag: str | None, digest: Digest | None) -> None:
    if tag is not None and digest is not None:
        tag = None  # one or the other
    location = LayoutLocation(path=path, tag=tag, digest=digest)
    assert parse_location(str(location)) == location


@pytest.mark.parametrize("text", ["oci:/tmp/a\x00b:t", "oci:dir\n:1", "oci:\x1b[31m", "oci:d\x7f"])
def test_a_layout_path_with_a_control_character_is_refused(text: str) -> None:
    with pytest.raises(InvalidLocationError) as info:
        parse_location(text)
    assert info.value.exit_code == 2
