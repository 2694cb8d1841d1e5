"""distribution/reference's grammar and its errors: the regexps, the limits, and the
non-normalizing parse under :class:`~polyarch.reference.Reference`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, NamedTuple

from polyarch.digest import SUPPORTED_ALGORITHMS, Digest
from polyarch.errors import InvalidDigestError, InvalidReferenceError

#: The registry of names without one (Docker Hub), as references spell it.
DEFAULT_REGISTRY: Final = "docker.io"
#: Other spellings of Docker Hub, normalized to :data:`DEFAULT_REGISTRY`.
DOCKER_HUB_ALIASES: Final = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
#: Where Docker Hub's distribution API actually answers.
DOCKER_HUB_API_HOST: Final = "registry-1.docker.io"
#: Namespace of Docker Hub's official images (``ubuntu`` is ``library/ubuntu``).
OFFICIAL_REPOSITORY_PREFIX: Final = "library/"
#: The tag docker assumes when a reference names neither tag nor digest.
DEFAULT_TAG: Final = "latest"
#: Longest repository path (remote-name); the domain does not count.
MAX_PATH_LENGTH: Final = 255

# The grammar, spelled as distribution/reference's regexp.go spells it. Always match with
# fullmatch: Go's "$" is end-of-text, Python's also matches before a final newline.
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6_ADDRESS = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_AND_PORT = rf"(?:{_DOMAIN_NAME}|{_IPV6_ADDRESS})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME}"

#: ``host[:port]``.
DOMAIN_RE: Final = re.compile(_DOMAIN_AND_PORT, re.ASCII)
#: A name; groups: domain (``None`` if absent), remote-name.
NAME_RE: Final = re.compile(rf"(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})", re.ASCII)
#: A whole reference; groups: name, tag, digest (``None`` if absent).
REFERENCE_RE: Final = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)
#: A repository path (remote-name).
PATH_RE: Final = re.compile(_REMOTE_NAME, re.ASCII)
#: A tag.
TAG_RE: Final = re.compile(_TAG, re.ASCII)
#: A digest as the reference grammar sees it (any algorithm, 32+ hex digits of any case).
DIGEST_RE: Final = re.compile(_DIGEST, re.ASCII)
#: An image ID: 64 lowercase hex digits with no algorithm.
IDENTIFIER_RE: Final = re.compile(r"[a-f0-9]{64}", re.ASCII)

_MESSAGES: Final[dict[str, str]] = {
    "name_empty": "repository name must have at least one component",
    "reference_invalid_format": "invalid reference format",
    "name_contains_uppercase": "repository name must be lowercase",
    "name_too_long": f"repository name must not be more than {MAX_PATH_LENGTH} characters",
    "name_not_canonical": "repository name must be canonical",
    "tag_invalid_format": "invalid tag format",
    "digest_invalid_format": "invalid digest format",
    "identifier_not_allowed": "a 64-hex-digit image ID is not a repository name",
}
_GRAMMAR_HINT: Final = (
    "expected [REGISTRY[:PORT]/]REPOSITORY[:TAG][@DIGEST], e.g. 'ghcr.io/org/app:1.0'"
)
_TAG_HINT: Final = (
    "a tag is 1 to 128 letters, digits, '_', '.' or '-' and does not start with '.' or '-'"
)


def _or_list(words: Iterable[str]) -> str:
    """``a, b or c``."""
    *head, last = words
    return f"{', '.join(head)} or {last}" if head else last


_DIGEST_HINTS: Final[dict[str, str]] = {
    "invalid_format": "a digest is ALGORITHM:HEX, e.g. 'sha256:' and 64 lowercase hex digits",
    "invalid_length": "copy the whole digest: sha256 has 64 hex digits, sha512 has 128",
    "unsupported": f"use a {_or_list(SUPPORTED_ALGORITHMS)} digest",
}


def _error(
    kind: str,
    text: str,
    *,
    subject: str = "reference",
    detail: str | None = None,
    hint: str | None = None,
) -> InvalidReferenceError:
    """The error for ``text`` breaking rule ``kind``, with a one-line message and a hint."""
    message = f"invalid {subject} {text!r}: {detail or _MESSAGES[kind]}"
    return InvalidReferenceError(
        message, text=text, kind=kind, hint=hint if hint is not None else _hint(kind, text)
    )


def _hint(kind: str, text: str) -> str | None:
    if kind == "name_empty":
        return "give an image reference, e.g. 'alpine:3.20' or 'ghcr.io/org/app:1.0'"
    if kind == "name_contains_uppercase":
        return _lowercase_hint(text)
    if kind == "name_too_long":
        return f"shorten the repository path to at most {MAX_PATH_LENGTH} characters"
    if kind == "identifier_not_allowed":
        return (
            "that looks like an image ID; to name content by digest write "
            f"'REPOSITORY@sha256:{text}'"
        )
    if kind == "tag_invalid_format":
        return _TAG_HINT
    if kind == "reference_invalid_format":
        scheme, sep, rest = text.partition("://")
        if sep and scheme.isalpha():
            return f"a reference has no URL scheme: try {rest!r}"
        if text != text.strip() or any(c.isspace() for c in text):
            return "remove the whitespace from the reference"
        return _GRAMMAR_HINT
    return None


def _lowercase_hint(text: str) -> str:
    """Suggest ``text`` with its name and digest lowercased (tags may keep their case)."""
    name, at, digest = text.partition("@")
    tag_sep = name.find(":", name.rfind("/") + 1)
    tag = ""
    if tag_sep >= 0:
        name, tag = name[:tag_sep], name[tag_sep:]
    suggestion = name.lower() + tag + at + digest.lower()
    if suggestion != text and REFERENCE_RE.fullmatch(suggestion) is not None:
        return f"repository names must be lowercase: try {suggestion!r}"
    return "repository names must be lowercase"


def _parse_digest(digest: str, text: str) -> Digest:
    """Validate a digest with :class:`Digest`, reporting failures as reference errors.

    ``text`` is what the caller gave: the whole reference, or just the digest.
    """
    try:
        return Digest.parse(digest)
    except InvalidDigestError as err:
        # err.message already reads "invalid digest '…': why".
        message = err.message if text == digest else f"invalid reference {text!r}: {err.message}"
        raise InvalidReferenceError(
            message, text=text, kind=f"digest_{err.kind}", hint=_DIGEST_HINTS.get(err.kind)
        ) from err


def _check_path(path: str, text: str, *, subject: str = "reference") -> None:
    if PATH_RE.fullmatch(path) is None:
        lowered = path.lower()
        if lowered != path and PATH_RE.fullmatch(lowered) is not None:
            raise _error(
                "name_contains_uppercase",
                text,
                subject=subject,
                hint=f"repository names must be lowercase: try {lowered!r}",
            )
        raise _error(
            "reference_invalid_format",
            text,
            subject=subject,
            detail=f"invalid repository path {path!r}",
            hint="a repository path is lowercase components joined by '/', such as "
            "'org/app'; within a component use single '.' or '_', '__', or runs of '-'",
        )
    if len(path) > MAX_PATH_LENGTH:
        raise _error(
            "name_too_long",
            text,
            subject=subject,
            detail=f"the repository path has {len(path)} characters, "
            f"at most {MAX_PATH_LENGTH} are allowed",
        )


def _check_tag(tag: str, text: str, *, subject: str = "reference") -> None:
    if TAG_RE.fullmatch(tag) is None:
        detail = f"invalid tag {tag!r}" if subject == "reference" else None
        raise _error("tag_invalid_format", text, subject=subject, detail=detail)


def _format(name: str, tag: str | None, digest: str | None) -> str:
    tag_part = "" if tag is None else f":{tag}"
    digest_part = "" if digest is None else f"@{digest}"
    return f"{name}{tag_part}{digest_part}"


def _is_registry_like(component: str) -> bool:
    """Whether ``ParseNormalizedNamed`` takes this first path component for a registry."""
    return (
        component == "localhost"
        or "." in component
        or ":" in component
        or component.lower() != component
    )


class _Parts(NamedTuple):
    """What distribution's non-normalizing ``Parse`` finds: ``domain`` is ``""`` when the
    name has none (the first component counts as one whenever it fits the domain grammar
    and more components follow), nothing filled in."""

    domain: str
    path: str
    tag: str | None
    digest: Digest | None


def _parse_strict(text: str, original: str) -> _Parts:
    """Parse ``text``; errors quote ``original`` (what the caller typed)."""
    if not text:
        raise _error("name_empty", original)
    match = REFERENCE_RE.fullmatch(text)
    if match is None:
        lowered = text.lower()
        if lowered != text and REFERENCE_RE.fullmatch(lowered) is not None:
            raise _error("name_contains_uppercase", original)
        raise _error("reference_invalid_format", original)
    name, tag, digest = match.groups()
    name_match = NAME_RE.fullmatch(name)
    domain, path = (name_match[1] or "", name_match[2]) if name_match else ("", name)
    if len(path) > MAX_PATH_LENGTH:
        raise _error(
            "name_too_long",
            original,
            detail=f"the repository path has {len(path)} characters, "
            f"at most {MAX_PATH_LENGTH} are allowed",
        )
    return _Parts(domain, path, tag, None if digest is None else _parse_digest(digest, original))
