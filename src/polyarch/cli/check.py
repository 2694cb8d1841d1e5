"""``polyarch lint`` and ``polyarch verify``: findings, one a line (or JSON), and the exit
code a CI step needs."""

from __future__ import annotations

import json
import sys

import click

from polyarch.cli._options import format_option, parse_platforms, registry_options, requests_made
from polyarch.cli._text import shown
from polyarch.digest import Digest
from polyarch.errors import ContentError
from polyarch.ops.check import Report
from polyarch.registry import Registries
from polyarch.store import Store

_require_option = click.option(
    "--require",
    "required",
    multiple=True,
    metavar="P[,P...]",
    help="Platforms that must have an image (exactly, after normalizing).",
)
_format = format_option("text: one finding a line, then a summary; json: one object.")


@click.command()
@_require_option
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@_format
@click.argument("image")
@registry_options
def lint(
    image: str,
    required: tuple[str, ...],
    strict: bool,
    output_format: str,
    registries: Registries,
) -> None:
    """Find what is wrong with IMAGE (an index or image, in a registry or oci:PATH):
    entries whose platform is not their config's, two images for one platform, unknown
    or misspelled platforms, Windows entries without os.version, annotations in a Docker
    list, mixed formats, attestations of missing images, sizes and digests that are not
    the content's. Each child and config is read once; no layer.

    Exit 0 when nothing is wrong (warnings allowed unless --strict), 1 with warnings
    under --strict, 6 with errors.
    """
    from polyarch.ops import images

    require = parse_platforms(required)  # bad input before any request
    report = images.lint(image, require=require, registries=registries)
    _show(report, output_format, registries)
    sys.exit(report.exit_code(strict=strict))


@click.command()
@click.option("--digest", "expected", metavar="DIGEST", help="The digest IMAGE must be at.")
@_require_option
@_format
@click.argument("image")
@registry_options
def verify(
    image: str,
    expected: str | None,
    required: tuple[str, ...],
    output_format: str,
    registries: Registries,
) -> None:
    """Check that IMAGE is complete, as after a push or copy: at --digest when given,
    every child there, every blob there (HEAD: nothing downloaded), each image's config
    saying the platform its entry says, every --require'd platform there.

    Exit 0 when it is, 6 when not.
    """
    from polyarch.ops import images

    want = Digest.parse(expected) if expected else None
    require = parse_platforms(required)  # bad input before any request
    report = images.verify(image, expected=want, require=require, registries=registries)
    _show(report, output_format, registries)
    sys.exit(report.exit_code())


def _show(report: Report, output_format: str, registries: Registries) -> None:
    if output_format == "json":
        click.echo(json.dumps({**report.to_json(), "requests": registries.meter.sent}, indent=2))
        return
    for finding in report.findings:
        click.echo(
            shown(f"{finding.severity:<8} {finding.code:<27} {finding.where}: {finding.message}")
        )
    click.echo(shown(f"{summary(report)}; {requests_made(registries)}"))


def summary(report: Report) -> str:
    """``host/app:1.0 (sha256:...): 1 error, 2 warnings; 9 checked``."""
    errors, warnings = len(report.errors), len(report.warnings)
    found = (
        f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
        if report.findings
        else "no problems"
    )
    return f"{report.reference} ({report.digest}): {found}; {report.checked} checked"


def verify_written(store: Store, identifier: str, *, expected: Digest) -> None:
    """``--verify`` of a push or copy: what was written checked as ``verify`` checks it;
    the findings on stderr.

    :raises ContentError: it does not verify.
    """
    from polyarch.ops.check import verify as verify_image
    from polyarch.store import is_digest

    reference = f"{store.location}{'@' if is_digest(identifier) else ':'}{identifier}"
    report = verify_image(store, identifier, reference=reference, expected=expected)
    for finding in report.findings:
        click.echo(
            shown(f"{finding.severity}: {finding.code}: {finding.where}: {finding.message}"),
            err=True,
        )
    if report.errors:
        raise ContentError(
            f"{reference} does not verify: {len(report.errors)} "
            f"error{'s' * (len(report.errors) != 1)}",
            hint="run it again with --verify: what is missing is written (a tag already at "
            "the digest is checked and its content written again)",
        )
    click.echo(shown(f"verified: {summary(report)}"), err=True)
