"""An OCI layout directory on disk, read and written without following a symbolic link
below its root.

A layout may be a directory someone else prepared: ``index.json`` linked to another
user's ``~/.docker/config.json`` would have its credentials copied into a readable file,
``blobs`` linked elsewhere would have files of the attacker's choosing written there. So
every name inside the layout (``oci-layout``, ``index.json``, ``blobs``, ``blobs/ALG``,
each blob) is opened relative to its parent directory's descriptor with ``O_NOFOLLOW``:
a link there is an :class:`~polyarch.errors.UnsafePathError`, and nothing is read or
written through it. The root itself is the user's to name and may be a link.

Writes land whole or not at all: a temporary file, created with ``O_EXCL`` in the final
directory, is written, flushed and renamed over its name (a rename replaces a link that
someone plants meanwhile; it never writes through it).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Final

from polyarch.errors import (
    InvalidInputError,
    ManifestNotFoundError,
    PolyarchError,
    UnsafePathError,
    os_error,
)

__all__ = ["LayoutDir"]

_NOFOLLOW: Final = os.O_NOFOLLOW | os.O_CLOEXEC
#: Opening a FIFO planted as a blob must not wait for a writer: the check that it is a
#: regular file comes right after.
_READ: Final = os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW
_DIRECTORY: Final = os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW
#: Temporary files tried before giving up (each name is random: only a hostile directory
#: could make them all exist).
_TEMPORARY_ATTEMPTS: Final = 16


class LayoutDir:
    """The directory of one layout; ``path`` is followed if it is a link, nothing below."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _shown(self, parts: tuple[str, ...]) -> str:
        return str(self.path.joinpath(*parts))

    # -- directories -------------------------------------------------------------------

    @contextlib.contextmanager
    def root(self, *, create: bool = False) -> Iterator[int]:
        """A descriptor of the layout directory, made (with its parents) if ``create``.

        :raises ManifestNotFoundError: it does not exist and ``create`` is false.
        :raises InvalidInputError: it is not a directory, or cannot be made.
        """
        if create:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except FileExistsError:
                pass  # not a directory: said below
            except OSError as err:
                raise os_error(err, f"create the layout directory {self.path}") from None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ManifestNotFoundError(
                f"no OCI layout at {self.path}", where=f"oci:{self.path}"
            ) from None
        except NotADirectoryError:
            raise InvalidInputError(
                f"{self.path} is not a directory: oci:PATH names an OCI layout directory",
                hint="name the directory that holds index.json, not a file in it",
            ) from None
        except OSError as err:
            raise os_error(err, f"open the layout {self.path}") from None
        try:
            yield fd
        finally:
            os.close(fd)

    def exists(self) -> bool:
        """Whether the layout directory exists.

        :raises InvalidInputError: the path names something else than a directory.
        """
        try:
            with self.root():
                return True
        except ManifestNotFoundError:
            return False

    @contextlib.contextmanager
    def directory(self, *parts: str, create: bool = False) -> Iterator[int | None]:
        """A descriptor of ``parts`` below the root (each opened without following a
        link), made if ``create``; ``None`` when it (or the layout) does not exist and
        ``create`` is false."""
        if not create and not self.exists():
            yield None
            return
        with self.root(create=create) as root:
            fd = root
            opened: list[int] = []
            try:
                for depth, name in enumerate(parts):
                    child = self._open_directory(fd, name, parts[: depth + 1], create=create)
                    if child is None:
                        yield None
                        return
                    opened.append(child)
                    fd = child
                yield fd
            finally:
                for child in opened:
                    os.close(child)

    def _open_directory(
        self, parent: int, name: str, parts: tuple[str, ...], *, create: bool
    ) -> int | None:
        if create:
            try:
                os.mkdir(name, 0o755, dir_fd=parent)
            except FileExistsError:
                pass
            except OSError as err:
                raise os_error(err, f"create {self._shown(parts)}") from None
        try:
            return os.open(name, _DIRECTORY, dir_fd=parent)
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno in (errno.ENOTDIR, errno.ELOOP):
                raise self._unsafe(parent, name, parts, "a directory") from None
            raise os_error(err, f"open {self._shown(parts)}") from None

    def _unsafe(self, parent: int, name: str, parts: tuple[str, ...], wanted: str) -> PolyarchError:
        try:
            mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
        except OSError:
            mode = 0
        shown = self._shown(parts)
        if stat.S_ISLNK(mode):
            return UnsafePathError(
                f"{shown} is a symbolic link; polyarch follows no link inside a layout",
                path=shown,
                hint="someone may have planted it to have another file read or overwritten; "
                "remove it, or use a layout you made",
            )
        return UnsafePathError(f"{shown} is not {wanted}", path=shown)

    @contextlib.contextmanager
    def locked(self) -> Iterator[int]:
        """The root, locked against other writers of this layout (index.json is replaced
        by rename: a lock on the file would be a lock on an inode about to vanish). Each
        call opens its own descriptor, so threads of one process exclude each other too."""
        with self.root(create=True) as root:
            fcntl.flock(root, fcntl.LOCK_EX)
            yield root

    # -- files -------------------------------------------------------------------------

    @contextlib.contextmanager
    def open(self, *parts: str) -> Iterator[BinaryIO | None]:
        """The regular file ``parts`` for reading, ``None`` when it does not exist.

        :raises ManifestNotFoundError: the layout itself does not exist.
        :raises UnsafePathError: it, or a directory on the way, is a link or not a file.
        """
        *directories, name = parts
        with self.directory(*directories) as parent:
            if parent is None:
                yield None
                return
            try:
                fd = os.open(name, _READ, dir_fd=parent)
            except FileNotFoundError:
                yield None
                return
            except OSError as err:
                if err.errno == errno.ELOOP:
                    raise self._unsafe(parent, name, parts, "a file") from None
                raise os_error(err, f"read {self._shown(parts)}") from None
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise UnsafePathError(
                    f"{self._shown(parts)} is not a regular file", path=self._shown(parts)
                )
            os.set_blocking(fd, True)
            with os.fdopen(fd, "rb") as stream:
                yield stream

    def read(self, *parts: str, limit: int) -> bytes | None:
        """At most ``limit + 1`` bytes of the file ``parts`` (so a caller sees it is over
        the limit); ``None`` when it does not exist."""
        with self.open(*parts) as stream:
            return None if stream is None else _read(stream, limit + 1, self._shown(parts))

    def size_of(self, *parts: str) -> int | None:
        """The size of the regular file ``parts``; ``None`` when it does not exist.

        :raises UnsafePathError: it is a link, a directory or another kind of file.
        """
        *directories, name = parts
        with self.directory(*directories) as parent:
            if parent is None:
                return None
            try:
                status = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                return None
            except OSError as err:
                raise os_error(err, f"look at {self._shown(parts)}") from None
            if not stat.S_ISREG(status.st_mode):
                raise self._unsafe(parent, name, parts, "a regular file")
            return status.st_size

    def write(
        self, *parts: str, chunks: Iterable[bytes], mode: int = 0o644, root: int | None = None
    ) -> None:
        """Replace the file ``parts`` with ``chunks`` atomically, making its directories;
        an exception from ``chunks`` (a failed digest check) leaves nothing behind.

        :param root: the layout's descriptor, when the caller holds it already (locked).
        :raises UnsafePathError: the name, or a directory on the way, is a link or not a
            file; nothing is written.
        """
        *directories, name = parts
        if root is not None and not directories:
            self._write_in(root, name, parts, chunks, mode)
            return
        with self.directory(*directories, create=True) as parent:
            assert parent is not None
            self._write_in(parent, name, parts, chunks, mode)

    def _write_in(
        self,
        parent: int,
        name: str,
        parts: tuple[str, ...],
        chunks: Iterable[bytes],
        mode: int,
    ) -> None:
        try:
            existing = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
        except FileNotFoundError:
            existing = None
        except OSError as err:
            raise os_error(err, f"write {self._shown(parts)}") from None
        if existing is not None and not stat.S_ISREG(existing):
            raise self._unsafe(parent, name, parts, "a regular file")
        temporary, fd = self._temporary(parent, name, parts)
        try:
            with os.fdopen(fd, "wb") as stream:
                for chunk in chunks:  # what the source raises is its own, passed on
                    try:
                        stream.write(chunk)
                    except OSError as err:
                        raise os_error(err, f"write {self._shown(parts)}") from None
                try:
                    stream.flush()
                    os.fsync(stream.fileno())
                    os.fchmod(stream.fileno(), mode)
                    os.rename(temporary, name, src_dir_fd=parent, dst_dir_fd=parent)
                except OSError as err:
                    raise os_error(err, f"write {self._shown(parts)}") from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=parent)
            raise
        with contextlib.suppress(OSError):  # makes the rename durable, where possible
            os.fsync(parent)

    def _temporary(self, parent: int, name: str, parts: tuple[str, ...]) -> tuple[str, int]:
        for _ in range(_TEMPORARY_ATTEMPTS):
            temporary = f".{name[:200]}.tmp-{secrets.token_hex(4)}"
            try:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
                return temporary, os.open(temporary, flags, 0o600, dir_fd=parent)
            except FileExistsError:
                continue
            except OSError as err:
                raise os_error(err, f"write {self._shown(parts)}") from None
        raise UnsafePathError(
            f"cannot make a temporary file beside {self._shown(parts)}: every name tried exists",
            path=self._shown(parts),
        )

    def check_tree(self, root: int) -> None:
        """Refuse a layout with a link (or a FIFO, a device...) where polyarch reads or
        writes: ``oci-layout``, ``index.json``, ``blobs``, ``blobs/ALG`` and every blob.
        Run before the first write, so that nothing is written into a layout someone
        rigged; each open checks again (they could plant one later).

        :raises UnsafePathError: naming the first such path.
        """
        for name in ("oci-layout", "index.json"):
            self.size_of(name)
        blobs = self._open_directory(root, "blobs", ("blobs",), create=False)
        if blobs is None:
            return
        try:
            for algorithm in self.names(blobs):
                parts = ("blobs", algorithm)
                directory = self._open_directory(blobs, algorithm, parts, create=False)
                if directory is None:
                    continue
                try:
                    with os.scandir(directory) as entries:
                        for entry in entries:
                            if not entry.is_file(follow_symlinks=False):
                                raise self._unsafe(
                                    directory, entry.name, (*parts, entry.name), "a regular file"
                                )
                finally:
                    os.close(directory)
        finally:
            os.close(blobs)

    def names(self, root: int) -> list[str]:
        """The names in the layout directory."""
        try:
            return os.listdir(root)
        except OSError as err:
            raise os_error(err, f"list {self.path}") from None


def _read(stream: BinaryIO, limit: int, shown: str) -> bytes:
    try:
        return stream.read(limit)
    except OSError as err:
        raise os_error(err, f"read {shown}") from None
