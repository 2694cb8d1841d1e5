"""``polyarch inspect``: a manifest or list as stored, or docker's verbose form, or a tree."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

import click

from polyarch.cli._options import format_option, parse_list_name, parse_platform, registry_options
from polyarch.digest import Digest
from polyarch.errors import NotFoundError
from polyarch.home import pending_list_path
from polyarch.location import LayoutLocation, Location, RegistryLocation
from polyarch.models import Descriptor, ImageIndex, ImageManifest
from polyarch.ops.describe import Description, ImageDescription, IndexDescription, describe_manifest
from polyarch.ops.resolve import choose, image_for_platform
from polyarch.platform import Platform
from polyarch.reference import DEFAULT_TAG
from polyarch.registry import Registries
from polyarch.schemes import Target, open_target, parse_location

# Loaded only by the output that needs them: docker's JSON (the Go encoder), the text
# tree (rich), progress lines (the copy machinery) and pending lists (when one exists).
if TYPE_CHECKING:
    from polyarch.cli._docker_json import DockerImage
    from polyarch.ops.pending import ListName, PendingEntry, PendingList
    from polyarch.ops.referrers import Referrer, Subject


@click.command()
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="docker's verbose form: each image's reference, descriptor (with platform) and "
    "manifest. With --format text: whole digests.",
)
@format_option(
    "json: the stored bytes (docker's form with --verbose); text: a tree of "
    "platforms, configs and layers.",
    default="json",
)
@click.option(
    "--platform",
    "platform_text",
    metavar="OS/ARCH[/VARIANT]",
    help="Show the entry a machine of this platform would run, and why.",
)
@click.option(
    "--referrers",
    is_flag=True,
    help="List the OCI 1.1 referrers (signatures, SBOMs, attestations) of REF and, for "
    "an index, of each entry: as JSON, or in the tree with --format text.",
)
@click.argument("names", nargs=-1, required=True, metavar="[LIST] REF")
@registry_options
def inspect(
    names: tuple[str, ...],
    verbose: bool,
    output_format: str,
    platform_text: str | None,
    referrers: bool,
    registries: Registries,
) -> None:
    """Show the manifest or manifest list REF, byte for byte as stored.

    REF is a registry reference, oci:PATH[:TAG|@DIGEST], or a local list made by
    `polyarch create` (looked up first, as docker does). With LIST, REF is an entry of
    the local list LIST.

    --verbose prints what `docker manifest inspect --verbose` prints, byte for byte: an
    object for an image, an array with one object per entry for a list.
    """

    if len(names) > 2:
        raise click.UsageError(f"expected REF or LIST REF, got {len(names)} arguments")
    if len(names) == 2 and platform_text:
        raise click.UsageError("--platform chooses from a list; LIST REF already names one entry")
    if referrers and len(names) == 2:
        raise click.UsageError(
            "--referrers lists what a registry or layout holds, not a local list"
        )
    if referrers and verbose and output_format != "text":
        raise click.UsageError("--verbose is docker's form, which has no referrers")
    wanted = parse_platform(platform_text) if platform_text else None
    view = _View(verbose=verbose, text=output_format == "text", referrers=referrers)
    if len(names) == 2:
        _inspect_pending_entry(names[0], names[1], view)
        return
    location = parse_location(names[0])
    if isinstance(location, RegistryLocation | LayoutLocation) and not referrers:
        pending = _load_pending(
            location.reference
            if isinstance(location, RegistryLocation)
            else LayoutLocation(os.path.abspath(location.path), location.tag, location.digest)
        )
        if pending is not None:
            _inspect_pending_list(pending, view, wanted)
            return
    _inspect_stored(location, view, wanted, registries)


class _View:
    """How to show what was found: raw bytes, docker's verbose JSON, or a tree."""

    def __init__(self, *, verbose: bool, text: bool, referrers: bool = False) -> None:
        self.verbose = verbose
        self.text = text
        self.referrers = referrers

    @property
    def raw(self) -> bool:
        """The bytes as stored, nothing else fetched."""
        return not (self.verbose or self.text or self.referrers)


# -- a registry repository or an OCI layout ---------------------------------------------


def _inspect_stored(
    location: Location, view: _View, wanted: Platform | None, registries: Registries
) -> None:
    target = open_target(location, registries=registries)
    manifest = target.get_manifest()
    top = manifest.digest
    if wanted is not None:
        from polyarch.cli._progress import report_choices

        manifest, choices = image_for_platform(target.store, manifest, wanted, where=str(target))
        report_choices(choices)
    if view.raw:
        _write(manifest.raw)
        return
    found = None
    if view.referrers:
        from polyarch.ops.referrers import referrers_of

        found = referrers_of(target.store, manifest)
    if found is not None and not view.text:
        _write(_referrers_json(found))
        return
    # docker's verbose JSON of a list takes each platform from the list entry: the
    # children's configs add nothing to it, so only the text view fetches them.
    configs = view.text or not isinstance(manifest, ImageIndex)
    description = describe_manifest(target.store, manifest, configs=configs)
    ref = _ref_of(target, None if manifest.digest == top else manifest.digest)
    if view.text:
        from polyarch.cli._tree import print_tree

        print_tree(
            description,
            title=ref,
            full_digests=view.verbose,
            referrers=None if found is None else {s.descriptor.digest: s.referrers for s in found},
        )
        return
    from polyarch.cli import _docker_json

    shown = _docker_json.from_description(
        description, ref=ref, child_ref=lambda digest: _ref_of(target, digest)
    )
    _write(_docker_json.render(shown), newline=False)


def _referrers_json(found: list[Subject]) -> bytes:
    """Each manifest looked at (the root, then every entry), with its referrers: each as
    its store lists it, its own referrers nested."""

    def tree(referrers: tuple[Referrer, ...]) -> list[dict[str, object]]:
        return [
            {**r.entry.to_dict(), **({"referrers": tree(r.referrers)} if r.referrers else {})}
            for r in referrers
        ]

    return json.dumps(
        [{"subject": s.descriptor.to_dict(), "referrers": tree(s.referrers)} for s in found],
        indent=2,
    ).encode()


def _ref_of(target: Target, digest: Digest | None) -> str:
    """docker's ``Ref``: the reference asked for, normalized; for an entry of a list, with
    the entry's digest (``reference.WithDigest``: a tag is kept, a digest replaced)."""
    location = target.location
    if isinstance(location, RegistryLocation):
        reference = location.reference
        if reference.identifier is None:
            reference = reference.with_tag(DEFAULT_TAG)
        return str(reference if digest is None else reference.with_digest(digest))
    # An OCI layout: oci:PATH@DIGEST names an entry so that it can be read back.
    return str(location) if digest is None else f"oci:{location.path}@{digest}"


# -- pending lists (polyarch create) ----------------------------------------------------


def _load_pending(reference: ListName) -> PendingList | None:
    """The local pending list named ``reference``, if there is one."""
    try:
        pending_list_path(reference).stat()
    except FileNotFoundError:
        return None  # nearly always, and then the list machinery need not be loaded
    except OSError:
        pass  # load reports it, as for a file it cannot read
    from polyarch.ops.pending import PendingListStore

    return PendingListStore().load(reference)


def _inspect_pending_list(pending: PendingList, view: _View, wanted: Platform | None) -> None:
    from polyarch.cli import _docker_json

    # The list as it was pushed (push --format docker), else as push would build it.
    index = pending.index(pending.pushed.format if pending.pushed is not None else None)
    by_digest = {entry.descriptor.digest: entry for entry in pending.entries}
    if wanted is not None:
        choice = choose(index, wanted)
        click.echo(f"{choice.descriptor.digest}: {choice.reason}", err=True)
        _show_pending_entry(pending, by_digest[choice.descriptor.digest], view)
        return
    if view.raw:
        _write(index.raw)  # exactly what push sends, and what docker shows for it
        return
    # Entries in the list's order, which is docker's (by member file name).
    ordered = [by_digest[d.digest] for d in index.manifests]
    if view.text:
        from polyarch.cli._tree import print_tree

        children = tuple(
            _entry_description(e, d) for e, d in zip(ordered, index.manifests, strict=True)
        )
        print_tree(
            IndexDescription(index, children),
            title=str(pending.reference),
            full_digests=view.verbose,
            note=_pending_note(pending, index),
            sources={e.descriptor.digest: e.source.familiar for e in ordered},
        )
        return
    _write(_docker_json.render([_docker_entry(e) for e in ordered]), newline=False)


def _pending_note(pending: PendingList, index: ImageIndex) -> str:
    name = pending.reference.familiar
    if pending.pushed is None or pending.pushed.digest != index.digest:
        return f"local, not pushed: polyarch push {name}"
    return f"local copy of what was pushed as {index.digest}: polyarch rm {name} removes it"


def _inspect_pending_entry(list_text: str, ref_text: str, view: _View) -> None:
    list_ref = parse_list_name(list_text)
    pending = _load_pending(list_ref)
    if pending is None:
        raise NotFoundError(
            f"no local manifest list {list_ref.familiar}",
            hint=f"create it first: polyarch create {list_ref.familiar} IMAGE...",
        )
    entry = pending.entries[pending.find(parse_list_name(ref_text))]
    _show_pending_entry(pending, entry, view)


def _show_pending_entry(pending: PendingList, entry: PendingEntry, view: _View) -> None:
    from polyarch.cli import _docker_json

    if view.raw:
        _write(entry.raw)
    elif view.text:
        from polyarch.cli._tree import print_tree

        print_tree(
            _entry_description(entry, entry.descriptor),
            title=f"{entry.source} in {pending.reference.familiar}",
            full_digests=view.verbose,
        )
    else:
        _write(_docker_json.render(_docker_entry(entry)), newline=False)


def _docker_entry(entry: PendingEntry) -> DockerImage:
    from polyarch.cli._docker_json import DockerImage

    # docker keeps the member's reference and the descriptor create made (annotated).
    return DockerImage(str(entry.source), entry.descriptor, entry.manifest)


def _entry_description(entry: PendingEntry, descriptor: Descriptor) -> Description:
    manifest = entry.manifest
    if isinstance(manifest, ImageManifest):
        return ImageDescription(manifest, descriptor)
    return IndexDescription(manifest, (), descriptor)


# -- output -----------------------------------------------------------------------------


def _write(data: bytes, *, newline: bool = True) -> None:
    """Write ``data`` to stdout; a stored manifest gets a newline on a terminal only, so
    that piped output is the exact bytes."""
    out = sys.stdout.buffer
    out.write(data)
    if newline and sys.stdout.isatty() and not data.endswith(b"\n"):
        out.write(b"\n")
    out.flush()
