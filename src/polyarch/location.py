"""Where an image lives, as the user writes it: the grammar of each kind of place.

::

    location ::= "oci:" PATH [ ":" TAG | "@" DIGEST ]      an OCI layout directory
               | "docker-archive:" FILE                     a docker save archive
               | [ "docker://" ] REFERENCE                  a registry (docker's grammar)

In ``oci:PATH:TAG`` the tag is what follows the last ``:`` when that part holds no ``/``,
so ``oci:./dir:1.0`` is the tag ``1.0`` of ``./dir``; a path with a colon in its last
component needs an explicit ``@DIGEST`` or ``:TAG``. With neither, a layout's only image
is meant. Which kinds there are, what they are for and how they are opened is the scheme
table's (:data:`polyarch.store.SCHEMES`); this module only reads the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from polyarch.digest import Digest
from polyarch.errors import InvalidDigestError, InvalidLocationError
from polyarch.reference import Reference

__all__ = [
    "ArchiveLocation",
    "LayoutLocation",
    "Location",
    "RegistryLocation",
    "parse_archive",
    "parse_layout",
    "parse_registry",
]

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

    # What a local list's name and members need of a Reference, for a layout.

    @property
    def familiar_name(self) -> str:
        return f"oci:{self.path}"

    @property
    def familiar(self) -> str:
        return str(self)

    def with_tag(self, tag: str | None) -> LayoutLocation:
        """The same layout with ``tag`` (``None`` drops it); a layout location names an
        image by tag or by digest, so the digest is dropped when a tag is given."""
        return LayoutLocation(self.path, tag, None if tag else self.digest)

    def with_digest(self, digest: Digest | str | None) -> LayoutLocation:
        """The same layout with ``digest`` (``None`` drops it; a digest replaces the tag)."""
        if digest is None:
            return LayoutLocation(self.path, self.tag, None)
        return LayoutLocation(self.path, None, Digest.parse(str(digest)))

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


@dataclass(frozen=True, slots=True)
class ArchiveLocation:
    """A ``docker save`` archive file: one image, written for ``docker load``."""

    path: Path

    tag = None
    digest = None
    identifier = None

    def __str__(self) -> str:
        return f"docker-archive:{self.path}"


Location: TypeAlias = LayoutLocation | RegistryLocation | ArchiveLocation


def parse_registry(text: str, *, default_tag: str | None) -> RegistryLocation:
    """``[docker://]REFERENCE``.

    :raises InvalidReferenceError: a malformed reference.
    """
    reference = Reference.parse(text.removeprefix("docker://"), default_tag=default_tag)
    return RegistryLocation(reference)


def parse_layout(text: str, *, default_tag: str | None = None) -> LayoutLocation:
    """``oci:PATH[:TAG|@DIGEST]``; a layout gets no default tag (its only image is meant).

    :raises InvalidLocationError: no path, a malformed tag or digest.
    """
    rest = text.removeprefix("oci:")
    if any(ord(c) < 0x20 or c == "\x7f" for c in rest):
        raise InvalidLocationError(
            f"{text!r} holds a control character; no directory is named so",
            hint="write oci:PATH[:TAG] with a path as the shell shows it",
        )
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


def parse_archive(text: str, *, default_tag: str | None = None) -> ArchiveLocation:
    """``docker-archive:FILE``.

    :raises InvalidLocationError: no file named.
    """
    path = Path(text.removeprefix("docker-archive:"))
    if not path.name:
        raise InvalidLocationError(f"{text!r} names no file", hint="write docker-archive:FILE.tar")
    return ArchiveLocation(path)
