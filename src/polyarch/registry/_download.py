"""Reading from a repository: blob bodies that resume where a connection broke, and
bodies read whole with a bound (manifests)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Final

from polyarch.errors import (
    BlobNotFoundError,
    InvalidManifestError,
    NetworkError,
    RegistryError,
    SizeMismatchError,
)
from polyarch.models import Descriptor
from polyarch.registry._http import Response, TransportError
from polyarch.registry._retry import RetryBudget

__all__ = ["BlobDownload", "iter_body", "read_limited", "status_in"]

_CONTENT_RANGE_RE: Final = re.compile(r"bytes\s+([0-9]+)-([0-9]+)/([0-9]+|\*)")


def status_in(*statuses: int) -> Callable[[Response], bool]:
    return lambda response: response.status_code in statuses


class BlobDownload:
    """The bytes of one blob, picking up where a broken connection left off: a range
    request for the rest, or, from a registry that ignores ranges, the whole body again
    with the bytes already passed on skipped. Every GET and resume spends one budget.

    :param get: sends the blob GET from a byte offset (0: the whole blob).
    """

    def __init__(
        self,
        descriptor: Descriptor,
        get: Callable[[int, RetryBudget], Response],
        budget: RetryBudget,
        *,
        where: str,
        registry: str,
    ) -> None:
        self._descriptor = descriptor
        self._get = get
        self._budget = budget
        self._where = where
        self._registry = registry
        self._response: Response | None = None
        self._offset = 0
        self._skip = 0

    def open(self) -> None:
        self._response = self._get(0, self._budget)

    def close(self) -> None:
        if self._response is not None:
            self._response.close()

    def __iter__(self) -> Iterator[bytes]:
        what = f"get blob {self._descriptor.digest} from {self._where}"
        while True:  # bounded: the budget says no once the retries are spent
            assert self._response is not None
            try:
                for chunk in iter_body(self._response, self._registry):
                    if self._skip:
                        dropped = min(self._skip, len(chunk))
                        chunk = chunk[dropped:]
                        self._skip -= dropped
                        if not chunk:
                            continue
                    self._offset += len(chunk)
                    yield chunk
                return
            except NetworkError as err:
                if not self._budget.again(what, err):
                    raise
                self._resume()

    def _resume(self) -> None:
        assert self._response is not None
        self._response.close()
        self._response = None
        response = self._get(self._offset, self._budget)
        self._response = response
        if response.status_code == 200:
            self._skip = self._offset  # the whole blob again
            return
        self._skip = 0
        match = _CONTENT_RANGE_RE.fullmatch(response.headers.get("Content-Range", "").strip())
        size = self._descriptor.size
        if not (
            match
            and int(match.group(1)) == self._offset
            and int(match.group(2)) == size - 1
            and match.group(3) in ("*", str(size))
        ):
            raise RegistryError(
                f"{self._registry} answered a request for bytes {self._offset}- of blob "
                f"{self._descriptor.digest} with the range "
                f"{response.headers.get('Content-Range')!r}",
                status=response.status_code,
            )


def checked_blob_response(
    response: Response, descriptor: Descriptor, offset: int, *, where: str, registry: str
) -> Response:
    """``response`` to a blob GET from ``offset``, refused before a byte is read when it
    is not there or declares another length than the blob's (the verifier would refuse it
    at the end anyway).

    :raises BlobNotFoundError, SizeMismatchError, RegistryError: and close the response.
    """
    try:
        if response.status_code == 404:
            raise BlobNotFoundError(
                f"blob {descriptor.digest} not found in {where}", digest=descriptor.digest
            )
        length = response.declared_length()
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        expected = descriptor.size - offset if response.status_code == 206 else descriptor.size
        if encoding in ("", "identity") and length is not None and length != expected:
            raise SizeMismatchError(
                f"{registry} sends blob {descriptor.digest} as {length} bytes, expected {expected}",
                expected=expected,
                actual=length,
            )
    except BaseException:
        response.close()
        raise
    return response


def read_limited(response: Response, limit: int, what: str, registry: str) -> bytes:
    """Read a body that must not exceed ``limit`` bytes, whatever the headers claim."""
    length = response.declared_length()
    if length is not None and length > limit:
        raise InvalidManifestError(f"{what} is {length} bytes, over the {limit} byte limit")
    buffer = bytearray()
    for chunk in iter_body(response, registry):
        buffer += chunk
        if len(buffer) > limit:
            raise InvalidManifestError(f"{what} is over the {limit} byte limit")
    return bytes(buffer)


def iter_body(response: Response, registry: str) -> Iterator[bytes]:
    # Passed on as the transport reads it (64 KiB pieces): regrouping it into CHUNK_SIZE
    # pieces would copy every byte twice more, for nothing.
    try:
        yield from response.iter_bytes()
    except TransportError as err:
        raise NetworkError(f"the connection to {registry} broke while reading: {err}") from err
