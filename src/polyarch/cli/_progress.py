"""Copy progress for people: rich bars on a terminal, plain lines elsewhere, or nothing."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from polyarch.cli._units import size
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
        report_choice(choice)


def report_choice(choice: Choice) -> None:
    sys.stderr.write(f"{choice.descriptor.digest}: {choice.reason}\n")
    sys.stderr.flush()


class LineProgress(CopyProgress):
    """One line per finished blob and manifest, for logs and CI."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _line(self, text: str) -> None:
        with self._lock:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def blob_finished(self, descriptor: Descriptor, how: BlobTransfer) -> None:
        self._line(f"{how.value:<8} {descriptor.digest.short}  {size(descriptor.size)}")

    def manifest_finished(self, descriptor: Descriptor) -> None:
        self._line(f"manifest {descriptor.digest.short}  {descriptor.media_type}")


def _binary_speed_column() -> Any:
    """A transfer rate in the bars' units: rich's TransferSpeedColumn counts in decimal."""
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class BinarySpeed(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            shown = "" if speed is None else f"{size(int(speed))}/s"
            return Text(shown, style="progress.data.speed")

    return BinarySpeed()


class RichProgress(CopyProgress):
    """A bar per blob in flight and one for the total, with bytes and rate."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            _binary_speed_column(),
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

    def print(self, line: str) -> None:
        """A line above the bars."""
        self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        self._progress.stop()
