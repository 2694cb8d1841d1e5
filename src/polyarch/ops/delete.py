"""Deleting what is stored: a manifest by digest, or a tag.

A registry's API deletes manifests: deleting a tag there deletes the manifest it points
at, and every other tag of that manifest with it, so those are found first and the delete
is refused unless forced. A layout removes a tag alone (its manifest stays under the
others), or, by digest, every root entry of the manifest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from polyarch.digest import Digest
from polyarch.errors import ConflictError, InvalidInputError, NotFoundError
from polyarch.location import Location
from polyarch.schemes import open_store, parse_location
from polyarch.store import Store, TagDeleter, is_digest

if TYPE_CHECKING:
    from polyarch.registry import Registries

__all__ = ["MAX_TAGS_CHECKED", "Deleted", "delete"]

log = logging.getLogger(__name__)

#: The most tags looked at (a HEAD each, on a registry) to find those a delete takes along.
MAX_TAGS_CHECKED = 1000


@dataclass(frozen=True, slots=True)
class Deleted:
    """What a delete removed: the manifest (or, for a layout's tag, only the tag) and the
    tags that went with it."""

    digest: Digest
    tags: tuple[str, ...]
    manifest_deleted: bool


def delete(
    location: str | Location, *, force: bool = False, registries: Registries | None = None
) -> Deleted:
    """Delete the manifest or tag ``location`` names (``REPO@DIGEST``, ``REPO:TAG``,
    ``oci:PATH:TAG``, ``oci:PATH@DIGEST``).

    :param force: delete a registry tag's manifest although other tags point at it.
    :raises ConflictError: other tags would go too, and ``force`` is not set (exit 7).
    :raises InvalidInputError: no tag or digest named.
    :raises ManifestNotFoundError: nothing there.
    :raises RegistryError: a registry that does not allow deletes (the hint names the
        setting).
    """
    parsed = parse_location(location, default_tag=None) if isinstance(location, str) else location
    identifier = parsed.identifier
    if identifier is None:
        raise InvalidInputError(
            f"{parsed} names neither a tag nor a digest; say which to delete",
            hint=f"{parsed}:TAG or {parsed}@sha256:...",
        )
    store = open_store(parsed, registries=registries)
    digest = store.resolve(identifier).digest
    if not is_digest(identifier) and isinstance(store, TagDeleter):
        store.delete_tag(identifier)
        return Deleted(digest, (identifier,), manifest_deleted=False)
    tags = _tags_of(store, digest)
    others = [tag for tag in tags if tag != identifier]
    if others and not is_digest(identifier) and not force:
        listed = ", ".join(others[:10]) + (
            f" and {len(others) - 10} more" if len(others) > 10 else ""
        )
        raise ConflictError(
            f"{parsed} is {digest}, which is also tagged {listed}: deleting it deletes "
            "those tags too",
            hint="delete it anyway with --force, or push something else to this tag instead",
        )
    store.delete(digest)
    return Deleted(digest, tuple(tags), manifest_deleted=True)


def _tags_of(store: Store, digest: Digest) -> list[str]:
    """The tags that point at ``digest``, the first :data:`MAX_TAGS_CHECKED` looked at."""
    found: list[str] = []
    for count, tag in enumerate(store.iter_tags()):
        if count >= MAX_TAGS_CHECKED:
            log.warning(
                "%s has more than %d tags; the others were not checked for %s",
                store.location,
                MAX_TAGS_CHECKED,
                digest,
            )
            break
        try:
            if store.resolve(tag).digest == digest:
                found.append(tag)
        except NotFoundError:
            continue  # deleted meanwhile
    return found
