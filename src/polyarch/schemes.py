"""The one table of the kinds of place images live in: the location grammar, the help
text and the opener of each are read from it (a new backend is one entry plus its
module)::

    oci:PATH[:TAG|@DIGEST]     an OCI image layout directory        read, write
    docker-archive:FILE        a docker save archive (docker load)  write
    [docker://]REFERENCE       a registry repository                read, write

Apart from :mod:`polyarch.store` (the protocol) because the table opens the backends and
the backends implement the protocol: one module for both would import itself in a circle.
Each opener imports its backend on first use, so a layout never loads the HTTP stack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from polyarch.errors import InvalidInputError, InvalidLocationError
from polyarch.location import (
    ArchiveLocation,
    LayoutLocation,
    Location,
    RegistryLocation,
    parse_archive,
    parse_layout,
    parse_registry,
)
from polyarch.models import Manifest
from polyarch.reference import DEFAULT_TAG
from polyarch.store import ImageSink, SoleImage, Store

if TYPE_CHECKING:
    from polyarch.registry import Registries

__all__ = [
    "SCHEMES",
    "Scheme",
    "Target",
    "open_location",
    "open_store",
    "open_target",
    "parse_location",
    "scheme_of",
]


@dataclass(frozen=True, slots=True)
class Target:
    """A store and the tag or digest of one image in it."""

    store: Store
    identifier: str
    location: Location

    def get_manifest(self) -> Manifest:
        return self.store.get_manifest(self.identifier)

    def __str__(self) -> str:
        return str(self.location)


Opened: TypeAlias = "Store | ImageSink"


@dataclass(frozen=True, slots=True)
class Scheme:
    """One kind of place images live in: how it is written, what it is, how it opens.

    :ivar prefix: what a location of this kind starts with (the registry kind's is
        optional: a location with no other prefix is a registry reference).
    :ivar parse: the location text (prefix included) to a location; ``default_tag`` is
        given to those that have one (a registry reference without tag or digest).
    :ivar open: the store (or sink) a location names; ``Registries`` shares a run's
        connections and tokens. Imported on first use: a layout never loads HTTP.
    """

    prefix: str
    syntax: str
    summary: str
    kind: type
    parse: Callable[..., Location]
    open: Callable[[Location, Registries | None], Opened]
    readable: bool = True
    writable: bool = True


def _open_layout(location: Location, registries: Registries | None) -> Store:
    from polyarch.layout import LayoutStore

    assert isinstance(location, LayoutLocation)
    return LayoutStore(location.path)


def _open_registry(location: Location, registries: Registries | None) -> Store:
    from polyarch.registry import Registries

    assert isinstance(location, RegistryLocation)
    return (registries or Registries()).store(location.reference)


def _open_archive(location: Location, registries: Registries | None) -> ImageSink:
    from polyarch.archive import DockerArchive

    assert isinstance(location, ArchiveLocation)
    return DockerArchive(location.path)


#: Every kind of location, the registry's (no prefix needed) last.
SCHEMES: tuple[Scheme, ...] = (
    Scheme(
        "oci:", "oci:PATH[:TAG|@DIGEST]", "an OCI image layout directory",
        LayoutLocation, parse_layout, _open_layout,
    ),
    Scheme(
        "docker-archive:", "docker-archive:FILE", "a docker save archive, for docker load",
        ArchiveLocation, parse_archive, _open_archive, readable=False,
    ),
    Scheme(
        "docker://", "[docker://]REFERENCE", "a registry repository (docker's grammar)",
        RegistryLocation, parse_registry, _open_registry,
    ),
)  # fmt: skip


def scheme_of(location: str | Location) -> Scheme:
    """The scheme of a location or of its text (no known prefix: a registry reference).

    :raises InvalidLocationError: ``text`` names another scheme (``s3://``).
    """
    if not isinstance(location, str):
        return next(scheme for scheme in SCHEMES if isinstance(location, scheme.kind))
    for scheme in SCHEMES:
        if location.startswith(scheme.prefix):
            return scheme
    if "://" in location:
        known = ", ".join(scheme.syntax for scheme in SCHEMES)
        raise InvalidLocationError(
            f"unsupported location {location!r}: polyarch reads and writes {known}, not "
            f"{location.partition('://')[0]}://",
            hint="write a registry reference (host/repo:tag) or oci:PATH[:TAG]",
        )
    return SCHEMES[-1]


def parse_location(text: str, *, default_tag: str | None = DEFAULT_TAG) -> Location:
    """Parse a location the user typed (see :data:`SCHEMES`).

    :param default_tag: the tag a registry reference without tag or digest gets.
    :raises InvalidInputError: a malformed location, or an unknown scheme; a reference
        with no registry host that names an OCI layout here (``oci:`` forgotten).
    """
    scheme = scheme_of(text)
    location = scheme.parse(text, default_tag=default_tag)
    if isinstance(location, RegistryLocation) and not text.startswith(scheme.prefix):
        _refuse_a_layout_mistaken_for_docker_hub(text, location)
    return location


def _refuse_a_layout_mistaken_for_docker_hub(text: str, location: RegistryLocation) -> None:
    """``examples/hello:1.0`` is a Docker Hub repository, but when a layout of that name
    is right here the user forgot ``oci:``: said before any request (Docker Hub would
    answer with a login error, after retries). ``docker.io/...`` says Docker Hub is meant."""
    from polyarch.reference import DEFAULT_REGISTRY

    name = text.partition("@")[0]
    head, slash, last = name.rpartition("/")
    name = head + slash + last.partition(":")[0]
    first = name.split("/")[0]
    explicit = "/" in name and ("." in first or ":" in first or first == "localhost")
    if explicit or location.reference.registry != DEFAULT_REGISTRY:
        return
    from pathlib import Path

    try:
        is_layout = (Path(name) / "oci-layout").is_file()
    except OSError:
        return
    if is_layout:
        raise InvalidLocationError(
            f"{text!r} names a Docker Hub repository, but {name} here is an OCI layout: "
            f"did you mean oci:{text}?",
            hint=f"write docker.io/{text} for the Docker Hub repository",
        )


def open_location(location: str | Location, *, registries: Registries | None = None) -> Opened:
    """The store, or the sink, a location names (text is parsed with no default tag)."""
    if isinstance(location, str):
        location = parse_location(location, default_tag=None)
    return scheme_of(location).open(location, registries)


def open_store(location: str | Location, *, registries: Registries | None = None) -> Store:
    """The store a location is in: its registry repository, or its layout directory.

    :raises InvalidInputError: the location names a place that cannot be read
        (``docker-archive:``).
    """
    opened = open_location(location, registries=registries)
    if not isinstance(opened, Store):
        raise InvalidInputError(f"{opened.location} can only be written to, not read")
    return opened


def open_target(location: str | Location, *, registries: Registries | None = None) -> Target:
    """Open ``location`` (``oci:PATH[:TAG|@DIGEST]`` or a registry reference) for reading
    one image: a layout location with neither tag nor digest means the layout's only
    image; a registry reference without either means ``:latest``. Registry access goes
    through ``registries`` (created with default options if omitted), so that one run
    shares connections and tokens.

    :raises InvalidInputError: the location is malformed, or cannot be read.
    :raises ManifestNotFoundError: a layout with no image, or several and none named.
    """
    if isinstance(location, str):
        location = parse_location(location)
    store = open_store(location, registries=registries)
    identifier = location.identifier
    if identifier is None:
        identifier = store.only_image() if isinstance(store, SoleImage) else DEFAULT_TAG
    return Target(store, identifier, location)
