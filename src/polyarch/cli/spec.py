"""``polyarch push from-spec`` and ``push from-args``: manifest-tool's two ways of making
and pushing a list in one command, with its file format and placeholders."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from polyarch.cli._options import jobs_option, parse_platform, registry_options, requests_made
from polyarch.errors import InvalidInputError
from polyarch.ops.images import push_spec
from polyarch.ops.spec import ListSpec, from_template, parse_spec
from polyarch.registry import Registries

if TYPE_CHECKING:
    from polyarch.index import ListFormat

_format_option = click.option(
    "--format",
    "list_format",
    type=click.Choice(["docker", "oci"]),
    help="Media type of the list (default: as docker chooses, from the first entry).",
)


@click.command(name="push from-spec")
@_format_option
@jobs_option
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@registry_options
def from_spec(spec_file: Path, list_format: str | None, jobs: int, registries: Registries) -> None:
    """Make the list SPEC_FILE describes (manifest-tool's YAML: image, tags, manifests
    of image and platform) and push it under its image and every tag; print its digest.

    A platform given for a member names it in the list (manifest-tool's rule); without
    one, the member's config says. An unknown key is an error naming it.
    """
    try:
        text = spec_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInputError(f"cannot read {spec_file}: {err}") from err
    _push(parse_spec(text, where=str(spec_file)), list_format, jobs, registries, False)


@click.command(name="push from-args")
@click.option(
    "--platforms",
    required=True,
    metavar="P[,P...]",
    help="The platforms of the list, e.g. linux/amd64,linux/arm64/v8.",
)
@click.option(
    "--template",
    required=True,
    help="Each platform's image, with OS, ARCH and VARIANT replaced: app:OS-ARCHVARIANT.",
)
@click.option("--target", required=True, help="The list to push, e.g. app:1.0.")
@click.option("--tags", default="", metavar="T[,T...]", help="More tags for the list.")
@click.option(
    "--ignore-missing",
    is_flag=True,
    help="Leave out platforms whose image does not exist (default: fail naming each).",
)
@_format_option
@jobs_option
@registry_options
def from_args(
    platforms: str,
    template: str,
    target: str,
    tags: str,
    ignore_missing: bool,
    list_format: str | None,
    jobs: int,
    registries: Registries,
) -> None:
    """Make a list of one image a platform, named by --template, and push it to
    --target (and --tags); print its digest."""
    wanted = [parse_platform(p.strip()) for p in platforms.split(",") if p.strip()]
    if not wanted:
        raise InvalidInputError("--platforms names no platform")
    extra = tuple(t.strip() for t in tags.split(",") if t.strip())
    _push(from_template(wanted, template, target, extra), list_format, jobs, registries,
          ignore_missing)  # fmt: skip


def _push(
    spec: ListSpec, list_format: str | None, jobs: int, registries: Registries, ignore: bool
) -> None:
    result = push_spec(
        spec,
        registries=registries,
        format=cast("ListFormat | None", list_format),
        jobs=jobs,
        ignore_missing=ignore,
        on_missing=lambda image: click.echo(f"skipping {image}: it does not exist", err=True),
        on_manifest=lambda ref: click.echo(f"Pushed ref {ref}", err=True),
    )
    made = requests_made(registries)
    if not result.changed:
        click.echo(f"{spec.image} is already {result.digest}: nothing to push; {made}", err=True)
    else:
        click.echo(f"Tagged {', '.join(result.tagged)}; {made}", err=True)
    click.echo(str(result.digest))
