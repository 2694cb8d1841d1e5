"""JSON written byte for byte as Go's ``encoding/json`` writes it.

docker computes the digest of a manifest list over ``json.MarshalIndent`` output, so a
list that must have docker's digest must have docker's bytes: Go's key order (struct
field order, kept here as dict insertion order), its string escaping (``<``, ``>``, ``&``
and U+2028/U+2029 escaped, other non-ASCII written as UTF-8) and its indentation rules.

:class:`RawJSON` embeds bytes that are already JSON (a fetched manifest), as a Go
``json.Marshaler`` does: compacted, never re-parsed, so key order, number spelling and
escapes inside it survive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["RawJSON", "indent", "load_as_spelled", "marshal", "marshal_indent"]

_HTML_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_HTML_TABLE = str.maketrans(_HTML_ESCAPES)


@dataclass(frozen=True, slots=True)
class RawJSON:
    """Bytes that are already valid JSON, embedded as they are (compacted)."""

    data: bytes


def _string(text: str) -> str:
    # Python's escaping equals Go's (>= 1.22: \b and \f short forms) apart from the
    # HTML-safe set, which Go escapes by default.
    return json.dumps(text, ensure_ascii=False).translate(_HTML_TABLE)


#: A JSON token: a string (escapes and all), a structural character, or a literal.
_TOKEN_RE = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+')
_HTML_BYTES_RE = re.compile(rb"[<>&]|\xe2\x80[\xa8\xa9]")
_HTML_BYTES = {key.encode(): value.encode() for key, value in _HTML_ESCAPES.items()}


def _escape_html(token: bytes) -> bytes:
    return _HTML_BYTES_RE.sub(lambda m: _HTML_BYTES[m.group()], token)


def _compact(data: bytes) -> bytes:
    """Go's ``json.Compact`` with HTML escaping: whitespace out, strings kept verbatim."""
    return b"".join(
        _escape_html(token) if token[:1] == b'"' else token for token in _TOKEN_RE.findall(data)
    )


def _encode(value: object, out: list[str]) -> None:
    if isinstance(value, RawJSON):
        out.append(_compact(value.data).decode())
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, Mapping):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(_string(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as Go JSON")


def load_as_spelled(data: bytes) -> Any:
    """Parse JSON to write back with :func:`marshal`: numbers other than integers (and
    NaN, which Python's parser lets through) are kept as :class:`RawJSON`, as they were
    spelled. Go's encoder has no Python float; re-spelling them would change the JSON of
    what is kept."""
    return json.loads(data, parse_float=_as_spelled, parse_constant=_as_spelled)


def _as_spelled(token: str) -> RawJSON:
    return RawJSON(token.encode())


def marshal(value: object) -> bytes:
    """Compact JSON, as ``json.Marshal`` writes it."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode()


def indent(data: bytes, *, prefix: str = "", unit: str = "\t") -> bytes:
    """Go's ``json.Indent``: one element per line, ``": "`` after keys, empty ``{}``/``[]``
    kept on one line; strings copied verbatim."""
    out: list[bytes] = []
    depth = 0
    pending_open = False  # an opening bracket was written; its newline waits for content
    pre = prefix.encode()
    step = unit.encode()
    for token in _TOKEN_RE.findall(data):
        first = token[:1]
        if pending_open:
            pending_open = False
            if first in (b"]", b"}"):
                out.append(token)  # empty: "{}" / "[]"
                continue
            depth += 1
            out.append(b"\n" + pre + step * depth)
        if first in (b"{", b"["):
            out.append(token)
            pending_open = True
        elif first == b",":
            out.append(b",\n" + pre + step * depth)
        elif first == b":":
            out.append(b": ")
        elif first in (b"}", b"]"):
            depth -= 1
            out.append(b"\n" + pre + step * depth + token)
        else:
            out.append(token)
    return b"".join(out)


def marshal_indent(value: object, unit: str) -> bytes:
    """``json.MarshalIndent(value, "", unit)``."""
    return indent(marshal(value), unit=unit)
