"""The README's Python examples run as written (the registry one against a real registry:
``localhost:5000`` becomes the fixture's address), from the project root as a reader
would run them."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.clirun import ROOT
from tests.registry_server import RegistryServer

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)


def test_the_readme_has_a_layout_and_a_registry_example() -> None:
    assert len(BLOCKS) == 2
    assert "oci:examples/" in BLOCKS[0]
    assert "localhost:5000" in BLOCKS[1]


@pytest.mark.parametrize("block", BLOCKS, ids=["layout", "registry"])
def test_readme_python_example_runs(block: str, registry: RegistryServer) -> None:
    code = block.replace("localhost:5000", registry.host)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for comment in re.findall(r"^# (.*)$", block, re.MULTILINE):
        # The output the README shows is the output printed (digests abbreviated there).
        shown = comment.replace("...", "")
        assert all(part in result.stdout for part in shown.split()), (comment, result.stdout)


def test_every_public_name_resolves_and_says_what_it_is() -> None:
    import polyarch

    for name in polyarch.__all__:
        value = getattr(polyarch, name)
        if callable(value):
            assert (value.__doc__ or "").strip(), f"polyarch.{name} has no docstring"
