"""The platform vocabulary: the OS and architecture names Go knows, their aliases and
misspellings, containerd's normalization, and the tables its relations use."""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "KNOWN_ARCHITECTURES",
    "KNOWN_OPERATING_SYSTEMS",
    "KNOWN_PLATFORMS",
    "KNOWN_VARIANTS",
    "suggest_architecture",
    "unusual_platform",
]


#: GOOS values (go/build syslist) that a one-part specifier recognizes as an OS.
KNOWN_OPERATING_SYSTEMS: Final = frozenset(
    {
        "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
        "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos",
    }
)  # fmt: skip

#: GOARCH values that a one-part specifier recognizes as an architecture. Two- and
#: three-part specifiers accept architectures outside this set.
KNOWN_ARCHITECTURES: Final = frozenset(
    {
        "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le",
        "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
        "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm",
    }
)  # fmt: skip

#: The os/architecture pairs an image can be for: docker's ``validOSArches`` (cli/command/
#: manifest/util.go, what ``docker manifest annotate`` accepts) and every port of the Go
#: toolchain (``go tool dist list``), which is what images are built with.
_PORTS: Final[dict[str, str]] = {
    "aix": "ppc64",
    "android": "386 amd64 arm arm64",
    "darwin": "386 amd64 arm arm64",
    "dragonfly": "amd64",
    "freebsd": "386 amd64 arm arm64 riscv64",
    "illumos": "amd64",
    "ios": "amd64 arm64",
    "js": "wasm",
    "linux": "386 amd64 arm arm64 loong64 mips mips64 mips64le mipsle ppc64 ppc64le riscv64 s390x",
    "netbsd": "386 amd64 arm arm64",
    "openbsd": "386 amd64 arm arm64 ppc64 riscv64",
    "plan9": "386 amd64 arm",
    "solaris": "amd64",
    "wasip1": "wasm",
    "windows": "386 amd64 arm arm64",
}
KNOWN_PLATFORMS: Final[frozenset[tuple[str, str]]] = frozenset(
    (os, arch) for os, arches in _PORTS.items() for arch in arches.split()
)

#: The variants an architecture's images use (containerd's normalization reads them;
#: GOAMD64, GOARM and GOARM64 levels). Architectures not named here have none.
KNOWN_VARIANTS: Final[dict[str, frozenset[str]]] = {
    "amd64": frozenset({"v1", "v2", "v3", "v4"}),
    "arm": frozenset({"v5", "v6", "v7", "v8"}),
    "arm64": frozenset(
        {"v8", *(f"v8.{n}" for n in range(10)), "v9", *(f"v9.{n}" for n in range(6))}
    ),
}


def unusual_platform(os: str, arch: str, variant: str) -> tuple[str, str | None] | None:
    """Why ``os/arch/variant`` is no platform an image is built for, and the closest one
    that is (``None`` when nothing is close); ``None`` for a known platform.

    ``linux/arm64x`` -> ``("linux/arm64x is no known os/architecture", "linux/arm64")``.
    """
    import difflib

    if (os, arch) not in KNOWN_PLATFORMS:
        spelled = f"{os}/{arch}"
        oses = sorted({o for o, _ in KNOWN_PLATFORMS})
        close_os = os if os in oses else next(iter(difflib.get_close_matches(os, oses, 1)), None)
        suggestion = None
        if close_os is not None:
            arches = sorted(a for o, a in KNOWN_PLATFORMS if o == close_os)
            close = suggest_architecture(arch, variant)
            close_arch = (
                close[0]
                if close is not None and close[0] in arches
                else next(iter(difflib.get_close_matches(arch, arches, 1, 0.5)), None)
            )
            if close_arch is not None:
                suggestion = f"{close_os}/{close_arch}"
        return f"{spelled} is no known os/architecture", suggestion
    if variant:
        known = KNOWN_VARIANTS.get(arch, frozenset())
        if variant not in known:
            listing = ", ".join(sorted(known)) if known else "none"
            close_variant = next(iter(difflib.get_close_matches(variant, sorted(known), 1)), None)
            return (
                f"{variant!r} is no known variant of {arch} (known: {listing})",
                f"{os}/{arch}/{close_variant}" if close_variant else f"{os}/{arch}",
            )
    return None


# Patterns are matched with re.fullmatch(PATTERN, ...), so they are compiled (and cached by
# re) on first use: most processes read platforms from JSON and never need one.
_OS_PART: Final = r"([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?"
_COMPONENT: Final = r"[A-Za-z0-9_.-]+"
_INT: Final = r"[+-]?[0-9]+"
_UINT: Final = r"[0-9]+"

# Spellings that are not GOARCH values but clearly mean one (Debian, RPM, uname, Docker Hub
# organisation names). Values: (architecture, variant or None to keep the given variant).
_ARCH_ALIASES: Final[dict[str, tuple[str, str | None]]] = {
    # the aliases containerd's normalizeArch itself rewrites
    "i386": ("386", ""),
    "x86_64": ("amd64", None),
    "x86-64": ("amd64", None),
    "aarch64": ("arm64", None),
    "armhf": ("arm", "v7"),
    "armel": ("arm", "v6"),
    # further spellings polyarch recognizes
    "x86": ("386", ""),
    "i486": ("386", ""),
    "i586": ("386", ""),
    "i686": ("386", ""),
    "ia32": ("386", ""),
    "x64": ("amd64", None),
    "i86pc": ("amd64", None),  # uname -m on Solaris/illumos x86 (64-bit only today)
    "x86_32": ("386", ""),
    "armhfp": ("arm", "v7"),
    "arm32": ("arm", None),
    "aarch32": ("arm", None),
    "ppc64el": ("ppc64le", None),
    "powerpc64le": ("ppc64le", None),
    "powerpc64": ("ppc64", None),
    "powerpc": ("ppc", None),
    "mips64el": ("mips64le", None),
    "mipsel": ("mipsle", None),
    "loongarch64": ("loong64", None),
}
# Architecture and variant written as one word: armv7, armv7l, arm32v6, arm64v8, amd64v3,
# x86-64-v3. The variant in the word wins over a separately given one.
_GLUED_ARCHES: Final[tuple[tuple[str, str], ...]] = (
    (r"(?:arm32|aarch32|arm)[-_]?v?([5-8])[a-z]*", "arm"),
    (r"(?:arm64|aarch64)[-_]?v?([89](?:\.[0-9]+)?)", "arm64"),
    (r"(?:amd64|x86_64|x86-64|x64)[-_]?v?([1-4])", "amd64"),
)
_OS_ALIASES: Final[dict[str, str]] = {
    "osx": "darwin",
    "macosx": "darwin",
    "mac": "darwin",
    "win": "windows",
    "win32": "windows",
    "win64": "windows",
}

# containerd compare.go arm64variantToVersion: the (major, highest minor) pairs an arm64
# variant can run, best first.
_ARM64_VERSIONS: Final[dict[str, tuple[tuple[int, int], ...]]] = {
    **{f"v8.{minor}": ((8, minor),) for minor in range(10)},
    "v8": ((8, 0),),
    "v9": ((9, 0), (8, 5)),
    **{f"v9.{minor}": ((9, minor), (8, min(minor + 5, 9))) for minor in range(8)},
}

# Windows builds (platform_windows_compat.go): before ltsc2022 a container must match the
# host build exactly; from ltsc2022 on, a host runs containers from the latest LTSC below
# it (or ltsc2022) up to its own build.
_WINDOWS_LTSC2022: Final = 20348
_WINDOWS_COMPAT_LTSC: Final = (20348, 26100)


def suggest_architecture(arch: str, variant: str = "") -> tuple[str, str] | None:
    """The canonical ``(architecture, variant)`` for an alias or misspelled architecture.

    ``armv7`` / ``armv7l`` / ``arm32v7`` -> ``("arm", "v7")``; ``arm64v8`` ->
    ``("arm64", "v8")``; ``amd64v3`` / ``x86-64-v3`` -> ``("amd64", "v3")``; ``aarch64`` ->
    ``("arm64", variant)``; ``x86_64`` / ``x64`` -> ``("amd64", variant)``; ``i686`` /
    ``x86`` -> ``("386", "")``; ``armhf`` -> ``("arm", "v7")``; ``ppc64el`` ->
    ``("ppc64le", variant)``. A variant written into the word wins over ``variant``. A known
    architecture gives its lower-case spelling, or ``None`` when it is already written so;
    anything unrecognized gives ``None``. The variant is returned as written (lower-cased),
    not normalized: ``arm64v8`` suggests ``arm64/v8``.
    """
    name = arch.strip().lower()
    given = variant.strip().lower()
    if name in KNOWN_ARCHITECTURES:
        suggestion = (name, given)
        return None if suggestion == (arch, variant) else suggestion
    alias = _ARCH_ALIASES.get(name)
    if alias is not None:
        canonical, fixed_variant = alias
        return canonical, given if fixed_variant is None else fixed_variant
    for pattern, canonical in _GLUED_ARCHES:
        match = re.fullmatch(pattern, name)
        if match is not None:
            return canonical, "v" + match.group(1)
    return None


def _misspelled_arch(arch: str, variant: str) -> tuple[str, str] | None:
    """The canonical spelling of an architecture no index uses, if recognizable."""
    lowered = arch.lower()
    if lowered in KNOWN_ARCHITECTURES or _normalize_arch(arch, variant)[0] != lowered:
        return None  # canonical, or an alias containerd itself normalizes
    return suggest_architecture(arch, variant)


def _normalize_os(os_: str) -> str:
    os_ = os_.lower()
    return "darwin" if os_ == "macos" else os_


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    """containerd ``normalizeArch``."""
    arch, variant = arch.lower(), variant.lower()
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        if variant in ("8", "v8", "v8.0"):
            variant = ""
        elif variant in ("9", "9.0", "v9.0"):
            variant = "v9"
        return "arm64", variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            variant = "v7"
        elif variant in ("5", "6", "8"):
            variant = "v" + variant
    return arch, variant
