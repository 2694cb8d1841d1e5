"""Where polyarch keeps its own files: ``$POLYARCH_HOME``, else ``~/.polyarch``, and
under it the file of each pending list, which ``inspect`` can look for without loading
:mod:`polyarch.ops.lists`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from polyarch.location import LayoutLocation
    from polyarch.reference import Reference

__all__ = ["HASHED_NAME_MARK", "default_home", "pending_list_path", "pending_lists_directory"]

#: The longest pending-list file name written (NAME_MAX is 255 bytes on every common file
#: system; the temporary file written beside it needs a few more).
MAX_FILE_NAME = 200
#: Separates a long name's readable start from its hash; ``quote`` never writes it (it is
#: unreserved) and no reference holds it.
HASHED_NAME_MARK = "~"


def default_home(environ: dict[str, str] | None = None) -> Path:
    """``$POLYARCH_HOME``, else ``~/.polyarch``."""
    env = os.environ if environ is None else environ
    configured = env.get("POLYARCH_HOME")
    return Path(configured) if configured else Path.home() / ".polyarch"


def pending_lists_directory(home: Path | None = None) -> Path:
    """The directory of the pending lists (``polyarch create``): ``HOME/lists``."""
    return (home if home is not None else default_home()) / "lists"


def pending_list_path(reference: Reference | LayoutLocation, home: Path | None = None) -> Path:
    """The file that holds the pending list named ``reference``: in
    :func:`pending_lists_directory`, the reference percent-encoded, then ``.json``.

    A name longer than :data:`MAX_FILE_NAME` (a long repository path, each ``/`` three
    bytes) keeps its start and ends in ``~`` and the SHA-256 of the reference, so it fits
    every file system; such a file is known by the reference it holds.
    """
    name = quote(str(reference), safe="")
    if len(name) + len(".json") > MAX_FILE_NAME:
        import hashlib

        digest = hashlib.sha256(str(reference).encode()).hexdigest()
        keep = MAX_FILE_NAME - len(".json") - len(HASHED_NAME_MARK) - len(digest)
        name = f"{name[:keep]}{HASHED_NAME_MARK}{digest}"
    return pending_lists_directory(home) / (name + ".json")
