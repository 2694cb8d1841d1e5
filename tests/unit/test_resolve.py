"""polyarch.ops.resolve: the best entry of an index for a platform, and why.

Indexes are built as bytes and parsed with :func:`polyarch.models.parse_manifest`, so the
entries are exactly what a registry would give. Hosts are always passed in; nothing here
reads the machine.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from polyarch import mediatype as mt
from polyarch.errors import NoMatchingPlatformError, NotFoundError
from polyarch.models import Descriptor, ImageIndex, parse_manifest
from polyarch.ops.resolve import Choice, available_platforms, choose
from polyarch.platform import Platform

ATTESTATION = {
    mt.ANNOTATION_REFERENCE_TYPE: mt.ATTESTATION_MANIFEST,
    mt.ANNOTATION_REFERENCE_DIGEST: "sha256:" + "0" * 64,
}


def digest_of(label: str) -> str:
    return "sha256:" + hashlib.sha256(label.encode()).hexdigest()


def entry(spec: str | None, label: str | None = None, **extra: Any) -> dict[str, Any]:
    """An index entry for ``os/arch[/variant]`` (``None``: no platform)."""
    out: dict[str, Any] = {
        "mediaType": mt.OCI_MANIFEST,
        "digest": digest_of(label or str(spec)),
        "size": 1000,
    }
    if spec is not None:
        os_, arch, *variant = spec.split("/")
        platform: dict[str, Any] = {"architecture": arch, "os": os_}
        if variant:
            platform["variant"] = variant[0]
        out["platform"] = platform
    out.update(extra)
    return out


def index(*entries: dict[str, Any]) -> ImageIndex:
    raw = json.dumps(
        {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": list(entries)}
    ).encode()
    parsed = parse_manifest(raw)
    assert isinstance(parsed, ImageIndex)
    return parsed


def host(spec: str, **extra: Any) -> Platform:
    os_, arch, *variant = spec.split("/")
    return Platform(os_, arch, variant[0] if variant else "", **extra)


@pytest.mark.parametrize(
    ("wanted", "entries", "chosen", "exact"),
    [
        # Exact match preferred over a compatible one, wherever it is in the index.
        ("linux/arm64", ["linux/arm64", "linux/arm/v7"], "linux/arm64", True),
        ("linux/arm64", ["linux/arm/v7", "linux/arm64"], "linux/arm64", True),
        ("linux/amd64", ["linux/386", "linux/amd64"], "linux/amd64", True),
        ("linux/arm/v7", ["linux/arm/v6", "linux/arm/v7"], "linux/arm/v7", True),
        # Fallbacks: the most preferred compatible entry.
        ("linux/arm/v8", ["linux/arm/v6", "linux/arm/v7"], "linux/arm/v7", False),
        ("linux/arm/v8", ["linux/arm/v7", "linux/arm/v6"], "linux/arm/v7", False),
        ("linux/amd64", ["linux/386"], "linux/386", False),
        ("linux/arm64", ["linux/arm/v6", "linux/arm/v7"], "linux/arm/v7", False),
        ("linux/arm/v7", ["linux/arm/v5", "linux/arm/v6"], "linux/arm/v6", False),
        ("linux/amd64/v3", ["linux/386", "linux/amd64", "linux/amd64/v2"], "linux/amd64/v2", False),
        # Spellings that normalize to the same platform are exact matches.
        ("linux/arm64/v8", ["linux/arm/v7", "linux/arm64"], "linux/arm64", True),
        ("linux/arm64", ["linux/arm64/v8"], "linux/arm64/v8", True),
        ("linux/arm/v7", ["linux/arm"], "linux/arm", True),
        ("linux/aarch64", ["linux/amd64", "linux/arm64"], "linux/arm64", True),
        ("linux/x86_64", ["linux/arm64", "linux/amd64"], "linux/amd64", True),
    ],
)
def test_choose(wanted: str, entries: list[str], chosen: str, exact: bool) -> None:
    idx = index(*(entry(spec) for spec in entries))
    choice = choose(idx, host(wanted))
    assert isinstance(choice, Choice)
    assert choice.descriptor == idx.manifests[entries.index(chosen)]
    assert choice.descriptor.digest == digest_of(chosen)
    assert choice.platform == choice.descriptor.platform
    assert str(choice.platform) == chosen
    assert choice.wanted == host(wanted)
    assert choice.exact is exact


def test_first_of_duplicate_platforms_wins() -> None:
    idx = index(
        entry("linux/arm64", "first arm64"),
        entry("linux/amd64", "first"),
        entry("linux/amd64", "second"),
    )
    assert choose(idx, host("linux/amd64")).descriptor.digest == digest_of("first")
    # The same when the duplicates are the best fallback.
    idx = index(entry("linux/386", "first"), entry("linux/386", "second"))
    assert choose(idx, host("linux/amd64")).descriptor.digest == digest_of("first")


def test_first_of_equivalent_spellings_wins() -> None:
    idx = index(entry("linux/arm", "bare arm"), entry("linux/arm/v7", "arm v7"))
    assert choose(idx, host("linux/arm/v7")).descriptor.digest == digest_of("bare arm")
    idx = index(entry("linux/arm/v7", "arm v7"), entry("linux/arm", "bare arm"))
    assert choose(idx, host("linux/arm/v7")).descriptor.digest == digest_of("arm v7")


def test_attestations_are_never_chosen() -> None:
    # A (broken) attestation entry whose platform would match exactly comes first.
    idx = index(
        entry("linux/amd64", "attestation", annotations=ATTESTATION),
        entry("linux/386", "image"),
        entry("unknown/unknown", "buildx attestation", annotations=ATTESTATION),
    )
    choice = choose(idx, host("linux/amd64"))
    assert choice.descriptor.digest == digest_of("image")
    assert not choice.descriptor.is_attestation
    assert not choice.exact


def test_only_attestations_is_no_match() -> None:
    idx = index(entry("linux/amd64", "attestation", annotations=ATTESTATION))
    with pytest.raises(NoMatchingPlatformError) as info:
        choose(idx, host("linux/amd64"))
    assert info.value.available == ()


def test_entries_without_platform_come_after_those_with_one() -> None:
    idx = index(entry(None, "no platform"), entry("linux/amd64"))
    asked: list[str] = []

    def learn(d: Descriptor) -> Platform | None:
        asked.append(d.digest)
        return Platform.parse("linux/amd64")

    choice = choose(idx, host("linux/amd64"), learn=learn)
    assert choice.descriptor.digest == digest_of("linux/amd64")
    assert asked == []  # an entry with a platform fit: nothing else was looked at
    assert available_platforms(idx) == (f"(no platform) {digest_of('no platform')}", "linux/amd64")


def test_an_entry_without_platform_is_judged_by_what_learn_says_in_index_order() -> None:
    idx = index(
        entry("linux/s390x"),
        entry(None, "artifact"),
        entry(None, "arm64 image"),
        entry(None, "second arm64 image"),
    )
    learned = {
        digest_of("artifact"): None,
        digest_of("arm64 image"): Platform.parse("linux/arm64"),
        digest_of("second arm64 image"): Platform.parse("linux/arm64"),
    }
    choice = choose(idx, host("linux/arm64"), learn=lambda d: learned[d.digest])
    assert choice.descriptor.digest == digest_of("arm64 image")
    assert choice.from_config
    assert choice.exact
    assert choice.position == 3
    assert choice.reason == (
        "entry 3 has no platform; its config says linux/arm64, an exact match for linux/arm64"
    )
    # Without a way to learn, such entries are never chosen.
    with pytest.raises(NoMatchingPlatformError):
        choose(idx, host("linux/arm64"))


def test_no_match_names_what_entries_without_platform_turned_out_to_be() -> None:
    idx = index(entry(None, "artifact"), entry(None, "arm64 image"))
    learned = {digest_of("artifact"): None, digest_of("arm64 image"): Platform.parse("linux/arm64")}
    with pytest.raises(NoMatchingPlatformError) as info:
        choose(idx, host("linux/amd64"), learn=lambda d: learned[d.digest])
    assert info.value.available == (
        f"(no platform) {digest_of('artifact')}",
        "linux/arm64 (no platform; from its config)",
    )


def windows(version: str) -> dict[str, Any]:
    made = entry("windows/amd64", version)
    made["platform"]["os.version"] = version
    return made


def test_available_platforms_show_the_os_version() -> None:
    idx = index(
        windows("10.0.17763.1"),
        windows("10.0.20348.1"),
    )
    assert available_platforms(idx) == (
        "windows(10.0.17763.1)/amd64",
        "windows(10.0.20348.1)/amd64",
    )


def test_no_match_lists_available_platforms_in_index_order() -> None:
    idx = index(
        entry("linux/arm64"),
        entry("unknown/unknown", "att", annotations=ATTESTATION),
        entry("linux/amd64"),
        entry(None, "artifact"),
        entry("linux/arm/v7"),
        entry("windows/amd64"),
    )
    with pytest.raises(NoMatchingPlatformError) as info:
        choose(idx, host("linux/s390x"))
    err = info.value
    assert err.available == (
        "linux/arm64",
        "linux/amd64",
        f"(no platform) {digest_of('artifact')}",
        "linux/arm/v7",
        "windows/amd64",
    )
    assert err.available == available_platforms(idx)
    assert err.wanted == "linux/s390x"
    assert isinstance(err, NotFoundError)
    assert err.exit_code == 3
    message = str(err)
    assert "linux/s390x" in message
    assert "linux/arm64, linux/amd64, (no platform) sha256:" in message
    assert idx.digest in message


@pytest.mark.parametrize(
    ("wanted", "entries"),
    [
        ("linux/arm/v6", ["linux/arm/v7", "linux/arm64"]),  # nothing runs backwards
        ("linux/386", ["linux/amd64"]),
        ("linux/arm64", ["linux/amd64"]),
        ("darwin/arm64", ["linux/arm64"]),  # another OS
        ("windows/amd64", ["linux/amd64"]),
        ("linux/amd64", []),
    ],
)
def test_no_match(wanted: str, entries: list[str]) -> None:
    idx = index(*(entry(spec) for spec in entries))
    with pytest.raises(NoMatchingPlatformError) as info:
        choose(idx, host(wanted))
    assert info.value.available == tuple(entries)
    if not entries:
        assert "none" in str(info.value)


def test_windows_os_version() -> None:
    idx = index(
        entry("windows/amd64", "ltsc2019", platform={
            "architecture": "amd64", "os": "windows", "os.version": "10.0.17763.1577"
        }),
        entry("windows/amd64", "ltsc2022", platform={
            "architecture": "amd64", "os": "windows", "os.version": "10.0.20348.2227"
        }),
    )  # fmt: skip
    choice = choose(idx, host("windows/amd64", os_version="10.0.20348.2340"))
    assert choice.descriptor.digest == digest_of("ltsc2022")
    choice = choose(idx, host("windows/amd64", os_version="10.0.17763.5000"))
    assert choice.descriptor.digest == digest_of("ltsc2019")


def test_reason_exact() -> None:
    choice = choose(index(entry("linux/arm64")), host("linux/arm64"))
    assert choice.reason == "linux/arm64 is an exact match for linux/arm64"


def test_reason_exact_other_spelling() -> None:
    choice = choose(index(entry("linux/arm64")), host("linux/arm64/v8"))
    assert choice.exact
    assert choice.reason == "linux/arm64 is an exact match for linux/arm64/v8"


def test_reason_fallback() -> None:
    choice = choose(index(entry("linux/386")), host("linux/amd64"))
    assert choice.reason == (
        "no exact match for linux/amd64; linux/386 is the best entry it can run"
    )
    choice = choose(index(entry("linux/arm/v6"), entry("linux/arm/v7")), host("linux/arm/v8"))
    assert choice.reason == (
        "no exact match for linux/arm/v8; linux/arm/v7 is the best entry it can run"
    )
