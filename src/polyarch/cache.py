"""What polyarch has seen, kept between runs: ``HOME/cache`` (``--cache-dir``).

Three kinds of entry, each a small file written whole (a temporary file renamed over it)
with no lock held across requests, so any number of processes share one cache:

``content/sha256/XX/HEX``
    The exact bytes of a manifest or config fetched and verified, after one line with
    the media type they came with. Keyed by digest, so no entry can be stale; each is
    checked against its name on every read, and one that fails is deleted and fetched
    again, never trusted.
``places/sha256/XX/HEX``
    Where a blob was last seen: per registry, the repositories that held it, most recent
    first (a few at most). A hint for a cross-repository mount, which the registry checks
    (a refused mount falls back to an upload).
``tags/HEX``
    The digest a tag named when last read (the key is the SHA-256 of
    ``registry/repository:tag``). A hint too: it only tells a read that a HEAD may be
    enough, and the HEAD's answer is what counts.
``schemes/HEX``
    ``http`` for a registry host (the key is the SHA-256 of ``host:port``) that refused
    HTTPS where plain HTTP is allowed (this machine, ``--insecure``): its next run asks
    over HTTP first instead of probing HTTPS again (two round trips), and probes again
    when the answer says HTTPS is wanted. Never read where plain HTTP is not allowed.

Entries are bounded in size (:data:`MAX_ENTRY`), and the cache as a whole
(``max_bytes``): the first write of a process that finds the cache over its bound deletes
the least recently used entries. A damaged or made-up entry (bad JSON, a name that is no
repository, a symlink) is ignored and written again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import threading
from pathlib import Path
from typing import Final

from polyarch.digest import Digest, is_supported
from polyarch.reference._grammar import DOMAIN_RE, PATH_RE

__all__ = ["DEFAULT_MAX_BYTES", "MAX_ENTRY", "Cache", "default_cache_directory"]

#: The largest entry kept: the largest manifest polyarch reads.
MAX_ENTRY: Final = 4 * 1024 * 1024
#: The default bound on the whole cache.
DEFAULT_MAX_BYTES: Final = 256 * 1024 * 1024
#: Repositories remembered per blob and registry, and registries per blob.
MAX_PLACES: Final = 4
MAX_REGISTRIES: Final = 8
#: A pruned cache is brought down to this share of its bound, so the next runs write
#: for a while before one prunes again.
_PRUNED_SHARE: Final = 0.75

_NO_FOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK: Final = getattr(os, "O_NONBLOCK", 0)
#: The names of polyarch's own files: nothing else under the cache is ever deleted.
_KINDS: Final = ("content", "places", "tags", "schemes")
_ENTRY_NAME: Final = re.compile(r"[0-9a-f]{32,128}")


def default_cache_directory(home: Path) -> Path:
    """``HOME/cache``."""
    return home / "cache"


class Cache:
    """One cache directory; thread-safe, and safe beside other processes using it."""

    def __init__(self, root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._checked_size = False

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    # -- content ---------------------------------------------------------------------------

    def content(self, digest: str) -> tuple[str | None, bytes] | None:
        """The media type and bytes kept for ``digest``, verified; ``None`` when there is
        no good entry (a damaged one is deleted)."""
        path = self._content_path(digest)
        if path is None:
            return None
        data = self._read(path, MAX_ENTRY + 256)
        if data is None:
            if os.path.lexists(path):  # a symlink, or too long: no entry of ours
                with contextlib.suppress(OSError):
                    path.unlink()
            return None
        header, newline, body = data.partition(b"\n")
        if (
            newline
            and len(body) <= MAX_ENTRY
            and Digest.of(body, digest.partition(":")[0]) == digest
        ):
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used: the last to be pruned
            media_type = header.decode("ascii", "replace") or None
            return media_type, body
        with contextlib.suppress(OSError):
            path.unlink()
        return None

    def has_content(self, digest: str) -> bool:
        """Whether an entry for ``digest`` exists (not checked: :meth:`content` does)."""
        path = self._content_path(digest)
        return path is not None and path.is_file()

    def keep_content(self, digest: str, media_type: str | None, data: bytes) -> None:
        """Keep ``data``, whose digest the caller verified, with the media type it came
        with."""
        path = self._content_path(digest)
        if path is None or len(data) > MAX_ENTRY or path.is_file():
            return
        header = (media_type or "").encode("ascii", "replace").replace(b"\n", b"")
        self._write(path, header + b"\n" + data)

    # -- blob places -----------------------------------------------------------------------

    def places(self, registry: str, digest: str) -> list[str]:
        """The repositories of ``registry`` where ``digest`` was seen, most recent first."""
        return self._places(digest).get(registry, [])

    def saw(self, registry: str, repository: str, digest: str) -> None:
        """``digest`` is in ``registry/repository`` now."""
        if not _is_place(registry, repository):
            return
        with self._lock:
            known = self._places(digest)
            seen = known.get(registry, [])
            if seen[:1] == [repository]:
                return
            known.pop(registry, None)
            known = {
                registry: [repository, *(r for r in seen if r != repository)][:MAX_PLACES],
                **dict(list(known.items())[: MAX_REGISTRIES - 1]),
            }
            path = self._digest_path("places", digest)
            if path is not None:
                self._write(path, json.dumps(known, separators=(",", ":")).encode())

    def _places(self, digest: str) -> dict[str, list[str]]:
        path = self._digest_path("places", digest)
        data = None if path is None else self._read(path, 64 * 1024)
        if data is None:
            return {}
        try:
            document = json.loads(data)
        except ValueError:
            return {}
        if not isinstance(document, dict):
            return {}
        return {
            registry: [r for r in repositories if _is_place(registry, r)][:MAX_PLACES]
            for registry, repositories in list(document.items())[:MAX_REGISTRIES]
            if isinstance(repositories, list)
        }

    # -- tag hints -------------------------------------------------------------------------

    def tag_hint(self, where: str) -> Digest | None:
        """The digest ``where`` (``registry/repository:tag``) named when last read."""
        data = self._read(self._tag_path(where), 200)
        text = (data or b"").decode("ascii", "replace").strip()
        return Digest(text) if is_supported(text) else None

    def hint_tag(self, where: str, digest: str) -> None:
        if self.tag_hint(where) != digest:
            self._write(self._tag_path(where), digest.encode())

    # -- scheme hints ----------------------------------------------------------------------

    def speaks_plain_http(self, host: str) -> bool:
        """Whether ``host`` (``name:port``) answered over plain HTTP when last probed."""
        return self._read(self._scheme_path(host), 16) == b"http"

    def hint_plain_http(self, host: str, *, plain: bool) -> None:
        """``host`` answered over plain HTTP (``plain``), or over HTTPS."""
        if plain == self.speaks_plain_http(host):
            return
        if plain:
            self._write(self._scheme_path(host), b"http")
        else:
            with contextlib.suppress(OSError):
                self._scheme_path(host).unlink()

    # -- files -----------------------------------------------------------------------------

    def _scheme_path(self, host: str) -> Path:
        return self.root / "schemes" / hashlib.sha256(host.encode()).hexdigest()

    def _content_path(self, digest: str) -> Path | None:
        return self._digest_path("content", digest)

    def _digest_path(self, kind: str, digest: str) -> Path | None:
        if not is_supported(digest):
            return None
        algorithm, _, encoded = digest.partition(":")
        return self.root / kind / algorithm / encoded[:2] / encoded

    def _tag_path(self, where: str) -> Path:
        return self.root / "tags" / hashlib.sha256(where.encode()).hexdigest()

    def _read(self, path: Path, limit: int) -> bytes | None:
        """At most ``limit`` bytes of ``path``; ``None`` when it is missing, longer, a
        symlink or not a regular file (a FIFO would block the open and the read)."""
        try:
            fd = os.open(path, os.O_RDONLY | _NO_FOLLOW | _NONBLOCK)
        except OSError:
            return None
        try:
            with os.fdopen(fd, "rb") as stream:
                if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                    return None
                data = stream.read(limit + 1)
        except OSError:
            return None
        return data if data is not None and len(data) <= limit else None

    def forget(self, digest: str) -> None:
        """Drop the entry of ``digest``: its bytes are its digest's, but not what they
        were said to be (a made-up media type)."""
        path = self._content_path(digest)
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()

    def _write(self, path: Path, data: bytes) -> None:
        """``path`` holds ``data`` or what it held: written beside it and renamed. Not
        synced to disk: a torn entry after a crash fails its check and is written again.
        A cache that cannot be written (full, read-only) is only a cache: nothing fails."""
        import tempfile  # only a write needs it (with shutil, bz2, lzma: 3 ms)

        try:
            self._make_room()
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as stream:
                    stream.write(data)
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError:
            return

    def _make_room(self) -> None:
        """Once a process: the least recently used entries out, when over the bound. Only
        polyarch's own entries count and go (``--cache-dir`` may name a directory that
        holds other files too): nothing else is ever deleted."""
        if self._checked_size:
            return
        self._checked_size = True
        entries: list[tuple[float, int, str]] = []
        for kind in _KINDS:
            for directory, _, files in os.walk(self.root / kind):
                for name in files:
                    if not _ENTRY_NAME.fullmatch(name):
                        continue
                    path = os.path.join(directory, name)
                    with contextlib.suppress(OSError):
                        status = os.lstat(path)
                        if stat.S_ISREG(status.st_mode):
                            entries.append((status.st_mtime, status.st_size, path))
        total = sum(size for _, size, _ in entries)
        if total <= self.max_bytes:
            return
        entries.sort()
        for _, size, path in entries:
            if total <= self.max_bytes * _PRUNED_SHARE:
                break
            with contextlib.suppress(OSError):
                os.unlink(path)
                total -= size


def _is_place(registry: str, repository: object) -> bool:
    return (
        isinstance(repository, str)
        and len(repository) <= 255
        and DOMAIN_RE.fullmatch(registry) is not None
        and PATH_RE.fullmatch(repository) is not None
    )
