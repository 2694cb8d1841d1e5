"""Where polyarch keeps its own files: ``$POLYARCH_HOME``, else ``~/.polyarch``, and
under it the file of each pending list, which ``inspect`` can look for without loading
:mod:`polyarch.lists`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from polyarch.reference import Reference

__all__ = ["default_home", "pending_list_path", "pending_lists_directory"]


def default_home(environ: dict[str, str] | None = None) -> Path:
    """``$POLYARCH_HOME``, else ``~/.polyarch``."""
    env = os.environ if environ is None else environ
    configured = env.get("POLYARCH_HOME")
    return Path(configured) if configured else Path.home() / ".polyarch"


def pending_lists_directory(home: Path | None = None) -> Path:
    """The directory of the pending lists (``polyarch create``): ``HOME/lists``."""
    return (home if home is not None else default_home()) / "lists"


def pending_list_path(reference: Reference, home: Path | None = None) -> Path:
    """The file that holds the pending list named ``reference``: in
    :func:`pending_lists_directory`, the reference percent-encoded, then ``.json``."""
    return pending_lists_directory(home) / (quote(str(reference), safe="") + ".json")
