"""``polyarch inspect``: print a manifest or list exactly as it is stored."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from polyarch.cli._options import registry_options

if TYPE_CHECKING:
    from polyarch.registry import Registries


@click.command()
@click.argument("image")
@registry_options
def inspect(image: str, registries: Registries) -> None:
    """Show the manifest or manifest list of IMAGE, byte for byte as stored.

    IMAGE is a registry reference or oci:PATH[:TAG|@DIGEST].
    """
    from polyarch.stores import open_target

    manifest = open_target(image, registries=registries).get_manifest()
    out = sys.stdout.buffer
    out.write(manifest.raw)
    if sys.stdout.isatty() and not manifest.raw.endswith(b"\n"):
        out.write(b"\n")
    out.flush()
