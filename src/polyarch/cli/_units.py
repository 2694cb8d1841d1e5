"""The one way sizes are written for people: IEC binary units (KiB, MiB, GiB), as the
progress bars count them, so the tree, the progress lines and the summaries agree."""

from __future__ import annotations

__all__ = ["size"]

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def size(count: int) -> str:
    """``0 B``, ``800 B``, ``1.4 KiB``, ``200.0 MiB``."""
    if count < 1024:
        return f"{count} B"
    value = float(count)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover
