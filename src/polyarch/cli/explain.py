"""``polyarch explain --platform P REF``: each runtime family's pick, side by side."""

from __future__ import annotations

import json

import click

from polyarch.cli._options import format_option, parse_platform, registry_options
from polyarch.registry import Registries
from polyarch.schemes import open_target


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
    from polyarch.ops.explain import explain as explain_image
    from polyarch.selection import FAMILIES

    wanted = parse_platform(platform_text)
    target = open_target(image, registries=registries)
    found = explain_image(target.store, target.get_manifest(), wanted)
    if output_format == "json":
        click.echo(json.dumps({"reference": str(target), **found.to_json()}, indent=2))
        return
    click.echo(f"{target} on {platform_text}:")
    for pick, family in zip(found.picks, FAMILIES, strict=True):
        where = f"entry {pick.position}" if pick.position is not None else "nothing"
        click.echo(f"  {pick.family:<21} {where:<9} {pick.reason}  ({family.users})")
    disagreements = found.disagreements()
    if not disagreements:
        click.echo("all agree")
    for line in disagreements:
        click.echo(f"differs: {line}")
