"""polyarch.platform against the containerd/platforms vectors, plus property tests.

Every case of ``tests/vectors/platform_parse.json``, ``platform_match.json`` and
``platform_order.json`` runs here under its ``id`` (the cpuinfo cases of
platform_parse.json run in test_host.py, where that logic lives). Host-dependent cases are
run once per listed instantiation, with the sample host passed as ``host=``; nothing in
this file reads the real machine (an autouse fixture makes that fail).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import polyarch.host
from polyarch.errors import InvalidInputError, InvalidPlatformError
from polyarch.platform import (
    KNOWN_ARCHITECTURES,
    KNOWN_OPERATING_SYSTEMS,
    Platform,
    format_all,
    is_compatible,
    matches,
    matches_os,
    matches_strict,
    normalize,
    preference_key,
    preference_order,
    rank,
    suggest_architecture,
)
from polyarch.platform._relations import _OnlyOS, _Ordered

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def _load(name: str) -> dict[str, Any]:
    with (VECTORS / name).open(encoding="utf-8") as file:
        data: dict[str, Any] = json.load(file)
    return data


PARSE = _load("platform_parse.json")
MATCH = _load("platform_match.json")
ORDER = _load("platform_order.json")


def _group(data: dict[str, Any], test: str) -> dict[str, Any]:
    for group in data["groups"]:
        if group["test"] == test:
            found: dict[str, Any] = group
            return found
    raise KeyError(test)


def _cases(data: dict[str, Any], test: str) -> list[Any]:
    """One pytest param per case of a group, with the case id as the test id."""
    return [pytest.param(case, id=case["id"]) for case in _group(data, test)["cases"]]


def _platform(obj: dict[str, Any]) -> Platform:
    """A vector platform object (snake_case keys; ``os_features: null`` = Go nil)."""
    return Platform(
        os=obj.get("os", ""),
        architecture=obj.get("architecture", ""),
        variant=obj.get("variant", ""),
        os_version=obj.get("os_version", ""),
        os_features=tuple(obj.get("os_features") or ()),
    )


def _sorted_by_less(
    platforms: list[Platform], less: Callable[[Platform, Platform], bool]
) -> list[Platform]:
    """Stable sort driven by a Go-style ``Less`` (what sort.Slice does for n <= 12)."""

    def compare(a: Platform, b: Platform) -> int:
        return -1 if less(a, b) else (1 if less(b, a) else 0)

    return sorted(platforms, key=functools.cmp_to_key(compare))


def _host_must_not_be_read() -> Platform:
    raise AssertionError("platform.py read the host although host= was given or not needed")


@pytest.fixture(autouse=True, scope="module")
def _pure() -> Iterator[None]:
    """Fail any test here that makes platform.py consult polyarch.host."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(polyarch.host, "host_platform", _host_must_not_be_read)
        yield


LINUX_AMD64 = Platform("linux", "amd64")


# platform_parse.json --------------------------------------------------------------------


def _selector_params() -> list[Any]:
    group = _group(PARSE, "TestParseSelector")
    params = [
        pytest.param(
            case,
            None,
            None,
            "",
            id=case["id"],
            marks=pytest.mark.skip(
                reason=f"skipped upstream: {case['current_behavior']['error']}; "
                f"intended result {case['future_formatted']}"
            ),
        )
        for case in group["skipped_upstream_cases"]
    ]
    for case in group["cases"]:
        if not case["host_dependent"]:
            # host=None: the two- and three-part forms must not need the host
            params.append(
                pytest.param(
                    case, None, _platform(case["expected"]), case["formatted"], id=case["id"]
                )
            )
            continue
        for instance in case["instantiations"]:
            host = Platform(
                instance["host_os"], instance["host_arch"], instance["host_cpu_variant"]
            )
            params.append(
                pytest.param(
                    case,
                    host,
                    _platform(instance["expected"]),
                    instance["formatted"],
                    id=f"{case['id']}@{instance['host']}",
                )
            )
    return params


@pytest.mark.parametrize(("case", "host", "expected", "formatted"), _selector_params())
def test_parse_selector(
    case: dict[str, Any], host: Platform | None, expected: Platform, formatted: str
) -> None:
    parsed = Platform.parse(case["input"], host=host)
    assert parsed == expected
    formatter: Callable[[Platform], str] = (
        str if case["format_function"] == "Format" else format_all
    )
    assert formatter(parsed) == formatted
    assert formatter(Platform.parse(formatted, host=host)) == formatted
    assert matches(parsed, expected)
    for accepted in case.get("matcher_accepts") or []:
        assert matches(parsed, _platform(accepted)), accepted


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case["id"])
        for case in _group(PARSE, "TestParseSelector")["skipped_upstream_cases"]
    ],
)
def test_wildcards_are_rejected_for_now(case: dict[str, Any]) -> None:
    """The current upstream behavior of the skipped wildcard cases."""
    assert case["current_behavior"]["valid"] is False
    with pytest.raises(InvalidPlatformError, match="wildcards"):
        Platform.parse(case["input"], host=LINUX_AMD64)


@pytest.mark.parametrize("case", _cases(PARSE, "TestFormatAllEncoding"))
def test_format_all_encoding(case: dict[str, Any]) -> None:
    platform = _platform(case["platform"])
    assert format_all(platform) == case["formatted"]
    parsed = Platform.parse(case["formatted"])
    roundtrip = case["roundtrip"]
    assert parsed.os_version == roundtrip["os_version"]
    assert parsed.os_features == tuple(roundtrip["os_features"] or ())


@pytest.mark.parametrize("case", _cases(PARSE, "TestFormatAllSkipsEmptyOSFeatures"))
def test_format_all_skips_empty_features(case: dict[str, Any]) -> None:
    assert format_all(_platform(case["platform"])) == case["formatted"]


@pytest.mark.parametrize("case", _cases(PARSE, "TestParseSelectorInvalid"))
def test_parse_selector_invalid(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidPlatformError) as caught:
        Platform.parse(case["input"], host=LINUX_AMD64)
    assert caught.value.text == case["input"]


@pytest.mark.parametrize("case", _cases(PARSE, "FuzzPlatformsParse"))
def test_fuzz_seed(case: dict[str, Any]) -> None:
    assert Platform.parse(case["input"]) == _platform(case["expected"])


# Inputs the vector file describes only by their Go expression (too long to store).
_GO_BUILT_INPUTS = {
    "BenchmarkParseOSOptions/2": "linux(" + "+" * (64 * 1024) + ")/amd64",
    "BenchmarkParseOSOptions/3": "linux(+CONFIG_" + "FOO=y_" * (16 * 1024) + "BAR)/amd64",
}


@pytest.mark.parametrize("case", _cases(PARSE, "Benchmarks (derived, not asserted)"))
def test_benchmark_inputs(case: dict[str, Any]) -> None:
    derived = case["derived"]
    if "platform" in case:
        assert format_all(_platform(case["platform"])) == derived["formatted_all"]
        return
    text = case.get("input") or _GO_BUILT_INPUTS[case["id"]]
    assert len(text) == case["input_length"]
    started = time.perf_counter()
    if derived["valid"]:
        assert format_all(Platform.parse(text)) == derived["formatted_all"]
    else:
        with pytest.raises(InvalidPlatformError):
            Platform.parse(text)
    # a backtracking regexp would take minutes on the 64K "+" chain
    assert time.perf_counter() - started < 1.0


NORMALIZATION = PARSE["normalization"]


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(row, id=f"{row['architecture']}/{row['variant']}")
        for row in NORMALIZATION["arch_table_derived"]
    ],
)
def test_normalize_arch_table(row: dict[str, str]) -> None:
    normalized = normalize(Platform("linux", row["architecture"], row["variant"]))
    assert (normalized.architecture, normalized.variant) == (
        row["normalized_architecture"],
        row["normalized_variant"],
    )
    assert normalize(normalized) == normalized
    assert Platform("linux", row["architecture"], row["variant"]).normalized() == normalized


def test_known_names_are_containerds() -> None:
    assert set(NORMALIZATION["os"]["known_os"]) == KNOWN_OPERATING_SYSTEMS
    assert set(NORMALIZATION["known_arch"]) == KNOWN_ARCHITECTURES


def test_normalize_os_and_features() -> None:
    assert normalize(Platform("MacOS", "arm64")).os == "darwin"
    assert normalize(Platform("Linux", "AMD64")) == LINUX_AMD64
    features = normalize(Platform("linux", "amd64", os_features=("b", "a", "b", ""))).os_features
    assert features == ("", "a", "b")
    assert normalize(Platform("windows", "amd64", os_version="10.0.20348")).os_version == (
        "10.0.20348"
    )


def test_normalize_keeps_an_empty_os() -> None:
    """Deliberate difference: containerd puts GOOS there; this module never reads the host."""
    assert normalize(Platform("", "amd64")).os == ""
    assert str(Platform("", "amd64")) == "unknown"
    assert format_all(Platform("", "amd64")) == "unknown"


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        pytest.param(alias, canonical, id=alias)
        for alias, canonical in NORMALIZATION["doc_table_platforms_go"].items()
    ],
)
def test_documented_aliases(alias: str, canonical: str) -> None:
    if alias.endswith(" (os)"):
        assert Platform.parse(alias.removesuffix(" (os)"), host=LINUX_AMD64).os == canonical
        return
    parsed = Platform.parse(alias, host=LINUX_AMD64)
    assert parsed.normalized() == Platform.parse(f"linux/{canonical}").normalized()


@pytest.mark.parametrize(
    ("architecture", "variant"),
    [
        pytest.param(row["architecture"], variant, id=f"{row['architecture']}/{variant}")
        for row in PARSE["oci_platform_variants"]["rows"]
        for variant in row["variants"]
        if variant != "..."
    ],
)
def test_oci_platform_variants(architecture: str, variant: str) -> None:
    parsed = Platform.parse(f"linux/{architecture}/{variant}")
    normalized = parsed.normalized()
    assert normalized.architecture == architecture
    assert Platform.parse(str(normalized)) == normalized
    assert is_compatible(parsed, normalized)


# polyarch's own parsing rules ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "linux/loong64",
        "windows/arm64",
        "linux/riscv64",
        "linux/s390x",
        "linux/ppc64le",
        "linux/mips64le",
        "linux/wasm",
        "freebsd/amd64",
        "plan9/386",
        "linux/sparc64",
        "linux/arm64be",
        "linux/foo64",  # unknown but well-formed: no whitelist
        "haiku/amd64",
        "linux/ppc64le/power9",
        "linux/riscv64/rva20u64",
    ],
)
def test_unusual_platforms_parse(text: str) -> None:
    parsed = Platform.parse(text)
    assert str(parsed) == text
    assert Platform.parse(str(parsed.normalized())) == parsed.normalized()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/aarch64", Platform("linux", "arm64")),
        ("linux/x86_64", LINUX_AMD64),
        ("linux/x86-64", LINUX_AMD64),
        ("linux/armhf", Platform("linux", "arm")),
        ("linux/armel", Platform("linux", "arm", "v6")),
        ("linux/i386", Platform("linux", "386")),
        ("macos/arm64", Platform("darwin", "arm64")),
        ("Linux/AMD64", LINUX_AMD64),
        ("linux/amd64/v3", Platform("linux", "amd64", "v3")),
        ("linux/arm/7", Platform("linux", "arm", "v7")),
        ("loong64", Platform("linux", "loong64")),
        ("riscv64", Platform("linux", "riscv64")),
    ],
)
def test_common_spellings(text: str, expected: Platform) -> None:
    assert Platform.parse(text, host=LINUX_AMD64) == expected


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("armv7", "linux/arm/v7"),
        ("armv6l", "linux/arm/v6"),
        ("arm64v8", "linux/arm64/v8"),
        ("amd64v3", "linux/amd64/v3"),
        ("i686", "linux/386"),
        ("linux/armv7", "linux/arm/v7"),
        ("linux/armv7l", "linux/arm/v7"),
        ("linux/arm32v6", "linux/arm/v6"),
        ("linux/armv7/v7", "linux/arm/v7"),
        ("linux/arm64v8", "linux/arm64/v8"),
        ("linux/aarch64v8.2", "linux/arm64/v8.2"),
        ("linux/amd64v3", "linux/amd64/v3"),
        ("linux/x86-64-v2", "linux/amd64/v2"),
        ("linux/x86", "linux/386"),
        ("windows/x64", "windows/amd64"),
        ("linux/ppc64el", "linux/ppc64le"),
        ("linux/loongarch64", "linux/loong64"),
        ("Linux(+gpu)/armv6l", "Linux(+gpu)/arm/v6"),
        ("osx", "darwin"),
        ("osx/arm64", "darwin/arm64"),
        ("win64(10.0.20348)/amd64", "windows(10.0.20348)/amd64"),
    ],
)
def test_misspellings_raise_with_suggestion(text: str, suggestion: str) -> None:
    with pytest.raises(InvalidPlatformError) as caught:
        Platform.parse(text, host=LINUX_AMD64)
    error = caught.value
    assert error.suggestion == suggestion
    assert error.hint == f"did you mean {suggestion!r}?"
    assert error.text == text
    assert repr(text) in str(error)
    assert "\n" not in str(error)
    assert Platform.parse(suggestion, host=LINUX_AMD64)  # the suggestion itself is valid
    assert isinstance(error, ValueError)
    assert isinstance(error, InvalidInputError)
    assert error.exit_code == 2


def test_one_part_suggestion_uses_the_host_os() -> None:
    with pytest.raises(InvalidPlatformError) as caught:
        Platform.parse("armv7", host=Platform("windows", "amd64"))
    assert caught.value.suggestion == "windows/arm/v7"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "foo",
        "linux/&arm",
        "linux /arm",
        "linux/arm/v7/x",
        "linux//arm",
        "*",
        "linux(",
        "linux(1.0",
        "windows(%zz)/amd64",
        "windows(%ff)/amd64",  # decodes to bytes that are not UTF-8
        "linux(++gpu)/amd64",
        "linux\n",
        "linux/amd64\n",
        "x" * 500,
    ],
)
def test_junk_gives_one_clear_line(text: str) -> None:
    with pytest.raises(InvalidPlatformError) as caught:
        Platform.parse(text, host=LINUX_AMD64)
    message = str(caught.value)
    assert message.startswith("invalid platform ")
    assert "\n" not in message
    assert repr(text[:60]) in message
    assert len(message) < 300
    assert caught.value.suggestion is None
    assert caught.value.text == text


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(InvalidPlatformError):
        Platform.parse(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arch", "variant", "expected"),
    [
        ("armv7", "", ("arm", "v7")),
        ("armv7l", "", ("arm", "v7")),
        ("ARMv6l", "", ("arm", "v6")),
        ("armv5tel", "", ("arm", "v5")),
        ("armv8l", "", ("arm", "v8")),
        ("arm32v7", "", ("arm", "v7")),
        ("arm64v8", "", ("arm64", "v8")),
        ("arm64-v9.2", "", ("arm64", "v9.2")),
        ("aarch64", "", ("arm64", "")),
        ("aarch64", "v8", ("arm64", "v8")),
        ("amd64v3", "", ("amd64", "v3")),
        ("x86-64-v3", "", ("amd64", "v3")),
        ("x86_64", "", ("amd64", "")),
        ("x86_64", "v2", ("amd64", "v2")),
        ("x64", "", ("amd64", "")),
        ("i386", "", ("386", "")),
        ("i686", "", ("386", "")),
        ("x86", "", ("386", "")),
        ("armhf", "", ("arm", "v7")),
        ("armel", "", ("arm", "v6")),
        ("ppc64el", "", ("ppc64le", "")),
        ("mips64el", "", ("mips64le", "")),
        ("loongarch64", "", ("loong64", "")),
        ("AMD64", "", ("amd64", "")),
        ("amd64", "", None),
        ("arm", "v7", None),
        ("arm64", "", None),
        ("riscv64", "", None),
        ("s390x", "", None),
        ("foo", "", None),
        ("", "", None),
        ("arm64e", "", None),
    ],
)
def test_suggest_architecture(arch: str, variant: str, expected: tuple[str, str] | None) -> None:
    assert suggest_architecture(arch, variant) == expected


# to_dict / from_dict ---------------------------------------------------------------------


def test_to_dict_field_order_and_omitempty() -> None:
    full = Platform("windows", "arm64", "v8", "10.0.20348", ("win32k",))
    assert list(full.to_dict().items()) == [
        ("architecture", "arm64"),
        ("os", "windows"),
        ("os.version", "10.0.20348"),
        ("os.features", ["win32k"]),
        ("variant", "v8"),
    ]
    assert json.dumps(LINUX_AMD64.to_dict()) == '{"architecture": "amd64", "os": "linux"}'


def test_from_dict_reads_oci_and_docker_objects() -> None:
    docker = {"architecture": "arm", "os": "linux", "variant": "v7", "features": ["sse4"]}
    assert Platform.from_dict(docker) == Platform("linux", "arm", "v7")
    oci = {"architecture": "amd64", "os": "windows", "os.version": "10.0.17763.1"}
    assert Platform.from_dict(oci) == Platform("windows", "amd64", os_version="10.0.17763.1")
    assert Platform.from_dict({"os": "linux", "architecture": "amd64", "variant": None}) == (
        LINUX_AMD64
    )
    assert Platform.from_dict({"architecture": "aarch64", "os": "Linux"}) == Platform(
        "Linux", "aarch64"
    )  # kept as written


@pytest.mark.parametrize(
    "data",
    [
        {"os": 1, "architecture": "amd64"},
        {"os": "linux", "architecture": ["amd64"]},
        {"os": "linux", "architecture": "amd64", "os.features": "gpu"},
        {"os": "linux", "architecture": "amd64", "os.features": [1]},
        {"os": "linux", "architecture": "amd64", "os.version": 10.0},
        ["linux", "amd64"],
        "linux/amd64",
    ],
)
def test_from_dict_rejects_wrong_types(data: Any) -> None:
    with pytest.raises(InvalidPlatformError) as caught:
        Platform.from_dict(data)
    assert "\n" not in str(caught.value)


def test_platform_is_a_hashable_value() -> None:
    listed = Platform("linux", "amd64", os_features=["gpu"])  # type: ignore[arg-type]
    assert listed.os_features == ("gpu",)
    assert hash(listed) == hash(Platform("linux", "amd64", os_features=("gpu",)))
    assert len({LINUX_AMD64, Platform("linux", "amd64")}) == 1


# platform_match.json ---------------------------------------------------------------------


@pytest.mark.parametrize("case", _cases(MATCH, "TestOnly"))
def test_only(case: dict[str, Any]) -> None:
    host = Platform.parse(case["host"])
    assert host == _platform(case["host_parsed"])
    for candidate in case["accepts"]:
        assert is_compatible(host, Platform.parse(candidate)), candidate
    for candidate in case["rejects"]:
        assert not is_compatible(host, Platform.parse(candidate)), candidate
    assert [str(p) for p in preference_order(host)] == case["preference_vector_derived"]
    candidates = [Platform.parse(text) for text in case["rejects"] + case["accepts"]]
    accepted = [Platform.parse(text) for text in case["accepts"]]
    assert sorted(map(str, rank(host, candidates))) == sorted(map(str, accepted))


@pytest.mark.parametrize("case", _cases(MATCH, "TestOnlyStrict"))
def test_only_strict(case: dict[str, Any]) -> None:
    host = Platform.parse(case["host"])
    assert host == _platform(case["host_parsed"])
    for candidate in case["accepts"]:
        assert matches_strict(host, Platform.parse(candidate)), candidate
    for candidate in case["rejects"]:
        assert not matches_strict(host, Platform.parse(candidate)), candidate


@pytest.mark.parametrize("case", _cases(MATCH, "TestOnlyOS"))
def test_only_os(case: dict[str, Any]) -> None:
    host = Platform.parse(case["host"])
    assert host == _platform(case["host_parsed"])
    for candidate in case["accepts"]:
        assert matches_os(host, Platform.parse(candidate)), candidate
    for candidate in case["rejects"]:
        assert not matches_os(host, Platform.parse(candidate)), candidate


@pytest.mark.parametrize("case", _cases(MATCH, "TestParseSelector (matches)"))
def test_new_matcher(case: dict[str, Any]) -> None:
    host = Platform.parse(case["host"])
    assert host == _platform(case["host_parsed"])
    for candidate in case["accepts_platform_objects"]:
        assert matches(host, _platform(candidate)), candidate
    for candidate in case["rejects_platform_objects"]:
        assert not matches(host, _platform(candidate)), candidate


@pytest.mark.parametrize(
    "case",
    _cases(MATCH, "TestMatchComparerMatch_ABICheckWCOW") + _cases(MATCH, "TestFallbackOnOSVersion"),
)
def test_windows_os_version_match(case: dict[str, Any]) -> None:
    assert matches(_platform(case["host"]), _platform(case["candidate"])) is case["match"]


@pytest.mark.parametrize("case", _cases(MATCH, "Test_PlatformCompat"))
def test_windows_host_and_container_compat(case: dict[str, Any]) -> None:
    host = Platform("windows", "amd64", os_version=case["host_os_version"])
    container = Platform("windows", "amd64", os_version=case["container_os_version"])
    assert matches(host, container) is case["should_run"]
    assert is_compatible(host, container) is case["should_run"]


_WINDOWS_BUILDS = ("10.0.17763", "10.0.20348", "10.0.26100")


@pytest.mark.parametrize(
    ("case", "build"),
    [
        pytest.param(case, build, id=f"{case['id']}@{build}")
        for case in _group(MATCH, "defaults_windows_test.go")["cases"]
        for build in _WINDOWS_BUILDS
    ],
)
def test_windows_default_matcher(case: dict[str, Any], build: str) -> None:
    """DefaultSpec() of a Windows amd64 host is windows(<build>)/amd64; matching is NewMatcher."""
    default_spec = Platform("windows", "amd64", os_version=build)

    def resolve(value: str | dict[str, str]) -> Platform:
        if value in ("Default()", "NewMatcher(DefaultSpec())", "DefaultSpec()"):
            return default_spec
        if value == "NewMatcher(linux/amd64)":
            return Platform.parse("linux/amd64")
        assert isinstance(value, dict)
        filled = {
            key: text.replace("${HOST_ARCH}", "amd64").replace("${HOST_BUILD}", build)
            for key, text in value.items()
        }
        return _platform(filled)

    assert matches(resolve(case["host"]), resolve(case["candidate"])) is case["match"]


# platform_order.json ---------------------------------------------------------------------


@pytest.mark.parametrize("case", _cases(ORDER, "TestCompareOSFeatures"))
def test_compare_os_features(case: dict[str, Any]) -> None:
    host = Platform.parse(case["host"])
    assert host == _platform(case["host_parsed"])
    inputs = [Platform.parse(text) for text in case["input"]]
    for comparer in case["comparers"]:
        if comparer == "Only":
            ordered = sorted(inputs, key=preference_key(host))
        else:
            less = {
                "OnlyStrict": _Ordered([normalize(host)]).less,
                "Ordered": _Ordered([host]).less,
                "Any": _AnyOf([host]).less,
            }[comparer]
            ordered = _sorted_by_less(inputs, less)
        assert [format_all(p) for p in ordered] == case["expected"], comparer


class _AnyOf:
    """containerd ``Any(platforms...)``: matches any, no preference among them. polyarch
    has no use for it; this model of it, over the public :func:`matches`, lets the
    upstream ``Less`` vectors for ``Any`` run too."""

    def __init__(self, platforms: list[Platform]) -> None:
        self._platforms = platforms

    def match(self, target: Platform) -> bool:
        return any(matches(platform, target) for platform in self._platforms)

    def less(self, a: Platform, b: Platform) -> bool:
        a_matches, b_matches = self.match(a), self.match(b)
        if a_matches and b_matches:
            return len(a.os_features) > len(b.os_features)
        if not a_matches and not b_matches and (a.os_features or b.os_features):
            return self.less(replace(a, os_features=()), replace(b, os_features=()))
        return a_matches and not b_matches


@pytest.mark.parametrize("case", _cases(ORDER, "TestOnlyOSLess"))
def test_only_os_less(case: dict[str, Any]) -> None:
    host = Platform.parse(case["host"])
    inputs = [Platform.parse(text) for text in case["input"]]
    ordered = _sorted_by_less(inputs, _OnlyOS(host).less)
    assert [str(p) for p in ordered] == case["expected"]


@pytest.mark.parametrize("case", _cases(ORDER, "TestWindowsMatchComparerLess"))
def test_windows_match_comparer_less(case: dict[str, Any]) -> None:
    host = _platform(case["host"])
    inputs = [_platform(p) for p in case["input"]]
    expected = [_platform(p) for p in case["expected"]]
    assert sorted(inputs, key=preference_key(host)) == expected
    runnable = [p for p in expected if is_compatible(host, p)]
    assert rank(host, inputs) == runnable
    assert len(runnable) == 3


@pytest.mark.parametrize("case", _cases(ORDER, "Test_PlatformOrder"))
def test_windows_platform_order(case: dict[str, Any]) -> None:
    host = _platform(case["host"])
    inputs = [_platform(p) for p in case["input"]]
    first = case["expected_first"]
    best = rank(host, inputs)[0]
    assert (best.os, best.os_version) == (first["os"], first["os_version"])
    assert sorted(inputs, key=preference_key(host))[0] == best


# Deliberate difference: containerd gives an unknown arm64 variant an empty vector, so such
# a host would not even run its own platform; polyarch keeps the exact match.
_ORDER_DEVIATIONS = {"derived/Only/linux/arm64/v8.10": ["linux/arm64/v8.10"]}


@pytest.mark.parametrize("case", _cases(ORDER, "derived: Only() preference vectors"))
def test_only_preference_order(case: dict[str, Any]) -> None:
    host = Platform.parse(case["host"])
    expected = _ORDER_DEVIATIONS.get(case["id"], case["only_preference_order"])
    order = preference_order(host)
    assert [str(p) for p in order] == expected
    assert all(is_compatible(host, p) for p in order)
    assert rank(host, list(reversed(order))) == list(order)


def test_unknown_arm64_variant_runs_only_itself() -> None:
    host = Platform.parse("linux/arm64/v8.10")
    assert is_compatible(host, host)
    assert matches_strict(host, host)
    assert not is_compatible(host, Platform.parse("linux/arm64"))


def test_rank_compares_windows_revisions_numerically() -> None:
    """Deliberate difference: containerd compares os_version strings, so .987 > .3091."""
    host = Platform("windows", "amd64", os_version="10.0.20348.3091")
    old = Platform("windows", "amd64", os_version="10.0.20348.987")
    new = Platform("windows", "amd64", os_version="10.0.20348.3091")
    assert rank(host, [old, new]) == [new, old]


def test_rank_examples() -> None:
    arm64 = Platform("linux", "arm64")
    pool = [
        Platform.parse("linux/arm/v6"),
        Platform.parse("linux/amd64"),
        Platform.parse("linux/arm"),
        Platform.parse("linux/arm64/v8"),
        Platform.parse("windows/arm64"),
    ]
    assert [str(p) for p in rank(arm64, pool)] == ["linux/arm64/v8", "linux/arm", "linux/arm/v6"]
    amd64 = LINUX_AMD64
    assert rank(amd64, [Platform("linux", "386"), LINUX_AMD64]) == [
        LINUX_AMD64,
        Platform("linux", "386"),
    ]
    assert rank(amd64, [Platform("linux", "amd64", "v2")]) == []
    assert rank(amd64, []) == []


# Properties ------------------------------------------------------------------------------

_NAME = st.from_regex(r"[a-z0-9_-]{1,10}", fullmatch=True)
_COMPONENT = st.from_regex(r"[a-z0-9_.-]{1,10}", fullmatch=True)
_OPTION = st.text(
    alphabet="abcXYZ0189_.-%+()/", min_size=1, max_size=12
)  # values FormatAll can encode
_OSES = st.sampled_from(sorted(KNOWN_OPERATING_SYSTEMS)) | _NAME
_ARCHES = st.sampled_from(sorted(KNOWN_ARCHITECTURES)) | _COMPONENT


@st.composite
def _normalized_platforms(draw: st.DrawFn, *, options: bool = False) -> Platform:
    platform = Platform(
        os=draw(_OSES),
        architecture=draw(_ARCHES),
        variant=draw(st.just("") | _COMPONENT),
        os_version=draw(st.just("") | _OPTION) if options else "",
        os_features=tuple(draw(st.lists(_OPTION, max_size=3))) if options else (),
    )
    return normalize(platform)


def _parse_or_error(text: str) -> Platform | InvalidPlatformError:
    try:
        return Platform.parse(text, host=LINUX_AMD64)
    except InvalidPlatformError as error:
        return error


def _assert_round_trip(text: str, platform: Platform) -> None:
    """``text`` parses back to ``platform``, unless it is a misspelling parse rejects."""
    parsed = _parse_or_error(text)
    if isinstance(parsed, InvalidPlatformError):
        assert parsed.suggestion is not None, parsed  # only misspellings may be rejected
    else:
        assert parsed == platform


@given(_normalized_platforms())
def test_parse_str_round_trip(platform: Platform) -> None:
    _assert_round_trip(str(platform), platform)


@given(
    st.builds(
        Platform,
        os=st.sampled_from(sorted(KNOWN_OPERATING_SYSTEMS)),
        architecture=st.sampled_from(sorted(KNOWN_ARCHITECTURES)),
        variant=st.just("") | st.from_regex(r"v[0-9](\.[0-9])?", fullmatch=True),
    ).map(normalize)
)
def test_parse_str_round_trip_known_names(platform: Platform) -> None:
    assert Platform.parse(str(platform)) == platform


@given(_normalized_platforms(options=True))
def test_parse_format_all_round_trip(platform: Platform) -> None:
    _assert_round_trip(format_all(platform), platform)


_ANY_PLATFORM = st.builds(
    Platform,
    os=st.text(),
    architecture=st.text(),
    variant=st.text(),
    os_version=st.text(),
    os_features=st.lists(st.text()).map(tuple),
)


@given(_ANY_PLATFORM)
def test_dict_round_trip(platform: Platform) -> None:
    assert Platform.from_dict(platform.to_dict()) == platform
    assert Platform.from_dict(json.loads(json.dumps(platform.to_dict()))) == platform


@given(_ANY_PLATFORM)
def test_normalize_is_idempotent(platform: Platform) -> None:
    once = normalize(platform)
    assert normalize(once) == once


@given(st.text() | st.text(alphabet="linuxwdamd64rv78/()+%._-*", max_size=30))
def test_arbitrary_text_raises_only_invalid_platform_error(text: str) -> None:
    parsed = _parse_or_error(text)  # anything else propagates and fails the test
    if isinstance(parsed, InvalidPlatformError):
        assert "\n" not in str(parsed)
    else:
        assert parsed.os
        assert parsed.architecture


_POOL_PLATFORMS = st.builds(
    Platform,
    os=st.sampled_from(["linux", "windows", "Linux", "darwin"]),
    architecture=st.sampled_from(
        ["amd64", "386", "arm", "arm64", "aarch64", "armhf", "x86_64", "riscv64", "i386"]
    ),
    variant=st.sampled_from(["", "v1", "v2", "v3", "v5", "v6", "v7", "v8", "v8.1", "v9", "7"]),
    os_version=st.sampled_from(["", "10.0.17763", "10.0.20348.1", "10.0.26100"]),
    os_features=st.sampled_from([(), ("gpu",), ("win32k",)]),
)


@given(_POOL_PLATFORMS, st.lists(_POOL_PLATFORMS, max_size=12))
def test_rank_properties(host: Platform, candidates: list[Platform]) -> None:
    ranked = rank(host, candidates)
    remaining = list(candidates)
    for platform in ranked:
        remaining.remove(platform)  # a sub-multiset of the candidates
    assert all(is_compatible(host, p) for p in ranked)
    assert not any(is_compatible(host, p) for p in remaining)
    if any(matches_strict(host, c) for c in candidates):
        assert matches_strict(host, ranked[0])
    # best first: the index of the first preference entry matched never decreases
    order = preference_order(host)
    positions = [next(i for i, e in enumerate(order) if matches(e, p)) for p in ranked]
    assert positions == sorted(positions)


@given(_POOL_PLATFORMS | _ANY_PLATFORM)
def test_every_platform_runs_itself(platform: Platform) -> None:
    assert matches(platform, platform)
    assert matches_strict(platform, platform)
    assert is_compatible(platform, platform)
    assert matches_os(platform, platform)


@given(st.text(max_size=20), st.text(max_size=5))
def test_suggestions_are_canonical(arch: str, variant: str) -> None:
    suggestion = suggest_architecture(arch, variant)
    if suggestion is None:
        return
    canonical_arch, canonical_variant = suggestion
    assert suggest_architecture(canonical_arch, canonical_variant) is None
    assert canonical_arch in KNOWN_ARCHITECTURES
