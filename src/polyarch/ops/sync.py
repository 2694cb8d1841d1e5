"""``sync``: mirror many images and repositories between registries and layouts, from a
file in regsync's shape (or skopeo sync's), with the registry as the only state.

regsync's shape::

    version: 1
    defaults:
      parallel: 4                     # images at once
    sync:
      - source: registry-a.example/team/app
        target: registry-b.example/mirror/app
        type: repository              # every tag the filters keep
        tags:
          allow: ["v1\\..*", "latest"]    # regular expressions, matched whole
          deny: [".*-rc.*"]
          semverRange: [">= 1.2, < 2"]
        platforms: [linux/amd64, linux/arm64]
        attestations: drop            # keep (default), drop or referrers
        referrers: true
      - source: registry-a.example/base:1.0
        target: oci:/srv/mirror/base
        type: image

skopeo sync's shape (``--target`` names the destination; ``--scoped`` keeps the
source's registry and path under it, a port as ``host_5000``, else the last part of the
path is kept)::

    registry-a.example:
      images:
        busybox: []                   # every tag
        redis: ["1.0", "2.0", "sha256:..."]
      images-by-tag-regex:
        nginx: ^1\\.13\\.[12]-alpine-perl$
      images-by-semver:
        alpine: ">= 3.12.0"

A key neither has is an error naming it; so is one regsync or skopeo has that polyarch
does not do (``creds``, ``schedule``, ``credentials``, ...), with what to do instead.
Top-level keys that begin with ``x-`` are left alone: they hold what anchors repeat
(``x-base: &base {...}``, then ``<<: *base`` in an entry).

Every image is a :func:`~polyarch.ops.copy.copy_image`: a second run costs two requests
per image already there (a HEAD at each end), an interrupted one goes on where it
stopped (blobs there are not sent again; a tag moves only when all it names is there).
``--shard I/N`` takes the repositories whose stable hash is ``I`` modulo ``N``: N runs,
anywhere, split one sync with nothing shared but the registries.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from polyarch.errors import (
    ContentError,
    InvalidInputError,
    InvalidPlatformError,
    PolyarchError,
    RegistryError,
    RequestLimitError,
)
from polyarch.location import LayoutLocation, Location, RegistryLocation
from polyarch.ops import DEFAULT_JOBS
from polyarch.ops._yaml import load_yaml, mapping_of, string_of
from polyarch.ops.copy import Attestations, BlobTransfer, CopyProgress, CopyResult, Transfers
from polyarch.platform import Platform

if TYPE_CHECKING:
    from polyarch.digest import Digest
    from polyarch.registry import Registries

__all__ = [
    "DEFAULT_PARALLEL",
    "Shard",
    "SyncEntry",
    "SyncItem",
    "SyncOutcome",
    "SyncProgress",
    "SyncReport",
    "SyncSpec",
    "expand",
    "parse_shard",
    "parse_sync",
    "run_sync",
    "sync",
]

#: Images copied at once, unless the file or ``--parallel`` says otherwise.
DEFAULT_PARALLEL = 4
#: The largest sync file read, the most entries it may have, and the most tags one
#: repository entry may take (a registry makes its tag list up).
MAX_SYNC_FILE = 4 * 1024 * 1024
MAX_ENTRIES = 10_000
MAX_TAGS_PER_REPOSITORY = 100_000

_TOP_KEYS = frozenset({"version", "defaults", "sync"})
_DEFAULT_KEYS = frozenset({"parallel", "platforms", "attestations", "referrers"})
_ENTRY_KEYS = frozenset(
    {"source", "target", "type", "tags", "platform", "platforms", "attestations", "referrers"}
)
_TAG_KEYS = frozenset({"allow", "deny", "semverRange"})
#: regsync's keys polyarch does not do, and what to do instead.
_REGSYNC_ONLY = {
    "creds": "polyarch takes credentials from docker's config: run `polyarch login` or "
    "`docker login`",
    "backup": "polyarch does not keep backups of tags it moves",
    "interval": "run `polyarch sync` from a scheduler (cron, a CI schedule, a Kubernetes CronJob)",
    "schedule": "run `polyarch sync` from a scheduler (cron, a CI schedule, a Kubernetes CronJob)",
    "ratelimit": "use --max-requests to bound what a run spends",
    "hooks": "run commands around `polyarch sync` instead",
    "digestTags": "use referrers: true to carry signatures and attestations",
    "referrerFilters": "polyarch carries every referrer",
    "mediaTypes": "polyarch copies every image and index media type",
    "forceRecursive": "polyarch checks every child it copies already",
    "includeExternal": "use `polyarch copy --include-nondistributable` for such images",
    "fastCopy": "polyarch never copies what is there already",
    "blobLimit": "polyarch streams blobs of any size",
    "skipDockerConfig": "polyarch takes credentials from docker's config",
    "userAgent": "polyarch sends its own User-Agent",
    "cacheCount": "polyarch keeps its cache on disk (--cache-dir)",
    "cacheTime": "polyarch keeps its cache on disk (--cache-dir)",
}
_SKOPEO_KEYS = frozenset({"images", "images-by-tag-regex", "images-by-semver"})
_SKOPEO_ONLY = {
    "credentials": "polyarch takes credentials from docker's config: run `polyarch login`",
    "tls-verify": "pass --insecure for a registry without TLS or with an untrusted one",
    "cert-dir": "pass --certs-dir (HOST/ca.crt, as docker reads them)",
}


@dataclass(frozen=True, slots=True)
class SyncEntry:
    """One entry of a sync file: an image (``type: image``) or a repository's tags."""

    source: str
    target: str
    kind: Literal["image", "repository"] = "repository"
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    semver: tuple[str, ...] = ()
    platforms: tuple[Platform, ...] = ()
    attestations: Attestations = "keep"
    referrers: bool = False

    @property
    def options(self) -> tuple[object, ...]:
        """What a copy of this entry's images is told: two entries that differ in it do
        not write one image."""
        return (self.platforms, self.attestations, self.referrers)

    def keeps(self, tag: str) -> bool:
        """Whether the tag filters keep ``tag``: a semantic-version range first (any of
        them), then an allow pattern (any; all when none), then no deny pattern. Patterns
        are Go's (RE2), matched whole as regsync anchors them, in time linear in the tag."""
        if self.semver and not any(_range(r)(tag) for r in self.semver):
            return False
        if self.allow and not any(_pattern(p)(tag) for p in self.allow):
            return False
        return not any(_pattern(p)(tag) for p in self.deny)


@functools.lru_cache(maxsize=1024)
def _pattern(text: str) -> Callable[[str], bool]:
    from polyarch.ops._patterns import compile_pattern

    return compile_pattern(text)


@functools.lru_cache(maxsize=1024)
def _range(text: str) -> Callable[[str], bool]:
    from polyarch.ops._semver import parse_range

    return parse_range(text)


@dataclass(frozen=True, slots=True)
class SyncSpec:
    entries: tuple[SyncEntry, ...]
    parallel: int | None = None


@dataclass(frozen=True, slots=True)
class Shard:
    """Share ``index`` of ``count`` (0 <= index < count)."""

    index: int
    count: int

    def takes(self, repository: str) -> bool:
        number = int.from_bytes(hashlib.sha256(repository.encode()).digest()[:8], "big")
        return number % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``I/N``: share I (from 0) of N.

    :raises InvalidInputError: anything else.
    """
    match = re.fullmatch(r"(\d{1,6})/(\d{1,6})", text.strip())
    if match is None or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise InvalidInputError(
            f"--shard {text!r} is not I/N with 0 <= I < N",
            hint="N runs take the shards 0/N, 1/N, ... (N-1)/N",
        )
    return Shard(int(match.group(1)), int(match.group(2)))


# -- the file ----------------------------------------------------------------------------


def parse_sync(
    text: str, *, where: str, target: str | None = None, scoped: bool = False
) -> SyncSpec:
    """A sync file: regsync's shape (a top-level ``sync:`` list), or skopeo sync's (a
    mapping of registries), which needs ``target``.

    :raises InvalidInputError: not YAML, a key the shape does not have, a value of the
        wrong type, an invalid pattern, range or platform; ``where`` names the file.
    """
    document = load_yaml(text, where=where)
    if isinstance(document, dict) and "sync" in document:
        if target is not None:
            raise InvalidInputError(
                f"{where} is in regsync's shape: each entry names its target, --target is "
                "for skopeo sync's"
            )
        return _regsync(document, where)
    if isinstance(document, dict) and document:
        if target is None:
            raise InvalidInputError(
                f"{where} has no top-level 'sync' list (regsync's shape); as skopeo sync's "
                "shape it needs --target",
                hint="regsync's shape: sync: [{source: ..., target: ..., type: repository}]",
            )
        return _skopeo(document, where, target, scoped)
    raise InvalidInputError(f"{where}: a sync file is a mapping with a 'sync' list")


def _refuse_foreign_keys(
    value: Mapping[str, Any], where: str, what: str, foreign: Mapping[str, str]
) -> None:
    for key in value:
        if key in foreign:
            raise InvalidInputError(
                f"{where}: {what} has {key!r}, which polyarch does not do", hint=foreign[key]
            )


def _regsync(document: Mapping[str, Any], where: str) -> SyncSpec:
    _refuse_foreign_keys(document, where, "the file", _REGSYNC_ONLY)
    # x-... keys hold what anchors (&name) repeat, as in compose files: no setting.
    own = {key: value for key, value in document.items() if not str(key).startswith("x-")}
    top = mapping_of(own, where, "the file", _TOP_KEYS)
    version = top.get("version", 1)
    if type(version) is not int or version != 1:
        raise InvalidInputError(f"{where}: version {_said(version)} is not 1, the one there is")
    defaults_value = top.get("defaults")
    defaults_value = {} if defaults_value is None else defaults_value
    if isinstance(defaults_value, dict):
        _refuse_foreign_keys(defaults_value, where, "defaults", _REGSYNC_ONLY)
    defaults = mapping_of(defaults_value, where, "defaults", _DEFAULT_KEYS)
    parallel = defaults.get("parallel")
    if parallel is not None and (type(parallel) is not int or not 1 <= parallel <= 64):
        raise InvalidInputError(f"{where}: defaults.parallel must be a number from 1 to 64")
    entries = top.get("sync")
    if not isinstance(entries, list) or not entries:
        raise InvalidInputError(f"{where}: sync must be a list of entries, one at least")
    if len(entries) > MAX_ENTRIES:
        raise InvalidInputError(f"{where}: more than {MAX_ENTRIES} entries")
    parsed = []
    for number, value in enumerate(entries, start=1):
        what = f"sync[{number}]"
        if isinstance(value, dict):
            _refuse_foreign_keys(value, where, what, _REGSYNC_ONLY)
        entry = mapping_of(value, where, what, _ENTRY_KEYS)
        merged = {key: value for key, value in defaults.items() if key != "parallel"}
        if "platform" in entry:
            merged.pop("platforms", None)
        parsed.append(_entry({**merged, **entry}, where, what))
    return SyncSpec(tuple(parsed), parallel)


def _entry(entry: Mapping[str, Any], where: str, what: str) -> SyncEntry:
    source = string_of(entry.get("source"), where, f"{what}.source")
    target = string_of(entry.get("target"), where, f"{what}.target")
    kind = entry.get("type", "repository")
    if kind not in ("image", "repository"):
        raise InvalidInputError(
            f"{where}: {what}.type must be image or repository, not {_said(kind)}"
        )
    tags_value = entry.get("tags")
    tags = mapping_of({} if tags_value is None else tags_value, where, f"{what}.tags", _TAG_KEYS)
    if tags and kind == "image":
        raise InvalidInputError(f"{where}: {what} is an image: tags filter repositories only")
    allow = _patterns(tags.get("allow"), where, f"{what}.tags.allow")
    deny = _patterns(tags.get("deny"), where, f"{what}.tags.deny")
    semver = _ranges(tags.get("semverRange"), where, f"{what}.tags.semverRange")
    platforms = _platforms(entry, where, what)
    attestations = entry.get("attestations", "keep")
    if attestations not in ("keep", "drop", "referrers"):
        raise InvalidInputError(
            f"{where}: {what}.attestations must be keep, drop or referrers, not "
            f"{_said(attestations)}"
        )
    referrers = entry.get("referrers", False)
    if not isinstance(referrers, bool):
        raise InvalidInputError(f"{where}: {what}.referrers must be true or false")
    source_location = _location(source, where, f"{what}.source")
    target_location = _location(target, where, f"{what}.target")
    if target_location.digest is not None:
        raise InvalidInputError(f"{where}: {what}.target names a digest: a copy goes under a tag")
    if kind == "repository":
        for name, location in (("source", source_location), ("target", target_location)):
            if location.identifier is not None:
                raise InvalidInputError(
                    f"{where}: {what}.{name} names a tag or digest: a repository entry "
                    "copies the tags of a repository",
                    hint="type: image copies one image",
                )
    return SyncEntry(
        source,
        target,
        kind,
        allow,
        deny,
        semver,
        platforms,
        cast("Attestations", attestations),
        referrers,
    )


def _said(value: object) -> str:
    """``value`` as a message quotes it: a short string, or what kind of thing it is (the
    repr of a YAML alias bomb would be gigabytes)."""
    if isinstance(value, str):
        return repr(value[:60]) + ("..." if len(value) > 60 else "")
    if isinstance(value, bool | int | float) or value is None:
        return repr(value)[:60]
    return f"a {type(value).__name__}"


def _patterns(value: object, where: str, what: str) -> tuple[str, ...]:
    items = _strings(value, where, what)
    for pattern in items:
        try:
            _pattern(pattern)
        except InvalidInputError as err:
            raise InvalidInputError(f"{where}: {what}: {err}") from None
    return items


def _ranges(value: object, where: str, what: str) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else _strings(value, where, what)
    for text in items:
        try:
            _range(text)
        except InvalidInputError as err:
            raise InvalidInputError(f"{where}: {what}: {err}") from None
    return items


def _strings(value: object, where: str, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInputError(f"{where}: {what} must be a list of strings")
    return tuple(value)


def _platforms(entry: Mapping[str, Any], where: str, what: str) -> tuple[Platform, ...]:
    given = entry.get("platforms")
    one = entry.get("platform")
    if one is not None:
        if given is not None:
            raise InvalidInputError(f"{where}: {what} has both platform and platforms")
        given = [one]
    texts = _strings(given, where, f"{what}.platforms")
    try:
        return tuple(Platform.parse(text) for text in texts)
    except InvalidPlatformError as err:
        raise InvalidInputError(f"{where}: {what}: {err}") from err


def _location(text: str, where: str, what: str) -> Location:
    from polyarch.schemes import parse_location

    try:
        location = parse_location(text, default_tag=None)
    except InvalidInputError as err:
        raise InvalidInputError(f"{where}: {what}: {err}") from err
    if not isinstance(location, (RegistryLocation, LayoutLocation)):
        raise InvalidInputError(f"{where}: {what}: sync reads and writes registries and layouts")
    return location


def _skopeo(document: Mapping[str, Any], where: str, target: str, scoped: bool) -> SyncSpec:
    from polyarch.reference import Reference

    base = target.rstrip("/")
    entries: list[SyncEntry] = []
    for registry, value in document.items():
        what = f"{registry!s}"
        if not isinstance(value, dict):
            raise InvalidInputError(f"{where}: {what} must be a mapping")
        _refuse_foreign_keys(value, where, what, _SKOPEO_ONLY)
        section = mapping_of(value, where, what, _SKOPEO_KEYS)
        for kind_key, images in section.items():
            if not isinstance(images, dict):
                raise InvalidInputError(f"{where}: {what}.{kind_key} must be a mapping")
            for name, wanted in images.items():
                source = f"{registry}/{name}"
                try:
                    reference = Reference.parse(source, default_tag=None)
                except InvalidInputError as err:
                    raise InvalidInputError(f"{where}: {what}.{kind_key}: {err}") from err
                # A port's colon cannot stand in a path: host:5000 is kept as host_5000.
                scope = f"{reference.registry.replace(':', '_')}/{reference.repository}"
                path = scope if scoped else reference.repository.rsplit("/", 1)[-1]
                destination = f"{base}/{path}"
                item = f"{what}.{kind_key}.{name}"
                if kind_key == "images":
                    entries.extend(_skopeo_images(source, destination, wanted, where, item))
                    continue
                pattern = string_of(wanted, where, item)
                # skopeo searches (Go's MatchString); regsync's allow is matched whole.
                tags = (
                    {"allow": [f".*(?:{pattern}).*"]}
                    if kind_key == "images-by-tag-regex"
                    else {"semverRange": [pattern]}
                )
                wanted_tags = {"source": source, "target": destination, "tags": tags}
                entries.append(_entry(wanted_tags, where, item))
    if not entries:
        raise InvalidInputError(f"{where} names no image")
    return SyncSpec(tuple(entries))


def _skopeo_images(
    source: str, destination: str, wanted: object, where: str, what: str
) -> list[SyncEntry]:
    names = _strings(wanted, where, what) if wanted is not None else ()
    if not names:
        return [_entry({"source": source, "target": destination}, where, what)]
    entries = []
    for name in names:
        if ":" in name:
            raise InvalidInputError(
                f"{where}: {what}: {name!r} is a digest; polyarch sync mirrors tags",
                hint="name the tag, or copy it alone: polyarch copy SOURCE@DIGEST TARGET:TAG",
            )
        entries.append(
            _entry(
                {"source": f"{source}:{name}", "target": destination, "type": "image"}, where, what
            )
        )
    return entries


# -- the work ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyncItem:
    """One image to copy: ``source`` to ``target``, parsed once (a layout's tag may hold
    a ``:`` or a ``/``: written out and read again, it would name another place)."""

    source: Location
    target: Location
    entry: SyncEntry


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """What became of one item: its copy's result, or the error that stopped it; in a
    dry run, the digests at either end instead."""

    item: SyncItem
    result: CopyResult | None = None
    error: PolyarchError | None = None
    source_digest: Digest | None = None
    target_digest: Digest | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "failed"
        if self.result is None:
            return "up to date" if self.source_digest == self.target_digest else "would copy"
        return "up to date" if self.result.there and not self.result.referrers else "copied"


@dataclass
class SyncReport:
    """What a sync did: an outcome per image begun, the entries whose tags could not be
    listed, and how many images there were to do."""

    outcomes: list[SyncOutcome] = field(default_factory=list)
    #: Entries whose tags could not be listed.
    failed_entries: list[tuple[SyncEntry, PolyarchError]] = field(default_factory=list)
    #: Images the entries named (those not begun: ``--max-requests`` was spent).
    items: int = 0

    @property
    def not_begun(self) -> int:
        return self.items - len(self.outcomes)

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    def blobs(self, how: BlobTransfer) -> int:
        return sum(o.result.blobs.get(how, 0) for o in self.outcomes if o.result is not None)

    @property
    def errors(self) -> list[PolyarchError]:
        return [e for _, e in self.failed_entries] + [
            o.error for o in self.outcomes if o.error is not None
        ]


class SyncProgress(CopyProgress):
    """A copy's progress (every image's blobs), and each image as it is done."""

    def image_done(self, outcome: SyncOutcome) -> None:
        """An item was copied, found up to date, or failed."""


def repository_of(text: str) -> str:
    """What a shard is chosen by: a location's repository (registry and path), or its
    layout directory, without tag or digest."""
    location = _parsed(text)
    if isinstance(location, RegistryLocation):
        return location.reference.name
    if isinstance(location, LayoutLocation):
        return f"oci:{location.path}"
    return text


def expand(
    spec: SyncSpec,
    *,
    registries: Registries,
    shard: Shard | None = None,
    jobs: int = DEFAULT_JOBS,
) -> tuple[list[SyncItem], list[tuple[SyncEntry, PolyarchError]]]:
    """Every image the entries of ``shard`` name: an image entry's own, a repository
    entry's tags that its filters keep (listed at the source). An entry whose tags cannot
    be listed, or a tag that is none where it goes, is returned beside the items, with
    why; the rest go on.

    :raises InvalidInputError: two entries write one target tag, from other sources or
        with other options: which one the tag ends at would depend on which ran last.
    """
    mine = [e for e in spec.entries if shard is None or shard.takes(repository_of(e.source))]
    failed: list[tuple[SyncEntry, PolyarchError]] = []
    lock = threading.Lock()

    def items_of(entry: SyncEntry) -> list[SyncItem]:
        source, target = _parsed(entry.source), _parsed(entry.target)
        if entry.kind == "image":
            return [SyncItem(source, target, entry)]
        found: list[SyncItem] = []
        try:
            tags = _tags(source, registries)
        except PolyarchError as err:
            with lock:
                failed.append((entry, err))
            return found
        for tag in filter(entry.keeps, tags):
            try:
                found.append(SyncItem(_with_tag(source, tag), _with_tag(target, tag), entry))
            except ContentError as err:  # one tag that cannot be written stops no other
                with lock:
                    failed.append((entry, err))
        return found

    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(mine) or 1))) as pool:
        lists = list(pool.map(items_of, mine))
    chosen: dict[str, SyncItem] = {}
    for item in (i for found in lists for i in found):
        other = chosen.setdefault(str(item.target), item)
        if other is item:
            continue
        if (str(other.source), other.entry.options) != (str(item.source), item.entry.options):
            raise InvalidInputError(
                f"two entries write {item.target}: from {other.source} and from {item.source}"
                + ("" if str(other.source) != str(item.source) else ", with other options"),
                hint="give each its own target, or filter the tags so that they do not meet",
            )
    return list(chosen.values()), failed


def _parsed(text: str) -> Location:
    from polyarch.schemes import parse_location

    return parse_location(text, default_tag=None)


def _tags(location: Location, registries: Registries) -> list[str]:
    from polyarch.schemes import open_store

    tags: list[str] = []
    for tag in open_store(location, registries=registries).iter_tags():
        if len(tags) >= MAX_TAGS_PER_REPOSITORY:
            raise RegistryError(f"{location} lists more than {MAX_TAGS_PER_REPOSITORY} tags")
        tags.append(tag)
    return tags


def _with_tag(location: Location, tag: str) -> Location:
    """``location`` with ``tag``.

    :raises ContentError: ``tag`` is no tag of a registry (a layout's ``ref.name`` can be
        any string, a registry's list should not be).
    """
    if isinstance(location, RegistryLocation):
        try:
            return RegistryLocation(location.reference.with_tag(tag))
        except InvalidInputError as err:
            raise ContentError(f"{str(tag)[:100]!r} is no tag {location} can hold: {err}") from None
    assert isinstance(location, LayoutLocation)
    return location.with_tag(tag)


def run_sync(
    items: Sequence[SyncItem],
    *,
    registries: Registries,
    parallel: int = DEFAULT_PARALLEL,
    jobs: int = DEFAULT_JOBS,
    dry_run: bool = False,
    progress: SyncProgress | None = None,
) -> list[SyncOutcome]:
    """Copy every item, ``parallel`` images at once, each with ``jobs`` transfers at once.
    A failed item does not stop the others; its error is in its outcome. Once the
    requests a run may send are spent (:class:`RequestLimitError`), the items not begun
    are left out. In a dry run, each item's digests are compared instead (nothing is
    written).
    """
    from polyarch.ops import images

    report = progress or SyncProgress()
    shared = Transfers()  # tags of one digest share every blob: each moves once
    lock = threading.Lock()
    outcomes: dict[int, SyncOutcome] = {}
    spent = threading.Event()

    def one(numbered: tuple[int, SyncItem]) -> None:
        number, item = numbered
        if spent.is_set():
            return
        entry = item.entry
        try:
            if dry_run:
                now, would = images.copy_digests(
                    item.source,
                    item.target,
                    registries=registries,
                    platforms=entry.platforms,
                    attestations=entry.attestations,
                )
                outcome = SyncOutcome(item, source_digest=would, target_digest=now)
            else:
                result = images.copy(
                    item.source,
                    item.target,
                    registries=registries,
                    platforms=entry.platforms,
                    attestations=entry.attestations,
                    referrers=entry.referrers,
                    jobs=jobs,
                    progress=report,
                    shared=shared,
                )
                outcome = SyncOutcome(item, result)
        except PolyarchError as err:
            if isinstance(err, RequestLimitError):
                spent.set()
            outcome = SyncOutcome(item, error=err)
        with lock:
            outcomes[number] = outcome
        report.image_done(outcome)

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        list(pool.map(one, enumerate(items)))
    return [outcomes[n] for n in sorted(outcomes)]


def sync(
    spec: SyncSpec,
    *,
    registries: Registries | None = None,
    shard: Shard | None = None,
    parallel: int | None = None,
    jobs: int = DEFAULT_JOBS,
    dry_run: bool = False,
    progress: SyncProgress | None = None,
) -> SyncReport:
    """Mirror what ``spec`` names (:func:`parse_sync` reads regsync's and skopeo sync's
    files): its images, ``parallel`` at once (default: the spec's, else
    :data:`DEFAULT_PARALLEL`), each a :func:`polyarch.ops.images.copy`; only the
    repositories of ``shard`` when given. A failed image does not stop the others: its
    error is in its outcome."""
    from polyarch.ops.images import registries_for

    with registries_for(registries) as run:
        items, failed = expand(spec, registries=run, shard=shard, jobs=jobs)
        outcomes = run_sync(
            items,
            registries=run,
            parallel=parallel or spec.parallel or DEFAULT_PARALLEL,
            jobs=jobs,
            dry_run=dry_run,
            progress=progress,
        )
        return SyncReport(outcomes, failed, len(items))
