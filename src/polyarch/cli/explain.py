"""``polyarch explain --platform P REF``: each runtime family's pick, side by side."""

from __future__ import annotations

import json

import click

from polyarch.cli._options import format_option, parse_platform, registry_options
from polyarch.cli._text import shown
from polyarch.registry import Registries


@click.command()
@click.option(
    "--platform",
    "platform_text",
    required=True,
    metavar="OS/ARCH[/VARIANT]",
    help="The machine's platform.",
)
@format_option("text: a line a family, then where they disagree; json: one object.")
@click.argument("image")
@registry_options
def explain(image: str, platform_text: str, output_format: str, registries: Registries) -> None:
    """Which entry of IMAGE each runtime family runs on a machine of --platform, and why:
    containerd (docker with the containerd store, nerdctl, Kubernetes), containers/image
    (podman, skopeo, cri-o), go-containerregistry (crane, ko, kaniko), regclient, and
    docker's classic image store, each by the rule in its own source; where they
    disagree, how."""
    from polyarch.ops import images
    from polyarch.selection import FAMILIES

    found = images.explain(image, parse_platform(platform_text), registries=registries)
    if output_format == "json":
        click.echo(json.dumps({"reference": image, **found.to_json()}, indent=2))
        return
    click.echo(shown(f"{image} on {platform_text}:"))
    for pick, family in zip(found.picks, FAMILIES, strict=True):
        where = f"entry {pick.position}" if pick.position is not None else "nothing"
        click.echo(shown(f"  {pick.family:<21} {where:<9} {pick.reason}  ({family.users})"))
    disagreements = found.disagreements()
    if not disagreements:
        click.echo("all agree")
    for line in disagreements:
        click.echo(shown(f"differs: {line}"))
