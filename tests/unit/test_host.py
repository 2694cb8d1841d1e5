"""polyarch.host: machine facts -> Platform (injected), the POLYARCH_PLATFORM override, and
the cpuinfo vectors of tests/vectors/platform_parse.json (containerd cpuinfo_linux.go)."""

from __future__ import annotations

import json
import platform as stdlib_platform
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import polyarch.host as host_module
from polyarch.errors import InvalidPlatformError
from polyarch.host import ENV_VAR, _cpu_variant_from_machine, _detect, host_platform
from polyarch.platform import Platform, format_all, is_compatible, normalize

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
with (VECTORS / "platform_parse.json").open(encoding="utf-8") as _file:
    PARSE: dict[str, Any] = json.load(_file)

CPUINFO_MAPPING: dict[str, str] = PARSE["normalization"]["cpuinfo_variant_mapping"]["map"]


@pytest.fixture(autouse=True)
def _fresh_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(ENV_VAR, raising=False)
    host_platform.cache_clear()
    yield
    host_platform.cache_clear()


def _fake_machine(
    monkeypatch: pytest.MonkeyPatch, system: str, machine: str, version: str = ""
) -> None:
    monkeypatch.setattr(stdlib_platform, "system", lambda: system)
    monkeypatch.setattr(stdlib_platform, "machine", lambda: machine)
    monkeypatch.setattr(stdlib_platform, "version", lambda: version)
    monkeypatch.setattr(host_module, "_read_cpuinfo", lambda: "")


# _detect: machine facts -> platform -----------------------------------------------------

_CPUINFO_ARMV7 = "processor\t: 0\nmodel name\t: ARMv7 Processor rev 3 (v7l)\nCPU architecture: 7\n"
_CPUINFO_PI_ZERO = (
    "processor\t: 0\nmodel name\t: ARMv6-compatible processor rev 7 (v6l)\nCPU architecture: 7\n"
)
_CPUINFO_ARM64 = (
    "processor\t: 0\nBogoMIPS\t: 108.00\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
)


@pytest.mark.parametrize(
    ("system", "machine", "cpuinfo", "options", "expected"),
    [
        ("Linux", "x86_64", "", {}, "linux/amd64"),
        ("Linux", "aarch64", _CPUINFO_ARM64, {}, "linux/arm64"),
        ("Linux", "armv7l", _CPUINFO_ARMV7, {}, "linux/arm/v7"),
        ("Linux", "armv7l", _CPUINFO_PI_ZERO, {}, "linux/arm/v6"),  # Raspberry Pi quirk
        ("Linux", "armv6l", "", {}, "linux/arm/v6"),  # no cpuinfo field: from the name
        ("Linux", "armv8l", _CPUINFO_ARM64, {}, "linux/arm/v8"),
        ("Linux", "aarch64", _CPUINFO_ARM64, {"pointer_bits": 32}, "linux/arm/v8"),
        ("Linux", "x86_64", "", {"pointer_bits": 32}, "linux/386"),
        ("Linux", "i686", "", {}, "linux/386"),
        ("Linux", "riscv64", "", {}, "linux/riscv64"),
        ("Linux", "s390x", "", {}, "linux/s390x"),
        ("Linux", "ppc64le", "", {}, "linux/ppc64le"),
        ("Linux", "loongarch64", "", {}, "linux/loong64"),
        ("Linux", "mips64", "", {}, "linux/mips64"),
        ("Darwin", "arm64", "", {}, "darwin/arm64"),
        ("Darwin", "x86_64", "", {}, "darwin/amd64"),
        ("Windows", "AMD64", "", {"os_version": "10.0.20348"}, "windows(10.0.20348)/amd64"),
        ("Windows", "ARM64", "", {"os_version": "10.0.26100"}, "windows(10.0.26100)/arm64"),
        ("Windows", "x86", "", {"os_version": "10.0.17763.1"}, "windows(10.0.17763)/386"),
        ("Windows", "AMD64", "", {"os_version": "unknown"}, "windows/amd64"),
        ("CYGWIN_NT-10.0-19045", "x86_64", "", {}, "windows/amd64"),
        ("FreeBSD", "amd64", "", {}, "freebsd/amd64"),
        ("FreeBSD", "arm64", "", {}, "freebsd/arm64"),
        ("SunOS", "i86pc", "", {}, "solaris/amd64"),
        ("Linux", "x86_64", "", {"os_version": "#1 SMP"}, "linux/amd64"),  # only Windows
    ],
)
def test_detect(
    system: str, machine: str, cpuinfo: str, options: dict[str, Any], expected: str
) -> None:
    detected = _detect(system, machine, cpuinfo, **options)
    assert format_all(detected) == expected
    assert normalize(detected) == detected
    assert is_compatible(detected, detected)


@pytest.mark.parametrize(
    ("raw", "variant"),
    [pytest.param(raw, variant, id=raw) for raw, variant in CPUINFO_MAPPING.items()],
)
def test_cpuinfo_variant_mapping(raw: str, variant: str) -> None:
    """containerd getCPUVariant's table; ``*`` stands for any other value."""
    value = "something-else" if raw == "*" else raw
    detected = _detect("Linux", "armv7l", f"processor\t: 0\nCPU architecture\t: {value}\n")
    assert detected.architecture == "arm"
    assert detected.variant == variant


def test_cpuinfo_field_name_is_case_insensitive() -> None:
    assert _detect("Linux", "armv7l", "cpu ARCHITECTURE : 6").variant == "v6"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case["id"])
        for group in PARSE["groups"]
        if group["test"] == "TestGetCPUVariantFromArch"
        for case in group["cases"]
    ],
)
def test_get_cpu_variant_from_arch(case: dict[str, Any]) -> None:
    result = _cpu_variant_from_machine(case["input"])
    if case["valid"]:
        assert result == case["output"]
    else:
        assert result is None  # containerd: errInvalidArgument


def test_short_machine_names_do_not_crash() -> None:
    """containerd slices arch[0:4] and panics below four characters; we just find nothing."""
    assert _cpu_variant_from_machine("arm") is None
    assert _cpu_variant_from_machine("") is None
    assert _detect("Linux", "arm", "").variant == "v7"  # no variant found: normalized default


def test_windows_default_spec_properties() -> None:
    """host_default_properties: DefaultSpec() on Windows has os.version major.minor.build,
    Normalize(DefaultSpec()) == DefaultSpec(), and DefaultString() == FormatAll(DefaultSpec())."""
    spec = _detect("Windows", "AMD64", os_version="10.0.26100")
    assert spec == Platform("windows", "amd64", os_version="10.0.26100")
    assert normalize(spec) == spec
    assert format_all(spec) == "windows(10.0.26100)/amd64"


# host_platform ---------------------------------------------------------------------------


def test_host_platform_reads_this_machine() -> None:
    platform = host_platform()
    assert platform.os
    assert platform.architecture
    assert normalize(platform) == platform
    assert is_compatible(platform, platform)
    assert host_platform() is platform  # cached


def test_host_platform_with_injected_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_machine(monkeypatch, "Windows", "AMD64", "10.0.20348")
    assert host_platform() == Platform("windows", "amd64", os_version="10.0.20348")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("linux/arm64/v8", Platform("linux", "arm64")),
        ("linux/arm", Platform("linux", "arm", "v7")),
        ("linux/arm/v6", Platform("linux", "arm", "v6")),
        ("  linux/s390x ", Platform("linux", "s390x")),
        ("windows(10.0.20348)/amd64", Platform("windows", "amd64", os_version="10.0.20348")),
        ("darwin/aarch64", Platform("darwin", "arm64")),
        ("riscv64", Platform("linux", "riscv64")),  # OS from the machine
        ("windows", Platform("windows", "amd64")),  # architecture from the machine
    ],
)
def test_env_override(monkeypatch: pytest.MonkeyPatch, value: str, expected: Platform) -> None:
    _fake_machine(monkeypatch, "Linux", "x86_64")
    monkeypatch.setenv(ENV_VAR, value)
    assert host_platform() == expected


def test_empty_env_override_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_machine(monkeypatch, "Linux", "aarch64")
    monkeypatch.setenv(ENV_VAR, "  ")
    assert host_platform() == Platform("linux", "arm64")


def test_invalid_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_machine(monkeypatch, "Linux", "x86_64")
    monkeypatch.setenv(ENV_VAR, "linux/armv7")
    with pytest.raises(InvalidPlatformError) as caught:
        host_platform()
    assert str(caught.value).startswith(f"{ENV_VAR}: invalid platform 'linux/armv7'")
    assert caught.value.suggestion == "linux/arm/v7"
    assert caught.value.text == "linux/armv7"


def test_env_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "linux/s390x")
    assert host_platform() == Platform("linux", "s390x")
    monkeypatch.setenv(ENV_VAR, "linux/ppc64le")
    assert host_platform() == Platform("linux", "s390x")
    host_platform.cache_clear()
    assert host_platform() == Platform("linux", "ppc64le")


def test_parse_asks_the_host_only_for_one_part_specifiers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The platform package never reads the machine: a one-part specifier takes its other
    half from the ``host`` it is given (a platform, or a function called only then)."""
    monkeypatch.setenv(ENV_VAR, "linux/arm/v6")
    host_platform.cache_clear()
    assert Platform.parse("linux", host=host_platform) == Platform("linux", "arm", "v6")
    assert Platform.parse("amd64", host=host_platform) == Platform("linux", "amd64")
    assert Platform.parse("windows", host=Platform("linux", "riscv64")) == Platform(
        "windows", "riscv64"
    )
    with pytest.raises(InvalidPlatformError, match="none was given"):
        Platform.parse("linux")

    def fail() -> Platform:
        raise AssertionError("host read for a two-part specifier")

    assert Platform.parse("linux/amd64", host=fail) == Platform("linux", "amd64")
    assert Platform.parse("linux/arm/v7", host=fail) == Platform("linux", "arm", "v7")
