"""The one exception tree of polyarch. Every class carries the exit code the CLI uses.

::

    PolyarchError                      1  anything polyarch raises on purpose
    ├── InvalidInputError              2  the caller's input is wrong
    │   ├── InvalidReferenceError         (also a ValueError) image reference grammar
    │   ├── InvalidPlatformError          (also a ValueError) platform specifier
    │   ├── InvalidDigestError            (also a ValueError) digest grammar / algorithm
    │   └── InvalidLocationError          (also a ValueError) ``oci:PATH`` and friends
    ├── NotFoundError                  3  a manifest, blob, tag or repository is missing
    │   ├── ManifestNotFoundError
    │   ├── BlobNotFoundError
    │   └── NoMatchingPlatformError       no entry of an index runs on the platform asked
    ├── AuthError                      4  credentials missing, wrong or not allowed
    │   ├── AuthenticationError           401: who you are was not accepted
    │   ├── PermissionDeniedError         403 / denied scope: you may not do that
    │   └── CredentialHelperError         docker-credential-* failed
    ├── RegistryError                  5  the registry answered with an error
    │   ├── NetworkError                  no answer: refused, reset, timeout, TLS
    │   └── RequestLimitError             ``--max-requests`` spent: nothing more is sent
    ├── ContentError                   6  bytes that are not what they claim to be
    │   ├── DigestMismatchError
    │   ├── SizeMismatchError
    │   ├── InvalidManifestError          not JSON, wrong shape, too large
    │   │   └── AmbiguousDocumentError    JSON that Go's decoder would read otherwise
    │   ├── UnsafePathError               a symlink (or no regular file) inside a layout
    │   └── UnsupportedMediaTypeError     e.g. Docker schema 1
    └── ConflictError                  7  the operation would clobber something

Errors carry structured fields (``reference``, ``digest``, ...) so callers never have to
match message text; ``hint`` is a sentence that says what to do next, or ``None``.
"""

from __future__ import annotations

import errno

__all__ = [
    "AmbiguousDocumentError",
    "AuthError",
    "AuthenticationError",
    "BlobNotFoundError",
    "ConflictError",
    "ContentError",
    "CredentialHelperError",
    "DigestMismatchError",
    "InvalidDigestError",
    "InvalidInputError",
    "InvalidLocationError",
    "InvalidManifestError",
    "InvalidPlatformError",
    "InvalidReferenceError",
    "ManifestNotFoundError",
    "NetworkError",
    "NoMatchingPlatformError",
    "NotFoundError",
    "PermissionDeniedError",
    "PolyarchError",
    "RegistryError",
    "RequestLimitError",
    "SizeMismatchError",
    "UnsafePathError",
    "UnsupportedMediaTypeError",
    "os_error",
]


class PolyarchError(Exception):
    """Base of every error polyarch raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InvalidInputError(PolyarchError):
    """The input given by the caller is malformed or contradictory."""

    exit_code = 2


class InvalidReferenceError(InvalidInputError, ValueError):
    """An image reference does not follow the docker reference grammar.

    ``kind`` names the rule that failed, with the names distribution/reference uses
    (``reference_invalid_format``, ``name_contains_uppercase``, ``name_too_long``,
    ``name_empty``, ``digest_invalid_length``, ``digest_unsupported``, ...).
    """

    def __init__(self, message: str, *, text: str, kind: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.text = text
        self.kind = kind


class InvalidPlatformError(InvalidInputError, ValueError):
    """A platform specifier or platform field is not valid.

    ``suggestion`` is the canonical spelling when one could be guessed (``arm/v7`` for
    ``armv7``).
    """

    def __init__(
        self,
        message: str,
        *,
        text: str,
        suggestion: str | None = None,
        hint: str | None = None,
    ) -> None:
        if hint is None and suggestion is not None:
            hint = f"did you mean {suggestion!r}?"
        super().__init__(message, hint=hint)
        self.text = text
        self.suggestion = suggestion


class InvalidDigestError(InvalidInputError, ValueError):
    """A digest string is malformed (``kind``: invalid_format, invalid_length, unsupported)."""

    def __init__(self, message: str, *, text: str, kind: str) -> None:
        super().__init__(message)
        self.text = text
        self.kind = kind


class InvalidLocationError(InvalidInputError, ValueError):
    """A storage location (``oci:PATH[:TAG|@DIGEST]`` or a registry reference) is malformed."""


class NotFoundError(PolyarchError):
    """Something the operation needs does not exist."""

    exit_code = 3


class ManifestNotFoundError(NotFoundError):
    """No manifest for a tag or digest."""

    def __init__(self, message: str, *, where: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.where = where


class BlobNotFoundError(NotFoundError):
    """No blob with this digest."""

    def __init__(self, message: str, *, digest: str) -> None:
        super().__init__(message)
        self.digest = digest


class NoMatchingPlatformError(NotFoundError):
    """No entry of an index can run on the requested platform; ``available`` lists them."""

    def __init__(self, message: str, *, wanted: str, available: tuple[str, ...]) -> None:
        super().__init__(message)
        self.wanted = wanted
        self.available = available


class AuthError(PolyarchError):
    """Credentials are missing, wrong, or do not allow the operation."""

    exit_code = 4


class AuthenticationError(AuthError):
    """The registry (or its token service) did not accept the credentials (401)."""


class PermissionDeniedError(AuthError):
    """The credentials were accepted but do not allow the operation (403, denied scope)."""


class CredentialHelperError(AuthError):
    """A ``docker-credential-<name>`` helper failed or is missing."""


class RegistryError(PolyarchError):
    """The registry answered with an error status.

    ``status`` is the HTTP status and ``codes`` the distribution error codes of the body
    (``MANIFEST_UNKNOWN``, ``DENIED``, ...), both ``None``/empty when unknown.
    """

    exit_code = 5

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        codes: tuple[str, ...] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.codes = codes


class NetworkError(RegistryError):
    """The registry could not be reached or the connection broke."""


class RequestLimitError(RegistryError):
    """The requests a run may send (``--max-requests``) are spent; the one that would
    have gone over was not sent. Never retried."""


class ContentError(PolyarchError):
    """Content is not what it claims to be."""

    exit_code = 6


class DigestMismatchError(ContentError):
    """Bytes whose digest differs from the digest they were asked for."""

    def __init__(self, message: str, *, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class SizeMismatchError(ContentError):
    """Bytes whose length differs from the size they were described with."""

    def __init__(self, message: str, *, expected: int, actual: int) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class InvalidManifestError(ContentError):
    """A manifest or index is not valid JSON of the expected shape."""


class AmbiguousDocumentError(InvalidManifestError):
    """A document that Go's ``encoding/json`` (containerd, docker, skopeo) would read
    otherwise than polyarch: a key twice, or a key that Go takes for a field spelled
    otherwise (``key`` and ``field``: ``"Digest"`` and ``"digest"``; ``None`` when the
    ambiguity is not one key)."""

    def __init__(self, message: str, *, key: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.field = field


class UnsafePathError(ContentError):
    """A path inside an OCI layout that polyarch will not read or write through: a
    symbolic link (someone else may have planted it to make polyarch read or overwrite
    another file), or something other than a regular file or directory."""

    def __init__(self, message: str, *, path: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class UnsupportedMediaTypeError(ContentError):
    """A media type polyarch recognizes but refuses (Docker schema 1) or does not know."""

    def __init__(self, message: str, *, media_type: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.media_type = media_type


class ConflictError(PolyarchError):
    """The operation would overwrite or contradict something that exists."""

    exit_code = 7


#: File system errors that the path the user named makes certain: bad input (exit 2).
_PATH_ERRORS = frozenset(
    {
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.ENAMETOOLONG,
        errno.ELOOP,
        errno.EEXIST,
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.EINVAL,
    }
)


def os_error(err: OSError, action: str) -> PolyarchError:
    """An ``OSError`` met while trying to ``action`` ("write /x/y.tar"), as polyarch says
    it: one line, "cannot ACTION: REASON". What the path makes impossible (a missing or
    non-directory parent, a name too long, no permission, a read-only file system) is bad
    input, exit 2; anything else (a full disk, an I/O error) exit 1."""
    reason = err.strerror or str(err)
    cls = InvalidInputError if err.errno in _PATH_ERRORS else PolyarchError
    return cls(f"cannot {action}: {reason}")
