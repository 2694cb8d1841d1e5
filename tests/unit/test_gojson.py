"""polyarch.gojson: bytes exactly as Go's ``encoding/json`` writes them.

The expected strings are what Go 1.22+ prints for the same values (``json.Marshal``,
``json.MarshalIndent(v, "", "   ")``, a ``json.Marshaler`` returning raw bytes). The
property tests state the relation to Python's own encoder: Go and Python agree on
everything except Go's HTML-safe escapes, so outside ``<``, ``>``, ``&``, U+2028 and
U+2029 the outputs are equal byte for byte.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyarch.gojson import RawJSON, indent, marshal, marshal_indent

UNIT = "   "  # docker's MarshalIndent unit


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("<a href>&", rb'"\u003ca href\u003e\u0026"', id="html-escapes"),
        pytest.param("\u2028\u2029", rb'"\u2028\u2029"', id="line-separators"),
        pytest.param("é日本🐳", '"é日本🐳"'.encode(), id="unicode-as-utf8"),
        pytest.param('q"b\\s/', rb'"q\"b\\s/"', id="quote-backslash-slash"),
        pytest.param("\n\r\t", rb'"\n\r\t"', id="short-escapes"),
        pytest.param("\b\f", rb'"\b\f"', id="go-1.22-short-escapes"),
        pytest.param("\x00\x01\x1f", rb'"\u0000\u0001\u001f"', id="control-characters"),
        pytest.param("\x7f", b'"\x7f"', id="del-is-not-escaped"),
        pytest.param(True, b"true", id="true-is-not-1"),
        pytest.param(False, b"false", id="false"),
        pytest.param(None, b"null", id="null"),
        pytest.param(0, b"0", id="zero"),
        pytest.param(-(2**63), b"-9223372036854775808", id="int64-min"),
        pytest.param({}, b"{}", id="empty-object"),
        pytest.param([], b"[]", id="empty-array"),
        pytest.param((1, "a"), b'[1,"a"]', id="tuple-is-array"),
        pytest.param({"b": 1, "a": 2}, b'{"b":1,"a":2}', id="key-order-kept"),
        pytest.param({"<k>": "&"}, rb'{"\u003ck\u003e":"\u0026"}', id="keys-escaped-too"),
    ],
)
def test_marshal(value: object, expected: bytes) -> None:
    assert marshal(value) == expected


@pytest.mark.parametrize("value", [1.5, b"bytes", object(), [{"a": 0.0}]])
def test_unsupported_values_are_refused_not_guessed(value: object) -> None:
    # Floats never occur in a manifest list; a guessed spelling could change a digest.
    with pytest.raises(TypeError, match="cannot encode"):
        marshal(value)


def test_marshal_indent_nested_and_empty() -> None:
    value = {
        "schemaVersion": 2,
        "empty": {},
        "none": [],
        "list": [{"a": [1, {}]}, []],
        "text": "x < y",
    }
    assert marshal_indent(value, UNIT) == (
        b"{\n"
        b'   "schemaVersion": 2,\n'
        b'   "empty": {},\n'
        b'   "none": [],\n'
        b'   "list": [\n'
        b"      {\n"
        b'         "a": [\n'
        b"            1,\n"
        b"            {}\n"
        b"         ]\n"
        b"      },\n"
        b"      []\n"
        b"   ],\n"
        b'   "text": "x \\u003c y"\n'
        b"}"
    )


def test_marshal_indent_has_no_trailing_newline_and_scalars_stay_bare() -> None:
    assert marshal_indent({}, UNIT) == b"{}"
    assert marshal_indent([], UNIT) == b"[]"
    assert marshal_indent("s", UNIT) == b'"s"'
    assert marshal_indent([1], "\t") == b"[\n\t1\n]"


def test_indent_copies_strings_verbatim() -> None:
    # Brackets, commas and colons inside strings are text, not structure.
    data = b'{"a":"{[,:]}","b":"\\"}{","c":"\\\\"}'
    assert indent(data, unit="  ") == (b'{\n  "a": "{[,:]}",\n  "b": "\\"}{",\n  "c": "\\\\"\n}')


def test_indent_with_prefix() -> None:
    assert indent(b'{"a":[1]}', prefix="> ", unit=" ") == b'{\n>  "a": [\n>   1\n>  ]\n> }'


def test_raw_json_is_compacted_with_its_string_bytes_kept() -> None:
    raw = RawJSON(
        b'{ "b" : "x\\u0041  y\\/" ,\n\t"a": [ 1.50, 2e3, -0 ],\r\n "c": { } , "d": [ ] }'
    )
    # Key order, number spelling, escapes and spaces inside strings survive.
    assert marshal(raw) == b'{"b":"x\\u0041  y\\/","a":[1.50,2e3,-0],"c":{},"d":[]}'
    assert marshal({"m": raw, "n": 1}) == (
        b'{"m":{"b":"x\\u0041  y\\/","a":[1.50,2e3,-0],"c":{},"d":[]},"n":1}'
    )


def test_raw_json_gets_the_html_escapes_go_compact_adds() -> None:
    raw = RawJSON('{"k": "<&> \u2028 é"}'.encode())
    assert marshal(raw) == '{"k":"\\u003c\\u0026\\u003e \\u2028 é"}'.encode()


def test_raw_json_escaped_quote_does_not_end_the_string() -> None:
    raw = RawJSON(b'["a\\" , b", "c\\\\", "d"]')
    assert marshal(raw) == b'["a\\" , b","c\\\\","d"]'


def test_raw_json_is_reindented_inside_marshal_indent() -> None:
    raw = RawJSON(b'{"config":{"size":  7},"layers":[]}')
    assert marshal_indent({"manifest": raw}, UNIT) == (
        b'{\n   "manifest": {\n      "config": {\n         "size": 7\n      },\n'
        b'      "layers": []\n   }\n}'
    )


# -- properties ---------------------------------------------------------------------------

_HTML = "<>&\u2028\u2029"
# Go writes invalid UTF-8 (lone surrogates) as U+FFFD; Python cannot encode it at all.
_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters=_HTML), max_size=12)
_any_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


def _values(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | text
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=20,
    )


@given(_values(_text))
def test_equals_python_json_without_html_characters(value: Any) -> None:
    assert marshal(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert marshal_indent(value, UNIT) == json.dumps(value, ensure_ascii=False, indent=3).encode()


@given(_values(_any_text))
def test_round_trip_and_indent_compact_inverse(value: Any) -> None:
    compact = marshal(value)
    assert json.loads(compact) == value
    pretty = marshal_indent(value, UNIT)
    assert json.loads(pretty) == value
    assert pretty == indent(compact, unit=UNIT)
    # Go: Compact(MarshalIndent(v)) == Marshal(v); the escapes are already in place.
    assert marshal(RawJSON(pretty)) == compact
    for char in _HTML:
        assert char.encode() not in compact
