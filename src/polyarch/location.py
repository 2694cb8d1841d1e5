"""Where an image lives: a repository in a registry, or an OCI image layout on disk.

::

    location ::= "oci:" PATH [ ":" TAG | "@" DIGEST ]      an OCI layout directory
               | [ "docker://" ] REFERENCE                  a registry (docker's grammar)

In ``oci:PATH:TAG`` the tag is what follows the last ``:`` when that part holds no ``/``,
so ``oci:./dir:1.0`` is the tag ``1.0`` of ``./dir``; a path with a colon in its last
component needs an explicit ``@DIGEST`` or ``:TAG``. With neither, a layout's only image
is meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

from polyarch.digest import Digest
from polyarch.errors import InvalidDigestError, InvalidLocationError
from polyarch.reference import Reference

__all__ = ["LayoutLocation", "Location", "RegistryLocation", "parse_location"]

# ASCII only, as docker's tag grammar: a bare \w would also take "é" or "٣".
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)


@dataclass(frozen=True, slots=True)
class LayoutLocation:
    """An image in an OCI layout: ``path`` plus a tag or a digest (or neither)."""

    path: str
    tag: str | None = None
    digest: Digest | None = None

    @property
    def identifier(self) -> str | None:
        return self.digest or self.tag

    def __str__(self) -> str:
        if self.digest:
            return f"oci:{self.path}@{self.digest}"
        return f"oci:{self.path}:{self.tag}" if self.tag else f"oci:{self.path}"


@dataclass(frozen=True, slots=True)
class RegistryLocation:
    """An image in a registry repository."""

    reference: Reference

    @property
    def tag(self) -> str | None:
        return self.reference.tag

    @property
    def digest(self) -> Digest | None:
        return self.reference.digest

    @property
    def identifier(self) -> str | None:
        return self.reference.identifier

    def __str__(self) -> str:
        return str(self.reference)


Location: TypeAlias = LayoutLocation | RegistryLocation


def parse_location(text: str, *, default_tag: str | None = "latest") -> Location:
    """Parse a location the user typed.

    :param default_tag: the tag a registry reference without tag or digest gets.
    :raises InvalidLocationError: a malformed ``oci:`` location.
    :raises InvalidReferenceError: a malformed registry reference.
    """
    if text.startswith("oci:"):
        return _parse_layout(text)
    if text.startswith("docker://"):
        text = text.removeprefix("docker://")
    elif "://" in text:
        scheme = text.partition("://")[0]
        raise InvalidLocationError(
            f"unsupported location {text!r}: polyarch reads registries and oci: layouts, "
            f"not {scheme}://",
            hint="write a registry reference (host/repo:tag) or oci:PATH[:TAG]",
        )
    return RegistryLocation(Reference.parse(text, default_tag=default_tag))


def _parse_layout(text: str) -> LayoutLocation:
    rest = text.removeprefix("oci:")
    path, tag, digest = rest, None, None
    if "@" in rest:
        path, _, digest_text = rest.rpartition("@")
        try:
            digest = Digest.parse(digest_text)
        except InvalidDigestError as err:
            raise InvalidLocationError(f"invalid digest in {text!r}: {err}") from err
    else:
        head, sep, tail = rest.rpartition(":")
        if sep and "/" not in tail:
            if not _TAG_RE.fullmatch(tail):
                raise InvalidLocationError(
                    f"invalid tag {tail!r} in {text!r}",
                    hint="a tag is up to 128 letters, digits, '_', '.' or '-', not starting "
                    "with '.' or '-'",
                )
            path, tag = head, tail
    if not path:
        raise InvalidLocationError(
            f"{text!r} names no directory", hint="write oci:PATH[:TAG], e.g. oci:./image:1.0"
        )
    return LayoutLocation(path=path, tag=tag, digest=digest)
