"""The local platform: the one place polyarch reads the machine it runs on.

:func:`host_platform` is what containerd calls ``DefaultSpec()``, normalized:

* ``os`` from :func:`platform.system` (``Linux`` -> ``linux``, ``Darwin`` -> ``darwin``,
  ``Windows`` / Cygwin / MSYS -> ``windows``, ``SunOS`` -> ``solaris``, others lower-cased);
* ``architecture`` from :func:`platform.machine` through
  :func:`polyarch.platform.suggest_architecture` and normalization (``x86_64``/``AMD64``
  -> ``amd64``, ``aarch64``/``ARM64`` -> ``arm64``, ``armv7l`` -> ``arm``, ``i686`` ->
  ``386``, ``loongarch64`` -> ``loong64``); a 32-bit interpreter on a 64-bit kernel counts
  as the 32-bit architecture, as Go's ``GOARCH`` would;
* ``variant`` for ``arm``/``arm64`` as containerd's ``cpuVariant()``: on Linux the
  ``CPU architecture`` field of ``/proc/cpuinfo`` (``7`` -> ``v7``; ARMv6 boards that report
  ``7`` are recognized by their ``model name``), else the machine name (``armv6l`` -> ``v6``);
  ``v8`` for arm64 and ``v7`` for arm on macOS and Windows; normalization then drops the
  ``v8`` of arm64;
* ``os_version`` on Windows: ``major.minor.build`` (``10.0.20348``), which the Windows
  ``os.version`` matching rules need.

The environment variable ``POLYARCH_PLATFORM`` (a specifier such as ``linux/arm64`` or
``windows(10.0.20348)/amd64``) replaces the detected platform; a one-part value takes the
missing half from the machine. The result is computed once per process; tests call
``host_platform.cache_clear()`` after changing the environment.
"""

from __future__ import annotations

import functools
import os
import platform as _stdlib_platform
import re
import struct
from typing import Final

from polyarch.errors import InvalidPlatformError
from polyarch.platform import Platform, normalize, suggest_architecture

__all__ = ["ENV_VAR", "host_platform"]

#: Environment variable that overrides the detected platform.
ENV_VAR: Final = "POLYARCH_PLATFORM"

_CPUINFO_PATH: Final = "/proc/cpuinfo"
_WINDOWS_VERSION_RE: Final = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)")

# containerd cpuinfo_linux.go getCPUVariant: "CPU architecture" value -> variant
_CPUINFO_VARIANTS: Final[dict[str, str]] = {
    "8": "v8",
    "aarch64": "v8",
    "7": "v7",
    "7m": "v7",
    "?(12)": "v7",
    "?(13)": "v7",
    "?(14)": "v7",
    "?(15)": "v7",
    "?(16)": "v7",
    "?(17)": "v7",
    "6": "v6",
    "6tej": "v6",
    "5": "v5",
    "5t": "v5",
    "5te": "v5",
    "5tej": "v5",
    "4": "v4",
    "4t": "v4",
    "3": "v3",
}
_SYSTEMS: Final[dict[str, str]] = {"sunos": "solaris"}
_WINDOWS_LIKE: Final = ("cygwin", "msys", "mingw")
_TO_32_BIT: Final[dict[str, str]] = {"amd64": "386", "arm64": "arm"}


@functools.cache
def host_platform() -> Platform:
    """The normalized platform of this machine, or of ``$POLYARCH_PLATFORM`` when set.

    Cached: the machine and the environment are read on the first call only.

    :raises InvalidPlatformError: ``POLYARCH_PLATFORM`` is set but is not a valid specifier.
    """
    system, machine = _stdlib_platform.system(), _stdlib_platform.machine()
    pointer_bits = struct.calcsize("P") * 8
    # only Linux on ARM needs /proc/cpuinfo (which is large on many-core machines)
    needs_cpuinfo = _os_name(system) == "linux" and _architecture(machine, pointer_bits) in (
        "arm",
        "arm64",
    )
    detected = _detect(
        system,
        machine,
        _read_cpuinfo() if needs_cpuinfo else "",
        pointer_bits=pointer_bits,
        os_version=_stdlib_platform.version(),
    )
    override = os.environ.get(ENV_VAR, "").strip()
    if not override:
        return detected
    try:
        return normalize(Platform.parse(override, host=detected))
    except InvalidPlatformError as error:
        raise InvalidPlatformError(
            f"{ENV_VAR}: {error.message}", text=error.text, suggestion=error.suggestion
        ) from error


def _detect(
    system: str,
    machine: str,
    cpuinfo_text: str = "",
    *,
    pointer_bits: int = 64,
    os_version: str = "",
) -> Platform:
    """The normalized platform for these machine facts (pure; the inputs are injectable).

    :param system: :func:`platform.system` (``Linux``, ``Darwin``, ``Windows``, ...).
    :param machine: :func:`platform.machine` (``x86_64``, ``aarch64``, ``armv7l``, ``AMD64``).
    :param cpuinfo_text: the text of ``/proc/cpuinfo`` (Linux on ARM only), or ``""``.
    :param pointer_bits: pointer size of the running interpreter (32 or 64).
    :param os_version: :func:`platform.version`; used on Windows only.
    """
    os_ = _os_name(system)
    architecture = _architecture(machine, pointer_bits)
    variant = _cpu_variant(os_, architecture, machine.strip(), cpuinfo_text)
    version = ""
    if os_ == "windows":
        match = _WINDOWS_VERSION_RE.match(os_version.strip())
        if match is not None:
            version = ".".join(str(int(part)) for part in match.groups())
    return normalize(Platform(os_, architecture, variant, version))


def _os_name(system: str) -> str:
    name = system.strip().lower()
    if name.startswith(_WINDOWS_LIKE):
        return "windows"
    return _SYSTEMS.get(name, name)


def _architecture(machine: str, pointer_bits: int) -> str:
    """The GOARCH-style architecture of a machine name, as seen by a process of that width."""
    name = machine.strip().lower()
    guess = suggest_architecture(name)
    architecture = guess[0] if guess is not None else normalize(Platform("", name)).architecture
    if pointer_bits == 32:
        architecture = _TO_32_BIT.get(architecture, architecture)
    return architecture


def _cpu_variant(os_: str, architecture: str, machine: str, cpuinfo_text: str) -> str:
    """containerd ``cpuVariant()`` for this OS and architecture (``""`` when not ARM)."""
    if architecture not in ("arm", "arm64"):
        return ""
    if os_ in ("windows", "darwin"):
        return "v8" if architecture == "arm64" else "v7"
    if os_ == "freebsd":
        return "v8" if architecture == "arm64" else "unknown"
    if os_ != "linux":
        return ""  # containerd: not implemented, so no variant
    raw = _cpuinfo_field(cpuinfo_text, "Cpu architecture")
    if raw is None:
        # no /proc/cpuinfo field (e.g. emulated ARM): fall back on the machine name
        raw = _cpu_variant_from_machine(machine)
        if raw is None:
            return ""
    if architecture == "arm" and raw == "7":
        # Raspberry Pi ARMv6 boards report "7" (kernel quirk)
        model = _cpuinfo_field(cpuinfo_text, "model name")
        if model is not None and model.lower().startswith("armv6-compatible"):
            raw = "6"
    return _CPUINFO_VARIANTS.get(raw.lower(), "unknown")


def _cpu_variant_from_machine(machine: str) -> str | None:
    """containerd ``getCPUVariantFromArch``: ``aarch64`` -> ``8``, ``armv7l`` -> ``7``.

    ``armv`` + a digit outside 3..8 gives ``unknown``; anything else ``None`` (containerd
    returns an error, and panics for names shorter than four characters).
    """
    name = machine.lower()
    if name == "aarch64":
        return "8"
    if name.startswith("armv") and len(name) >= 5:
        digit = name[4]
        return digit if digit in "345678" else "unknown"
    return None


def _cpuinfo_field(cpuinfo_text: str, field: str) -> str | None:
    """The value of the first ``field : value`` line (field compared case-insensitively)."""
    for line in cpuinfo_text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == field.lower():
            # containerd splits on every ":" and keeps the second piece
            return value.split(":", 1)[0].strip()
    return None


def _read_cpuinfo() -> str:
    """``/proc/cpuinfo`` on Linux, ``""`` where there is none or it cannot be read."""
    try:
        with open(_CPUINFO_PATH, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:
        return ""
