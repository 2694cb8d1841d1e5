"""Where a copy or a pull is written, and under which tag: the rules of ``copy`` and
``pull``, the same for every kind of destination."""

from __future__ import annotations

from polyarch.errors import InvalidInputError
from polyarch.location import ArchiveLocation, LayoutLocation, Location, RegistryLocation
from polyarch.reference import DEFAULT_TAG

__all__ = ["archive_tags", "check_copy_destination", "copy_tag", "pull_destination"]


def copy_tag(source: Location, destination: Location) -> str:
    """The tag a copy is written under: the destination's, else the source's, else
    ``latest``. Something must name the copy, or a layout would hold it as no root."""
    return destination.tag or source.tag or DEFAULT_TAG


def check_copy_destination(destination: Location) -> None:
    """A copy is written under a tag, into a place that can be read back.

    :raises InvalidInputError: the destination names a digest, or is write-only.
    """
    if destination.digest:
        raise InvalidInputError(
            f"{str(destination)!r} names a digest: a copy is written under a tag",
            hint="name the destination with :TAG, or with no tag to keep the source's",
        )
    if isinstance(destination, ArchiveLocation):
        raise InvalidInputError(
            f"copy writes to registries and oci: layouts, not {destination}",
            hint="to write a docker archive of one platform, use: polyarch pull --platform "
            "P SOURCE docker-archive:FILE",
        )


def pull_destination(destination: Location, *, whole_index: bool) -> None:
    """``pull`` writes one platform's image to a layout (any tag) or a docker archive.

    :param whole_index: ``--platform all``: the whole index, which only a layout holds.
    :raises InvalidInputError: saying what does not fit.
    """
    if isinstance(destination, RegistryLocation):
        raise InvalidInputError(
            f"pull writes to oci:DIR or docker-archive:FILE, not {str(destination)!r}",
            hint="to copy between registries, use: polyarch copy SOURCE DESTINATION",
        )
    if isinstance(destination, LayoutLocation) and destination.digest:
        raise InvalidInputError(f"{str(destination)!r} names a digest; name a tag or nothing")
    if isinstance(destination, ArchiveLocation) and whole_index:
        raise InvalidInputError(
            "a docker archive holds one image: --platform all needs an oci: destination"
        )


def archive_tags(source: Location) -> list[str]:
    """The ``RepoTags`` a docker archive of ``source`` gets: its familiar name and tag,
    when it is a registry reference by tag (docker load then tags the image)."""
    if isinstance(source, RegistryLocation) and source.tag:
        return [source.reference.with_digest(None).familiar]
    return []
