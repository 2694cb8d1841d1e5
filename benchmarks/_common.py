"""What the benchmarks share: finding the tools, formatting numbers, reporting progress."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def default_polyarch() -> str:
    """The console script beside this interpreter; a pyenv shim would add its own start-up."""
    beside = Path(sys.executable).parent / "polyarch"
    if beside.exists():
        return str(beside)
    return shutil.which("polyarch") or "polyarch"


def fmt(value: float | None, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def ratio_of(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def tool_version(argv: list[str]) -> str:
    """The first line a tool prints for its version, or why it could not say."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{argv[0]} ({err})"
    return proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else argv[0]


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def request_breakdown(
    cells: Mapping[tuple[str, str], Any], scenarios: Sequence[str], tools: Sequence[str]
) -> list[str]:
    """The requests of each tool's last run of each scenario, by registry, method, kind
    (manifests, blobs, uploads, mount, tags, ``/v2/``) and status; ``cells`` maps
    ``(scenario, tool)`` to what has ``runs[-1].requests``: registry name -> log entries."""
    width = max((len(s) for s in scenarios), default=0)
    lines = ["requests (last run), by registry, method, kind and status:"]
    for scenario in scenarios:
        for tool in tools:
            cell = cells.get((scenario, tool))
            if not cell or not cell.runs:
                continue
            for registry, entries in sorted(cell.runs[-1].requests.items()):
                counts: dict[str, int] = {}
                for entry in entries:
                    parts = entry.path.split("/")
                    kind = next(
                        (p for p in ("manifests", "uploads", "blobs", "tags") if p in parts), "/v2/"
                    )
                    if kind == "uploads" and "mount=" in entry.uri:
                        kind = "mount"
                    key = f"{entry.method} {kind} {entry.status}"
                    counts[key] = counts.get(key, 0) + 1
                text = ", ".join(f"{n}x {k}" for k, n in sorted(counts.items()))
                lines.append(f"  {scenario:<{width}} {tool:<8} {registry}: {text or 'none'}")
    return lines
