"""Text from content and registries, made safe to print: a terminal must not take what
an index, a config or a registry's answer says for a command (a colour, a new title, a
cleared screen, a line that seems to be polyarch's)."""

from __future__ import annotations

__all__ = ["shown"]


def shown(text: str) -> str:
    """``text`` with its control and other unprintable characters escaped (``\\u001b``);
    printable text comes back as it was."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
