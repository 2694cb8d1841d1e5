"""``polyarch sync``: many images and repositories mirrored from one file, a line an
image, one summary."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from polyarch.cli._options import (
    format_option,
    jobs_option,
    registry_options,
    requests_made,
)
from polyarch.cli._text import shown
from polyarch.cli._units import size
from polyarch.errors import InvalidInputError
from polyarch.ops.copy import BlobTransfer
from polyarch.ops.sync import (
    DEFAULT_PARALLEL,
    MAX_SYNC_FILE,
    SyncOutcome,
    SyncProgress,
    SyncReport,
    parse_shard,
    parse_sync,
)
from polyarch.ops.sync import sync as sync_images  # the command is sync too
from polyarch.registry import Registries

if TYPE_CHECKING:
    from polyarch.models import Descriptor


@click.command()
@click.argument("sync_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--target",
    help="For a file in skopeo sync's shape: where its images go (a registry and path, "
    "or oci:DIR).",
)
@click.option(
    "--scoped",
    is_flag=True,
    help="With --target: keep each source's registry and whole path under it (skopeo's "
    "--scoped), not only the last part of the path.",
)
@click.option(
    "--shard",
    metavar="I/N",
    help="Take share I (0 to N-1) of the repositories, by a stable hash: N runs, on N "
    "machines, split one sync.",
)
@click.option(
    "--parallel",
    type=click.IntRange(1, 64),
    help=f"Images copied at once [default: the file's defaults.parallel, else {DEFAULT_PARALLEL}].",
)
@jobs_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Write nothing: list each image, whether it would be copied or is up to date.",
)
@format_option("text: a line an image on stderr, then a summary; json: one object on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="Only the summary (and errors).")
@registry_options
def sync(
    sync_file: Path,
    target: str | None,
    scoped: bool,
    shard: str | None,
    parallel: int | None,
    jobs: int,
    dry_run: bool,
    output_format: str,
    quiet: bool,
    registries: Registries,
) -> None:
    """Mirror what SYNC_FILE names: regsync's YAML (a `sync:` list of source, target,
    type image|repository, tags allow/deny/semverRange, platforms, attestations,
    referrers), or skopeo sync's (registries with images, images-by-tag-regex,
    images-by-semver) with --target.

    Run it again at any time: an image already there costs two requests, and a run that
    was stopped goes on where it stopped. Exit 0 when every image is there; otherwise the
    exit code of the first that failed, after the others were tried.
    """
    chosen = parse_shard(shard) if shard is not None else None  # bad input first
    if scoped and target is None:
        raise InvalidInputError("--scoped goes with --target (a file in skopeo sync's shape)")
    spec = parse_sync(_read(sync_file), where=str(sync_file), target=target, scoped=scoped)
    lines = not quiet and output_format == "text"
    with _SyncDisplay(lines=lines, bars=lines and not dry_run and sys.stderr.isatty()) as display:
        report = sync_images(
            spec,
            registries=registries,
            shard=chosen,
            parallel=parallel,
            jobs=jobs,
            dry_run=dry_run,
            progress=display,
        )
    for entry, err in report.failed_entries:
        click.echo(shown(f"polyarch: error: {entry.source}: {err}"), err=True)
    if output_format == "json":
        click.echo(json.dumps(_as_json(report, registries, dry_run), indent=2))
    else:
        click.echo(shown(_summary(report, registries, dry_run, chosen)), err=True)
    if report.errors:
        raise report.errors[0]


def _read(path: Path) -> str:
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_SYNC_FILE + 1)
    except OSError as err:
        raise InvalidInputError(f"cannot read {path}: {err.strerror or err}") from None
    if len(data) > MAX_SYNC_FILE:
        raise InvalidInputError(f"{path} is larger than {MAX_SYNC_FILE // 1024 // 1024} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path} is not UTF-8 text") from None


class _SyncDisplay(SyncProgress):
    """A line an image (stderr); on a terminal, the blobs in flight as bars too."""

    def __init__(self, *, lines: bool, bars: bool) -> None:
        from polyarch.cli._progress import RichProgress

        self._lines = lines
        self._bars = RichProgress() if bars else None
        self._lock = threading.Lock()

    def __enter__(self) -> _SyncDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bars is not None:
            self._bars.close()

    def blob_started(self, descriptor: Descriptor) -> None:
        if self._bars is not None:
            self._bars.blob_started(descriptor)

    def blob_advanced(self, descriptor: Descriptor, count: int) -> None:
        if self._bars is not None:
            self._bars.blob_advanced(descriptor, count)

    def blob_finished(self, descriptor: Descriptor, how: BlobTransfer) -> None:
        if self._bars is not None:
            self._bars.blob_finished(descriptor, how)

    def image_done(self, outcome: SyncOutcome) -> None:
        if not self._lines:
            return
        line = shown(_line(outcome))
        with self._lock:
            if self._bars is not None:
                self._bars.print(line)
            else:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()


def _line(outcome: SyncOutcome) -> str:
    item = outcome.item
    status = outcome.status
    if outcome.error is not None:
        return f"failed     {item.source} -> {item.target}: {outcome.error}"
    if outcome.result is None:
        return f"{status:<10} {item.source} -> {item.target} ({outcome.source_digest})"
    result = outcome.result
    detail = str(result.descriptor.digest)
    if status == "copied":
        blobs = result.blobs
        detail += (
            f"; {blobs[BlobTransfer.COPIED]} blobs copied, {blobs[BlobTransfer.MOUNTED]} "
            f"mounted, {blobs[BlobTransfer.PRESENT]} there"
        )
        if result.referrers:
            detail += f", {result.referrers} referrers"
    return f"{status:<10} {item.source} -> {item.target} ({detail})"


def _summary(report: SyncReport, registries: Registries, dry_run: bool, shard: object) -> str:
    images = len(report.outcomes)
    where = f" (shard {shard})" if shard is not None else ""
    if dry_run:
        text = (
            f"sync{where} --dry-run: {images} images, {report.count('would copy')} to copy, "
            f"{report.count('up to date')} up to date, {report.count('failed')} failed"
        )
    else:
        copied_bytes = sum(o.result.bytes_copied for o in report.outcomes if o.result is not None)
        text = (
            f"synced{where} {images} images: {report.count('copied')} copied, "
            f"{report.count('up to date')} up to date, {report.count('failed')} failed; "
            f"blobs: {report.blobs(BlobTransfer.COPIED)} copied ({size(copied_bytes)}), "
            f"{report.blobs(BlobTransfer.MOUNTED)} mounted, "
            f"{report.blobs(BlobTransfer.PRESENT)} already there"
        )
    if report.failed_entries:
        text += f"; {len(report.failed_entries)} entries not listed"
    if report.not_begun:
        text += f"; {report.not_begun} images not begun"
    return f"{text}; {requests_made(registries)}"


def _as_json(report: SyncReport, registries: Registries, dry_run: bool) -> dict[str, object]:
    def one(outcome: SyncOutcome) -> dict[str, object]:
        found: dict[str, object] = {
            "source": str(outcome.item.source),
            "target": str(outcome.item.target),
            "status": outcome.status,
        }
        if outcome.result is not None:
            found["digest"] = str(outcome.result.descriptor.digest)
            found["blobs"] = {how.value: n for how, n in outcome.result.blobs.items() if n}
            found["referrers"] = outcome.result.referrers
        if outcome.result is None and outcome.error is None:
            found["digest"] = str(outcome.source_digest)
            found["now"] = None if outcome.target_digest is None else str(outcome.target_digest)
        if outcome.error is not None:
            found["error"] = str(outcome.error)
            found["exit_code"] = outcome.error.exit_code
        return found

    return {
        "dry_run": dry_run,
        "images": [one(o) for o in report.outcomes],
        "copied": report.count("copied"),
        "up_to_date": report.count("up to date"),
        "would_copy": report.count("would copy"),
        "failed": report.count("failed") + len(report.failed_entries),
        "not_begun": report.not_begun,
        "entries_not_listed": [
            {"source": entry.source, "error": str(err), "exit_code": err.exit_code}
            for entry, err in report.failed_entries
        ],
        "blobs": {how.value: report.blobs(how) for how in BlobTransfer},
        "requests": registries.meter.sent,
    }
