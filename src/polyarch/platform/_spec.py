"""The :class:`Platform` value and its specifier grammar (see the package docstring)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

from polyarch.errors import InvalidPlatformError
from polyarch.platform._tables import (
    _COMPONENT,
    _OS_ALIASES,
    _OS_PART,
    KNOWN_ARCHITECTURES,
    KNOWN_OPERATING_SYSTEMS,
    _misspelled_arch,
    _normalize_arch,
    _normalize_os,
    suggest_architecture,
)

__all__ = ["HostPlatform", "Platform", "format_all", "normalize"]

#: Where a one-part specifier takes its missing half: a platform, or a function that gives
#: one (called only when a one-part specifier is parsed: ``polyarch.host.host_platform``).
HostPlatform: TypeAlias = "Platform | Callable[[], Platform]"


_HEX: Final = frozenset("0123456789abcdefABCDEF")
_MAX_QUOTED: Final = 60


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
    def parse(cls, text: str, *, host: HostPlatform | None = None) -> Platform:
        """Parse a platform specifier (see the module docstring) as containerd ``Parse`` does.

        The result keeps the spelling's meaning but is not normalized: ``linux/arm`` gives
        variant ``""`` and ``linux/arm64/v8`` keeps ``v8``; call :meth:`normalized` for the
        canonical value.

        :param host: where a one-part specifier takes its missing half (``linux`` takes the
            host's architecture, and its variant on an ``arm`` host that is not v7;
            ``arm64`` takes the host's OS): a platform, or a function called only then
            (the CLI passes :func:`polyarch.host.host_platform`). This module never reads
            the machine: without a host, a one-part specifier is an error.
        :raises InvalidPlatformError: the text does not follow the grammar, has a wildcard,
            is a one-part specifier that is neither a known OS nor a known architecture (or
            that needs a host and was given none), or
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


def _parse(text: str, host: HostPlatform | None) -> Platform:
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
    host: HostPlatform | None,
) -> Platform:
    if os_ in KNOWN_OPERATING_SYSTEMS:
        resolved = normalize(_host(host, text))
        # containerd: the CPU variant only on an arm host that is not v7
        variant = resolved.variant if resolved.architecture == "arm" else ""
        if variant == "v7":
            variant = ""
        return Platform(os_, resolved.architecture, variant, os_version, os_features)

    architecture, variant = _normalize_arch(text, "")
    if architecture == "arm" and variant == "v7":
        variant = ""
    if architecture in KNOWN_ARCHITECTURES:
        return Platform(normalize(_host(host, text)).os, architecture, variant)

    lowered = text.lower()
    if lowered in _OS_ALIASES:
        raise _invalid(text, "unknown operating system", suggestion=_OS_ALIASES[lowered])
    guess = suggest_architecture(text)
    if guess is not None:
        host_os = normalize(_host(host, text)).os if host is not None else ""
        raise _invalid(text, "unknown architecture", suggestion=_join(host_os or "linux", *guess))
    raise _invalid(
        text,
        "neither a known operating system nor a known architecture; "
        "write os/arch for others, e.g. linux/amd64",
    )


def _host(host: HostPlatform | None, text: str) -> Platform:
    if host is None:
        raise _invalid(
            text,
            "a one-part specifier takes its other half from the host platform, and none was "
            "given; write os/arch, e.g. linux/amd64",
        )
    return host if isinstance(host, Platform) else host()


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
