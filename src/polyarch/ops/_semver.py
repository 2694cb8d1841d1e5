"""Semantic-version ranges over tags, in the grammar regsync's ``semverRange`` and skopeo
sync's ``images-by-semver`` take (Masterminds/semver constraints, the common part):

* a comparison: ``=``, ``!=``, ``>``, ``<``, ``>=``, ``<=`` and a version (``1``, ``1.2``,
  ``v1.2.3``, ``1.2.3-rc.1``; a missing part is 0, ``x`` or ``*`` any);
* ``~1.2`` (>= 1.2.0, < 1.3.0), ``^1.2`` (>= 1.2.0, < 2.0.0; ``^0.2``: < 0.3.0);
* a hyphen range ``1.2 - 1.4.5`` (both ends included);
* comparisons joined by spaces or commas all hold; ranges joined by ``||``, any.

A tag that is no version is never in a range; a pre-release (``1.3.0-rc.1``) is only when
a comparison of the range names a pre-release of the same major.minor.patch, as there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from polyarch.errors import InvalidInputError

__all__ = ["Version", "in_range", "parse_range", "parse_version"]

_VERSION: Final = re.compile(
    r"v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
_PARTIAL: Final = re.compile(
    r"v?(0|[1-9]\d*|[xX*])(?:\.(0|[1-9]\d*|[xX*]))?(?:\.(0|[1-9]\d*|[xX*]))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
_COMPARISON: Final = re.compile(r"(!=|>=|<=|=>|=<|>|<|=|~>|~|\^)?\s*(\S+)")
_MAX_RANGE: Final = 1000

#: (major, minor, patch, pre-release parts): pre-release parts compare as SemVer says.
Version = tuple[int, int, int, tuple[tuple[int, int | str], ...]]
_Check = Callable[[Version], bool]


def parse_version(text: str) -> Version | None:
    """``text`` as a version, ``None`` when it is none (``latest``, ``1.2.3.4``)."""
    match = _VERSION.fullmatch(text)
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    return int(major), int(minor or 0), int(patch or 0), _pre(pre)


def _pre(text: str | None) -> tuple[tuple[int, int | str], ...]:
    if not text:
        return ()
    # Numeric identifiers sort before alphanumeric ones (SemVer 11.4.3).
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in text.split("."))


def _key(version: Version) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
    major, minor, patch, pre = version
    # A release sorts after its pre-releases.
    return major, minor, patch, 0 if pre else 1, pre


def parse_range(text: str) -> Callable[[str], bool]:
    """A test of tags for the range ``text``.

    :raises InvalidInputError: ``text`` is no range.
    """
    if len(text) > _MAX_RANGE or not text.strip():
        raise InvalidInputError(f"{text[:100]!r} is no semantic-version range")
    alternatives = [_conjunction(part, text) for part in text.split("||")]

    def test(tag: str) -> bool:
        version = parse_version(tag)
        if version is None:
            return False
        return any(
            all(check(version) for check in checks)
            and (not version[3] or any(_same_release(version, named) for named in pres))
            for checks, pres in alternatives
        )

    return test


def in_range(tag: str, text: str) -> bool:
    return parse_range(text)(tag)


def _same_release(version: Version, named: Version) -> bool:
    return version[:3] == named[:3]


def _conjunction(part: str, whole: str) -> tuple[list[_Check], list[Version]]:
    part = part.strip()
    hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", part)
    if hyphen is not None:
        low, _ = _bound(hyphen.group(1), whole)
        high, high_wild = _bound(hyphen.group(2), whole)
        return [_at_least(low), _upto(high, high_wild)], [v for v in (low, high) if v[3]]
    checks: list[_Check] = []
    pres: list[Version] = []
    for token in _tokens(part, whole):
        match = _COMPARISON.fullmatch(token)
        if match is None:
            raise InvalidInputError(f"{whole!r} is no semantic-version range: {token!r}")
        operator, operand = match.group(1) or "=", match.group(2)
        version, wild = _bound(operand, whole)
        if version[3]:
            pres.append(version)
        checks.extend(_checks(operator, version, wild))
    if not checks:
        raise InvalidInputError(f"{whole!r} is no semantic-version range")
    return checks, pres


def _tokens(part: str, whole: str) -> list[str]:
    """``>= 1.2, < 2`` -> ``[">=1.2", "<2"]``: an operator may stand apart from its version."""
    words = [w for w in re.split(r"[\s,]+", part) if w]
    tokens: list[str] = []
    for word in words:
        if tokens and re.fullmatch(r"(!=|>=|<=|=>|=<|>|<|=|~>|~|\^)", tokens[-1]):
            tokens[-1] += word
        else:
            tokens.append(word)
    if tokens and re.fullmatch(r"(!=|>=|<=|=>|=<|>|<|=|~>|~|\^)", tokens[-1]):
        raise InvalidInputError(f"{whole!r} is no semantic-version range: it ends in an operator")
    return tokens


def _bound(text: str, whole: str) -> tuple[Version, int]:
    """The version a partial one stands for (missing and wild parts 0), and how many of
    its parts were given before the first missing or wild one (3: all)."""
    match = _PARTIAL.fullmatch(text)
    if match is None:
        raise InvalidInputError(f"{whole!r} is no semantic-version range: {text!r}")
    parts = match.groups()[:3]
    given = 0
    for part in parts:
        if part is None or part in ("x", "X", "*"):
            break
        given += 1
    numbers = [int(p) if p is not None and p.isdigit() else 0 for p in parts]
    numbers[given:] = [0] * (3 - given)
    return (numbers[0], numbers[1], numbers[2], _pre(match.group(4))), given


def _next(version: Version, given: int) -> Version:
    """The first version past every one ``version``'s given parts allow."""
    major, minor, _, _ = version
    if given <= 1:
        return major + 1, 0, 0, ((0, 0),)
    return major, minor + 1, 0, ((0, 0),)


def _at_least(low: Version) -> _Check:
    return lambda v: _key(v) >= _key(low)


def _below(high: Version) -> _Check:
    return lambda v: _key(v) < _key(high)


def _upto(high: Version, given: int) -> _Check:
    if given >= 3:
        return lambda v: _key(v) <= _key(high)
    if given == 0:
        return lambda v: True
    return _below(_next(high, given))


def _checks(operator: str, version: Version, given: int) -> list[_Check]:
    if given == 0:  # "*", "x": any version, or none
        return [lambda v: operator not in ("!=", "<", ">")]
    if operator in ("~", "~>"):
        return [_at_least(version), _below(_next(version, given))]
    if operator == "^":
        major, minor, patch, _ = version
        if major > 0 or given <= 1:
            return [_at_least(version), _below((major + 1, 0, 0, ((0, 0),)))]
        if minor > 0 or given == 2:
            return [_at_least(version), _below((0, minor + 1, 0, ((0, 0),)))]
        return [_at_least(version), _below((0, 0, patch + 1, ((0, 0),)))]
    if operator == "=":
        if given == 3:
            return [lambda v: _key(v) == _key(version)]
        return [_at_least(version), _below(_next(version, given))]
    if operator == "!=":
        if given == 3:
            return [lambda v: _key(v) != _key(version)]
        low, high = _at_least(version), _below(_next(version, given))
        return [lambda v: not (low(v) and high(v))]
    if operator == ">":
        if given == 3:
            return [lambda v: _key(v) > _key(version)]
        return [_at_least(_next(version, given))]
    if operator in (">=", "=>"):
        return [_at_least(version)]
    if operator == "<":
        return [_below(version)]
    # <=
    return [_upto(version, given)]
