"""The one way the tests run the ``polyarch`` command, and the one check of a clean error.

Every run goes through the console script found on ``PATH``, which the suite's conftest
points at a wrapper that keeps a copy of the output for the secrets check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["EXAMPLE", "POLYARCH", "ROOT", "assert_clean_error", "polyarch"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "hello-multiarch"
POLYARCH = shutil.which("polyarch") or "polyarch"


def polyarch(
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: str | bytes | None = None,
    text: bool = False,
    isolated: bool = False,
    drop: Iterable[str] = (),
    timeout: float = 120,
) -> subprocess.CompletedProcess[Any]:
    """Run ``polyarch ARGS`` and return what it did (never raises on its exit code).

    :param env: added to this process's environment.
    :param text: stdout and stderr as text rather than bytes.
    :param isolated: none of this process's ``DOCKER_*`` and ``POLYARCH_*`` variables
        (a test's own config directory and home come in through ``env``).
    :param drop: further variables to leave out (matched without regard to case).
    """
    dropped = {name.lower() for name in drop}
    base = {
        name: value
        for name, value in os.environ.items()
        if name.lower() not in dropped
        and not (isolated and name.startswith(("DOCKER_", "POLYARCH_")))
    }
    data: str | bytes | None = stdin
    if isinstance(stdin, str) and not text:
        data = stdin.encode()
    return subprocess.run(
        [POLYARCH, *args],
        input=data,
        capture_output=True,
        text=text,
        env={**base, **(env or {})},
        timeout=timeout,
        check=False,
    )


def assert_clean_error(result: subprocess.CompletedProcess[Any], code: int) -> str:
    """A failed run as a user must see one: the documented exit code, nothing on stdout,
    warning lines (a retry) only before one error line (or click's usage error), hint
    lines only after it, no traceback. Returns stderr as text."""
    stderr = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
    stdout = result.stdout if isinstance(result.stdout, str) else result.stdout.decode()
    assert result.returncode == code, f"exit {result.returncode}, not {code}\n{stderr}"
    assert "Traceback" not in stderr
    assert stdout == "", stdout
    lines = stderr.strip().splitlines()
    while lines and lines[0].startswith("polyarch: warning: "):
        del lines[0]
    assert lines, "no error message"
    assert lines[0].startswith(("polyarch: error: ", "Usage:", "Error:")), stderr
    if lines[0].startswith("polyarch: error: "):
        assert all(line.startswith("hint: ") for line in lines[1:]), stderr
    return stderr
