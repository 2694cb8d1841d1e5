"""One repository of a registry as a :class:`~polyarch.store.Store`."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterable, Iterator

from polyarch import mediatype as mt
from polyarch.cache import MAX_ENTRY, Cache
from polyarch.digest import SUPPORTED_ALGORITHMS, Digest, DigestVerifier, is_supported
from polyarch.errors import (
    ContentError,
    DigestMismatchError,
    InvalidManifestError,
    ManifestNotFoundError,
    NetworkError,
    NotFoundError,
    RegistryError,
    SizeMismatchError,
)
from polyarch.models import (
    MAX_MANIFEST_SIZE,
    Descriptor,
    ImageIndex,
    ImageManifest,
    Manifest,
    parse_manifest,
)
from polyarch.registry._download import (
    BlobDownload,
    checked_blob_response,
    read_limited,
    status_in,
)
from polyarch.registry._http import Response
from polyarch.registry._meter import RequestMeter
from polyarch.registry._retry import RetryBudget, transient
from polyarch.registry._tokens import repository_scope
from polyarch.registry._upload import Uploads
from polyarch.registry._url import BadURLError, join_url, without_query
from polyarch.registry.client import RegistryClient
from polyarch.store import Store, is_digest

__all__ = ["RegistryStore"]

log = logging.getLogger(__name__)

ACCEPT = ", ".join(mt.ACCEPT_MANIFESTS)
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
#: The most pages of one subject's referrers read (the registry makes them up).
MAX_REFERRER_PAGES = 64
#: The most referrers listed for one subject.
MAX_REFERRERS = 10_000


class RegistryStore:
    """A repository (``registry/repository``) reached through a :class:`RegistryClient`."""

    def __init__(
        self,
        client: RegistryClient,
        repository: str,
        *,
        upload_chunk_size: int | None = None,
        cached: bool = True,
    ) -> None:
        self.client = client
        self.repository = repository
        #: Whether reads may be answered by the cache (``verify`` asks the registry).
        self._cached = cached
        #: Digests this repository holds, as far as this run learnt from the registry:
        #: what it answered for, and what those manifests name (a registry takes a
        #: manifest only when it holds all it names). Only these are read from the cache;
        #: another digest is asked about first (a HEAD), so that the cache never answers
        #: for a repository, or a registry, that does not hold the bytes.
        self._held: set[str] = set()
        self._uploads = Uploads(client, repository, self._push, chunk_size=upload_chunk_size)
        #: Whether the registry has the referrers API (``None``: not asked yet).
        self._referrers_api: bool | None = None
        #: Referrers the registry said (``OCI-Subject``) it lists under their subject.
        self._listed_referrers: set[Digest] = set()

    @property
    def location(self) -> str:
        return f"{self.client.registry}/{self.repository}"

    def __repr__(self) -> str:
        return f"RegistryStore({self.location!r})"

    @property
    def meter(self) -> RequestMeter:
        return self.client.meter

    def without_cache(self) -> RegistryStore:
        """This repository, every read asked of the registry (what ``verify`` needs:
        the cache says what bytes are, not that the registry still holds them)."""
        return RegistryStore(self.client, self.repository, cached=False)

    @property
    def _cache(self) -> Cache | None:
        return self.client.cache if self._cached else None

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

    def resolve(self, identifier: str, *, fetch: bool = True) -> Descriptor:
        """The descriptor of the manifest at ``identifier``: a HEAD, or a GET when the
        HEAD's answer is bare (``fetch=False``: the GET bypasses the cache)."""
        response = self.client.request(
            "HEAD",
            self._path("manifests", identifier),
            scopes=self._pull,
            headers={"Accept": ACCEPT},
            expect=status_in(200, 404),
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
            if not fetch:
                return self._get_manifest(identifier, self.client.budget()).descriptor()
            return self.get_manifest(identifier).descriptor()
        return Descriptor(media_type, Digest.parse(header_digest), length)

    def get_manifest(self, identifier: str) -> Manifest:
        """The manifest at ``identifier``. With a cache, one named by digest is read from
        it when it is there, and a tag whose last digest is there costs a HEAD instead of
        a GET (Docker Hub does not count HEADs against its pull limit)."""
        cache = self._cache
        digest = identifier if is_digest(identifier) else None
        if cache is not None:
            known = digest if digest is not None else cache.tag_hint(self._where(identifier))
            if known is not None and cache.has_content(known) and known not in self._held:
                digest = self.resolve(identifier, fetch=False).digest  # held here, now?
                self._held.add(digest)
            cached = None if digest is None else self._cached_manifest(digest)
            if cached is not None:
                self._hold(cached)
                if digest != identifier:
                    cache.hint_tag(self._where(identifier), cached.digest)
                return cached
        budget = self.client.budget()
        while True:  # bounded: the budget says no once the retries are spent
            try:
                manifest = self._get_manifest(digest or identifier, budget)
                break
            except NetworkError as err:
                # A body that broke off on the way: the whole GET again.
                if not budget.again(f"get {self._where(identifier)}", err):
                    raise
        self._hold(manifest)
        if cache is not None:
            cache.keep_content(manifest.digest, manifest.media_type, manifest.raw)
            if not is_digest(identifier):
                cache.hint_tag(self._where(identifier), manifest.digest)
        return manifest

    def _cached_manifest(self, digest: str) -> Manifest | None:
        """The cache's manifest for ``digest``, checked as one fetched would be; its kind
        is what the bytes say, never the media type written beside them (a manifest
        without ``mediaType`` is an OCI one: Docker's always say theirs)."""
        assert self._cache is not None
        if digest not in self._held:
            return None
        found = self._cache.content(digest)
        if found is None:
            return None
        try:
            return parse_manifest(found[1], None, digest=digest)
        except ContentError:
            self._cache.forget(digest)  # the right bytes, but no manifest: fetched instead
            return None

    def _hold(self, manifest: Manifest) -> None:
        """``manifest`` is in this repository, so is all it names."""
        held = self._held
        held.add(manifest.digest)
        if isinstance(manifest, ImageIndex):
            held.update(entry.digest for entry in manifest.manifests)
        elif isinstance(manifest, ImageManifest):
            held.update(blob.digest for blob in manifest.blobs)

    def _get_manifest(self, identifier: str, budget: RetryBudget) -> Manifest:
        with contextlib.closing(
            self.client.request(
                "GET",
                self._path("manifests", identifier),
                scopes=self._pull,
                headers={"Accept": ACCEPT},
                stream=True,
                expect=status_in(200, 404),
                what=f"get {self._where(identifier)}",
                budget=budget,
            )
        ) as response:
            if response.status_code == 404:
                raise self._not_found(identifier, response)
            data = read_limited(
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
        self._put_manifest(manifest, tag, {})
        return manifest.descriptor()

    def put_manifest_if(self, manifest: Manifest, *, tag: str, current: Digest | None) -> bool:
        """:meth:`put_manifest` with ``If-Match`` (the tag's digest, distribution's ETag)
        or ``If-None-Match: *``: a registry that honours them answers 412 when the tag
        moved. Distribution 2.8 ignores them: the put is then unconditional."""
        condition = {"If-None-Match": "*"} if current is None else {"If-Match": f'"{current}"'}
        return self._put_manifest(manifest, tag, condition)

    def _put_manifest(self, manifest: Manifest, tag: str | None, condition: dict[str, str]) -> bool:
        """The PUT; ``False`` when the registry refused it for ``condition`` (412)."""
        identifier = tag if tag is not None else manifest.digest
        which = manifest.media_type + (f" {manifest.digest}" if tag is not None else "")
        what = f"push manifest {self._where(identifier)} ({which})"
        for wait in (*LINK_RACE_WAITS, None):  # bounded
            try:
                response = self.client.request(
                    "PUT",
                    self._path("manifests", identifier),
                    scopes=self._push,
                    headers={"Content-Type": manifest.media_type, **condition},
                    content=manifest.raw,
                    expect=status_in(200, 201, 202, 412) if condition else status_in(200, 201, 202),
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
                if err.status in (400, 500) and _names_urls(manifest):
                    # Distribution 2.8 answers 500 (UNKNOWN, MANIFEST_BLOB_UNKNOWN).
                    err.hint = _refused_urls_hint(self.client.registry)
                raise
        if response.status_code == 412:
            response.close()
            return False
        self._hold(manifest)
        if manifest.subject is not None and response.headers.get("OCI-Subject") == str(
            manifest.subject.digest
        ):
            self._listed_referrers.add(manifest.digest)
            self._referrers_api = True
        stored = response.headers.get("Docker-Content-Digest")
        if stored and stored != manifest.digest:
            raise DigestMismatchError(
                f"{self.client.registry} stored the manifest pushed to {self._where(identifier)} "
                f"as {stored}, not {manifest.digest}: it changed the bytes",
                expected=manifest.digest,
                actual=stored,
            )
        return True

    # -- referrers -------------------------------------------------------------------------

    def lists_referrer(self, referrer: Digest) -> bool:
        return referrer in self._listed_referrers

    def list_referrers(self, subject: Digest) -> list[Descriptor] | None:
        """The referrers API's list (``Link`` pagination, bounded); ``None`` once the
        registry answered 404, which the spec keeps for registries without the API: it is
        not asked again through this store."""
        if self._referrers_api is False:
            return None
        url = f"/v2/{self.repository}/referrers/{Digest.parse(str(subject))}"
        what = f"referrers of {self.location}@{subject}"
        pages: set[str] = set()
        entries: dict[Digest, Descriptor] = {}
        for _ in range(MAX_REFERRER_PAGES):  # bounded: the registry makes up the pages
            with contextlib.closing(
                self.client.request(
                    "GET",
                    url,
                    scopes=self._pull,
                    headers={"Accept": mt.OCI_INDEX},
                    stream=True,
                    expect=status_in(200, 404),
                    what=f"list {what}",
                )
            ) as response:
                if response.status_code == 404:
                    self._referrers_api = False
                    return None
                self._referrers_api = True
                pages.add(response.request.url)
                data = read_limited(response, MAX_MANIFEST_SIZE, what, self.client.registry)
            listing = parse_manifest(data, response.headers.get("Content-Type"))
            if listing.media_type != mt.OCI_INDEX or not isinstance(listing, ImageIndex):
                raise InvalidManifestError(
                    f"{self.client.registry} lists the {what} as a {listing.media_type}, not "
                    "an OCI index"
                )
            for entry in listing.manifests:
                entries.setdefault(entry.digest, entry)
            if len(entries) > MAX_REFERRERS:
                raise ContentError(
                    f"{self.client.registry} lists more than {MAX_REFERRERS} {what}; "
                    "polyarch stops there"
                )
            following = self._next_page(response, pages, what)
            if following is None:
                return list(entries.values())
            url = following
        raise ContentError(
            f"{self.client.registry} sends more than {MAX_REFERRER_PAGES} pages of {what}; "
            "polyarch stops there"
        )

    def delete(self, identifier: str) -> None:
        digest = identifier if is_digest(identifier) else self.resolve(identifier).digest
        response = self.client.request(
            "DELETE",
            self._path("manifests", digest),
            scopes=(repository_scope(self.repository, "delete"), *self._push),
            expect=status_in(200, 202, 404, 405),
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
                expect=status_in(200, 404),
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
            following = self._next_page(response, pages, f"tags of {self.location}")
            if following is None:
                return
            url = following
        raise ContentError(
            f"{self.client.registry} sends more than {MAX_TAG_PAGES} pages of tags for "
            f"{self.location}; polyarch stops there"
        )

    def _next_page(self, response: Response, pages: set[str], what: str) -> str | None:
        """The URL of the page after ``response``'s (its ``Link``), ``None`` for the last.

        :raises ContentError: a link that is no URL, or back to one of ``pages``.
        """
        link = _LINK_NEXT_RE.search(response.headers.get("Link", ""))
        if link is None:
            return None
        try:
            url = join_url(response.request.url, link.group(1)).url
        except BadURLError as err:
            raise ContentError(
                f"{self.client.registry} links the next page of {what} to {err}"
            ) from None
        if url in pages:
            raise ContentError(
                f"{self.client.registry} links the {what} back to a page already read "
                f"({without_query(url)}): the list would never end"
            )
        return url

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
            expect=status_in(200, 404),
            what=f"check blob {digest} in {self.location}",
        )
        if response.status_code != 200:
            return False
        self._saw(digest)
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
        def get(offset: int, budget: RetryBudget) -> Response:
            """A blob GET, from byte ``offset`` on (a range request) when it is not 0."""
            response = self.client.request(
                "GET",
                self._path("blobs", descriptor.digest),
                scopes=self._pull,
                headers={"Range": f"bytes={offset}-"} if offset else None,
                stream=True,
                expect=status_in(200, 206, 404) if offset else status_in(200, 404),
                what=f"get blob {descriptor.digest} from {self.location}",
                budget=budget,
            )
            return checked_blob_response(
                response, descriptor, offset, where=self.location, registry=self.client.registry
            )

        body = BlobDownload(
            descriptor,
            get,
            self.client.budget(),
            where=self.location,
            registry=self.client.registry,
        )
        try:
            body.open()
            verifier = DigestVerifier(descriptor.digest, descriptor.size)
            yield verifier.wrap(body)
        finally:
            body.close()

    def get_blob(self, descriptor: Descriptor) -> bytes:
        """The whole blob; a small one (a config) from the cache when it is there."""
        cache = self._cache
        small = cache is not None and descriptor.size <= MAX_ENTRY
        # From the cache when held here: named by a manifest held here, or found by a HEAD.
        if (
            small
            and cache is not None
            and cache.has_content(descriptor.digest)
            and (descriptor.digest in self._held or self.has_blob(descriptor))
        ):
            self._held.add(descriptor.digest)
            found = cache.content(descriptor.digest)
            if found is not None:
                return found[1]
        with self.open_blob(descriptor) as chunks:
            data = b"".join(chunks)
        if small and cache is not None:
            cache.keep_content(descriptor.digest, descriptor.media_type, data)
        return data

    def mount_origin(self, descriptor: Descriptor, source: Store) -> str | None:
        if (
            isinstance(source, RegistryStore)
            and source.client is self.client
            and source.repository != self.repository
        ):
            return source.repository
        cache = self.client.cache
        places = [] if cache is None else cache.places(self.client.registry, descriptor.digest)
        if self.repository in places[:1]:
            return None  # seen here last: a HEAD says whether it still is
        return next((r for r in places if r != self.repository), None)

    def mount_blob(self, descriptor: Descriptor, source: Store) -> bool:
        """Link a blob from another repository of the same registry, without a copy
        (:meth:`mount_origin` says which). ``False`` when there is none, or the registry
        refused (then it may have begun the upload, which :meth:`put_blob` goes on with)."""
        origin = self.mount_origin(descriptor, source)
        if origin is None:
            return False
        budget = self.client.budget()
        try:
            response = self.client.request(
                "POST",
                f"/v2/{self.repository}/blobs/uploads/",
                params={"mount": descriptor.digest, "from": origin},
                budget=budget,
                scopes=(*self._push, repository_scope(origin, "pull")),
                expect=status_in(201, 202),
                what=f"mount blob {descriptor.digest} into {self.location}",
            )
        except RegistryError as err:
            if not transient(err) or budget.exhausted:
                raise
            # A mount is a shortcut: the ordinary way (a HEAD, then an upload) retries.
            log.info("mount of %s into %s failed (%s); copying it", descriptor.digest, self, err)
            return False
        if response.status_code == 201:
            self._saw(descriptor.digest)
            return True
        self._uploads.remember(descriptor.digest, response)
        return False

    def put_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        """Upload a blob, verifying ``chunks`` against the descriptor as they go.

        A failed upload is restarted from a new upload session when that is possible:
        ``chunks`` not begun yet, or ``chunks`` that can be iterated again (a list, or an
        object whose ``__iter__`` re-opens its source, as the copy's blob sources do).
        """
        self._uploads.put(descriptor, chunks, verify=True)
        self._saw(descriptor.digest)

    def put_verified_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        """:meth:`put_blob` for ``chunks`` that verify themselves, as those of another
        store's ``open_blob(descriptor)`` do: they raise before they end when the bytes are
        not the descriptor's. A copy would otherwise hash every byte twice."""
        self._uploads.put(descriptor, chunks, verify=False)
        self._saw(descriptor.digest)

    def _saw(self, digest: str) -> None:
        """Tell the cache ``digest`` is here, for a later mount into a sibling."""
        if self.client.cache is not None:
            self.client.cache.saw(self.client.registry, self.repository, digest)


def _names_urls(manifest: Manifest) -> bool:
    """Whether an image manifest has a layer that names URLs (a non-distributable one)."""
    return isinstance(manifest, ImageManifest) and any(layer.urls for layer in manifest.layers)


def _refused_urls_hint(registry: str) -> str:
    return (
        f"the manifest has layers that name URLs (non-distributable, foreign layers), and "
        f"{registry} may refuse such manifests: CNCF distribution does unless its "
        "configuration allows those URLs (validation.manifests.urls.allow)"
    )


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
