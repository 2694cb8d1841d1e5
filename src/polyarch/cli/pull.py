"""``polyarch pull``: the image for one platform, to an OCI layout or a docker archive."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from polyarch.cli._options import jobs_option, parse_platform, registry_options

if TYPE_CHECKING:
    from polyarch.registry import Registries

ARCHIVE_PREFIX = "docker-archive:"


@click.command()
@click.option(
    "--platform",
    "platform_text",
    metavar="OS/ARCH[/VARIANT]|all",
    help="The platform to pull for (default: this machine's); 'all' keeps the whole index.",
)
@jobs_option
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.argument("image")
@click.argument("destination")
@registry_options
def pull(
    image: str,
    destination: str,
    platform_text: str | None,
    jobs: int,
    quiet: bool,
    registries: Registries,
) -> None:
    """Pull IMAGE for one platform into DESTINATION, without a Docker daemon.

    DESTINATION is oci:DIR[:TAG] (an OCI image layout) or docker-archive:FILE.tar
    (for docker load). The entry of a multi-platform image is chosen the way containerd
    chooses: the exact platform if present, else the best one the platform can run.
    """
    from polyarch.cli._progress import progress_display, report_choices
    from polyarch.copy import copy_image
    from polyarch.errors import InvalidInputError
    from polyarch.location import LayoutLocation, RegistryLocation, parse_location
    from polyarch.resolve import image_for_platform
    from polyarch.stores import open_store, open_target

    if platform_text == "all":
        wanted = None
    elif platform_text:
        wanted = parse_platform(platform_text)
    else:
        from polyarch.host import host_platform

        wanted = host_platform()

    # The destination is checked before anything is fetched.
    archive: Path | None = None
    layout: LayoutLocation | None = None
    if destination.startswith(ARCHIVE_PREFIX):
        archive = Path(destination.removeprefix(ARCHIVE_PREFIX))
        if not archive.name:
            raise InvalidInputError(f"{destination!r} names no file")
        from polyarch.archive import check_destination

        check_destination(archive)
        if wanted is None:
            raise InvalidInputError(
                "a docker archive holds one image: --platform all needs an oci: destination"
            )
    else:
        location = parse_location(destination, default_tag=None)
        if not isinstance(location, LayoutLocation):
            raise InvalidInputError(
                f"pull writes to oci:DIR or docker-archive:FILE, not {destination!r}",
                hint="to copy between registries, use: polyarch copy SOURCE DESTINATION",
            )
        if location.digest:
            raise InvalidInputError(f"{destination!r} names a digest; name a tag or nothing")
        layout = location

    source = open_target(image, registries=registries)
    identifier = source.identifier
    manifest = None
    if wanted is not None:
        manifest, choices = image_for_platform(
            source.store, source.get_manifest(), wanted, where=str(source)
        )
        report_choices(choices)
        identifier = manifest.digest

    if archive is not None:
        from polyarch.archive import write_docker_archive

        assert manifest is not None
        repo_tags = []
        if isinstance(source.location, RegistryLocation) and source.location.tag:
            repo_tags = [source.location.reference.with_digest(None).familiar]
        write_docker_archive(archive, source.store, manifest, repo_tags=repo_tags)
        click.echo(str(manifest.digest))
        return

    assert layout is not None
    with progress_display(quiet=quiet) as progress:
        result = copy_image(
            source.store,
            identifier,
            open_store(layout),
            tag=layout.tag or source.location.tag or "latest",
            jobs=jobs,
            progress=progress,
            manifest=manifest,  # chosen above: not fetched twice
        )
    click.echo(str(result.descriptor.digest))
