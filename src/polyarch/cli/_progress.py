"""Copy progress for people: rich bars on a terminal, plain lines elsewhere, or nothing."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from polyarch.ops.copy import BlobTransfer, CopyProgress

if TYPE_CHECKING:
    from polyarch.models import Descriptor
    from polyarch.ops.resolve import Choice


@contextlib.contextmanager
def progress_display(*, quiet: bool) -> Iterator[CopyProgress]:
    """The progress display that suits stderr: bars on a TTY, lines otherwise, or none."""
    if quiet:
        yield CopyProgress()
    elif sys.stderr.isatty():
        bars = RichProgress()
        try:
            yield bars
        finally:
            bars.close()
    else:
        yield LineProgress()


def report_choices(choices: Iterable[Choice]) -> None:
    """Say which index entry was taken for the platform, and why (stderr)."""
    for choice in choices:
        sys.stderr.write(f"{choice.descriptor.digest}: {choice.reason}\n")


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - unreachable


class LineProgress(CopyProgress):
    """One line per finished blob and manifest, for logs and CI."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _line(self, text: str) -> None:
        with self._lock:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def blob_finished(self, descriptor: Descriptor, how: BlobTransfer) -> None:
        self._line(f"{how.value:<8} {descriptor.digest.short}  {_size(descriptor.size)}")

    def manifest_finished(self, descriptor: Descriptor) -> None:
        self._line(f"manifest {descriptor.digest.short}  {descriptor.media_type}")


class RichProgress(CopyProgress):
    """A bar per blob in flight and one for the total, with bytes and rate."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            # stderr: stdout carries the digest, and rich would draw on stdout by default.
            console=Console(stderr=True),
            transient=True,
        )
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._total = self._progress.add_task("total", total=0)
        self._progress.start()

    def blob_started(self, descriptor: Descriptor) -> None:
        with self._lock:
            self._tasks[descriptor.digest] = self._progress.add_task(
                descriptor.digest.short, total=descriptor.size
            )
            total = self._progress.tasks[self._total].total or 0
            self._progress.update(self._total, total=total + descriptor.size)

    def blob_advanced(self, descriptor: Descriptor, count: int) -> None:
        with self._lock:
            task = self._tasks.get(descriptor.digest)
            if task is not None:
                self._progress.advance(task, count)
            self._progress.advance(self._total, count)

    def blob_finished(self, descriptor: Descriptor, how: BlobTransfer) -> None:
        with self._lock:
            task = self._tasks.pop(descriptor.digest, None)
            if task is not None:
                self._progress.remove_task(task)
            if how not in (BlobTransfer.COPIED, BlobTransfer.FETCHED):  # not streamed
                self._progress.advance(self._total, descriptor.size)

    def close(self) -> None:
        self._progress.stop()
