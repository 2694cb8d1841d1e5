"""What the benchmarks share: finding the tools, formatting numbers, reporting progress."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


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
