"""distribution/reference's functions that polyarch itself does not need, mirrored over
``polyarch.reference`` so the upstream test vectors run unchanged (``ParseNamed``,
``ParseDockerRef``, ``ParseAnyReference``, ``FamiliarString``, ``FamiliarMatch`` with Go's
``path.Match``, ``Sort``, the non-normalizing ``Parse`` and ``WithName``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from polyarch.digest import Digest
from polyarch.errors import InvalidDigestError, InvalidReferenceError
from polyarch.reference import (
    DEFAULT_TAG,
    DIGEST_RE,
    IDENTIFIER_RE,
    MAX_PATH_LENGTH,
    NAME_RE,
    Reference,
    parse_normalized_named,
)
from polyarch.reference._grammar import (
    _DIGEST_HINTS,
    _check_tag,
    _error,
    _format,
    _parse_strict,
)

__all__ = [
    "StrictReference",
    "familiar_match",
    "familiar_string",
    "parse_any_reference",
    "parse_docker_ref",
    "parse_named",
    "parse_strict",
    "parse_strict_name",
    "sort_references",
]


def parse_named(text: str) -> Reference:
    """distribution's ``ParseNamed``: ``text`` must already be fully qualified.

    :raises InvalidReferenceError: ``kind`` ``name_not_canonical`` if normalizing would
        change ``text`` (``ubuntu``, ``docker.io/ubuntu``), or any parse error.
    """
    ref = parse_normalized_named(text)
    if str(ref) != text:
        raise _error(
            "name_not_canonical",
            text,
            hint=f"write the fully qualified reference {str(ref)!r}",
        )
    return ref


def parse_docker_ref(text: str) -> Reference:
    """distribution's ``ParseDockerRef``: a reference with a tag *or* a digest, never both.

    The digest wins over a tag; a name alone gets the tag ``latest``.
    """
    ref = parse_normalized_named(text)
    if ref.digest is not None:
        return ref.with_tag(None)
    if ref.tag is None:
        return ref.with_tag(DEFAULT_TAG)
    return ref


def parse_any_reference(text: str) -> Reference | Digest:
    """distribution's ``ParseAnyReference``: an image ID, a digest, or a name.

    A bare 64-hex-digit image ID becomes ``sha256:<hex>`` and a valid digest stays a
    :class:`Digest`; anything else is parsed like :func:`parse_normalized_named`.
    """
    if IDENTIFIER_RE.fullmatch(text) is not None:
        return Digest.parse(f"sha256:{text}")
    try:
        return Digest.parse(text)
    except InvalidDigestError:
        pass
    return parse_normalized_named(text)


def familiar_string(ref: Reference | Digest) -> str:
    """docker's ``FamiliarString``: :attr:`Reference.familiar`, or the digest itself."""
    return ref.familiar if isinstance(ref, Reference) else str(ref)


def familiar_match(pattern: str, ref: Reference | Digest) -> bool:
    """docker's ``FamiliarMatch``: whether ``pattern`` matches the familiar string or name.

    ``pattern`` has Go ``path.Match`` syntax: ``*`` matches a run of characters other than
    ``/``, ``?`` one such character, ``[a-z]``/``[^a-z]`` a class, ``\\`` escapes.

    :raises InvalidReferenceError: ``kind`` ``bad_pattern`` for a malformed pattern.
    """
    try:
        matched = _path_match(pattern, familiar_string(ref))
    except _BadPatternError:
        raise InvalidReferenceError(
            f"invalid pattern {pattern!r}: syntax error in pattern",
            text=pattern,
            kind="bad_pattern",
            hint="patterns use '*', '?', '[a-z]' or '[^a-z]' classes and '\\' escapes",
        ) from None
    if not matched and isinstance(ref, Reference):
        try:
            matched = _path_match(pattern, ref.familiar_name)
        except _BadPatternError:  # pragma: no cover - the first match already checked it
            matched = False
    return matched


def sort_references(references: Iterable[str]) -> list[str]:
    """distribution's ``Sort``: most specific first, then by string; unparsable last.

    Each string is read with :func:`parse_any_reference` and returned fully qualified.
    Rank: tag and digest, tag, digest, name only, digest without a name.
    """
    parsed: list[Reference | Digest] = []
    bad: list[str] = []
    for text in references:
        try:
            parsed.append(parse_any_reference(text))
        except InvalidReferenceError:
            bad.append(text)

    def key(ref: Reference | Digest) -> tuple[int, str]:
        if not isinstance(ref, Reference):
            return 5, str(ref)
        if ref.tag is not None:
            return (1 if ref.digest is not None else 2), str(ref)
        return (3 if ref.digest is not None else 4), str(ref)

    return [str(ref) for ref in sorted(parsed, key=key)] + sorted(bad)


@dataclass(frozen=True, slots=True, repr=False)
class StrictReference:
    """What distribution's non-normalizing ``Parse`` and ``WithName`` return.

    ``domain`` is ``""`` when the name has none; the first component counts as a domain
    whenever it fits the domain grammar and more components follow (``a/b`` has domain
    ``a``). Nothing is filled in. ``digest`` is a :class:`Digest` when parsed; after
    :meth:`with_digest` it is only known to fit the reference grammar, as in Go.
    """

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    def with_tag(self, tag: str) -> StrictReference:
        """distribution's ``WithTag``: keep the digest, check the tag grammar."""
        _check_tag(tag, tag, subject="tag")
        return replace(self, tag=tag)

    def with_digest(self, digest: str) -> StrictReference:
        """distribution's ``WithDigest``: keep the tag, check only the reference grammar."""
        if DIGEST_RE.fullmatch(digest) is None:
            raise _error(
                "digest_invalid_format",
                digest,
                subject="digest",
                hint=_DIGEST_HINTS["invalid_format"],
            )
        return replace(self, digest=digest)

    def __str__(self) -> str:
        return _format(self.name, self.tag, self.digest)

    def __repr__(self) -> str:
        return f"StrictReference({str(self)!r})"


def parse_strict(text: str) -> StrictReference:
    """distribution's ``Parse``: the grammar only; no Docker Hub defaults, no default tag.

    :raises InvalidReferenceError: ``name_empty``, ``reference_invalid_format``,
        ``name_contains_uppercase``, ``name_too_long`` or a digest kind.
    """
    return StrictReference(*_parse_strict(text, text))


def parse_strict_name(text: str) -> StrictReference:
    """distribution's ``WithName``: a bare name (no tag, no digest), not normalized.

    :raises InvalidReferenceError: ``reference_invalid_format`` (also for ``""``) or
        ``name_too_long``.
    """
    match = NAME_RE.fullmatch(text)
    if match is None:
        raise _error("reference_invalid_format", text)
    domain, path = match[1] or "", match[2]
    if len(path) > MAX_PATH_LENGTH:
        raise _error("name_too_long", text)
    return StrictReference(domain, path)


class _BadPatternError(Exception):
    """A ``path.Match`` pattern is malformed."""


# Go's path.Match, re-expressed: a pattern is a series of chunks, each a run of
# single-character terms optionally preceded by stars. Characters are code points.


def _path_match(pattern: str, name: str) -> bool:
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name  # a trailing star takes the rest, but not a "/"
        rest = _match_chunk(chunk, name)
        # The last chunk must use up the name; otherwise a star may still help.
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if star:
            skipped = _match_after_star(chunk, name, last=not pattern)
            if skipped is not None:
                name = skipped
                continue
        # A mismatch is reported only if the rest of the pattern is well formed.
        while pattern:
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return not name


def _match_after_star(chunk: str, name: str, *, last: bool) -> str | None:
    """Let a star take 1, 2, … characters (never a "/") until ``chunk`` matches."""
    for i, char in enumerate(name):
        if char == "/":
            break
        rest = _match_chunk(chunk, name[i + 1 :])
        if rest is not None and not (last and rest):
            return rest
    return None


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    """Split off leading stars and the run of terms up to the next star outside a class."""
    stripped = pattern.lstrip("*")
    star = len(stripped) != len(pattern)
    in_class = False
    i = 0
    while i < len(stripped):
        char = stripped[i]
        if char == "\\":
            i += 1  # an escaped character is never special; a lone "\" fails later
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "*" and not in_class:
            return star, stripped[:i], stripped[i:]
        i += 1
    return star, stripped, ""


def _match_chunk(chunk: str, text: str) -> str | None:
    """Match ``chunk`` at the start of ``text``: the rest of ``text``, or ``None``.

    The whole chunk is checked for syntax even after a mismatch.
    """
    failed = False
    while chunk:
        if not text:
            failed = True
        head = chunk[0]
        if head == "[":
            char = "" if failed else text[0]
            text = text if failed else text[1:]
            chunk = chunk[1:]
            negated = chunk.startswith("^")
            if negated:
                chunk = chunk[1:]
            in_class = False
            ranges = 0
            while not (chunk.startswith("]") and ranges > 0):
                low, chunk = _class_char(chunk)
                high = low
                if chunk[0] == "-":
                    high, chunk = _class_char(chunk[1:])
                if not failed and low <= char <= high:
                    in_class = True
                ranges += 1
            chunk = chunk[1:]
            if in_class == negated:
                failed = True
        elif head == "?":
            if not failed:
                failed = text[0] == "/"
                text = text[1:]
            chunk = chunk[1:]
        else:
            if head == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise _BadPatternError
            if not failed:
                failed = chunk[0] != text[0]
                text = text[1:]
            chunk = chunk[1:]
    return None if failed else text


def _class_char(chunk: str) -> tuple[str, str]:
    """One possibly escaped character of a class, and what follows it (never empty)."""
    if not chunk or chunk[0] in "-]":
        raise _BadPatternError
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise _BadPatternError
    if len(chunk) < 2:
        raise _BadPatternError  # the class is not closed
    return chunk[0], chunk[1:]
