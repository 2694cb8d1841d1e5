"""``polyarch pull``: the image for one platform, to an OCI layout or a docker archive."""

from __future__ import annotations

import click

from polyarch.cli._options import jobs_option, parse_platform, registry_options
from polyarch.cli._progress import progress_display, report_choice
from polyarch.ops import images
from polyarch.registry import Registries


@click.command()
@click.option(
    "--platform",
    "platform_text",
    metavar="OS/ARCH[/VARIANT]|all",
    help="The platform to pull for (default: this machine's); 'all' keeps the whole index.",
)
@jobs_option
@click.option("--quiet", "-q", is_flag=True, help="No progress output, no word of the choice.")
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
    Non-distributable layers the registry lacks are fetched from the URLs they name
    (HTTPS only, no credentials sent there): a layout or archive must be complete.
    """
    if platform_text == "all":
        wanted = None
    elif platform_text:
        wanted = parse_platform(platform_text)
    else:
        from polyarch.host import host_platform  # the detection loads more than parsing

        wanted = host_platform()

    with progress_display(quiet=quiet) as progress:
        pulled = images.pull(
            image,
            destination,
            platform=wanted,
            registries=registries,
            jobs=jobs,
            progress=progress,
            on_choice=None if quiet else report_choice,
        )
    click.echo(str(pulled.digest))
