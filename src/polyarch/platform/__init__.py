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
then as an architecture (``arm64``); the missing half comes from the *host* platform, the
``host=`` argument of :meth:`Platform.parse` (a platform, or a function such as
:func:`polyarch.host.host_platform`, called only then). This package never reads the
machine. Two- and
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

from polyarch.platform._relations import (
    is_compatible,
    matches,
    matches_os,
    matches_strict,
    preference_key,
    preference_order,
    rank,
)
from polyarch.platform._spec import HostPlatform, Platform, format_all, normalize
from polyarch.platform._tables import (
    KNOWN_ARCHITECTURES,
    KNOWN_OPERATING_SYSTEMS,
    KNOWN_PLATFORMS,
    suggest_architecture,
    unusual_platform,
)

__all__ = [
    "KNOWN_ARCHITECTURES",
    "KNOWN_OPERATING_SYSTEMS",
    "KNOWN_PLATFORMS",
    "HostPlatform",
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
    "unusual_platform",
]
