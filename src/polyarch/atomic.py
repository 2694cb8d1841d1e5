"""Files that are written whole or not at all.

Content goes to a temporary file beside its final name, is flushed to disk, and only then
renamed over the target; a crash or an error at any point leaves the old file (or none)
and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["open_atomically", "write_atomically", "write_stream_atomically"]


@contextlib.contextmanager
def open_atomically(path: Path, *, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` when the block ends without an exception."""
    # Cut short: the temporary name must fit NAME_MAX as the final one does.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:200]}.tmp-")
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


def write_stream_atomically(path: Path, chunks: Iterable[bytes], *, mode: int = 0o644) -> None:
    """Write ``chunks`` to ``path`` atomically; an exception from the iterator (a failed
    digest check) discards the file."""
    with open_atomically(path, mode=mode) as stream:
        for chunk in chunks:
            stream.write(chunk)


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically."""
    write_stream_atomically(path, [data], mode=mode)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not possible everywhere, hence best effort.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
