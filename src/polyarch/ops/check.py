"""``lint`` and ``verify``: what is wrong with an index or image as stored, each finding
with a severity and a stable code, written once against :class:`~polyarch.store.Store`.

``lint`` reads what a runtime reads (every child, every config, once each) and judges
it: labels against configs, platforms against the ones images are built for, formats
against each other. ``verify`` asks what a pull needs: the tag at the digest expected,
every child there, every blob there (HEAD, nothing downloaded), each config saying the
platform its entry says. Both stop at nothing: a missing child is a finding, and the
other children are still looked at.

Codes (stable: scripts match on them):

=============================  =======  ===============================================
``missing-manifest``           error    an entry names a manifest the store lacks
``size-mismatch``              error    a manifest or blob is not the size named
``digest-mismatch``            error    bytes that are not those of their digest
``invalid-manifest``           error    a child that is no valid manifest
``media-type-mismatch``        error    an entry's type is not the child's own
``missing-config``             error    an image's config blob is missing
``platform-mismatch``          error    the entry's os/architecture is not the config's
``duplicate-platform``         error    two images for one platform
``dangling-attestation``       error    an attestation of an image the index lacks
``annotations-in-docker-list`` error    a Docker list cannot carry annotations
``missing-platform``           error    a platform ``--require`` asks for is not there
``unexpected-digest``          error    the tag is not at the digest ``--digest`` says
``missing-blob``               error    a layer or config the registry lacks
``variant-mismatch``           warning  the entry's variant is not the config's
``os-version-mismatch``        warning  the entry's os.version is not the config's
``unknown-platform``           warning  no image is built for that os/arch/variant
``noncanonical-platform``      warning  spelled otherwise than indexes spell it
``uncommon-variant``           warning  a variant few hosts report: most are not offered it
``windows-without-os-version`` warning  a Windows entry without ``os.version``
``no-platform``                warning  an entry without a platform
``mixed-formats``              warning  Docker manifests in an OCI index, or the reverse
=============================  =======  ===============================================
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.errors import (
    BlobNotFoundError,
    ContentError,
    DigestMismatchError,
    ManifestNotFoundError,
    SizeMismatchError,
)
from polyarch.models import (
    MAX_INDEX_DEPTH,
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    Manifest,
)
from polyarch.ops import DEFAULT_JOBS
from polyarch.ops.walk import Walk
from polyarch.platform import (
    Platform,
    format_all,
    matches_strict,
    normalize,
    suggest_architecture,
    unusual_platform,
)
from polyarch.store import Store, uncached

__all__ = ["Finding", "Report", "Severity", "lint", "verify"]

Severity = Literal["error", "warning"]

#: What each code is: an error or a warning.
SEVERITY: dict[str, Severity] = {
    **{
        code: "error"
        for code in (
            "missing-manifest",
            "size-mismatch",
            "digest-mismatch",
            "invalid-manifest",
            "media-type-mismatch",
            "missing-config",
            "platform-mismatch",
            "duplicate-platform",
            "dangling-attestation",
            "annotations-in-docker-list",
            "missing-platform",
            "unexpected-digest",
            "missing-blob",
        )
    },
    **{
        code: "warning"
        for code in (
            "variant-mismatch",
            "os-version-mismatch",
            "unknown-platform",
            "noncanonical-platform",
            "uncommon-variant",
            "windows-without-os-version",
            "no-platform",
            "mixed-formats",
        )
    },
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong: its code (see the module docstring), where, and what."""

    code: str
    where: str
    message: str

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.code]

    def to_json(self) -> dict[str, str]:
        return {
            "severity": self.severity,
            "code": self.code,
            "where": self.where,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """What a lint or a verify found in ``reference`` (at ``digest``)."""

    reference: str
    digest: Digest
    findings: tuple[Finding, ...]
    #: Manifests, configs and blobs looked at.
    checked: int = 0

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    def exit_code(self, *, strict: bool = False) -> int:
        """6 with errors (bad content), 1 with warnings when ``strict``, else 0."""
        if self.errors:
            return 6
        return 1 if strict and self.warnings else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "digest": str(self.digest),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "checked": self.checked,
            "findings": [f.to_json() for f in self.findings],
        }


@dataclass
class _Checking:
    """One run's findings, gathered from worker threads."""

    walk: Walk
    judge: bool
    blobs: bool
    findings: list[Finding] = field(default_factory=list)
    checked: int = 0
    _seen_blobs: set[Digest] = field(default_factory=set)
    #: Each child looked at once however many entries name it (a hostile index names
    #: one child thousands of times, at every level): what was found, by digest.
    _children: dict[Digest, Future[_Child]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def once(self, digest: Digest, look: Callable[[], _Child]) -> _Child:
        """What ``look`` finds for ``digest``, run by the first to ask; the others wait
        for it (no child names itself: its digest would be its own hash)."""
        with self._lock:
            future = self._children.get(digest)
            first = future is None
            if future is None:
                future = self._children[digest] = Future()
        if first:
            try:
                future.set_result(look())
            except BaseException as err:
                future.set_exception(err)
        return future.result()

    def looked_at(self, digest: Digest) -> _Child | None:
        """What :meth:`once` found for ``digest``; ``None`` when it was not looked at or
        could not be."""
        with self._lock:
            future = self._children.get(digest)
        if future is None or not future.done() or future.exception() is not None:
            return None
        return future.result()

    def add(self, code: str, where: str, message: str) -> None:
        with self._lock:
            self.findings.append(Finding(code, where, message))

    def count(self, n: int = 1) -> None:
        with self._lock:
            self.checked += n

    def first_time(self, blob: Descriptor) -> bool:
        with self._lock:
            if blob.digest in self._seen_blobs:
                return False
            self._seen_blobs.add(blob.digest)
            return True


@dataclass(frozen=True, slots=True)
class _Child:
    """What one child is, kept for every entry that names it: its media type, or why it
    could not be read (a code and a message); for an image, its config's platform or why
    there is none (``config_problem``; ``None`` and no platform: an artifact)."""

    media_type: str | None = None
    problem: tuple[str, str] | None = None
    is_index: bool = False
    platform: Platform | None = None
    config_problem: tuple[str, str] | None = None


def lint(
    store: Store,
    manifest: Manifest,
    *,
    reference: str,
    require: Sequence[Platform] = (),
    jobs: int = DEFAULT_JOBS,
) -> Report:
    """Everything :mod:`polyarch.ops.check` judges in ``manifest`` (of ``store``): every
    child and config fetched once, no layer."""
    checking = _Checking(Walk(store, manifest, where=reference), judge=True, blobs=False)
    checking.count()
    _check(checking, manifest, require, jobs)
    return _report(checking, reference, manifest)


def verify(
    store: Store,
    identifier: str,
    *,
    reference: str,
    expected: Digest | None = None,
    require: Sequence[Platform] = (),
    jobs: int = DEFAULT_JOBS,
) -> Report:
    """Whether ``identifier`` in ``store`` is complete as a pull needs it: at
    ``expected`` (when given), every child and blob present (blobs by HEAD), each
    config's platform its entry's, each ``require``\\ d platform there."""
    store = uncached(store)  # what the registry holds now, not what was seen before
    descriptor = store.resolve(identifier)
    manifest = store.get_manifest(descriptor.digest)
    checking = _Checking(Walk(store, manifest, where=reference), judge=False, blobs=True)
    checking.count()
    if expected is not None and descriptor.digest != expected:
        checking.add(
            "unexpected-digest",
            reference,
            f"it is at {descriptor.digest}, not {expected}",
        )
    _check(checking, manifest, require, jobs)
    return _report(checking, reference, manifest)


def _report(checking: _Checking, reference: str, manifest: Manifest) -> Report:
    order = {"error": 0, "warning": 1}
    findings = sorted(checking.findings, key=lambda f: (order[f.severity], f.where, f.code))
    return Report(reference, manifest.digest, tuple(findings), checking.checked)


def _check(checking: _Checking, manifest: Manifest, require: Sequence[Platform], jobs: int) -> None:
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        root_platform = None
        if isinstance(manifest, ImageManifest):
            root_platform, problem = _image(checking, manifest, checking.walk.where)
            root = _Child(manifest.media_type, platform=root_platform, config_problem=problem)
            _judge_image(checking, root, None, checking.walk.where)
        else:
            _index(checking, manifest, 0, pool)
    if require:
        offered = _offered(checking, manifest, root_platform, 0)
        for platform in require:
            if not any(matches_strict(platform, p) for p in offered):
                checking.add(
                    "missing-platform",
                    checking.walk.where,
                    f"no image for {format_all(platform)}",
                )


def _offered(
    checking: _Checking,
    manifest: Manifest,
    own: Platform | None,
    depth: int,
    known: dict[Digest, list[Platform]] | None = None,
) -> list[Platform]:
    """The platforms ``manifest`` has an image for: an image's own (``own``, its
    config's), an index's entries' (a platform-less entry by its config, as containerd
    reads it; a nested index by its entries, each nested index once however often it is
    named), attestations left out."""
    if isinstance(manifest, ImageManifest):
        return [own] if own is not None else []
    known = {} if known is None else known
    found: list[Platform] = []
    for entry in manifest.manifests:
        if entry.is_attestation:
            continue
        if entry.platform is not None and not mt.is_index(entry.media_type):
            found.append(entry.platform)
            continue
        seen = checking.looked_at(entry.digest)
        if seen is None or seen.problem is not None:
            continue
        if not seen.is_index:
            found += [seen.platform] if seen.platform is not None else []
        elif entry.digest in known:
            found += known[entry.digest]
        elif depth < MAX_INDEX_DEPTH:
            known[entry.digest] = []  # while it is walked: no index names itself
            try:
                child = checking.walk.child(manifest, entry, depth=depth)
            except ContentError:
                continue
            known[entry.digest] = _offered(checking, child, None, depth + 1, known)
            found += known[entry.digest]
    return list(dict.fromkeys(found))  # each once: nested lists must not multiply


def _index(checking: _Checking, index: ImageIndex, depth: int, pool: ThreadPoolExecutor) -> None:
    walk = checking.walk
    where = walk.where if depth == 0 else f"{walk.store.location}@{index.digest}"
    if checking.judge:
        _judge_index(checking, index, where)
    if depth >= MAX_INDEX_DEPTH:
        checking.add("invalid-manifest", where, "indexes nested too deep to follow")
        return

    def look(entry: Descriptor, label: str) -> _Child:
        try:
            found = walk.child(index, entry, depth=depth)
        except ManifestNotFoundError:
            return _Child(problem=("missing-manifest", f"{entry.digest} is not in the store"))
        except SizeMismatchError as err:
            return _Child(problem=("size-mismatch", str(err)))
        except DigestMismatchError as err:
            return _Child(problem=("digest-mismatch", str(err)))
        except ContentError as err:
            return _Child(problem=("invalid-manifest", str(err)))
        checking.count()
        if isinstance(found, ImageIndex):
            _index(checking, found, depth + 1, pool)
            return _Child(found.media_type, is_index=True)
        if entry.is_attestation:  # in-toto statements: no platform of their own
            if checking.blobs:
                _blobs(checking, found, label)
            return _Child(found.media_type)
        platform, problem = _image(checking, found, label)
        return _Child(found.media_type, platform=platform, config_problem=problem)

    def child(entry: Descriptor) -> None:
        label = walk.label(index, entry)
        seen = checking.once(entry.digest, lambda: look(entry, label))
        if seen.problem is not None:
            checking.add(seen.problem[0], label, seen.problem[1])
            return
        if seen.media_type != entry.media_type:
            checking.add(
                "media-type-mismatch",
                label,
                f"the entry says {entry.media_type}, the manifest is {seen.media_type}",
            )
        if not seen.is_index and not entry.is_attestation:
            _judge_image(checking, seen, entry, label)

    # Nested indexes go through their entries on the worker that reached them: a
    # worker waiting for the pool's other workers could wait for ever.
    if depth == 0:
        list(pool.map(child, index.manifests))
    else:
        for entry in index.manifests:
            child(entry)


def _judge_index(checking: _Checking, index: ImageIndex, where: str) -> None:
    docker = index.media_type == mt.DOCKER_MANIFEST_LIST
    if docker and (index.annotations or any(e.annotations for e in index.manifests)):
        checking.add(
            "annotations-in-docker-list",
            where,
            "a Docker manifest list has no annotations: docker and containerd read them as "
            "not there (push it as an OCI index)",
        )
    other = mt.OCI_MANIFEST if docker else mt.DOCKER_MANIFEST
    mixed = [i for i, e in enumerate(index.manifests, 1) if e.media_type == other]
    if mixed:
        checking.add(
            "mixed-formats",
            where,
            f"{'a Docker manifest list' if docker else 'an OCI index'} whose entries "
            f"{', '.join(map(str, mixed))} are {other}: some runtimes refuse the mix",
        )
    digests = {e.digest for e in index.images}
    seen: dict[tuple[str, ...], Descriptor] = {}
    for entry in index.manifests:
        label = checking.walk.label(index, entry)
        if entry.is_attestation:
            if entry.attests is None or entry.attests not in digests:
                checking.add(
                    "dangling-attestation",
                    label,
                    f"it describes {entry.attests or 'no image'}, which the index does not hold",
                )
            continue
        if entry.platform is None:
            checking.add(
                "no-platform",
                label,
                "some runtimes skip an entry without a platform (containerd reads its config)",
            )
            continue
        _judge_platform(checking, entry.platform, label)
        key = _platform_key(entry.platform)
        other_entry = seen.get(key)
        if other_entry is not None and other_entry.digest != entry.digest:
            checking.add(
                "duplicate-platform",
                label,
                f"{other_entry.digest} is {format_all(entry.platform)} too: which one a "
                "machine gets depends on the runtime",
            )
        seen.setdefault(key, entry)


def _judge_platform(checking: _Checking, platform: Platform, where: str) -> None:
    suggestion = suggest_architecture(platform.architecture, platform.variant)
    if suggestion is not None and suggestion != (platform.architecture, platform.variant):
        arch, variant = suggestion
        checking.add(
            "noncanonical-platform",
            where,
            f"{platform} is spelled {platform.os}/{arch}{'/' + variant if variant else ''} "
            "in indexes",
        )
        return
    unusual = unusual_platform(platform.os, platform.architecture, platform.variant)
    if unusual is not None:
        problem, closest = unusual
        checking.add(
            "unknown-platform",
            where,
            problem + (f" (did you mean {closest}?)" if closest else ""),
        )
    elif platform.variant and platform.variant not in _USUAL_VARIANTS.get(
        platform.architecture, (platform.variant,)
    ):
        usual = _USUAL_VARIANTS[platform.architecture]
        checking.add(
            "uncommon-variant",
            where,
            f"only hosts that report {platform.architecture}/{platform.variant} are offered "
            f"it; most {platform.architecture} hosts report {usual[-1]}"
            + (" or older" if len(usual) > 1 else "")
            + ", and pull another entry or none",
        )
    if platform.os == "windows" and not platform.os_version:
        checking.add(
            "windows-without-os-version",
            where,
            "a Windows host runs only the builds its os.version allows: without one, every "
            "Windows host is offered this image",
        )


#: The variants images are usually built for, per architecture: what runtimes detect on
#: most hosts (and assume when they detect nothing). A variant above them is legal, but
#: hosts that report less are not offered the image: arm64/v9 skips every v8 machine.
_USUAL_VARIANTS: dict[str, tuple[str, ...]] = {
    "amd64": ("v1",),
    "arm": ("v5", "v6", "v7"),
    "arm64": ("v8",),
}


def _platform_key(platform: Platform) -> tuple[str, ...]:
    p = normalize(platform)
    return (p.os, p.architecture, p.variant, p.os_version, *sorted(p.os_features))


def _image(
    checking: _Checking, image: ImageManifest, where: str
) -> tuple[Platform | None, tuple[str, str] | None]:
    """An image's blobs (by HEAD, for ``verify``) and its config: the platform it says,
    or the finding it is (``None`` for both: an artifact, or a config too large to be an
    image's, only HEADed)."""
    if checking.blobs:
        _blobs(checking, image, where)
    if not mt.is_config(image.config.media_type):
        return None, None  # an artifact: no platform to compare
    try:
        blob = checking.walk.config_blob(image)
    except BlobNotFoundError:
        return None, ("missing-config", f"config {image.config.digest} is not in the store")
    except DigestMismatchError as err:
        return None, ("digest-mismatch", f"config: {err}")
    except SizeMismatchError as err:
        return None, ("size-mismatch", f"config: {err}")
    if blob is None:
        # Too large to be read as a config: no platform, but it must be there (verify
        # has asked already, with every blob).
        if not checking.blobs and not checking.walk.store.has_blob(image.config):
            return None, ("missing-config", f"config {image.config.digest} is not in the store")
        return None, None
    checking.count()
    try:
        return ImageConfig.parse(blob, digest=image.config.digest).platform, None
    except ContentError as err:
        return None, ("invalid-manifest", f"config: {err}")


def _judge_image(checking: _Checking, seen: _Child, entry: Descriptor | None, where: str) -> None:
    """The config's platform against the entry that names the image (``None``: the
    image is the root), or the config's problem, at ``where``."""
    if seen.config_problem is not None:
        checking.add(seen.config_problem[0], where, seen.config_problem[1])
        return
    if seen.platform is None:
        return
    if entry is None:
        if checking.judge:
            _judge_platform(checking, seen.platform, where)
        return
    if entry.platform is not None:
        _compare(checking, entry.platform, seen.platform, where)


def _compare(checking: _Checking, labelled: Platform, actual: Platform, where: str) -> None:
    """The entry's platform against the config's: os and architecture must agree; a
    variant or os.version both state must too."""
    said, found = normalize(labelled), normalize(actual)
    if (said.os, said.architecture) != (found.os, found.architecture):
        checking.add(
            "platform-mismatch",
            where,
            f"the entry says {format_all(labelled)}, its config says {format_all(actual)}",
        )
        return
    if said.variant and found.variant and said.variant != found.variant:
        checking.add(
            "variant-mismatch",
            where,
            f"the entry says {said.variant}, its config says {found.variant}",
        )
    if said.os_version and found.os_version and said.os_version != found.os_version:
        checking.add(
            "os-version-mismatch",
            where,
            f"the entry says os.version {said.os_version}, its config {found.os_version}",
        )


def _blobs(checking: _Checking, image: ImageManifest, where: str) -> None:
    """A HEAD for each blob not asked about yet (non-distributable layers live elsewhere),
    on the worker of the image: images are checked concurrently already."""
    for blob in image.blobs:
        if mt.is_nondistributable(blob.media_type) or not checking.first_time(blob):
            continue
        what = "config" if blob == image.config else "layer"
        try:
            there = checking.walk.store.has_blob(blob)
        except SizeMismatchError as err:
            checking.add("size-mismatch", where, f"{what} {blob.digest}: {err}")
            continue
        checking.count()
        if not there:
            checking.add("missing-blob", where, f"{what} {blob.digest} is not in the store")
