"""``polyarch copy``: whole or filtered multi-arch images between registries and layouts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from polyarch.cli._options import jobs_option, parse_platform, registry_options

if TYPE_CHECKING:
    from polyarch.platform import Platform
    from polyarch.registry import Registries


def parse_platforms(values: tuple[str, ...]) -> list[Platform]:
    """``--platform a,b --platform c`` -> three platforms, normalized."""

    return [
        parse_platform(part.strip())
        for value in values
        for part in value.split(",")
        if part.strip()
    ]


@click.command()
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="P[,P...]",
    help="Copy only these platforms (a new index of just those entries).",
)
@click.option("--all", "all_", is_flag=True, help="Copy every platform (the default).")
@click.option("--single", is_flag=True, help="With one --platform: copy the plain image.")
@jobs_option
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.argument("source")
@click.argument("destination")
@registry_options
def copy(
    source: str,
    destination: str,
    platforms: tuple[str, ...],
    all_: bool,
    single: bool,
    jobs: int,
    quiet: bool,
    registries: Registries,
) -> None:
    """Copy SOURCE to DESTINATION: registry references or oci:PATH[:TAG], any combination.

    Digests are preserved. Blobs the destination has are skipped, blobs within one
    registry are mounted, the rest is streamed and verified; the index goes last. Run
    it again after an interruption: only what is missing is copied.
    """
    from polyarch.cli._progress import progress_display
    from polyarch.copy import BlobTransfer, copy_image
    from polyarch.errors import InvalidInputError
    from polyarch.location import parse_location
    from polyarch.stores import open_store, open_target

    if all_ and platforms:
        raise InvalidInputError("--all and --platform contradict each other")
    wanted = parse_platforms(platforms)
    src = open_target(source, registries=registries)
    dest_location = parse_location(destination, default_tag=None)
    dest_store = open_store(dest_location, registries=registries)
    if dest_location.digest:
        raise InvalidInputError(
            f"{destination!r} names a digest: a copy is written under a tag",
            hint="name the destination with :TAG, or with no tag to keep the source's",
        )
    # Something must name the copy, or a layout would hold it as no root at all.
    tag = dest_location.tag or src.location.tag or "latest"
    with progress_display(quiet=quiet) as progress:
        result = copy_image(
            src.store,
            src.identifier,
            dest_store,
            tag=tag,
            platforms=wanted,
            single=single,
            jobs=jobs,
            progress=progress,
        )
    if not quiet:
        blobs = result.blobs
        click.echo(
            f"copied {result.manifests} manifests; blobs: {blobs[BlobTransfer.COPIED]} copied "
            f"({result.bytes_copied} bytes), {blobs[BlobTransfer.MOUNTED]} mounted, "
            f"{blobs[BlobTransfer.PRESENT]} already there",
            err=True,
        )
    click.echo(str(result.descriptor.digest))
