"""One repository of a registry as a :class:`~polyarch.store.Store`."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator

from polyarch import mediatype as mt
from polyarch.digest import SUPPORTED_ALGORITHMS, Digest, DigestVerifier, is_supported
from polyarch.errors import (
    BlobNotFoundError,
    ContentError,
    DigestMismatchError,
    InvalidManifestError,
    ManifestNotFoundError,
    NetworkError,
    NotFoundError,
    RegistryError,
    SizeMismatchError,
)
from polyarch.models import MAX_MANIFEST_SIZE, Descriptor, Manifest, parse_manifest
from polyarch.registry._auth import repository_scope
from polyarch.registry._http import BadURLError, Response, TransportError, join_url, without_query
from polyarch.registry.client import RegistryClient, worth_retrying
from polyarch.store import Store, is_digest

__all__ = ["RegistryStore"]

log = logging.getLogger(__name__)

ACCEPT = ", ".join(mt.ACCEPT_MANIFESTS)
#: Blobs up to this size go up in one streamed PUT; larger ones in PATCH chunks, which
#: every registry accepts and which keep one request's size bounded.
MONOLITHIC_LIMIT = 512 * 1024 * 1024
UPLOAD_CHUNK_SIZE = 64 * 1024 * 1024
#: Waits (seconds) before sending a manifest again that the registry refused for naming a
#: blob or child it does not know. Distribution 2.8 rewrites a repository's link files in
#: place (truncate, then write): while another push links the same blob or child manifest,
#: a manifest naming it is refused for a moment (concurrent pushes of lists that share
#: children). The refusal is final only if it outlasts these; the same bytes are sent each
#: time (skopeo converts the manifest instead, which changes its digest).
LINK_RACE_WAITS = (0.05, 0.2, 0.5, 1.0)
_BLOB_UNKNOWN = "MANIFEST_BLOB_UNKNOWN"
#: Tags asked for per page; the registry may send fewer and a Link to the next page.
TAGS_PAGE_SIZE = 1000
#: The most pages of tags read for one repository (the registry makes them up: without a
#: bound, one that links to ever new pages would be read forever).
MAX_TAG_PAGES = 10_000
#: The most tags listed for one repository.
MAX_TAGS = 1_000_000
_LINK_NEXT_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_CONTENT_RANGE_RE = re.compile(r"bytes\s+([0-9]+)-([0-9]+)/([0-9]+|\*)")


def _status_in(*statuses: int) -> Callable[[Response], bool]:
    return lambda response: response.status_code in statuses


class RegistryStore:
    """A repository (``registry/repository``) reached through a :class:`RegistryClient`."""

    def __init__(
        self,
        client: RegistryClient,
        repository: str,
        *,
        upload_chunk_size: int | None = None,
    ) -> None:
        self.client = client
        self.repository = repository
        self.upload_chunk_size = upload_chunk_size
        # Upload sessions a declined mount opened; the next put of that blob reuses them.
        self._open_uploads: dict[str, str] = {}

    @property
    def location(self) -> str:
        return f"{self.client.registry}/{self.repository}"

    def __repr__(self) -> str:
        return f"RegistryStore({self.location!r})"

    @property
    def _pull(self) -> tuple[str]:
        return (repository_scope(self.repository, "pull"),)

    @property
    def _push(self) -> tuple[str]:
        return (repository_scope(self.repository, "pull", "push"),)

    def _path(self, kind: str, identifier: str) -> str:
        if kind == "blobs" or is_digest(identifier):
            identifier = Digest.parse(str(identifier))  # never send what we could not verify
        return f"/v2/{self.repository}/{kind}/{identifier}"

    def _where(self, identifier: str) -> str:
        sep = "@" if is_digest(identifier) else ":"
        return f"{self.location}{sep}{identifier}"

    def _not_found(self, identifier: str, response: Response) -> ManifestNotFoundError:
        response.close()  # whatever the body says, the status said it
        return ManifestNotFoundError(
            f"manifest {self._where(identifier)} not found", where=self._where(identifier)
        )

    # -- manifests -------------------------------------------------------------------------

    def resolve(self, identifier: str) -> Descriptor:
        response = self.client.request(
            "HEAD",
            self._path("manifests", identifier),
            scopes=self._pull,
            headers={"Accept": ACCEPT},
            expect=_status_in(200, 404),
            what=f"resolve {self._where(identifier)}",
        )
        if response.status_code == 404:
            raise self._not_found(identifier, response)
        header_digest = response.headers.get("Docker-Content-Digest")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        length = response.declared_length()
        if is_digest(identifier):
            if header_digest and header_digest != identifier:
                raise DigestMismatchError(
                    f"{self.client.registry} answered for {identifier} with {header_digest[:100]}",
                    expected=identifier,
                    actual=header_digest,
                )
            header_digest = identifier
        if (
            header_digest is None
            or not is_supported(header_digest)
            or length is None
            or not (mt.is_index(media_type) or mt.is_manifest(media_type))
        ):
            # Some registries leave HEAD answers bare (or garbled); the body always tells.
            return self.get_manifest(identifier).descriptor()
        return Descriptor(media_type, Digest.parse(header_digest), length)

    def get_manifest(self, identifier: str) -> Manifest:
        attempt = 0
        while True:  # bounded: retry_later says no once the retries are spent
            try:
                return self._get_manifest(identifier)
            except NetworkError as err:
                # The request itself was retried by the client; this is a body that
                # broke off on the way.
                if not self.client.retry_later(attempt, f"get {self._where(identifier)}", err):
                    raise
                attempt += 1

    def _get_manifest(self, identifier: str) -> Manifest:
        with contextlib.closing(
            self.client.request(
                "GET",
                self._path("manifests", identifier),
                scopes=self._pull,
                headers={"Accept": ACCEPT},
                stream=True,
                expect=_status_in(200, 404),
                what=f"get {self._where(identifier)}",
            )
        ) as response:
            if response.status_code == 404:
                raise self._not_found(identifier, response)
            data = _read_limited(
                response,
                MAX_MANIFEST_SIZE,
                f"manifest {self._where(identifier)}",
                self.client.registry,
            )
        claimed = response.headers.get("Docker-Content-Digest")
        if is_digest(identifier):
            expected: str | None = identifier
        elif claimed and claimed.partition(":")[0] in SUPPORTED_ALGORITHMS:
            # For a tag the header is the only statement of what the bytes should be.
            if not is_supported(claimed):
                raise DigestMismatchError(
                    f"{self.client.registry} sent {self._where(identifier)} with a malformed "
                    f"Docker-Content-Digest {claimed[:100]!r}",
                    expected=claimed,
                    actual=Digest.of(data, claimed.partition(":")[0]),
                )
            expected = claimed
        else:
            expected = None
        return parse_manifest(data, response.headers.get("Content-Type"), digest=expected)

    def put_manifest(self, manifest: Manifest, *, tag: str | None = None) -> Descriptor:
        identifier = tag if tag is not None else manifest.digest
        which = manifest.media_type + (f" {manifest.digest}" if tag is not None else "")
        what = f"push manifest {self._where(identifier)} ({which})"
        for wait in (*LINK_RACE_WAITS, None):  # bounded
            try:
                response = self.client.request(
                    "PUT",
                    self._path("manifests", identifier),
                    scopes=self._push,
                    headers={"Content-Type": manifest.media_type},
                    content=manifest.raw,
                    expect=_status_in(200, 201, 202),
                    what=what,
                )
                break
            except RegistryError as err:
                if wait is not None and err.status == 400 and _BLOB_UNKNOWN in err.codes:
                    # The same bytes again, never other ones: see LINK_RACE_WAITS.
                    log.info("%s: %s; trying again in %.2fs", what, _BLOB_UNKNOWN, wait)
                    time.sleep(wait)
                    continue
                # Refused as it is: say so, and that nothing else was tried in its place.
                if err.status in (400, 415) and err.hint is None:
                    err.hint = _refused_manifest_hint(self.client.registry, manifest)
                raise
        stored = response.headers.get("Docker-Content-Digest")
        if stored and stored != manifest.digest:
            raise DigestMismatchError(
                f"{self.client.registry} stored the manifest pushed to {self._where(identifier)} "
                f"as {stored}, not {manifest.digest}: it changed the bytes",
                expected=manifest.digest,
                actual=stored,
            )
        return manifest.descriptor()

    def delete(self, identifier: str) -> None:
        digest = identifier if is_digest(identifier) else self.resolve(identifier).digest
        response = self.client.request(
            "DELETE",
            self._path("manifests", digest),
            scopes=(repository_scope(self.repository, "delete"), *self._push),
            expect=_status_in(200, 202, 404, 405),
            what=f"delete {self._where(identifier)}",
        )
        if response.status_code == 404:
            raise self._not_found(identifier, response)
        if response.status_code == 405:
            raise RegistryError(
                f"{self.client.registry} does not allow deleting manifests",
                status=405,
                codes=("UNSUPPORTED",),
                hint="the registry must be run with deletes enabled (storage.delete.enabled)",
            )

    def list_tags(self) -> list[str]:
        return sorted(set(self.iter_tags()))

    def iter_tags(self) -> Iterator[str]:
        """The tags, page by page as the registry sends them (``Link`` pagination), each
        page sorted (registries that page do so in lexical order, so the whole is sorted;
        distribution 2.8 sends a page in no order): memory holds one page, however many
        tags there are.

        :raises NotFoundError: no such repository.
        :raises InvalidManifestError: a page that is not a tag list.
        :raises ContentError: a ``Link`` back to a page already read, or more than
            :data:`MAX_TAG_PAGES` pages or :data:`MAX_TAGS` tags.
        """
        url = f"/v2/{self.repository}/tags/list?n={TAGS_PAGE_SIZE}"
        pages: set[str] = set()
        count = 0
        for _ in range(MAX_TAG_PAGES):  # bounded: the registry makes up the pages
            response = self.client.request(
                "GET",
                url,
                scopes=self._pull,
                expect=_status_in(200, 404),
                what=f"list tags of {self.location}",
            )
            pages.add(response.request.url)
            if response.status_code == 404:
                raise NotFoundError(f"repository {self.location} not found")
            for tag in sorted(self._tag_page(response)):
                count += 1
                if count > MAX_TAGS:
                    raise ContentError(
                        f"{self.client.registry} lists more than {MAX_TAGS} tags for "
                        f"{self.location}; polyarch stops there"
                    )
                yield tag
            link = _LINK_NEXT_RE.search(response.headers.get("Link", ""))
            if link is None:
                return
            try:
                url = join_url(response.request.url, link.group(1)).url
            except BadURLError as err:
                raise ContentError(
                    f"{self.client.registry} links the next tag page of {self.location} to {err}"
                ) from None
            if url in pages:
                raise ContentError(
                    f"{self.client.registry} links the tags of {self.location} back to a page "
                    f"already read ({without_query(url)}): the list would never end"
                )
        raise ContentError(
            f"{self.client.registry} sends more than {MAX_TAG_PAGES} pages of tags for "
            f"{self.location}; polyarch stops there"
        )

    def _tag_page(self, response: Response) -> list[str]:
        try:
            page = response.json()
            tags = page.get("tags") if isinstance(page, dict) else ()
            if tags is None:  # distribution answers null for a repository without tags
                tags = []
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise ValueError("'tags' must be a list of strings")
        except ValueError as err:
            raise InvalidManifestError(
                f"{self.client.registry} sent an invalid tag list for {self.location}: {err}"
            ) from None
        return tags

    # -- blobs -----------------------------------------------------------------------------

    def has_blob(self, descriptor: Descriptor) -> bool:
        digest = descriptor.digest
        response = self.client.request(
            "HEAD",
            self._path("blobs", digest),
            scopes=self._pull,
            expect=_status_in(200, 404),
            what=f"check blob {digest} in {self.location}",
        )
        if response.status_code != 200:
            return False
        length = response.declared_length()
        if length is not None and length != descriptor.size:
            # The same digest is the same bytes: a registry that says otherwise is wrong,
            # and a copy that skipped the blob on its word would leave a broken image.
            raise SizeMismatchError(
                f"{self.location} says it holds blob {digest} with {length} bytes; "
                f"the image names it with {descriptor.size}",
                expected=descriptor.size,
                actual=length,
            )
        return True

    @contextlib.contextmanager
    def open_blob(self, descriptor: Descriptor) -> Iterator[Iterator[bytes]]:
        body = _BlobBody(self, descriptor)
        try:
            body.open()
            verifier = DigestVerifier(descriptor.digest, descriptor.size)
            yield verifier.wrap(body)
        finally:
            body.close()

    def _get_blob(self, descriptor: Descriptor, offset: int) -> Response:
        """A blob GET, from byte ``offset`` on (a range request) when it is not 0."""
        response = self.client.request(
            "GET",
            self._path("blobs", descriptor.digest),
            scopes=self._pull,
            headers={"Range": f"bytes={offset}-"} if offset else None,
            stream=True,
            expect=_status_in(200, 206, 404) if offset else _status_in(200, 404),
            what=f"get blob {descriptor.digest} from {self.location}",
        )
        if response.status_code == 404:
            response.close()
            raise BlobNotFoundError(
                f"blob {descriptor.digest} not found in {self.location}",
                digest=descriptor.digest,
            )
        try:
            length = response.declared_length()
        except RegistryError:
            response.close()
            raise
        plain = response.headers.get("Content-Encoding", "identity").strip().lower() in (
            "",
            "identity",
        )
        expected = descriptor.size - offset if response.status_code == 206 else descriptor.size
        if plain and length is not None and length != expected:
            # Refused before a byte is read: the verifier would refuse it at the end anyway.
            response.close()
            raise SizeMismatchError(
                f"{self.client.registry} sends blob {descriptor.digest} as {length} bytes, "
                f"expected {expected}",
                expected=expected,
                actual=length,
            )
        return response

    def get_blob(self, descriptor: Descriptor) -> bytes:
        with self.open_blob(descriptor) as chunks:
            return b"".join(chunks)

    def mount_blob(self, descriptor: Descriptor, source: Store) -> bool:
        """Link a blob from another repository of the same registry, without a copy."""
        if not (
            isinstance(source, RegistryStore)
            and source.client is self.client
            and source.repository != self.repository
        ):
            return False
        try:
            response = self.client.request(
                "POST",
                f"/v2/{self.repository}/blobs/uploads/",
                params={"mount": descriptor.digest, "from": source.repository},
                scopes=(*self._push, repository_scope(source.repository, "pull")),
                expect=_status_in(201, 202),
                what=f"mount blob {descriptor.digest} into {self.location}",
            )
        except RegistryError as err:
            if not worth_retrying(err):
                raise
            # A mount is a shortcut: the ordinary way (a HEAD, then an upload) retries.
            log.info("mount of %s into %s failed (%s); copying it", descriptor.digest, self, err)
            return False
        if response.status_code == 201:
            return True
        with contextlib.suppress(RegistryError):  # no usable session: a new one later
            self._open_uploads[descriptor.digest] = self._location(response)
        return False

    def put_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        """Upload a blob, verifying ``chunks`` against the descriptor as they go.

        A failed upload is restarted from a new upload session when that is possible:
        ``chunks`` not begun yet, or ``chunks`` that can be iterated again (a list, or an
        object whose ``__iter__`` re-opens its source, as the copy's blob sources do).
        """
        self._upload(descriptor, chunks, verify=True)

    def put_verified_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        """:meth:`put_blob` for ``chunks`` that verify themselves, as those of another
        store's ``open_blob(descriptor)`` do: they raise before they end when the bytes are
        not the descriptor's. A copy would otherwise hash every byte twice."""
        self._upload(descriptor, chunks, verify=False)

    def _upload(self, descriptor: Descriptor, chunks: Iterable[bytes], *, verify: bool) -> None:
        # An iterable that is not its own iterator (a list, a re-opening source) can be
        # read again from its first byte.
        again = iter(chunks) is not chunks
        attempt = 0
        while True:  # bounded: retry_later says no once the retries are spent
            source = _Source(chunks, descriptor if verify else None)
            try:
                self._upload_once(descriptor, source)
                return
            except RegistryError as err:
                # What the source raised is its own verdict (it retries its own reads);
                # what the target raised is worth a new session if the bytes can be had
                # again from the first one.
                if source.failed or (source.started and not again):
                    raise
                if not self.client.retry_later(
                    attempt, f"upload blob {descriptor.digest} to {self.location}", err
                ):
                    raise
                attempt += 1
            finally:
                source.close()

    def _upload_once(self, descriptor: Descriptor, source: _Source) -> None:
        location = self._open_uploads.pop(descriptor.digest, None) or self._start_upload()
        try:
            chunk_size = self.upload_chunk_size or (
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
                    location = self._patch(location, stream.take(length), offset, length)
                # Pulling past the end lets the stream verify itself before we commit.
                stream.finish()
                body = b""
                headers = {"Content-Length": "0"}
            self.client.request(
                "PUT",
                location,
                params={"digest": descriptor.digest},
                scopes=self._push,
                headers=headers,
                content=body,
                expect=_status_in(201),
                what=f"upload blob {descriptor.digest} to {self.location}",
            )
        except BaseException:
            self._cancel_upload(location)
            raise

    def _start_upload(self) -> str:
        response = self.client.request(
            "POST",
            f"/v2/{self.repository}/blobs/uploads/",
            scopes=self._push,
            expect=_status_in(202),
            what=f"start an upload to {self.location}",
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
                f"{self.client.registry} sends the upload to {self.location} to {err}"
            ) from None

    def _patch(self, location: str, piece: Iterable[bytes], offset: int, length: int) -> str:
        response = self.client.request(
            "PATCH",
            location,
            scopes=self._push,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + length - 1}",
                "Content-Length": str(length),
            },
            content=piece,
            expect=_status_in(202),
            what=f"upload a chunk to {self.location}",
        )
        return self._location(response) if "Location" in response.headers else location

    def _cancel_upload(self, location: str) -> None:
        with contextlib.suppress(Exception):
            self.client.request(
                "DELETE",
                location,
                scopes=self._push,
                expect=lambda r: True,
                retries=0,  # tidying up after a failure: not worth a wait
            ).close()


def _refused_manifest_hint(registry: str, manifest: Manifest) -> str:
    """What to do when a registry refuses a manifest: polyarch never pushes another
    format in its place (another format is other bytes, another digest)."""
    hint = (
        f"{registry} does not take this {manifest.media_type} as it is; polyarch pushed "
        "nothing in its place (converting it would change its digest)"
    )
    if mt.is_index(manifest.media_type):
        hint += "; choose the list's format with push --format docker or --format oci"
    return hint


def _read_limited(response: Response, limit: int, what: str, registry: str) -> bytes:
    """Read a body that must not exceed ``limit`` bytes, whatever the headers claim."""
    length = response.declared_length()
    if length is not None and length > limit:
        raise InvalidManifestError(f"{what} is {length} bytes, over the {limit} byte limit")
    buffer = bytearray()
    for chunk in _iter_body(response, registry):
        buffer += chunk
        if len(buffer) > limit:
            raise InvalidManifestError(f"{what} is over the {limit} byte limit")
    return bytes(buffer)


def _iter_body(response: Response, registry: str) -> Iterator[bytes]:
    # Passed on as the transport reads it (64 KiB pieces): regrouping it into CHUNK_SIZE
    # pieces would copy every byte twice more, for nothing.
    try:
        yield from response.iter_bytes()
    except TransportError as err:
        raise NetworkError(f"the connection to {registry} broke while reading: {err}") from err


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


class _BlobBody:
    """The bytes of one blob, picking up where a broken connection left off: a range
    request for the rest, or, from a registry that ignores ranges, the whole body again
    with the bytes already passed on skipped. At most ``retries`` times per blob."""

    def __init__(self, store: RegistryStore, descriptor: Descriptor) -> None:
        self._store = store
        self._descriptor = descriptor
        self._response: Response | None = None
        self._offset = 0
        self._skip = 0

    def open(self) -> None:
        self._response = self._store._get_blob(self._descriptor, 0)

    def close(self) -> None:
        if self._response is not None:
            self._response.close()

    def __iter__(self) -> Iterator[bytes]:
        client = self._store.client
        what = f"get blob {self._descriptor.digest} from {self._store.location}"
        attempt = 0
        while True:  # bounded: retry_later says no once the retries are spent
            assert self._response is not None
            try:
                for chunk in _iter_body(self._response, client.registry):
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
                if not client.retry_later(attempt, what, err):
                    raise
                attempt += 1
                self._resume()

    def _resume(self) -> None:
        assert self._response is not None
        self._response.close()
        self._response = None
        response = self._store._get_blob(self._descriptor, self._offset)
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
                f"{self._store.client.registry} answered a request for bytes "
                f"{self._offset}- of blob {self._descriptor.digest} with the range "
                f"{response.headers.get('Content-Range')!r}",
                status=response.status_code,
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
