"""``polyarch tags`` and ``polyarch digest``: cheap questions to a registry or layout."""

from __future__ import annotations

import json

import click

from polyarch.cli._options import format_option, parse_platform, registry_options
from polyarch.location import LayoutLocation
from polyarch.registry import Registries
from polyarch.schemes import open_store, open_target, parse_location

_format_option = format_option("text: one line each; json: one object, for scripts.")


@click.command()
@click.argument("repository")
@_format_option
@registry_options
def tags(repository: str, output_format: str, registries: Registries) -> None:
    """List the tags of REPOSITORY (a registry repository or oci:PATH), one per line.

    Tags are sorted; a registry's are printed page by page as they arrive (each page
    sorted, the pages in the registry's order), so a huge list starts at once. With
    --format json: {"name": REPOSITORY, "tags": [...]}, the registry API's shape.
    """
    location = parse_location(repository, default_tag=None)
    if isinstance(location, LayoutLocation) and location.identifier:
        location = LayoutLocation(location.path)
    found = open_store(location, registries=registries).iter_tags()
    if output_format == "json":
        click.echo(json.dumps({"name": repository, "tags": list(found)}, indent=2))
        return
    for tag in found:
        click.echo(tag)


@click.command()
@click.option(
    "--platform",
    "platform_text",
    metavar="OS/ARCH[/VARIANT]",
    help="The digest of the entry a machine of this platform would run (the list and "
    "that entry are fetched; the choice is explained on stderr).",
)
@_format_option
@click.argument("image")
@registry_options
def digest(
    image: str, platform_text: str | None, output_format: str, registries: Registries
) -> None:
    """Print the digest of IMAGE without downloading it.

    On a registry this is one HEAD request, which Docker Hub does not count against its
    pull rate limit. With --format json: the descriptor (mediaType, digest, size).
    """
    target = open_target(image, registries=registries)
    if platform_text is None:
        descriptor = target.store.resolve(target.identifier)
    else:
        from polyarch.cli._progress import report_choices
        from polyarch.ops.resolve import image_for_platform

        wanted = parse_platform(platform_text)
        chosen, choices = image_for_platform(
            target.store, target.get_manifest(), wanted, where=str(target)
        )
        report_choices(choices)
        descriptor = chosen.descriptor()
    if output_format == "json":
        shown = {
            "mediaType": descriptor.media_type,
            "digest": str(descriptor.digest),
            "size": descriptor.size,
        }
        click.echo(json.dumps(shown, indent=2))
        return
    click.echo(descriptor.digest)
