"""``polyarch inspect``: print a manifest or list exactly as it is stored."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from polyarch.cli._options import registry_options

if TYPE_CHECKING:
    from polyarch.models import Manifest
    from polyarch.platform import Platform
    from polyarch.registry import Registries
    from polyarch.stores import Target


@click.command()
@click.option(
    "--platform",
    "platform_text",
    metavar="OS/ARCH[/VARIANT]",
    help="Show the entry a machine of this platform would run, and why.",
)
@click.argument("image")
@registry_options
def inspect(image: str, platform_text: str | None, registries: Registries) -> None:
    """Show the manifest or manifest list of IMAGE, byte for byte as stored.

    IMAGE is a registry reference or oci:PATH[:TAG|@DIGEST].
    """
    from polyarch.platform import Platform
    from polyarch.stores import open_target

    wanted = Platform.parse(platform_text) if platform_text else None
    target = open_target(image, registries=registries)
    manifest = target.get_manifest()
    if wanted is not None:
        manifest = _for_platform(target, manifest, wanted)
    out = sys.stdout.buffer
    out.write(manifest.raw)
    if sys.stdout.isatty() and not manifest.raw.endswith(b"\n"):
        out.write(b"\n")
    out.flush()


def _for_platform(target: Target, manifest: Manifest, wanted: Platform) -> Manifest:
    from polyarch.errors import NoMatchingPlatformError
    from polyarch.models import ImageConfig, ImageIndex
    from polyarch.platform import is_compatible
    from polyarch.resolve import choose

    while isinstance(manifest, ImageIndex):
        choice = choose(manifest, wanted)
        click.echo(f"{choice.descriptor.digest}: {choice.reason}", err=True)
        manifest = target.store.get_manifest(choice.descriptor.digest)
    config = ImageConfig.parse(
        target.store.get_blob(manifest.config), digest=manifest.config.digest
    )
    if not is_compatible(wanted, config.platform):
        raise NoMatchingPlatformError(
            f"{target} is a single {config.platform} image, which {wanted} cannot run",
            wanted=str(wanted),
            available=(str(config.platform),),
        )
    return manifest
