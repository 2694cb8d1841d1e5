"""``docker-archive:FILE.tar``: one image as ``docker load`` reads it (``docker save`` format).

::

    manifest.json              [{"Config": "<config>.json", "RepoTags": [...], "Layers": [...]}]
    <config digest>.json       the config, byte for byte
    <layer digest>.tar[.gz]    each layer blob as it is in the registry (docker load and
                               skopeo decompress gzip layers themselves), non-distributable
                               ones too: an archive is loaded offline

Blobs stream from the store into the tar with their digests verified; the archive is
written beside its final name and renamed into place only when complete.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from polyarch import mediatype as mt
from polyarch.atomic import open_atomically
from polyarch.errors import InvalidInputError, os_error
from polyarch.models import Descriptor, ImageManifest
from polyarch.store import open_blob_or_fetch

if TYPE_CHECKING:
    from polyarch.store import ForeignBlobs, Store, WriteProgress

__all__ = ["DockerArchive", "check_destination", "write_docker_archive"]

_MTIME = 0  # reproducible archives: the same image gives the same bytes


class _ChunkReader(io.RawIOBase):
    """A file object over an iterator of chunks, for tarfile to read from."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def _layer_name(layer: Descriptor) -> str:
    gz = layer.media_type.endswith("gzip") or layer.media_type == mt.DOCKER_LAYER
    return f"{layer.digest.encoded}.tar" + (".gz" if gz else "")


class DockerArchive:
    """``docker-archive:FILE``, a write-only :class:`~polyarch.store.ImageSink`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def location(self) -> str:
        return f"docker-archive:{self.path}"

    def check(self) -> None:
        check_destination(self.path)

    def write_image(
        self,
        source: Store,
        manifest: ImageManifest,
        *,
        tags: Sequence[str],
        foreign: ForeignBlobs | None = None,
        progress: WriteProgress | None = None,
    ) -> None:
        write_docker_archive(
            self.path,
            source,
            manifest,
            repo_tags=list(tags),
            foreign=foreign,
            progress=progress,
        )


def write_docker_archive(
    path: Path,
    store: Store,
    manifest: ImageManifest,
    *,
    repo_tags: list[str],
    foreign: ForeignBlobs | None = None,
    progress: WriteProgress | None = None,
) -> None:
    """Write ``manifest``'s image from ``store`` to ``path`` as a docker archive.

    :param foreign: where the non-distributable layers ``store`` lacks are fetched from
        (their URLs); without it such a layer is missing like any other blob.
    :raises BlobNotFoundError: a blob neither ``store`` nor ``foreign`` has.
    :raises ContentError: a blob whose bytes do not match its digest (nothing is left).
    :raises InvalidInputError: ``path`` cannot be written (a directory, a missing
        directory, a name too long, no permission).
    """
    check_destination(path)
    try:
        _write(path, store, manifest, repo_tags, foreign, progress)
    except OSError as err:  # the stores raise their own errors, never a bare OSError
        raise os_error(err, f"write {path}") from None


def check_destination(path: Path) -> None:
    """Refuse, before anything is fetched, a path the archive cannot be written to: a
    directory, a file in a directory that does not exist, a name too long.

    :raises InvalidInputError: saying which.
    """
    parent = path.parent
    try:
        if not parent.is_dir():
            raise InvalidInputError(f"cannot write {path}: the directory {parent} does not exist")
        longest = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        longest = 255
    if len(os.fsencode(path.name)) > longest:
        raise InvalidInputError(
            f"cannot write {path}: its name is longer than the {longest} bytes a file name "
            "may have here"
        )
    try:
        is_directory = path.is_dir()
    except OSError as err:
        raise os_error(err, f"write {path}") from None
    if is_directory:
        raise InvalidInputError(f"{path} is a directory; name the archive file to write")


def _write(
    path: Path,
    store: Store,
    manifest: ImageManifest,
    repo_tags: list[str],
    foreign: ForeignBlobs | None,
    progress: WriteProgress | None,
) -> None:
    config_name = f"{manifest.config.digest.encoded}.json"
    entries = [(config_name, manifest.config)] + [
        (_layer_name(layer), layer) for layer in manifest.layers
    ]
    with (
        open_atomically(path) as stream,
        tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, blob in entries:
            if progress is not None:
                progress.started(blob)
            with open_blob_or_fetch(store, blob, foreign) as (chunks, fetched):
                counted = chunks if progress is None else _counted(chunks, blob, progress)
                # tarfile reads exactly blob.size bytes; the verifier behind the chunks
                # raises on a short, long or wrong body before the archive is renamed.
                tar.addfile(_info(name, blob.size), io.BufferedReader(_ChunkReader(counted)))
                for _ in counted:  # drain: the verifier checks only a fully read stream
                    pass
            if progress is not None:
                progress.finished(blob, fetched=fetched)
        index = [
            {"Config": config_name, "RepoTags": repo_tags, "Layers": [n for n, _ in entries[1:]]}
        ]
        data = json.dumps(index).encode()
        tar.addfile(_info("manifest.json", len(data)), io.BytesIO(data))


def _counted(chunks: Iterator[bytes], blob: Descriptor, progress: WriteProgress) -> Iterator[bytes]:
    for chunk in chunks:
        progress.advanced(blob, len(chunk))
        yield chunk


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = _MTIME
    info.mode = 0o644
    return info
