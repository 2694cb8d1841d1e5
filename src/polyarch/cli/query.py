"""``polyarch tags`` and ``polyarch digest``: cheap questions to a registry or layout."""

from __future__ import annotations

import click

from polyarch.cli._options import registry_options
from polyarch.location import LayoutLocation
from polyarch.registry import Registries
from polyarch.schemes import open_store, open_target, parse_location


@click.command()
@click.argument("repository")
@registry_options
def tags(repository: str, registries: Registries) -> None:
    """List the tags of REPOSITORY (a registry repository or oci:PATH), one per line.

    Tags are sorted; a registry's are printed page by page as they arrive (each page
    sorted, the pages in the registry's order), so a huge list starts at once.
    """
    location = parse_location(repository, default_tag=None)
    if isinstance(location, LayoutLocation) and location.identifier:
        location = LayoutLocation(location.path)
    for tag in open_store(location, registries=registries).iter_tags():
        click.echo(tag)


@click.command()
@click.argument("image")
@registry_options
def digest(image: str, registries: Registries) -> None:
    """Print the digest of IMAGE without downloading it.

    On a registry this is one HEAD request, which Docker Hub does not count against its
    pull rate limit.
    """
    target = open_target(image, registries=registries)
    click.echo(target.store.resolve(target.identifier).digest)
