"""Content digests: ``algorithm ":" encoded``, as go-digest and the OCI image spec define them.

::

    digest              ::= algorithm ":" encoded
    algorithm           ::= algorithm-component (algorithm-separator algorithm-component)*
    algorithm-component ::= [a-z0-9]+
    algorithm-separator ::= [+._-]
    encoded             ::= [a-zA-Z0-9=_-]+

polyarch computes and verifies ``sha256`` (the canonical algorithm), ``sha384`` and
``sha512``. Those must be lowercase hex of exactly the hash's length. A digest with any other
algorithm that fits the grammar is *unsupported*: it can be carried in a descriptor (the
OCI spec says such digests SHOULD pass validation) but never verified.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Final

from polyarch.errors import DigestMismatchError, InvalidDigestError, SizeMismatchError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = [
    "CANONICAL_ALGORITHM",
    "SUPPORTED_ALGORITHMS",
    "Digest",
    "DigestVerifier",
    "is_valid_descriptor_digest",
    "verify_bytes",
]

CANONICAL_ALGORITHM: Final = "sha256"
#: Hex length of the encoded part, by algorithm polyarch can compute.
SUPPORTED_ALGORITHMS: Final[dict[str, int]] = {"sha256": 64, "sha384": 96, "sha512": 128}

_ALGORITHM_RE: Final = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*")
_DIGEST_RE: Final = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_LOWER_HEX_RE: Final = re.compile(r"[a-f0-9]+")


class Digest(str):
    """A validated digest string of a supported algorithm, e.g. ``sha256:e3b0c4…``.

    It *is* a ``str`` (so it compares, hashes and serializes as its text) and adds
    ``algorithm`` and ``encoded``. Build one with :meth:`parse` or :meth:`of`.
    """

    __slots__ = ()

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Validate ``text`` as go-digest's ``Parse`` does and return it as a Digest.

        :raises InvalidDigestError: ``kind`` is ``invalid_format`` (grammar),
            ``invalid_length`` (wrong length for the algorithm; checked before the
            character set, as go-digest does) or ``unsupported`` (well-formed but an
            algorithm polyarch cannot compute).
        """
        if isinstance(text, Digest):
            return text
        algorithm, sep, encoded = text.partition(":")
        if not sep or not encoded or not algorithm:
            raise InvalidDigestError(
                f"invalid digest {text!r}: expected ALGORITHM:HEX, e.g. sha256:<64 hex digits>",
                text=text,
                kind="invalid_format",
            )
        length = SUPPORTED_ALGORITHMS.get(algorithm)
        if length is None:
            if _DIGEST_RE.fullmatch(text) is None:
                raise InvalidDigestError(
                    f"invalid digest {text!r}: malformed algorithm or encoding",
                    text=text,
                    kind="invalid_format",
                )
            raise InvalidDigestError(
                f"unsupported digest algorithm {algorithm!r} in {text!r} "
                f"(supported: {', '.join(SUPPORTED_ALGORITHMS)})",
                text=text,
                kind="unsupported",
            )
        if len(encoded) != length:
            raise InvalidDigestError(
                f"invalid digest {text!r}: a {algorithm} digest has {length} hex digits, "
                f"not {len(encoded)}",
                text=text,
                kind="invalid_length",
            )
        if _LOWER_HEX_RE.fullmatch(encoded) is None:
            raise InvalidDigestError(
                f"invalid digest {text!r}: the encoded part must be lowercase hex",
                text=text,
                kind="invalid_format",
            )
        return str.__new__(cls, text)

    @classmethod
    def of(cls, data: bytes, algorithm: str = CANONICAL_ALGORITHM) -> Digest:
        """The digest of ``data`` (the exact bytes, nothing re-serialized)."""
        hasher = _new_hash(algorithm)
        hasher.update(data)
        return str.__new__(cls, f"{algorithm}:{hasher.hexdigest()}")

    @property
    def algorithm(self) -> str:
        return self.partition(":")[0]

    @property
    def encoded(self) -> str:
        return self.partition(":")[2]

    @property
    def short(self) -> str:
        """The first 12 hex digits, for people (never for lookups)."""
        return self.encoded[:12]

    def __repr__(self) -> str:
        return f"Digest({str(self)!r})"


def is_supported(text: str) -> bool:
    """Whether ``text`` is a well-formed digest of an algorithm polyarch can compute."""
    try:
        Digest.parse(str(text))  # a Digest a descriptor carries unchecked is checked too
    except InvalidDigestError:
        return False
    return True


def is_valid_descriptor_digest(text: str) -> bool:
    """Whether ``text`` is acceptable in an OCI descriptor.

    That is the grammar, plus exact lowercase hex for the algorithms polyarch knows;
    unknown algorithms pass, as the image spec's validator lets them.
    """
    try:
        Digest.parse(text)
    except InvalidDigestError as err:
        return err.kind == "unsupported"
    return True


def _new_hash(algorithm: str) -> hashlib._Hash:
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise InvalidDigestError(
            f"unsupported digest algorithm {algorithm!r}", text=algorithm, kind="unsupported"
        )
    return hashlib.new(algorithm)


class DigestVerifier:
    """Hashes a stream as it passes and checks it against a digest and size at the end.

    Feed chunks with :meth:`update` (or wrap an iterator with :meth:`wrap`), then call
    :meth:`verify`. Memory stays constant whatever the stream's length. When ``size`` is
    given, reading past it fails at once, so a lying or endless body cannot run on.
    """

    def __init__(self, expected: Digest | str, size: int | None = None) -> None:
        self.expected = Digest.parse(expected)
        self.size = size
        self._hash = _new_hash(self.expected.algorithm)
        self.count = 0

    def update(self, chunk: bytes) -> None:
        self.count += len(chunk)
        if self.size is not None and self.count > self.size:
            raise SizeMismatchError(
                f"content of {self.expected} is longer than its declared size {self.size}",
                expected=self.size,
                actual=self.count,
            )
        self._hash.update(chunk)

    @property
    def actual(self) -> Digest:
        return str.__new__(Digest, f"{self.expected.algorithm}:{self._hash.hexdigest()}")

    def verify(self) -> None:
        """Raise unless everything fed so far has the expected size and digest.

        :raises SizeMismatchError: shorter or longer than ``size``.
        :raises DigestMismatchError: the bytes hash to another digest.
        """
        if self.size is not None and self.count != self.size:
            raise SizeMismatchError(
                f"content of {self.expected} has {self.count} bytes, expected {self.size}",
                expected=self.size,
                actual=self.count,
            )
        actual = self.actual
        if actual != self.expected:
            raise DigestMismatchError(
                f"content digest mismatch: expected {self.expected}, got {actual}",
                expected=self.expected,
                actual=actual,
            )

    def wrap(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Yield ``chunks`` unchanged while hashing them; verify once they are exhausted."""
        for chunk in chunks:
            self.update(chunk)
            yield chunk
        self.verify()


def verify_bytes(data: bytes, expected: Digest | str, size: int | None = None) -> None:
    """Check a whole in-memory body against its digest (and size when known)."""
    verifier = DigestVerifier(expected, size)
    verifier.update(data)
    verifier.verify()
