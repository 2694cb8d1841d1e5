"""Pending lists on disk: what ``create`` and ``annotate`` prepare and ``push`` sends.

A pending list lives in ``$POLYARCH_HOME/lists`` (default ``~/.polyarch``) as one JSON file,
written atomically, holding every entry's exact manifest bytes, so ``push`` needs no second
fetch of what ``create`` fetched, and a failed push leaves the file as it was.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import unquote

from polyarch.atomic import write_atomically
from polyarch.digest import Digest
from polyarch.documents import load_document
from polyarch.errors import (
    ContentError,
    InvalidInputError,
    InvalidManifestError,
    NotFoundError,
    os_error,
)
from polyarch.home import (
    HASHED_NAME_MARK,
    default_home,
    pending_list_path,
    pending_lists_directory,
)
from polyarch.location import LayoutLocation, parse_layout
from polyarch.models import Descriptor, ImageIndex, ImageManifest, parse_manifest
from polyarch.reference import DEFAULT_TAG, Reference

if TYPE_CHECKING:
    from polyarch.index import ListFormat

__all__ = [
    "ListName",
    "PendingEntry",
    "PendingList",
    "PendingListStore",
    "Pushed",
    "parse_list_name",
    "same_repository",
]

#: What names a pending list or one of its members: a registry reference, or an image in
#: an OCI layout (its path absolute, so that the name means the same from anywhere).
ListName: TypeAlias = "Reference | LayoutLocation"


def parse_list_name(text: str, *, default_tag: str | None = DEFAULT_TAG) -> ListName:
    """A list or member name as saved or typed: ``oci:PATH[:TAG|@DIGEST]`` or a registry
    reference (``default_tag`` when it has neither tag nor digest)."""
    if text.startswith("oci:"):
        return parse_layout(text)
    return Reference.parse(text, default_tag=default_tag)


def same_repository(a: ListName, b: ListName) -> bool:
    """Both in one registry repository, or both in one layout."""
    if isinstance(a, LayoutLocation) or isinstance(b, LayoutLocation):
        return isinstance(a, LayoutLocation) and isinstance(b, LayoutLocation) and a.path == b.path
    return (a.registry, a.repository) == (b.registry, b.repository)


log = logging.getLogger(__name__)

FILE_VERSION = 1
#: The largest pending-list file read: every entry's manifest bytes, base64, up to the
#: manifest size limit each, for lists of a few hundred entries.
MAX_FILE_SIZE = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """One entry of a pending list: where it came from, its descriptor, its bytes."""

    source: ListName
    descriptor: Descriptor
    raw: bytes = field(repr=False)

    @property
    def manifest(self) -> ImageManifest | ImageIndex:
        return parse_manifest(self.raw, self.descriptor.media_type, digest=self.descriptor.digest)

    @property
    def is_attestation(self) -> bool:
        return self.descriptor.is_attestation

    def to_json(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "descriptor": self.descriptor.to_dict(),
            "raw": base64.b64encode(self.raw).decode(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingEntry:
        descriptor = Descriptor.from_dict(data["descriptor"])
        raw = base64.b64decode(data["raw"], validate=True)
        if Digest.of(raw, descriptor.digest.algorithm) != descriptor.digest:
            raise ContentError(f"the saved bytes of {descriptor.digest} do not match it")
        return cls(parse_list_name(data["source"], default_tag=None), descriptor, raw)


@dataclass(frozen=True, slots=True)
class Pushed:
    """What the last push of a pending list put: the list's digest, in the format asked
    for (``None``: chosen as docker chooses)."""

    digest: Digest
    format: ListFormat | None = None

    def to_json(self) -> dict[str, Any]:
        return {"digest": str(self.digest), "format": self.format}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pushed:
        format = data.get("format")
        if format not in (None, "docker", "oci"):
            raise ValueError(f"unknown list format {format!r}")
        return cls(Digest.parse(data["digest"]), format)


@dataclass(frozen=True, slots=True)
class PendingList:
    """A manifest list being prepared: its target reference and its entries, in order.

    ``pushed`` is set when the list was pushed and kept (no ``--purge``), and cleared by
    any change to it. ``annotations`` are the index's own (``create --annotation``).
    With ``attestations_as_referrers`` (``create --attestations referrers``), attestation
    entries are not in the index: push puts each as a referrer of its image.
    """

    reference: ListName
    entries: tuple[PendingEntry, ...]
    pushed: Pushed | None = None
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    attestations_as_referrers: bool = False

    def index(self, format: ListFormat | None = None) -> ImageIndex:
        """The exact list ``push`` sends.

        Entries are ordered as docker orders them, by the file name its store gives each
        member (``/`` and ``:`` replaced), so the same members give docker's digest
        whatever order they were named in; the entries of one index member keep their
        order.
        """
        # Only push and inspect build the list: create need not load index and gojson.
        from polyarch.index import build_index

        listed = self.images if self.attestations_as_referrers else self.entries
        ordered = sorted(listed, key=lambda e: _docker_file_name(str(e.source)))
        return build_index(
            [entry.descriptor for entry in ordered], format=format, annotations=self.annotations
        )

    @property
    def images(self) -> tuple[PendingEntry, ...]:
        return tuple(e for e in self.entries if not e.is_attestation)

    def tags(self, more: Sequence[str] = ()) -> list[str]:
        """The list's own tag, then ``more``, each once; their grammar checked here,
        before any request.

        :raises InvalidReferenceError: a tag that is none.
        """
        every = list(dict.fromkeys([self.reference.tag or DEFAULT_TAG, *more]))
        for tag in every[1:]:
            self.reference.with_tag(tag)
        return every

    def attestation_referrers(self) -> list[tuple[PendingEntry, ImageManifest]]:
        """Each of :attr:`referrers` made into a referrer of its image; one that describes
        no image of the list is left out, with a warning."""
        from polyarch.referrers import attestation_referrer, attestation_subject

        images = {entry.descriptor.digest: entry.descriptor for entry in self.images}
        made: list[tuple[PendingEntry, ImageManifest]] = []
        for entry in self.referrers:
            subject = attestation_subject(entry.descriptor, images)
            attestation = entry.manifest
            if subject is None or not isinstance(attestation, ImageManifest):
                log.warning(
                    "attestation %s from %s describes no image of the list; left out",
                    entry.descriptor.digest,
                    entry.source.familiar,
                )
                continue
            made.append((entry, attestation_referrer(attestation, subject)))
        return made

    @property
    def referrers(self) -> tuple[PendingEntry, ...]:
        """The attestations push puts as referrers of their images, not in the index."""
        if not self.attestations_as_referrers:
            return ()
        return tuple(e for e in self.entries if e.is_attestation)

    def find(self, member: ListName) -> int:
        """The position of the entry ``member`` names: by member reference, as docker
        matches, or by digest (the exact digest wins; attestations only by theirs).

        :raises NotFoundError: no entry is named, listing the members.
        :raises InvalidInputError: several are (a member that brought an index): name
            one by digest.
        """
        digest = member.digest

        def named(entry: PendingEntry) -> bool:
            if entry.is_attestation and entry.descriptor.digest != digest:
                return False
            return entry.source == member or (
                digest is not None
                and (entry.descriptor.digest == digest or entry.source == member.with_digest(None))
            )

        hits = [i for i, entry in enumerate(self.entries) if named(entry)]
        if digest is not None:
            hits = [i for i in hits if self.entries[i].descriptor.digest == digest] or hits
        if not hits:
            present = ", ".join(sorted({e.source.familiar for e in self.images}))
            raise NotFoundError(
                f"{member.familiar} is not in the local list {self.reference.familiar}",
                hint=f"its members: {present}" if present else None,
            )
        if len(hits) > 1:
            choices = ", ".join(
                f"{self.entries[i].descriptor.platform} = {self.entries[i].descriptor.digest}"
                for i in hits
            )
            raise InvalidInputError(
                f"{member.familiar} has {len(hits)} entries in {self.reference.familiar} "
                f"({choices})",
                hint=f"name one by digest: {member.with_digest(None).familiar_name}@sha256:...",
            )
        return hits[0]


def _annotations(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("annotations must be an object of strings")
    return dict(value)


def _docker_file_name(reference: str) -> str:
    return reference.replace(":", "-").replace("/", "_")


class PendingListStore:
    """Pending lists on disk, one file each, replaced atomically."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = home if home is not None else default_home()

    @property
    def directory(self) -> Path:
        return pending_lists_directory(self.home)

    def path_for(self, reference: ListName) -> Path:
        return pending_list_path(reference, self.home)

    def load(self, reference: ListName) -> PendingList | None:
        path = self.path_for(reference)
        doc = self._read(path)
        if doc is None:
            return None
        try:
            if doc.get("version") != FILE_VERSION:
                raise ValueError(f"unknown version {doc.get('version')!r}")
            if doc.get("reference", str(reference)) != str(reference):
                raise ValueError(f"it holds the list {doc.get('reference')!r}")
            entries = tuple(PendingEntry.from_json(e) for e in doc["entries"])
            pushed = Pushed.from_json(doc["pushed"]) if doc.get("pushed") else None
            annotations = _annotations(doc.get("annotations", {}))
            attestations = doc.get("attestations", "keep")
            if attestations not in ("keep", "referrers"):
                raise ValueError(f"unknown attestations {attestations!r}")
        except (KeyError, TypeError, ValueError, AttributeError, ContentError) as err:
            raise InvalidManifestError(f"pending list file {path} is damaged: {err}") from err
        return PendingList(
            reference,
            entries,
            pushed,
            annotations,
            attestations_as_referrers=attestations != "keep",
        )

    def get(self, reference: ListName) -> PendingList:
        """The pending list named ``reference``.

        :raises NotFoundError: there is none.
        """
        pending = self.load(reference)
        if pending is None:
            raise NotFoundError(
                f"no pending list {reference.familiar}",
                hint=f"create it first: polyarch create {reference.familiar} IMAGE...",
            )
        return pending

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        """The parsed file, ``None`` when there is none.

        :raises InvalidManifestError: it cannot be read, or is not a JSON object.
        """
        try:
            with path.open("rb") as stream:
                data = stream.read(MAX_FILE_SIZE + 1)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise InvalidManifestError(
                f"pending list file {path} is unreadable: {err.strerror}"
            ) from err
        return load_document(data, f"pending list file {path}", limit=MAX_FILE_SIZE)

    def save(self, pending: PendingList) -> None:
        path = self.path_for(pending.reference)
        doc = {
            "version": FILE_VERSION,
            "reference": str(pending.reference),
            "entries": [entry.to_json() for entry in pending.entries],
        }
        if pending.pushed is not None:
            doc["pushed"] = pending.pushed.to_json()
        if pending.annotations:
            doc["annotations"] = dict(pending.annotations)
        if pending.attestations_as_referrers:
            doc["attestations"] = "referrers"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, json.dumps(doc, indent=1).encode())
        except OSError as err:
            raise os_error(err, f"save the pending list {path}") from None

    def remove(self, reference: ListName) -> bool:
        try:
            self.path_for(reference).unlink()
        except FileNotFoundError:
            return False
        return True

    def names(self) -> list[ListName]:
        """The references of the pending lists, from their file names (or, for a name
        too long to be one, from the file); files that are not pending lists are left
        out."""
        if not self.directory.is_dir():
            return []
        names: list[ListName] = []
        for path in self.directory.glob("*.json"):
            text: object = unquote(path.name.removesuffix(".json"))
            try:
                if HASHED_NAME_MARK in path.name:
                    text = (self._read(path) or {}).get("reference")
                if isinstance(text, str):
                    names.append(parse_list_name(text, default_tag=None))
            except (InvalidInputError, ContentError) as err:
                log.warning("%s is not a pending list: %s", path, err)
        return sorted(names, key=str)
