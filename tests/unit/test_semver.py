"""Semantic-version ranges over tags (regsync's semverRange, skopeo's images-by-semver),
as Masterminds/semver reads them: each row a range, a tag, and whether it is in."""

from __future__ import annotations

import pytest

from polyarch.errors import InvalidInputError
from polyarch.ops._semver import parse_range, parse_version

ROWS = [
    (">= 1.2, < 2", "1.2.0", True), (">= 1.2, < 2", "2.0.0", False),
    (">= 1.2, < 2", "1.9.9", True), (">= 1.2 < 2", "1.5", True),
    (">= 1.2, < 2", "1.3.0-rc.1", False),  # a pre-release only when a bound names one
    (">= 1.3.0-rc.1", "1.3.0-rc.2", True), (">= 1.3.0-rc.1", "1.4.0-rc.2", False),
    ("~1.2", "1.2.9", True), ("~1.2", "1.3.0", False), ("~1", "1.9", True), ("~1", "2.0", False),
    ("~1.2.3", "1.2.2", False), ("~>1.2", "1.2.5", True),
    ("^1.2", "1.9.0", True), ("^1.2", "2.0.0", False), ("^0.2", "0.2.5", True),
    ("^0.2", "0.3.0", False), ("^0.0.3", "0.0.4", False), ("^0", "0.9", True),
    ("1.x", "1.4", True), ("1.x", "2.0", False), ("1.2.*", "1.2.7", True), ("*", "5.0", True),
    ("1.2 - 1.4.5", "1.4.5", True), ("1.2 - 1.4.5", "1.4.6", False), ("1.2 - 1.4", "1.4.9", True),
    ("<1 || >=3", "0.5", True), ("<1 || >=3", "2", False), ("<1 || >=3", "3.1", True),
    (">=3.12.0", "v3.12.1", True), (">=3.12.0", "latest", False), (">=1", "1.2.3.4", False),
    ("!=1.2", "1.2.5", False), ("!=1.2", "1.3", True), ("=1.2.3", "1.2.3", True),
    ("1.2.3", "1.2.3+build.5", True), (">1.2", "1.2.9", False), (">1.2", "1.3.0", True),
    ("<=1.2", "1.2.9", True), ("<=1.2", "1.3.0", False), ("<=1.2.3", "1.2.3", True),
]  # fmt: skip


@pytest.mark.parametrize(("text", "tag", "inside"), ROWS)
def test_a_tag_is_in_a_range_as_masterminds_semver_says(text: str, tag: str, inside: bool) -> None:
    assert parse_range(text)(tag) is inside


@pytest.mark.parametrize("text", ["", ">>1", ">=", "1.2.3.4", "abc", "x" * 2000, ">= 1 ||"])
def test_what_is_no_range_is_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_range(text)


def test_pre_releases_sort_as_semver_says() -> None:
    order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
             "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"]  # fmt: skip
    ranges = [parse_range(f">{tag}") for tag in order]
    for low, test in enumerate(ranges):
        assert [test(tag) for tag in order] == [i > low for i in range(len(order))]
    assert parse_version("v1.2") == (1, 2, 0, ())
