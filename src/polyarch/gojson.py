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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["RawJSON", "indent", "marshal", "marshal_indent"]

_HTML_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_HTML_TABLE = str.maketrans(_HTML_ESCAPES)
_WHITESPACE = b" \t\r\n"


@dataclass(frozen=True, slots=True)
class RawJSON:
    """Bytes that are already valid JSON, embedded as they are (compacted)."""

    data: bytes


def _string(text: str) -> str:
    # Python's escaping equals Go's (>= 1.22: \b and \f short forms) apart from the
    # HTML-safe set, which Go escapes by default.
    return json.dumps(text, ensure_ascii=False).translate(_HTML_TABLE)


def _compact(data: bytes) -> bytes:
    """Go's ``json.Compact`` with HTML escaping: whitespace out, strings kept verbatim."""
    out = bytearray()
    in_string = False
    escaped = False
    for byte in data:
        char = chr(byte)
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            if char in "<>&":
                out += _HTML_ESCAPES[char].encode()
                continue
            out.append(byte)
        elif byte in _WHITESPACE:
            continue
        else:
            if char == '"':
                in_string = True
            out.append(byte)
    text = bytes(out)
    # U+2028/U+2029 are multi-byte in UTF-8; escape them after the byte walk.
    return text.replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029")


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


def marshal(value: object) -> bytes:
    """Compact JSON, as ``json.Marshal`` writes it."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode()


def indent(data: bytes, *, prefix: str = "", unit: str = "\t") -> bytes:
    """Go's ``json.Indent``: one element per line, ``": "`` after keys, empty ``{}``/``[]``
    kept on one line; strings copied verbatim."""
    out = bytearray()
    depth = 0
    in_string = False
    escaped = False
    need_indent = False  # an opening bracket was written; newline waits for content
    pre = prefix.encode()
    step = unit.encode()

    def newline() -> None:
        out.extend(b"\n" + pre + step * depth)

    for byte in data:
        char = chr(byte)
        if in_string:
            out.append(byte)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if byte in _WHITESPACE:
            continue
        if need_indent and char not in "]}":
            need_indent = False
            depth += 1
            newline()
        if char == '"':
            in_string = True
            out.append(byte)
        elif char in "{[":
            out.append(byte)
            need_indent = True
        elif char == ",":
            out.append(byte)
            newline()
        elif char == ":":
            out.extend(b": ")
        elif char in "}]":
            if need_indent:
                need_indent = False  # empty: "{}" / "[]"
            else:
                depth -= 1
                newline()
            out.append(byte)
        else:
            out.append(byte)
    return bytes(out)


def marshal_indent(value: object, unit: str) -> bytes:
    """``json.MarshalIndent(value, "", unit)``."""
    return indent(marshal(value), unit=unit)
