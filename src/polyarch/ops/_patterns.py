"""Tag patterns as regsync and skopeo sync match them: Go's regexp syntax (RE2), in time
linear in the tag, whatever the pattern. Python's ``re`` backtracks: ``(a+)+`` against a
registry's tag of forty ``a``\\ s and a ``-`` would never end, and it takes syntax Go
refuses (lookarounds, backreferences)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from polyarch.errors import InvalidInputError

__all__ = ["compile_pattern"]

#: The most memory RE2 may use for one pattern (its default is 8 MiB too).
_MAX_MEMORY = 8 << 20


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """A test of tags that ``pattern`` matches whole (regsync anchors its patterns).

    :raises InvalidInputError: ``pattern`` is no RE2 pattern.
    """
    import re2  # only sync's tag filters need it

    options: Any = re2.Options()
    options.log_errors = False  # the error is ours to say, not written to stderr
    options.max_mem = _MAX_MEMORY
    try:
        compiled = re2.compile(f"(?:{pattern})", options)
    except re2.error as err:
        detail = (
            err.args[0].decode(errors="replace")
            if err.args and isinstance(err.args[0], bytes)
            else str(err)
        )
        raise InvalidInputError(f"{pattern[:100]!r} is no pattern Go reads: {detail}") from None
    return lambda tag: compiled.fullmatch(tag) is not None
