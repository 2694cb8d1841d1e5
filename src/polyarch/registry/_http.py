"""The one place that imports httpx.

httpx's package ``__init__`` imports its own command-line client (``httpx._main``), which
pulls in click, rich and pygments: about 30 ms of the ~65 ms that ``import httpx`` costs
here, paid on every polyarch run that talks to a registry. We never use that client, so a
placeholder module takes its place before httpx is imported for the first time.
"""

from __future__ import annotations

import sys
import types


def _skip_httpx_cli() -> None:
    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    placeholder = types.ModuleType("httpx._main")

    def main() -> None:  # pragma: no cover - only reached by httpx's own CLI entry point
        raise SystemExit("the httpx command-line client is not available inside polyarch")

    placeholder.main = main  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = placeholder


_skip_httpx_cli()

import httpx  # noqa: E402

__all__ = ["httpx"]
