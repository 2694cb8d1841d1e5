"""``polyarch.jsonread``: JSON read as Go's ``encoding/json`` reads it, and what the two
would read differently refused."""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyarch.jsonread import AmbiguousJSONError, Fields, fold, loads


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b'{"a": 1, "b": [true, null, "x"]}', {"a": 1, "b": [True, None, "x"]}),
        (b' \n{"nested": {"a": {"a": 1}}}\t', {"nested": {"a": {"a": 1}}}),
        (b'"\\ud83d\\ude00"', "\U0001f600"),  # an escaped surrogate pair is one rune
        (b'"\\u00e9\\uD7FF"', "\u00e9\ud7ff"),  # \uD7FF is below the surrogates
        ('{"k": "caf\u00e9"}'.encode(), {"k": "caf\u00e9"}),
    ],
)
def test_what_both_read_alike(data: bytes, value: object) -> None:
    assert loads(data) == value


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1, "a": 2}',
        b'{"x": {"digest": "a", "digest": "b"}}',
        b'[{"k": 1}, {"k": 2, "k": 3}]',
        b'{"a": "\\ud800"}',
        b'{"a": ["ok", "\\udc00"]}',
        b'{"\\udbff": 1}',
        b'{"a": "\\ud83dx"}',
    ],
)
def test_what_go_reads_otherwise_is_ambiguous(data: bytes) -> None:
    with pytest.raises(AmbiguousJSONError):
        loads(data)


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf{}",  # a byte order mark: Python's json.loads(bytes) skips it
        '{"a": 1}'.encode("utf-16"),  # json.loads(bytes) detects UTF-16 and UTF-32
        '{"a": 1}'.encode("utf-32-le"),
        b'{"a": "\xff"}',
        b"[NaN]",
        b"[Infinity]",
        b"[-Infinity]",
        b"{'a': 1}",
        b"[1,]",
        b"[" * 100_000 + b"]" * 100_000,
        b"1" * 5000,  # more digits than int() converts
        b"",
    ],
)
def test_what_go_refuses_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any ValueError, none else
        loads(data)


def test_python_alone_would_have_read_them() -> None:
    """The cases above are real differentials: the standard library takes them."""
    assert json.loads(b"\xef\xbb\xbf{}") == {}
    assert json.loads('{"a": 1}'.encode("utf-16")) == {"a": 1}
    assert json.loads(b'{"a": 1, "a": 2}') == {"a": 2}
    assert json.loads(b'{"a": "\\ud800"}') == {"a": "\ud800"}


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
def test_what_python_writes_from_valid_values_reads_back(value: object) -> None:
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return  # lone surrogates from st.text(): not valid UTF-8 to begin with
    assert loads(text.encode("utf-8")) == value


# -- folding keys onto fields ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "folded"),
    [
        ("digest", "DIGEST"),
        ("Digest", "DIGEST"),
        ("DIGEST", "DIGEST"),
        ("os.version", "OS.VERSION"),
        ("dige\u017ft", "DIGEST"),  # LONG S
        ("\u212aey", "KEY"),  # KELVIN SIGN
        ("\u0131d", "ID"),  # dotless i
        ("\u0130D", "ID"),  # dotted capital I
        ("stra\u00dfe", "STRA\u00dfE"),  # no simple folding to ASCII: kept
        ("manife\ufb06s", "MANIFE\ufb06S"),  # a ligature: kept
    ],
)
def test_fold(key: str, folded: str) -> None:
    assert fold(key) == folded


def test_the_runes_that_fold_onto_ascii_letters_are_all_known() -> None:
    """Every rune whose one-rune upper or lower case is an ASCII letter (Unicode's simple
    case mappings, which Go's case orbits follow) folds onto that letter; no other
    non-ASCII rune folds onto ASCII at all."""
    onto_ascii = []
    for code in range(0x80, sys.maxunicode + 1):
        char = chr(code)
        for mapped in (char.upper(), char.lower()):
            if len(mapped) == 1 and mapped.isascii() and mapped.isalpha():
                onto_ascii.append(char)
                assert fold(char) == mapped.upper()
    assert sorted(onto_ascii) == ["\u0131", "\u017f", "\u212a"]
    assert fold("\u0130") == "I"  # Go before 1.21: its lower case is i
    assert all(
        not fold(chr(code)).isascii()
        for code in range(0x80, 0x3000)
        if chr(code) not in "\u0131\u017f\u212a\u0130"
    )


def test_fields_find_misspelled_keys() -> None:
    fields = Fields(("mediaType", "digest", "size"))
    assert fields.misspelled({"mediaType": 1, "digest": 2, "size": 3, "other": 4}) is None
    assert fields.misspelled({"digest": 1, "Digest": 2}) == ("Digest", "digest")
    assert fields.misspelled({"MEDIATYPE": 1}) == ("MEDIATYPE", "mediaType")
    assert fields.misspelled({"\u017fize": 1}) == ("\u017fize", "size")
    assert fields.misspelled({"sizes": 1, "dig est": 2}) is None
