"""``inspect --format text``: a list, its platforms, their configs and layers, as a tree.

::

    host/app:1.0  OCI index  sha256:4d6e2ec88a1e  2 images, 1 attestation
    ├── linux/amd64  OCI manifest  sha256:44672cc4282c  2.3 KiB in 2 layers
    │   ├── config  sha256:7906578a631a  567 B
    │   ├── layer  sha256:851f7cda8491  1.2 KiB  tar+gzip
    │   └── layer  sha256:b6c62824948f  1.1 KiB  tar+gzip
    └── attestation of sha256:44672cc4282c  OCI manifest  sha256:…  800 B in 1 layer
        ├── config  sha256:…  241 B  in-toto
        └── layer  sha256:…  800 B  https://slsa.dev/provenance/v0.2

A manifest's size is its layers' (what ``in N layers`` says), in the one unit system of
:mod:`polyarch.cli._units`.

Only this module imports rich, and only ``inspect --format text`` imports this module.
Every label is built as :class:`rich.text.Text`, never as markup: references and
annotations come from outside (``[::1]:5000/app`` must not read as a style).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING

from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from polyarch import mediatype as mt
from polyarch.cli._text import shown
from polyarch.cli._units import size
from polyarch.digest import Digest
from polyarch.models import Descriptor, ImageManifest
from polyarch.ops.describe import Description, ImageDescription, IndexDescription
from polyarch.platform import format_all

if TYPE_CHECKING:
    from polyarch.ops.referrers import Referrer

__all__ = ["print_tree"]

_KINDS = {
    mt.OCI_INDEX: "OCI index",
    mt.DOCKER_MANIFEST_LIST: "Docker manifest list",
    mt.OCI_MANIFEST: "OCI manifest",
    mt.DOCKER_MANIFEST: "Docker manifest",
}
_PREDICATE_TYPE = "in-toto.io/predicate-type"
#: Entry annotations the label says already ("attestation of sha256:...").
_SHOWN_IN_LABEL = frozenset({mt.ANNOTATION_REFERENCE_TYPE, mt.ANNOTATION_REFERENCE_DIGEST})
_UNLIMITED = 100_000


def print_tree(
    description: Description,
    *,
    title: str,
    full_digests: bool = False,
    note: str | None = None,
    sources: Mapping[str, str] | None = None,
    referrers: Mapping[Digest, Sequence[Referrer]] | None = None,
    file: IO[str] | None = None,
) -> None:
    """Print ``description`` as a tree headed by ``title`` (the reference asked for).

    :param full_digests: whole digests instead of their first 12 hex digits.
    :param note: a remark after the root (``pending, not pushed``).
    :param sources: for a pending list, where each entry (by digest) was taken from.
    :param referrers: each manifest's referrers, by its digest, shown under it.
    """
    painter = _Painter(full_digests, sources or {}, referrers or {})
    root = Tree(painter.label(description, title=title, note=note))
    painter.fill(root, description)
    console = Console(file=file, highlight=False)
    if not console.is_terminal:
        # Piped: nothing to fit, and a cut-off digest would be worse than a long line.
        console.width = _UNLIMITED
    console.print(root)


class _Painter:
    def __init__(
        self,
        full_digests: bool,
        sources: Mapping[str, str],
        referrers: Mapping[Digest, Sequence[Referrer]],
    ) -> None:
        self.full = full_digests
        self.sources = sources
        self.referrers = referrers

    def digest(self, digest: Digest) -> Text:
        text = str(digest) if self.full else f"{digest.algorithm}:{digest.short}"
        return Text(text, style="cyan")

    def label(
        self, description: Description, *, title: str | None = None, note: str | None = None
    ) -> Text:
        label = Text()
        if title is not None:
            label.append(title, style="bold")
            label.append("  ")
        if isinstance(description, ImageDescription) and description.is_attestation:
            label.append("attestation", style="magenta")
            subject = description.entry.attests if description.entry is not None else None
            if subject is not None:
                label.append(" of ")
                label.append_text(self.digest(subject))
            label.append("  ")
        elif description.platform is not None:
            label.append(shown(format_all(description.platform)), style="green")
            label.append("  ")
        elif title is None:
            label.append("no platform", style="green")
            label.append("  ")
        manifest = (
            description.index if isinstance(description, IndexDescription) else description.manifest
        )
        label.append(_KINDS.get(manifest.media_type, manifest.media_type))
        if manifest.artifact_type:
            label.append(f" ({shown(manifest.artifact_type)})")
        label.append("  ")
        label.append_text(self.digest(manifest.digest))
        label.append("  ")
        if isinstance(description, IndexDescription):
            label.append(_counts(description), style="dim")
        else:
            layers = description.layers
            label.append(
                f"{size(sum(layer.size for layer in layers))} in {len(layers)} "
                f"layer{'s' * (len(layers) != 1)}",
                style="dim",
            )
        source = self.sources.get(manifest.digest)
        if source is not None:
            label.append(f"  from {source}", style="dim")
        if note:
            label.append(f"  ({note})", style="yellow")
        return label

    def fill(self, node: Tree, description: Description) -> None:
        if description.entry is not None:
            self.annotations(node, description.entry.annotations)
        if isinstance(description, IndexDescription):
            self.annotations(node, description.index.annotations, own=True)
            self.referrer_nodes(node, self.referrers.get(description.index.digest, ()))
            for child in description.children:
                self.fill(node.add(self.label(child)), child)
            return
        self.annotations(node, description.manifest.annotations, own=True)
        node.add(self.config_label(description))
        for layer in description.layers:
            node.add(self.blob_label("layer", layer))
        self.referrer_nodes(node, self.referrers.get(description.manifest.digest, ()))

    def referrer_nodes(self, node: Tree, referrers: Sequence[Referrer]) -> None:
        """``referrer  OCI manifest (ARTIFACT TYPE)  DIGEST  SIZE``, with its annotations,
        blobs (or entries) and own referrers under it."""
        for referrer in referrers:
            manifest = referrer.manifest
            label = Text("referrer", style="magenta")
            label.append(f"  {_KINDS.get(manifest.media_type, manifest.media_type)}")
            artifact_type = referrer.entry.artifact_type
            if artifact_type:
                label.append(f" ({shown(artifact_type)})")
            label.append("  ")
            label.append_text(self.digest(manifest.digest))
            label.append(f"  {size(manifest.size)}", style="dim")
            child = node.add(label)
            self.annotations(child, manifest.annotations, own=True)
            if isinstance(manifest, ImageManifest):
                child.add(self.blob_label("config", manifest.config))
                for layer in manifest.layers:
                    child.add(self.blob_label("layer", layer))
            else:
                for entry in manifest.manifests:
                    child.add(self.blob_label("entry", entry))
            self.referrer_nodes(child, referrer.referrers)

    @staticmethod
    def annotations(node: Tree, annotations: Mapping[str, str], *, own: bool = False) -> None:
        """One line an annotation: the entry's (as its index states them), or with
        ``own`` the manifest's or index's own; the attestation keys the label says."""
        for key, value in sorted(annotations.items()):
            if not own and key in _SHOWN_IN_LABEL:
                continue
            label = Text("annotation" if own else "entry annotation", style="dim")
            label.append(f"  {shown(key)}=")
            label.append(shown(value), style="yellow")
            node.add(label)

    def config_label(self, description: ImageDescription) -> Text:
        label = self.blob_label("config", description.manifest.config)
        config = description.config
        if config is not None and description.config_platform_differs:
            label.append(shown(f"  config says {format_all(config.platform)}"), style="yellow")
        return label

    def blob_label(self, what: str, blob: Descriptor) -> Text:
        label = Text(what)
        label.append("  ")
        label.append_text(self.digest(blob.digest))
        label.append(f"  {size(blob.size)}", style="dim")
        kind = _short_type(blob.media_type)
        if kind:
            label.append(f"  {shown(kind)}")
        predicate = blob.annotations.get(_PREDICATE_TYPE)
        if predicate:
            label.append(f"  {shown(predicate)}")
        return label


def _counts(description: IndexDescription) -> str:
    images = len(description.images)
    attestations = len(description.attestations)
    text = f"{images} image{'s' * (images != 1)}"
    if attestations:
        text += f", {attestations} attestation{'s' * (attestations != 1)}"
    return text


def _short_type(media_type: str) -> str:
    """The part of a blob's media type a person needs: ``tar+gzip``, ``in-toto``, ..."""
    if media_type in (mt.OCI_CONFIG, mt.DOCKER_CONFIG):
        return ""
    for prefix in ("application/vnd.oci.image.layer.v1.", "application/vnd.docker.image.rootfs."):
        if media_type.startswith(prefix):
            return media_type.removeprefix(prefix)
    if media_type == mt.IN_TOTO_LAYER:
        return "in-toto"
    return media_type
