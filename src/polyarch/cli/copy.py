"""``polyarch copy``: whole or filtered multi-arch images between registries and layouts."""

from __future__ import annotations

import click

from polyarch.cli._options import (
    attestations_option,
    dry_run_option,
    jobs_option,
    parse_platforms,
    registry_options,
    requests_made,
    verify_option,
)
from polyarch.cli._progress import progress_display
from polyarch.cli._units import size
from polyarch.errors import ContentError, InvalidInputError
from polyarch.ops import images
from polyarch.ops.copy import Attestations, BlobTransfer, CopyResult
from polyarch.registry import Registries


@click.command()
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="P[,P...]",
    help="Copy only these platforms (a new index of just those entries).",
)
@click.option("--all", "all_", is_flag=True, help="Copy every platform (the default).")
@click.option("--single", is_flag=True, help="With one --platform: copy the plain image.")
@attestations_option()
@click.option(
    "--referrers",
    is_flag=True,
    help="Carry the referrers (signatures, SBOMs, attestations) of every manifest copied, "
    "and theirs.",
)
@click.option(
    "--include-nondistributable",
    is_flag=True,
    help="Copy non-distributable (foreign) layers too, from their URLs if the source lacks them.",
)
@verify_option
@dry_run_option
@jobs_option
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.argument("source")
@click.argument("destination")
@registry_options
def copy(
    source: str,
    destination: str,
    platforms: tuple[str, ...],
    all_: bool,
    single: bool,
    attestations: Attestations,
    referrers: bool,
    include_nondistributable: bool,
    then_verify: bool,
    dry_run: bool,
    jobs: int,
    quiet: bool,
    registries: Registries,
) -> None:
    """Copy SOURCE to DESTINATION: registry references or oci:PATH[:TAG], any combination.

    Digests are preserved. Blobs the destination has are skipped, blobs within one
    registry are mounted, the rest is streamed and verified; the index goes last. Run
    it again after an interruption: only what is missing is copied.

    Non-distributable layers (Windows base layers) are left where their descriptors say
    they live, as skopeo and crane leave them, unless --include-nondistributable.
    """
    if all_ and platforms:
        raise InvalidInputError("--all and --platform contradict each other")
    if dry_run:
        from polyarch.cli._plan import print_plan

        if referrers:
            click.echo(
                "polyarch: warning: the plan leaves out the referrers --referrers carries: "
                "which there are is known only by listing them as the copy does",
                err=True,
            )
        print_plan(
            images.plan_copy(
                source,
                destination,
                registries=registries,
                platforms=parse_platforms(platforms),
                single=single,
                include_nondistributable=include_nondistributable,
                attestations=attestations,
                jobs=jobs,
            )
        )
        return

    def run(*, trust_target: bool = True) -> CopyResult:
        with progress_display(quiet=quiet) as progress:
            result = images.copy(
                source,
                destination,
                registries=registries,
                platforms=parse_platforms(platforms),
                single=single,
                include_nondistributable=include_nondistributable,
                attestations=attestations,
                referrers=referrers,
                jobs=jobs,
                progress=progress,
                trust_target=trust_target,
            )
        if not quiet:
            click.echo(_summary(result, destination, registries), err=True)
        return result

    result = run()
    if then_verify:
        from polyarch.cli.check import verify_written
        from polyarch.schemes import open_store, parse_location

        def verified() -> None:
            verify_written(
                open_store(parse_location(destination, default_tag=None), registries=registries),
                result.tag or result.descriptor.digest,
                expected=result.descriptor.digest,
            )

        try:
            verified()
        except ContentError:
            if not result.there:
                raise
            # The tag was at the digest, but something it names went since: all again.
            click.echo(
                f"polyarch: warning: {destination} is at the digest but not whole: "
                "copying what is missing",
                err=True,
            )
            result = run(trust_target=False)
            verified()
    click.echo(str(result.descriptor.digest))


def _summary(result: CopyResult, destination: str, registries: Registries) -> str:
    if result.there and not result.referrers:
        return (
            f"{destination} is already {result.descriptor.digest}: nothing to copy; "
            f"{requests_made(registries)}"
        )
    blobs = result.blobs
    summary = (
        f"copied {result.manifests} manifests; blobs: {blobs[BlobTransfer.COPIED]} copied "
        f"({size(result.bytes_copied)}), {blobs[BlobTransfer.MOUNTED]} mounted, "
        f"{blobs[BlobTransfer.PRESENT]} already there"
    )
    # Only Windows images have these: the line of every other copy stays as it was.
    if blobs[BlobTransfer.FETCHED]:
        summary += f", {blobs[BlobTransfer.FETCHED]} fetched from their URLs"
    if blobs[BlobTransfer.SKIPPED]:
        summary += f", {blobs[BlobTransfer.SKIPPED]} skipped (non-distributable)"
    if result.referrers:
        summary += f"; {result.referrers} referrer{'s' * (result.referrers != 1)}"
    return f"{summary}; {requests_made(registries)}"
