"""Open the store a location names, and say which image in it is meant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from polyarch.errors import ManifestNotFoundError
from polyarch.location import LayoutLocation, Location, parse_location

if TYPE_CHECKING:
    from polyarch.layout import LayoutStore
    from polyarch.models import Manifest
    from polyarch.registry import Registries
    from polyarch.store import Store

__all__ = ["Target", "open_store", "open_target"]


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


def open_store(location: str | Location, *, registries: Registries | None = None) -> Store:
    """The store a location is in: its registry repository, or its layout directory."""
    if isinstance(location, str):
        location = parse_location(location, default_tag=None)
    if isinstance(location, LayoutLocation):
        from polyarch.layout import LayoutStore  # not loaded for registries

        return LayoutStore(location.path)
    if registries is None:
        from polyarch.registry import Registries

        registries = Registries()
    return registries.store(location.reference)


def open_target(location: str | Location, *, registries: Registries | None = None) -> Target:
    """Open ``location`` (``oci:PATH[:TAG|@DIGEST]`` or a registry reference).

    A layout location with neither tag nor digest means the layout's only image; a
    registry reference without either means ``:latest``. Registry access goes through
    ``registries`` (created with default options if omitted), so that one run shares
    connections and tokens.

    :raises InvalidInputError: the location is malformed.
    :raises ManifestNotFoundError: a layout with no image, or several and none named.
    """
    if isinstance(location, str):
        location = parse_location(location)
    store = open_store(location, registries=registries)
    if isinstance(location, LayoutLocation):
        from polyarch.layout import LayoutStore

        assert isinstance(store, LayoutStore)
        return Target(store, location.identifier or _only_root(store), location)
    reference = location.reference
    if reference.identifier is None:
        reference = reference.with_tag("latest")
    assert reference.identifier is not None
    return Target(store, reference.identifier, location)


def _only_root(store: LayoutStore) -> str:
    roots = store.roots()
    if len(roots) == 1:
        return roots[0].digest
    tags = store.list_tags()
    problem = "has no image" if not roots else f"holds {len(roots)} images"
    raise ManifestNotFoundError(
        f"{store.location} {problem}; name one with :TAG or @DIGEST",
        where=store.location,
        hint=f"tags: {', '.join(tags)}" if tags else None,
    )
