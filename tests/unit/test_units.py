"""The one unit system for sizes shown to people (IEC binary, as the progress bars)."""

from __future__ import annotations

import pytest

from polyarch.cli._units import size


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (0, "0 B"),
        (800, "800 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1434, "1.4 KiB"),
        (209_715_373, "200.0 MiB"),
        (3 * 1024**3, "3.0 GiB"),
        (2**63 - 1, "8.0 EiB"),
    ],
)
def test_size(count: int, shown: str) -> None:
    assert size(count) == shown
