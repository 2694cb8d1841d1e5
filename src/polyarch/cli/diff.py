"""``polyarch diff A B``: two images or indexes, platform by platform."""

from __future__ import annotations

import json
import sys

import click

from polyarch.cli._options import format_option, registry_options
from polyarch.cli._plan import print_difference
from polyarch.ops import images
from polyarch.registry import Registries


@click.command()
@format_option("text: one line a platform, then what changed in it; json: one object.")
@click.argument("a")
@click.argument("b")
@registry_options
def diff(a: str, b: str, output_format: str, registries: Registries) -> None:
    """Compare A with B (images or indexes, registries or oci:PATH, any combination):
    per platform, entries added, removed or changed (which config, which layers), and
    annotations. Only entries that differ are read.

    Exit 0 when A and B are the same bytes, 1 when they are not.
    """
    found = images.diff(a, b, registries=registries)
    if output_format == "json":
        click.echo(json.dumps({"a_ref": a, "b_ref": b, **found.to_json()}, indent=2))
    else:
        print_difference(found, a, b)
    sys.exit(0 if found.same else 1)
