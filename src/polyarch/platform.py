"""Platforms: ``os/architecture[/variant]`` with containerd's normalization and relations.

A :class:`Platform` is the OCI ``platform`` object of an index entry. Users write one as a
*specifier*, the syntax of containerd's ``platforms.Parse`` (and of ``docker --platform``)::

    specifier  ::= os-part                           "linux", "windows(10.0.17763)"
                 | arch                              "arm64", "x86_64", "armhf"
                 | os-part "/" arch                  "linux/amd64"
                 | os-part "/" arch "/" variant      "linux/arm/v7"
    os-part    ::= os [ "(" [os-version] ("+" os-feature)* ")" ]
                                                     "windows(10.0.17763+win32k)", "linux(+gpu)"
    os         ::= [A-Za-z0-9_-]+
    arch       ::= [A-Za-z0-9_.-]+
    variant    ::= [A-Za-z0-9_.-]+
    os-version ::= [A-Za-z0-9_.%-]*   percent-encoded: %25 "%", %2B "+", %28 "(", %29 ")", %2F "/"
    os-feature ::= [A-Za-z0-9_.%-]+   (same encoding)

A specifier has at most three ``/``-separated parts and no ``*`` (wildcards are not
supported). A one-part specifier is first looked up as an operating system (``linux``) and
then as an architecture (``arm64``); the missing half comes from the *host* platform: the
``host=`` argument of :meth:`Platform.parse`, or :func:`polyarch.host.host_platform` when it
is left out. That is the only way this module ever learns about the machine. Two- and
three-part specifiers never consult the host and accept any architecture (``linux/loong64``,
``linux/mips64le``, ``plan9/foo`` all parse), except the recognizable misspellings that
:func:`suggest_architecture` knows (``linux/armv7``, ``linux/arm64v8``, ``linux/x86``, ...):
those raise :class:`~polyarch.errors.InvalidPlatformError` with the canonical spelling as
``suggestion``, because no image index ever contains them.

Parsing keeps what was written, as containerd does; :func:`normalize` gives the canonical
value. They differ in two well-known places: ``Parse("linux/arm")`` has variant ``""``
(normalized: ``v7``) and ``Parse("linux/arm64/v8")`` keeps ``v8`` (normalized: ``""``)::

    input                     normalized
    i386                      386 (variant dropped)
    x86_64, x86-64, amd64     amd64; variant v1 -> ""
    aarch64, arm64            arm64; variant 8, v8, v8.0 -> ""; 9, 9.0, v9.0 -> v9
    armhf                     arm/v7
    armel                     arm/v6
    arm                       variant "" or 7 -> v7; 5, 6, 8 -> v5, v6, v8
    macos (os)                darwin
    os_features               sorted, duplicates removed

All relations normalize both sides, so ``linux/arm`` and ``linux/arm/v7`` are the same
platform to them:

``matches(host, target)``
    containerd ``NewMatcher(host).Match(target)``: the same platform.
``matches_strict(host, target)``
    containerd ``OnlyStrict(host).Match(target)``: the same platform (named for symmetry
    with :func:`is_compatible`; it is the same relation as :func:`matches`).
``is_compatible(host, target)``
    containerd ``Only(host).Match(target)``: the host can run the target.
``matches_os(host, target)``
    containerd ``OnlyOS(host).Match(target)``: the same OS, any architecture.
``rank(host, candidates)``
    the compatible candidates, best first (containerd ``Only(host).Less``).

Deliberate differences from containerd/platforms v1.0.0-rc.4:

* an empty ``os`` stays empty in :func:`normalize` (containerd substitutes ``GOOS``; this
  module never reads the host there);
* an ``arm64`` host whose variant is not in containerd's table (``v8.10``) is compatible
  with exactly itself (containerd: with nothing, not even itself);
* :func:`rank` breaks ties between Windows candidates by comparing ``os_version``
  numerically per dotted part (containerd compares strings, so ``.987`` beats ``.3091``);
* whether the Windows ``os.version`` rules apply is decided on the normalized OS.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from polyarch.errors import InvalidPlatformError

if TYPE_CHECKING:
    from _typeshed import SupportsAllComparisons

__all__ = [
    "KNOWN_ARCHITECTURES",
    "KNOWN_OPERATING_SYSTEMS",
    "Platform",
    "format_all",
    "is_compatible",
    "matches",
    "matches_os",
    "matches_strict",
    "normalize",
    "preference_key",
    "preference_order",
    "rank",
    "suggest_architecture",
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

# Patterns are matched with re.fullmatch(PATTERN, ...), so they are compiled (and cached by
# re) on first use: most processes read platforms from JSON and never need one.
_OS_PART: Final = r"([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?"
_COMPONENT: Final = r"[A-Za-z0-9_.-]+"
_INT: Final = r"[+-]?[0-9]+"
_UINT: Final = r"[0-9]+"

_HEX: Final = frozenset("0123456789abcdefABCDEF")
_MAX_QUOTED: Final = 60

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


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform: ``os``, ``architecture`` and the optional parts.

    Frozen and hashable. ``str(p)`` is the short specifier ``os/architecture[/variant]``
    (containerd ``Format``); :func:`format_all` adds the OS version and features.
    Equality is field by field; use :func:`matches` to compare platforms as platforms.
    """

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Accept a list (as JSON gives) but store a tuple, so the value stays hashable.
        features: object = self.os_features
        if not isinstance(features, tuple):
            object.__setattr__(self, "os_features", tuple(self.os_features))

    @classmethod
    def parse(cls, text: str, *, host: Platform | None = None) -> Platform:
        """Parse a platform specifier (see the module docstring) as containerd ``Parse`` does.

        The result keeps the spelling's meaning but is not normalized: ``linux/arm`` gives
        variant ``""`` and ``linux/arm64/v8`` keeps ``v8``; call :meth:`normalized` for the
        canonical value.

        :param host: where a one-part specifier takes its missing half (``linux`` takes the
            host's architecture, and its variant on an ``arm`` host that is not v7;
            ``arm64`` takes the host's OS). When ``None``,
            :func:`polyarch.host.host_platform` is asked, and only for one-part specifiers.
        :raises InvalidPlatformError: the text does not follow the grammar, has a wildcard,
            is a one-part specifier that is neither a known OS nor a known architecture, or
            spells an architecture in a recognizably wrong way (``suggestion`` then holds
            the canonical specifier, e.g. ``linux/arm/v7`` for ``linux/armv7``).
        """
        value: object = text  # callers may pass anything at run time
        if not isinstance(value, str):
            raise InvalidPlatformError(
                f"invalid platform {_quote(repr(text))}: expected a string such as 'linux/amd64'",
                text=repr(text),
            )
        return _parse(text, host)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Platform:
        """Build a platform from its OCI/Docker JSON object.

        Keys: ``architecture``, ``os``, ``os.version``, ``os.features``, ``variant``. A
        missing key or ``null`` is taken as empty; other keys (Docker's ``features``) are
        ignored. Values are kept as they are, not normalized and not validated against the
        specifier grammar, so any index can be read.

        :raises InvalidPlatformError: ``data`` is not a mapping, a field is not a string,
            or ``os.features`` is not a list of strings.
        """
        value: object = data  # e.g. a JSON list where an object belongs
        if not isinstance(value, Mapping):
            raise InvalidPlatformError(
                f"invalid platform object {_quote(repr(data))}: expected a JSON object",
                text=repr(data),
            )

        def text_field(key: str) -> str:
            value = data.get(key)
            if value is None:
                return ""
            if not isinstance(value, str):
                raise InvalidPlatformError(
                    f"invalid platform object: {key!r} must be a string, "
                    f"not {type(value).__name__} {_quote(repr(value))}",
                    text=repr(dict(data)),
                )
            return value

        raw_features = data.get("os.features")
        features: tuple[str, ...] = ()
        if raw_features is not None:
            if not isinstance(raw_features, list | tuple) or not all(
                isinstance(feature, str) for feature in raw_features
            ):
                raise InvalidPlatformError(
                    "invalid platform object: 'os.features' must be a list of strings, "
                    f"not {_quote(repr(raw_features))}",
                    text=repr(dict(data)),
                )
            features = tuple(raw_features)
        return cls(
            os=text_field("os"),
            architecture=text_field("architecture"),
            variant=text_field("variant"),
            os_version=text_field("os.version"),
            os_features=features,
        )

    def to_dict(self) -> dict[str, object]:
        """The OCI/Docker JSON object, keys in the Go structs' order.

        ``architecture`` and ``os`` always; ``os.version``, ``os.features`` and ``variant``
        only when non-empty (Go ``omitempty``).
        """
        result: dict[str, object] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            result["os.version"] = self.os_version
        if self.os_features:
            result["os.features"] = list(self.os_features)
        if self.variant:
            result["variant"] = self.variant
        return result

    def normalized(self) -> Platform:
        """The canonical form of this platform; see :func:`normalize`."""
        return normalize(self)

    def __str__(self) -> str:
        """``os/architecture[/variant]`` (containerd ``Format``); ``unknown`` without an OS."""
        if not self.os:
            return "unknown"
        return _join(self.os, self.architecture, self.variant)


def normalize(platform: Platform) -> Platform:
    """The canonical value of ``platform`` (containerd ``Normalize``).

    OS, architecture and variant are lower-cased and rewritten by the table in the module
    docstring (``aarch64`` -> ``arm64``, ``armhf`` -> ``arm/v7``, bare ``arm`` -> ``arm/v7``,
    ``arm64/v8`` -> ``arm64``, ``amd64/v1`` -> ``amd64``, ``macos`` -> ``darwin``, ...);
    ``os_features`` are sorted and de-duplicated; ``os_version`` is kept. Idempotent.
    """
    architecture, variant = _normalize_arch(platform.architecture, platform.variant)
    features = platform.os_features
    if features:
        features = tuple(sorted(set(features)))
    return Platform(
        os=_normalize_os(platform.os),
        architecture=architecture,
        variant=variant,
        os_version=platform.os_version,
        os_features=features,
    )


def format_all(platform: Platform) -> str:
    """The full specifier, with OS version and features (containerd ``FormatAll``).

    ``windows(10.0.17763+win32k)/amd64``, ``linux(+gpu+simd)/arm64``. Features are written
    sorted, without duplicates or empty entries; the version and features are
    percent-encoded so that :meth:`Platform.parse` gives them back.
    """
    if not platform.os:
        return "unknown"
    version = _encode_option(platform.os_version)
    features = "+".join(
        _encode_option(feature) for feature in sorted(set(platform.os_features)) if feature
    )
    os_part = platform.os
    if version or features:
        os_part += f"({version}{'+' + features if features else ''})"
    return _join(os_part, platform.architecture, platform.variant)


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


# Relations -----------------------------------------------------------------------------


def matches(host: Platform, target: Platform) -> bool:
    """Whether ``target`` is the same platform as ``host`` (containerd ``NewMatcher``).

    After normalizing both: OS, architecture and variant are equal; every OS feature of
    the target is one of the host's; and, when the OS is ``windows`` and both have a
    parseable ``major.minor.build`` ``os_version``, the host build can run the target
    build (before ltsc2022 = 20348 the builds must be equal; from then on the target
    build must lie between the latest LTSC build below the host (at least 20348) and the
    host build). A missing or unparseable version on either side matches any. For
    Windows targets the ``win32k`` feature is ignored.
    """
    return _Matcher(host).match(target)


def matches_strict(host: Platform, target: Platform) -> bool:
    """Whether ``target`` is exactly the host's platform (containerd ``OnlyStrict``).

    The same relation as :func:`matches`: no fallback to older variants or to ``386``,
    but spellings are normalized, so ``linux/arm64`` matches ``linux/aarch64/v8``.
    """
    return _Matcher(normalize(host)).match(target)


def is_compatible(host: Platform, target: Platform) -> bool:
    """Whether the host can run ``target`` (containerd ``Only(host).Match``).

    ``target`` :func:`matches` one entry of :func:`preference_order`: the host itself,
    then for ``amd64/vN`` the lower levels ``vN-1 .. v1`` and ``386``; for ``arm/vN``
    (N > 5) ``arm/vN-1 .. v5``; for ``arm64`` the lower ``v9.x`` and ``v8.x`` variants it
    implies (``v9.x`` runs ``v9.0 .. v9.x`` and ``v8.0 .. v8.(x+5)``) and then
    ``arm/v8 .. v5``. Windows ``os.version`` and OS features follow :func:`matches`.
    So ``linux/amd64`` runs ``linux/386`` but not ``linux/amd64/v2``, and ``linux/arm64``
    runs ``linux/arm/v7``.
    """
    return _only(host).match(target)


def matches_os(host: Platform, target: Platform) -> bool:
    """Whether ``target`` has the host's OS, whatever its architecture (containerd ``OnlyOS``).

    Normalized OS names are equal; Windows ``os.version`` compatibility and the OS-feature
    subset rule are as in :func:`matches`.
    """
    return _OnlyOS(host).match(target)


def preference_order(host: Platform) -> tuple[Platform, ...]:
    """The platforms :func:`is_compatible` accepts for ``host``, most preferred first.

    containerd's ``platformVector`` of the normalized host, e.g. ``linux/arm64`` ->
    ``linux/arm64/v8, linux/arm/v8, linux/arm/v7, linux/arm/v6, linux/arm/v5``. Entries
    carry the host's OS version and features. Each entry stands for every spelling that
    :func:`matches` it.
    """
    return tuple(_platform_vector(normalize(host)))


def preference_key(host: Platform) -> Callable[[Platform], SupportsAllComparisons]:
    """A ``key=`` for :func:`sorted` that orders platforms by how well they suit ``host``.

    Platforms the host can run come first, by the position of the first
    :func:`preference_order` entry they match; on a tie the one with more OS features
    wins, and for a Windows host the higher ``os_version`` (compared numerically per
    dotted part; empty is lowest). The others follow; among them those that would be
    compatible without their OS features come first. Everything else ties, so a stable
    sort keeps the input order (containerd ``Only(host).Less``).
    """
    comparer = _only(host)
    windows = _normalize_os(host.os) == "windows"

    def compare(a: Platform, b: Platform) -> int:
        if comparer.less(a, b):
            return -1
        if comparer.less(b, a):
            return 1
        if windows and comparer.match(a) and comparer.match(b):
            key_a, key_b = _version_key(a.os_version), _version_key(b.os_version)
            return -1 if key_a > key_b else (1 if key_a < key_b else 0)
        return 0

    return functools.cmp_to_key(compare)


def rank(host: Platform, candidates: Iterable[Platform]) -> list[Platform]:
    """The candidates the host can run (:func:`is_compatible`), best first.

    The exact platform first, then down :func:`preference_order` (``linux/amd64`` before
    ``linux/386``; ``arm/v7`` before ``arm/v6``), ties broken as :func:`preference_key`
    says and otherwise kept in input order. Incompatible candidates are left out, so an
    empty list means nothing can run.
    """
    comparer = _only(host)
    runnable = [candidate for candidate in candidates if comparer.match(candidate)]
    return sorted(runnable, key=preference_key(host))


# Parsing -------------------------------------------------------------------------------


def _parse(text: str, host: Platform | None) -> Platform:
    if not text:
        raise _invalid(text, "empty specifier; expected os[/arch[/variant]], e.g. linux/amd64")
    if "*" in text:
        raise _invalid(text, "wildcards are not supported")
    parts = text.split("/", 3)
    if len(parts) > 3:
        raise _invalid(text, "too many '/'-separated parts; expected os[/arch[/variant]]")

    os_match = re.fullmatch(_OS_PART, parts[0])
    if os_match is None:
        raise _invalid(
            text,
            f"{_quote(parts[0])} is not an OS part; expected os or os(version+feature...) "
            "of letters, digits, '_' and '-'",
        )
    for part in parts[1:]:
        if not part:
            raise _invalid(text, "empty part (leading, trailing or doubled '/')")
        if re.fullmatch(_COMPONENT, part) is None:
            raise _invalid(
                text, f"{_quote(part)} may only contain letters, digits, '_', '.' and '-'"
            )
    os_name, raw_version, raw_features = os_match.groups()
    os_ = _normalize_os(os_name)
    os_version = _decode_option(raw_version or "", text)
    os_features = tuple(
        _decode_option(feature, text) for feature in (raw_features or "").split("+")[1:]
    )

    if len(parts) == 1:
        return _parse_one(text, os_, os_version, os_features, host)

    # os/arch or os/arch/variant: any architecture goes, except recognizable misspellings
    os_alias = _OS_ALIASES.get(os_name.lower())
    if os_alias is not None:
        suggestion = "/".join([os_alias + parts[0][len(os_name) :], *parts[1:]])
        raise _invalid(text, f"unknown operating system {os_name!r}", suggestion=suggestion)
    given_variant = parts[2] if len(parts) == 3 else ""
    guess = _misspelled_arch(parts[1], given_variant)
    if guess is not None:
        raise _invalid(
            text,
            f"{parts[1]!r} is not an architecture name",
            suggestion=_join(parts[0], *guess),
        )
    if len(parts) == 2:
        architecture, variant = _normalize_arch(parts[1], "")
        if architecture == "arm" and variant == "v7":
            variant = ""
    else:
        architecture, variant = _normalize_arch(parts[1], parts[2])
        if architecture == "arm64" and variant == "":
            variant = "v8"
    return Platform(os_, architecture, variant, os_version, os_features)


def _parse_one(
    text: str,
    os_: str,
    os_version: str,
    os_features: tuple[str, ...],
    host: Platform | None,
) -> Platform:
    if os_ in KNOWN_OPERATING_SYSTEMS:
        resolved = normalize(_resolve_host(host))
        # containerd: the CPU variant only on an arm host that is not v7
        variant = resolved.variant if resolved.architecture == "arm" else ""
        if variant == "v7":
            variant = ""
        return Platform(os_, resolved.architecture, variant, os_version, os_features)

    architecture, variant = _normalize_arch(text, "")
    if architecture == "arm" and variant == "v7":
        variant = ""
    if architecture in KNOWN_ARCHITECTURES:
        return Platform(normalize(_resolve_host(host)).os, architecture, variant)

    lowered = text.lower()
    if lowered in _OS_ALIASES:
        raise _invalid(text, "unknown operating system", suggestion=_OS_ALIASES[lowered])
    guess = suggest_architecture(text)
    if guess is not None:
        host_os = normalize(_resolve_host(host)).os
        raise _invalid(text, "unknown architecture", suggestion=_join(host_os or "linux", *guess))
    raise _invalid(
        text,
        "neither a known operating system nor a known architecture; "
        "write os/arch for others, e.g. linux/amd64",
    )


def _misspelled_arch(arch: str, variant: str) -> tuple[str, str] | None:
    """The canonical spelling of an architecture no index uses, if recognizable."""
    lowered = arch.lower()
    if lowered in KNOWN_ARCHITECTURES or _normalize_arch(arch, variant)[0] != lowered:
        return None  # canonical, or an alias containerd itself normalizes
    return suggest_architecture(arch, variant)


def _resolve_host(host: Platform | None) -> Platform:
    if host is not None:
        return host
    # The one place this module learns about the machine, and only when asked to.
    from polyarch.host import host_platform

    return host_platform()


def _decode_option(value: str, text: str) -> str:
    """Go ``url.PathUnescape``, applied only when the value contains ``%``."""
    if "%" not in value:
        return value
    out = bytearray()
    i = 0
    while i < len(value):
        char = value[i]
        if char == "%":
            pair = value[i + 1 : i + 3]
            if len(pair) != 2 or not set(pair) <= _HEX:
                raise _invalid(text, f"bad percent-encoding in {_quote(value)}")
            out.append(int(pair, 16))
            i += 3
        else:
            out += char.encode()
            i += 1
    try:
        return out.decode()
    except UnicodeDecodeError:
        raise _invalid(text, f"percent-encoding in {_quote(value)} is not UTF-8") from None


def _encode_option(value: str) -> str:
    return (
        value.replace("%", "%25")
        .replace("+", "%2B")
        .replace("(", "%28")
        .replace(")", "%29")
        .replace("/", "%2F")
    )


def _join(*parts: str) -> str:
    """Go ``path.Join`` for the parts that occur here: empty parts are dropped."""
    return "/".join(part for part in parts if part)


def _quote(text: str) -> str:
    """``text`` quoted on one line, shortened when long."""
    if len(text) <= _MAX_QUOTED:
        return repr(text)
    return f"{text[:_MAX_QUOTED]!r}... ({len(text)} characters)"


def _invalid(text: str, reason: str, *, suggestion: str | None = None) -> InvalidPlatformError:
    return InvalidPlatformError(
        f"invalid platform {_quote(text)}: {reason}", text=text, suggestion=suggestion
    )


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


# Matching ------------------------------------------------------------------------------


def _windows_version(text: str) -> tuple[int, int, int] | None:
    """``major.minor.build`` of a Windows ``os.version``; ``None`` when absent or unparseable.

    As containerd's ``getWindowsOSVersion``: anything after the build is ignored, and an
    all-zero version counts as absent.
    """
    fields = text.split(".")
    if len(fields) < 3:
        return None
    major, minor, build = fields[:3]
    if not all(re.fullmatch(_UINT, field) for field in (major, minor, build)):
        return None
    version = (int(major), int(minor), int(build))
    if version[0] > 0xFF or version[1] > 0xFF or version[2] > 0xFFFF or version == (0, 0, 0):
        return None
    return version


def _windows_can_run(host: tuple[int, int, int], target_text: str) -> bool:
    """containerd ``checkWindowsHostAndContainerCompat``."""
    target = _windows_version(target_text) or (0, 0, 0)
    if host[:2] != target[:2]:
        return False
    if host[2] < _WINDOWS_LTSC2022:
        return host[2] == target[2]
    oldest = _WINDOWS_LTSC2022
    for release in reversed(_WINDOWS_COMPAT_LTSC):
        if host[2] > release:
            oldest = release
            break
    return oldest <= target[2] <= host[2]


def _features_subset(features: Sequence[str], host_features: Sequence[str]) -> bool:
    return set(features) <= set(host_features)


class _Matcher:
    """containerd ``NewMatcher``."""

    __slots__ = ("_platform", "_windows", "_windows_version")

    def __init__(self, platform: Platform) -> None:
        self._platform = normalize(platform)
        self._windows = self._platform.os == "windows"
        self._windows_version = _windows_version(platform.os_version) if self._windows else None

    def match(self, target: Platform) -> bool:
        features = target.os_features
        if self._windows and "win32k" in features:
            # containerd ignores win32k for Windows (older versions did not know it)
            index = features.index("win32k")
            features = features[:index] + features[index + 1 :]
        normalized = normalize(target)
        mine = self._platform
        if (normalized.os, normalized.architecture, normalized.variant) != (
            mine.os,
            mine.architecture,
            mine.variant,
        ):
            return False
        if (
            self._windows_version is not None
            and target.os_version
            and not _windows_can_run(self._windows_version, target.os_version)
        ):
            return False
        return _features_subset(features, mine.os_features)


class _Ordered:
    """containerd ``Ordered(platforms...)``: matches any, prefers earlier ones."""

    __slots__ = ("_matchers",)

    def __init__(self, platforms: Iterable[Platform]) -> None:
        self._matchers = [_Matcher(platform) for platform in platforms]

    def match(self, target: Platform) -> bool:
        return any(matcher.match(target) for matcher in self._matchers)

    def less(self, a: Platform, b: Platform) -> bool:
        for matcher in self._matchers:
            a_matches, b_matches = matcher.match(a), matcher.match(b)
            if a_matches and not b_matches:
                return True
            if a_matches or b_matches:
                # both match here: prefer the one with more OS features
                return a_matches and len(a.os_features) > len(b.os_features)
        if a.os_features or b.os_features:
            # neither matches: rank them as if they had no features
            return self.less(_without_features(a), _without_features(b))
        return False


class _OnlyOS:
    """containerd ``OnlyOS``: same OS, any architecture; the host's own arch first."""

    __slots__ = ("_arch_order", "_platform", "_windows_version")

    def __init__(self, host: Platform) -> None:
        self._platform = normalize(host)
        self._windows_version = (
            _windows_version(self._platform.os_version) if self._platform.os == "windows" else None
        )
        self._arch_order = _Ordered([self._platform])

    def match(self, target: Platform) -> bool:
        normalized = normalize(target)
        if normalized.os != self._platform.os:
            return False
        if (
            self._windows_version is not None
            and target.os_version
            and not _windows_can_run(self._windows_version, target.os_version)
        ):
            return False
        return _features_subset(normalized.os_features, self._platform.os_features)

    def less(self, a: Platform, b: Platform) -> bool:
        a_matches, b_matches = self.match(a), self.match(b)
        if a_matches and not b_matches:
            return True
        if not a_matches or not b_matches:
            return False
        return self._arch_order.less(a, b)


def _without_features(platform: Platform) -> Platform:
    return Platform(platform.os, platform.architecture, platform.variant, platform.os_version)


def _only(host: Platform) -> _Ordered:
    return _Ordered(_platform_vector(normalize(host)))


def _platform_vector(platform: Platform) -> list[Platform]:
    """containerd ``platformVector`` of a normalized platform."""

    def with_arch(architecture: str, variant: str) -> Platform:
        return Platform(
            platform.os, architecture, variant, platform.os_version, platform.os_features
        )

    vector = [platform]
    if platform.architecture == "amd64":
        level = _variant_number(platform.variant)
        if level is not None and level > 1:
            vector += [with_arch("amd64", f"v{n}") for n in range(level - 1, 0, -1)]
        vector.append(with_arch("386", ""))
    elif platform.architecture == "arm":
        level = _variant_number(platform.variant)
        if level is not None and level > 5:
            vector += [with_arch("arm", f"v{n}") for n in range(level - 1, 4, -1)]
    elif platform.architecture == "arm64":
        versions = _ARM64_VERSIONS.get(platform.variant or "v8")
        if versions is None:
            # containerd returns an empty vector here, so the host would not even run
            # itself; polyarch keeps the exact match.
            return vector
        vector = [
            with_arch("arm64", f"v{major}" if minor == 0 else f"v{major}.{minor}")
            for major, highest in versions
            for minor in range(highest, -1, -1)
        ]
        # every arm64 v8.x / v9.x also runs 32-bit arm up to v8
        vector += _platform_vector(with_arch("arm", "v8"))
    return vector


def _variant_number(variant: str) -> int | None:
    """Go ``strconv.Atoi(strings.TrimPrefix(variant, "v"))``, ``None`` on error."""
    digits = variant.removeprefix("v")
    return int(digits) if re.fullmatch(_INT, digits) else None


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key of a dotted version: numeric parts numerically, the rest as text."""
    if not version:
        return ()
    return tuple(
        (0, int(part)) if re.fullmatch(_UINT, part) else (1, part) for part in version.split(".")
    )
