"""``polyarch create / annotate / push / rm / ls``: docker's manifest-list workflow."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, cast

import click

from polyarch.cli._options import (
    annotation_options,
    attestations_option,
    dry_run_option,
    format_option,
    jobs_option,
    parse_list_name,
    registry_options,
    requests_made,
    verify_option,
)
from polyarch.errors import NotFoundError, PolyarchError
from polyarch.ops.images import store_opener
from polyarch.ops.lists import annotate_list, create_list, push_list
from polyarch.ops.pending import PendingList, PendingListStore
from polyarch.reference import DEFAULT_TAG
from polyarch.registry import Registries

if TYPE_CHECKING:
    from polyarch.index import ListFormat
    from polyarch.ops.copy import Attestations


@click.command()
@click.option("--amend", "-a", is_flag=True, help="Add to or replace entries of an existing list.")
@annotation_options
@attestations_option(amending=True)
@jobs_option
@click.argument("manifest_list")
@click.argument("members", nargs=-1, required=True)
@registry_options
def create(
    manifest_list: str,
    members: tuple[str, ...],
    amend: bool,
    annotations: dict[str, str],
    attestations: Attestations | None,
    jobs: int,
    registries: Registries,
) -> None:
    """Create a local manifest list MANIFEST_LIST from images MEMBERS.

    Each member's platform is read from its image config. A member that is itself a list
    (a buildx image with attestations) adds all of its images. MANIFEST_LIST and MEMBERS
    are registry references or oci:PATH:TAG: a list in a layout is pushed into that
    layout, with its members' content copied from wherever they are.

    --annotation sets the index's own annotations (org.opencontainers.image.source,
    ...description: what GHCR shows on the package page); only an OCI index has them,
    so they make the list one.
    """

    target = parse_list_name(manifest_list)
    pending = create_list(
        target,
        [parse_list_name(m) for m in members],
        open_store=store_opener(registries),
        store=PendingListStore(),
        amend=amend,
        jobs=jobs,
        annotations=annotations,
        attestations=attestations,
    )
    click.echo(f"Created manifest list {target}")
    if pending.annotations and not _oci_anyway(pending):
        click.echo(
            "  annotations: pushed as an OCI index (a Docker manifest list has none)", err=True
        )
    for entry in pending.entries:
        what = "attestation" if entry.is_attestation else str(entry.descriptor.platform)
        click.echo(f"  {what:<24} {entry.descriptor.digest}  {entry.source.familiar}", err=True)


@click.command()
@click.option("--os", "os_", metavar="OS", help="Set operating system.")
@click.option("--arch", metavar="ARCH", help="Set architecture.")
@click.option("--variant", metavar="VARIANT", help="Set architecture variant.")
@click.option("--os-version", metavar="VERSION", help="Set operating system version.")
@click.option(
    "--os-features",
    metavar="FEATURE[,FEATURE]",
    multiple=True,
    help="Add operating system features (repeatable, comma-separated).",
)
@annotation_options
@click.option(
    "--force",
    is_flag=True,
    help="Set an os/arch/variant that no known image uses (checked against docker's "
    "table and the Go toolchain's ports otherwise).",
)
@click.argument("manifest_list")
@click.argument("member")
def annotate(
    manifest_list: str,
    member: str,
    os_: str | None,
    arch: str | None,
    variant: str | None,
    os_version: str | None,
    os_features: tuple[str, ...],
    annotations: dict[str, str],
    force: bool,
) -> None:
    """Set the platform of MEMBER's entry in the local list MANIFEST_LIST.

    --annotation sets annotations of the entry's descriptor (the list then is an OCI
    index: a Docker manifest list has no annotations).
    """

    features = [f.strip() for value in os_features for f in value.split(",") if f.strip()]
    annotate_list(
        parse_list_name(manifest_list),
        parse_list_name(member),
        store=PendingListStore(),
        os=os_,
        architecture=arch,
        variant=variant,
        os_version=os_version,
        os_features=features,
        force=force,
        annotations=annotations,
    )


def _oci_anyway(pending: PendingList) -> bool:
    """Whether docker's rule alone (the first entry's type) makes the list an OCI index."""
    from dataclasses import replace

    from polyarch import mediatype as mt

    return replace(pending, annotations={}).index().media_type == mt.OCI_INDEX


@click.command()
@click.option("--purge", "-p", is_flag=True, help="Remove the local list after the push.")
@click.option(
    "--format",
    "list_format",
    type=click.Choice(["docker", "oci"]),
    help="Media type of the list (default: as docker chooses, from the first entry).",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="TAG",
    help="Also push the list under TAG in the same repository (repeatable).",
)
@verify_option
@dry_run_option
@jobs_option
@click.argument("manifest_list")
@registry_options
def push(
    manifest_list: str,
    purge: bool,
    list_format: str | None,
    tags: tuple[str, ...],
    then_verify: bool,
    dry_run: bool,
    jobs: int,
    registries: Registries,
) -> None:
    """Push the local list MANIFEST_LIST to its registry (or its layout); print its digest.

    Members from elsewhere have their content copied (mounted within one registry) first;
    the list goes last. Without --purge the local list is kept, and remembers what was
    pushed (polyarch ls, polyarch inspect).

    manifest-tool's forms make and push a list in one go: polyarch push from-spec
    SPEC.yaml, and polyarch push from-args --platforms P,P --template app:OS-ARCHVARIANT
    --target app:1.0 (see their --help).
    """

    target = parse_list_name(manifest_list)
    if dry_run:
        from polyarch.cli._plan import print_plan
        from polyarch.ops.plan import plan_push

        pending = PendingListStore().get(target)
        print_plan(
            plan_push(
                pending,
                open_store=store_opener(registries),
                format=cast("ListFormat | None", list_format),
                tags=tags,
                jobs=jobs,
            )
        )
        return
    result = push_list(
        target,
        open_store=store_opener(registries),
        store=PendingListStore(),
        format=cast("ListFormat | None", list_format),
        purge=purge,
        jobs=jobs,
        on_manifest=lambda ref: click.echo(f"Pushed ref {ref}", err=True),
        tags=tags,
    )
    if not result.changed:
        click.echo(
            f"{target} is already {result.digest}: nothing to push; {requests_made(registries)}",
            err=True,
        )
    elif tags:
        click.echo(f"Tagged {', '.join(result.tagged)}; {requests_made(registries)}", err=True)
    else:
        click.echo(f"Pushed {target}; {requests_made(registries)}", err=True)
    if then_verify:
        from polyarch.cli.check import verify_written

        verify_written(
            store_opener(registries)(target),
            target.tag or DEFAULT_TAG,
            expected=result.digest,
        )
    click.echo(str(result.digest))


@click.command(name="ls")
@format_option("text: a table; json: one object per list, for scripts.")
def ls(output_format: str) -> None:
    """List the local manifest lists: name, entries, and whether (and as what) each was
    pushed."""

    store = PendingListStore()
    lists = []
    for name in store.names():
        try:
            pending = store.load(name)
        except PolyarchError as err:  # one damaged file hides no other list
            click.echo(f"polyarch: warning: {err}", err=True)
            continue
        if pending is not None:
            lists.append(pending)
    rows = [
        {
            "name": pending.reference.familiar,
            "images": len(pending.images),
            "attestations": len(pending.entries) - len(pending.images),
            "pushed": None if pending.pushed is None else str(pending.pushed.digest),
        }
        for pending in lists
    ]
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no local manifest lists (polyarch create LIST IMAGE... makes one)", err=True)
        return
    width = max(len("NAME"), *(len(str(row["name"])) for row in rows))
    click.echo(f"{'NAME':<{width}}  ENTRIES  PUSHED")
    for row in rows:
        entries = f"{row['images']}" + (f" +{row['attestations']}" if row["attestations"] else "")
        pushed = str(row["pushed"])[:19] if row["pushed"] else "no"
        click.echo(f"{row['name']:<{width}}  {entries:<7}  {pushed}")


@click.command()
@click.argument("manifest_lists", nargs=-1, required=True)
def rm(manifest_lists: tuple[str, ...]) -> None:
    """Delete local manifest lists."""

    store = PendingListStore()
    missing = []
    for text in manifest_lists:
        if not store.remove(parse_list_name(text)):
            missing.append(text)
    if missing:
        raise NotFoundError(f"no pending list {', '.join(missing)}")
