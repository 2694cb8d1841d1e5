"""JSON read so that Go and polyarch never see two different documents in the same bytes.

containerd, docker, skopeo and crane read manifests, indexes and configs with Go's
``encoding/json``, which differs from Python's ``json`` in ways an attacker can aim at: a
manifest with ``"layers"`` and ``"Layers"`` would be one image to Go (it matches keys to
fields without regard to case, the last match winning) and another to an exact reader,
under one digest. What the two would read differently is refused, never guessed at:

- bytes that are not UTF-8, a byte order mark, UTF-16 or UTF-32 text (Go refuses them;
  ``json.loads`` on bytes detects the encoding and skips the mark);
- ``NaN``, ``Infinity`` and ``-Infinity`` (Python extensions);
- the same key twice in one object (Go keeps the last value, other readers the first);
- a lone UTF-16 surrogate escape (Go reads U+FFFD, Python the surrogate);
- a key that Go reads as a struct field spelled otherwise (:class:`Fields`).

Kept apart from :mod:`polyarch.gojson` (the writer): every command reads, few write, and
this module costs no regular expression or dataclass at start-up.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["AmbiguousJSONError", "Fields", "fold", "loads"]


class AmbiguousJSONError(ValueError):
    """Valid JSON that Go's decoder and Python's would read as two different values.

    Its text completes "the document ...": "has the key 'digest' twice in one object".
    """

    def __init__(self, problem: str, *, key: str | None = None) -> None:
        super().__init__(problem)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise AmbiguousJSONError(
                    f"has the key {key!r} twice in one object (Go's decoder keeps the last "
                    "value, others the first)",
                    key=key,
                )
            seen.add(key)
    return document


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(data: bytes) -> Any:
    """Parse JSON bytes as Go's ``encoding/json`` reads them.

    :raises AmbiguousJSONError: a key twice in one object, or a lone surrogate escape.
    :raises ValueError: not JSON as Go reads it: not UTF-8 (or with a byte order mark),
        ``NaN``/``Infinity``, a syntax error, nesting deeper than Python's recursion limit
        (Go's decoder stops at 10,000 levels), an integer too long to convert.
    """
    try:
        text = data.decode("utf-8")  # strict: no mark skipped, no other encoding guessed
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)
    except RecursionError as err:
        raise ValueError("nested too deeply") from err
    # Python joins an escaped surrogate pair into one code point: a surrogate left in a
    # string was alone. Only an escape can put one there (the text is valid UTF-8).
    if (b"\\ud" in data or b"\\uD" in data) and _has_surrogate(document):
        raise AmbiguousJSONError(
            "has a string with a lone UTF-16 surrogate escape (Go's decoder reads U+FFFD)"
        )
    return document


def _has_surrogate(value: object) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


#: The non-ASCII runes Go's decoder folds onto an ASCII letter when it matches a key to a
#: struct field: KELVIN SIGN and LONG S (Go's case orbits join them to k and s), dotless
#: i (its upper case is I), and dotted capital I, which Go before 1.21 matched to i.
_FOLDS_TO_ASCII = {"\u212a": "K", "\u017f": "S", "\u0131": "I", "\u0130": "I"}


def fold(key: str) -> str:
    """``key`` as Go's decoder compares it with field names, which are all ASCII here:
    ASCII letters upper-cased, the runes that fold onto them replaced, the rest kept (they
    can match no ASCII name either way)."""
    if key.isascii():
        return key.upper()
    return "".join(
        char.upper() if char.isascii() else _FOLDS_TO_ASCII.get(char, char) for char in key
    )


class Fields:
    """The JSON field names of one Go struct, to find keys that Go reads as one of them
    although they are spelled otherwise (``"Digest"`` for ``digest``)."""

    __slots__ = ("_by_fold", "names")

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)
        self._by_fold = {fold(name): name for name in self.names}

    def misspelled(self, document: Mapping[str, object]) -> tuple[str, str] | None:
        """The first key of ``document`` that Go reads as a field spelled otherwise, with
        that field's name; ``None`` when there is none."""
        names = self.names
        for key in document:
            if key not in names:
                field = self._by_fold.get(fold(key))
                if field is not None:
                    return key, field
        return None
