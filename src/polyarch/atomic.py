"""Files that are written whole or not at all.

Content goes to a temporary file beside its final name, is flushed to disk, and only then
renamed over the target; a crash or an error at any point leaves the old file (or none)
and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

__all__ = ["write_atomically", "write_stream_atomically"]


def write_stream_atomically(
    path: Path,
    chunks: Iterable[bytes],
    *,
    mode: int = 0o644,
    before_rename: Callable[[], None] | None = None,
) -> None:
    """Write ``chunks`` to ``path`` atomically.

    :param before_rename: called after the last chunk is on disk and before the file
        becomes visible; an exception from it (a failed digest check) discards the file.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    try:
        stream: BinaryIO
        with os.fdopen(fd, "wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
            stream.flush()
            os.fsync(stream.fileno())
        if before_rename is not None:
            before_rename()
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


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
