"""containerd's platform relations: the same platform, what a host can run, and in which
order of preference (see the package docstring)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from polyarch.platform._spec import Platform, normalize
from polyarch.platform._tables import (
    _ARM64_VERSIONS,
    _INT,
    _UINT,
    _WINDOWS_COMPAT_LTSC,
    _WINDOWS_LTSC2022,
    _normalize_os,
)

if TYPE_CHECKING:
    from _typeshed import SupportsAllComparisons

__all__ = [
    "is_compatible",
    "matches",
    "matches_os",
    "matches_strict",
    "preference_key",
    "preference_order",
    "rank",
]


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
