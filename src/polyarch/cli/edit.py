"""``polyarch index add|remove|annotate``: change an index that is already pushed (or in
a layout) and put it back, children untouched, refused if its tag moved meanwhile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from polyarch.cli._options import (
    annotation_options,
    edit_dry_run_option,
    jobs_option,
    parse_platform,
    registry_options,
    requests_made,
)
from polyarch.cli._text import shown
from polyarch.digest import Digest
from polyarch.errors import InvalidInputError
from polyarch.ops import edit as edits
from polyarch.registry import Registries

F = TypeVar("F", bound=Callable[..., Any])

_to_option = click.option(
    "--to", metavar="REF", help="Put the edited index here instead of back under LIST's tag."
)


def _selector_options(verb: str) -> Callable[[F], F]:
    """``--platform`` and ``--digest``: which entries ``verb`` applies to."""

    def add(func: F) -> F:
        func = click.option("--digest", metavar="DIGEST", help=f"{verb} the entry of this digest.")(
            func
        )
        return click.option(
            "--platform", metavar="OS/ARCH[/VARIANT]", help=f"{verb} this platform's entries."
        )(func)

    return add


def _selector(platform: str | None, digest: str | None) -> edits.Selector:
    return edits.Selector(
        parse_platform(platform) if platform else None, Digest.parse(digest) if digest else None
    )


def _report(result: edits.Edited, registries: Registries) -> None:
    if result.dry_run:
        from polyarch.cli._plan import print_difference

        click.echo(
            shown(
                f"plan for {result.reference}: now {result.now or 'nothing'}, would be "
                f"{result.after}"
            )
        )
        for entry in result.copies:
            click.echo(shown(f"  manifest copy     {entry.digest}  {entry.media_type}"))
        if result.difference is not None:
            print_difference(result.difference, f"now ({result.now})", "would be")
        verb = "would put" if result.changed else "would leave"
        copies = f", after {len(result.copies)} entries copied in" if result.copies else ""
        click.echo(
            shown(
                f"{verb} {result.reference} at {result.after}{copies}; "
                f"{requests_made(registries)} read; nothing was written (--dry-run)"
            )
        )
        return
    if result.changed:
        click.echo(
            f"{result.reference}: {result.before} -> {result.after}; {requests_made(registries)}",
            err=True,
        )
    else:
        click.echo(
            f"{result.reference} is already {result.after}: nothing to put; "
            f"{requests_made(registries)}",
            err=True,
        )
    click.echo(str(result.after))


@click.group()
def index() -> None:
    """Edit a pushed index (or one in a layout) in place: add, remove, annotate."""


@index.command()
@_to_option
@edit_dry_run_option
@jobs_option
@click.argument("manifest_list", metavar="LIST")
@click.argument("images", nargs=-1, required=True)
@registry_options
def add(
    manifest_list: str,
    images: tuple[str, ...],
    to: str | None,
    dry_run: bool,
    jobs: int,
    registries: Registries,
) -> None:
    """Add IMAGES to LIST (each platform from its config; an index brings its entries);
    their content is copied into LIST's repository first. Print the new digest."""
    _report(
        edits.add_entries(
            manifest_list, images, to=to, registries=registries, jobs=jobs, dry_run=dry_run
        ),
        registries,
    )


@index.command()
@_selector_options("Remove")
@_to_option
@edit_dry_run_option
@jobs_option
@click.argument("manifest_list", metavar="LIST")
@registry_options
def remove(
    manifest_list: str,
    platform: str | None,
    digest: str | None,
    to: str | None,
    dry_run: bool,
    jobs: int,
    registries: Registries,
) -> None:
    """Remove entries from LIST (and their attestations). Print the new digest."""
    result = edits.remove_entries(
        manifest_list,
        _selector(platform, digest),
        to=to,
        registries=registries,
        jobs=jobs,
        dry_run=dry_run,
    )
    _report(result, registries)


@index.command()
@annotation_options
@_selector_options("Annotate")
@_to_option
@edit_dry_run_option
@jobs_option
@click.argument("manifest_list", metavar="LIST")
@registry_options
def annotate(
    manifest_list: str,
    annotations: dict[str, str],
    platform: str | None,
    digest: str | None,
    to: str | None,
    dry_run: bool,
    jobs: int,
    registries: Registries,
) -> None:
    """Set annotations of LIST itself, or of the entry --platform or --digest names (OCI
    indexes only). Print the new digest."""
    if not annotations:
        raise InvalidInputError("nothing to set: give --annotation KEY=VALUE or --annotation-file")
    selector = _selector(platform, digest) if platform or digest else None
    result = edits.annotate_index(
        manifest_list,
        annotations,
        selector=selector,
        to=to,
        registries=registries,
        jobs=jobs,
        dry_run=dry_run,
    )
    _report(result, registries)
