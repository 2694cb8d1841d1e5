"""``polyarch pull``: the image for one platform, to an OCI layout or a docker archive."""

from __future__ import annotations

import click

from polyarch.cli._options import jobs_option, parse_platform, registry_options
from polyarch.cli._progress import progress_display, report_choices
from polyarch.ops.copy import copy_image
from polyarch.ops.resolve import image_for_platform
from polyarch.ops.targets import archive_tags, copy_tag, pull_destination
from polyarch.registry import Registries
from polyarch.schemes import open_location, open_target, parse_location
from polyarch.store import ImageSink


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

    # The destination is checked before anything is fetched.
    target = parse_location(destination, default_tag=None)
    pull_destination(target, whole_index=wanted is None)
    opened = open_location(target, registries=registries)
    if isinstance(opened, ImageSink):
        opened.check()

    source = open_target(image, registries=registries)
    identifier = source.identifier
    manifest = None
    if wanted is not None:
        manifest, choices = image_for_platform(
            source.store, source.get_manifest(), wanted, where=str(source)
        )
        if not quiet:
            report_choices(choices)
        identifier = manifest.digest

    if isinstance(opened, ImageSink):
        assert manifest is not None  # a sink takes one platform: checked above
        opened.write_image(
            source.store, manifest, tags=archive_tags(source.location), foreign=registries.urls()
        )
        click.echo(str(manifest.digest))
        return
    with progress_display(quiet=quiet) as progress:
        result = copy_image(
            source.store,
            identifier,
            opened,
            tag=copy_tag(source.location, target),
            jobs=jobs,
            progress=progress,
            manifest=manifest,  # chosen above: not fetched twice
            include_nondistributable=True,
            foreign=registries.urls(),
        )
    click.echo(str(result.descriptor.digest))
