"""Writing blobs to a repository: streamed monolithic uploads, PATCH chunks for large
blobs, and an upload started again from its first byte when the target failed and the
bytes can be read again (all within one retry budget)."""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterable, Iterator
from typing import Final

from polyarch.digest import DigestVerifier
from polyarch.errors import RegistryError, SizeMismatchError
from polyarch.models import Descriptor
from polyarch.registry._download import status_in
from polyarch.registry._http import Response
from polyarch.registry._retry import RetryBudget
from polyarch.registry._url import BadURLError, join_url
from polyarch.registry.client import RegistryClient

__all__ = ["MONOLITHIC_LIMIT", "UPLOAD_CHUNK_SIZE", "Uploads"]

#: Blobs up to this size go up in one streamed PUT; larger ones in PATCH chunks, which
#: every registry accepts and which keep one request's size bounded.
MONOLITHIC_LIMIT: Final = 512 * 1024 * 1024
UPLOAD_CHUNK_SIZE: Final = 64 * 1024 * 1024


class Uploads:
    """Blob uploads to one repository.

    :param chunk_size: upload in PATCH chunks of this many bytes (default: only blobs
        over :data:`MONOLITHIC_LIMIT`, in :data:`UPLOAD_CHUNK_SIZE` chunks).
    """

    def __init__(
        self,
        client: RegistryClient,
        repository: str,
        scopes: tuple[str, ...],
        *,
        chunk_size: int | None = None,
    ) -> None:
        self.client = client
        self.repository = repository
        self.scopes = scopes
        self.chunk_size = chunk_size
        self.where = f"{client.registry}/{repository}"
        # Upload sessions a declined mount opened; the next put of that blob reuses them.
        self.open_sessions: dict[str, str] = {}

    def put(self, descriptor: Descriptor, chunks: Iterable[bytes], *, verify: bool) -> None:
        """Upload a blob from ``chunks``, verified against ``descriptor`` if ``verify``
        (else the chunks verify themselves). A failed upload is started again from a new
        session when ``chunks`` were not begun, or can be iterated again (a list, or an
        object whose ``__iter__`` re-opens its source, as a copy's blob sources do)."""
        # An iterable that is not its own iterator can be read again from its first byte.
        again = iter(chunks) is not chunks
        what = f"upload blob {descriptor.digest} to {self.where}"
        budget = self.client.budget()
        while True:  # bounded: the budget says no once the retries are spent
            source = _Source(chunks, descriptor if verify else None)
            try:
                self._once(descriptor, source, budget)
                return
            except RegistryError as err:
                # What the source raised is its own verdict (it retries its own reads);
                # what the target raised is worth a new session if the bytes can be had
                # again from the first one.
                if source.failed or (source.started and not again):
                    raise
                if not budget.again(what, err):
                    raise
            finally:
                source.close()

    def remember(self, digest: str, response: Response) -> None:
        """Keep the session a declined mount opened, for the next put of ``digest``."""
        with contextlib.suppress(RegistryError):  # no usable session: a new one later
            self.open_sessions[digest] = self._location(response)

    def _once(self, descriptor: Descriptor, source: _Source, budget: RetryBudget) -> None:
        location = self.open_sessions.pop(descriptor.digest, None) or self._start(budget)
        try:
            chunk_size = self.chunk_size or (
                UPLOAD_CHUNK_SIZE if descriptor.size > MONOLITHIC_LIMIT else None
            )
            if chunk_size is None:
                body: bytes | Iterable[bytes] = source.open()
                headers = {
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(descriptor.size),
                }
            else:
                stream = _Pieces(source.open(), descriptor)
                for offset in range(0, descriptor.size, chunk_size):
                    length = min(chunk_size, descriptor.size - offset)
                    piece = stream.take(length)
                    location = self._patch(location, piece, offset, length, budget)
                # Pulling past the end lets the stream verify itself before we commit.
                stream.finish()
                body = b""
                headers = {"Content-Length": "0"}
            self.client.request(
                "PUT",
                location,
                params={"digest": descriptor.digest},
                scopes=self.scopes,
                headers=headers,
                content=body,
                expect=status_in(201),
                what=f"upload blob {descriptor.digest} to {self.where}",
                budget=budget,
            )
        except BaseException:
            self._cancel(location)
            raise

    def _start(self, budget: RetryBudget) -> str:
        response = self.client.request(
            "POST",
            f"/v2/{self.repository}/blobs/uploads/",
            scopes=self.scopes,
            expect=status_in(202),
            what=f"start an upload to {self.where}",
            budget=budget,
        )
        return self._location(response)

    def _location(self, response: Response) -> str:
        """Where an upload goes on: the answer's ``Location``, resolved against the URL
        that answered (RFC 9110), as urllib3 will connect to it.

        :raises RegistryError: none, or not a URL.
        """
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(
                f"{self.client.registry} started an upload without saying where (no Location)"
            )
        try:
            return join_url(response.request.url, location).url
        except BadURLError as err:
            raise RegistryError(
                f"{self.client.registry} sends the upload to {self.where} to {err}"
            ) from None

    def _patch(
        self,
        location: str,
        piece: Iterable[bytes],
        offset: int,
        length: int,
        budget: RetryBudget,
    ) -> str:
        response = self.client.request(
            "PATCH",
            location,
            scopes=self.scopes,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + length - 1}",
                "Content-Length": str(length),
            },
            content=piece,
            expect=status_in(202),
            what=f"upload a chunk to {self.where}",
            budget=budget,
        )
        return self._location(response) if "Location" in response.headers else location

    def _cancel(self, location: str) -> None:
        with contextlib.suppress(Exception):
            self.client.request(
                "DELETE",
                location,
                scopes=self.scopes,
                expect=lambda r: True,
                budget=self.client.budget(0),  # tidying up after a failure: not worth a wait
            ).close()


class _Pieces:
    """Consecutive pieces of a stream, each itself streamed: an upload in chunks holds
    no more than one incoming chunk in memory, whatever the chunk size."""

    def __init__(self, chunks: Iterable[bytes], descriptor: Descriptor) -> None:
        self._chunks = iter(chunks)
        self._rest = b""
        self._descriptor = descriptor
        self._count = 0

    def take(self, length: int) -> Iterator[bytes]:
        """The next ``length`` bytes; fewer only if the stream ends (then it raises)."""
        while length > 0:
            chunk = self._rest or next(self._chunks, None)
            if chunk is None:
                raise SizeMismatchError(
                    f"content of {self._descriptor.digest} has {self._count} bytes, "
                    f"expected {self._descriptor.size}",
                    expected=self._descriptor.size,
                    actual=self._count,
                )
            chunk, self._rest = chunk[:length], chunk[length:]
            length -= len(chunk)
            self._count += len(chunk)
            yield chunk

    def finish(self) -> None:
        """Read the stream to its end, where a verifying stream checks itself; nothing
        may be left over."""
        extra = len(self._rest) + sum(len(chunk) for chunk in self._chunks)
        if extra:
            raise SizeMismatchError(
                f"content of {self._descriptor.digest} is longer than its declared size "
                f"{self._descriptor.size}",
                expected=self._descriptor.size,
                actual=self._count + extra,
            )


class _Source:
    """The bytes of one upload attempt, verified against ``verify`` if given, and what
    became of them: ``started`` (a byte was asked for) and ``failed`` (the source itself
    raised: damaged bytes, or a download that broke for good; not the target's fault)."""

    def __init__(self, chunks: Iterable[bytes], verify: Descriptor | None) -> None:
        self._chunks = chunks
        self._verify = verify
        self.started = False
        self.failed = False
        self._stream: Generator[bytes, None, None] | None = None

    def open(self) -> Iterator[bytes]:
        self._stream = self._pull()
        return self._stream

    def close(self) -> None:
        """Let go of the source (a download's connection) even if it was left half read."""
        if self._stream is not None:
            self._stream.close()

    def _pull(self) -> Generator[bytes, None, None]:
        self.started = True
        verify = self._verify
        verifier = DigestVerifier(verify.digest, verify.size) if verify is not None else None
        chunks = iter(self._chunks)
        try:
            while True:
                try:
                    chunk = next(chunks, None)
                    if chunk is None:
                        if verifier is not None:
                            verifier.verify()
                        return
                    if verifier is not None:
                        verifier.update(chunk)
                except BaseException:
                    self.failed = True
                    raise
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                close()
