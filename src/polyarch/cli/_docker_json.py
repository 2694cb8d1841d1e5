r"""``docker manifest inspect --verbose`` output, byte for byte.

docker writes ``json.MarshalIndent(x, "", "\t")`` and a newline, where ``x`` is one
``types.ImageManifest`` for a single image, or a slice of them for a list (one per entry,
in list order)::

    {
        "Ref": "host/repo:tag@sha256:…",        a list entry: reference.WithDigest(list, entry)
        "Descriptor": {                         ocispec.Descriptor of the manifest's own bytes
            "mediaType": …, "digest": …, "size": …,
            "platform": {…}                     a list entry: the list's platform object (all
        },                                      empty when the entry has none); a single
                                                image: its config, json.Unmarshal'ed
        "Raw": "<base64 of the manifest bytes>",
        "SchemaV2Manifest" | "OCIManifest": {…} the manifest (a json.Marshaler: its bytes
    }                                           compacted, then indented with the rest)

(docker/cli ``cli/command/manifest/inspect.go``, ``cli/manifest/types/types.go``,
``internal/registryclient/fetcher.go``.)

Beyond docker, which refuses them: an entry that is itself an index is written with
``Ref``, ``Descriptor`` and ``Raw`` only (neither manifest field applies), and an OCI layout
gets ``oci:PATH[:TAG]`` / ``oci:PATH@DIGEST`` as ``Ref``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from polyarch import gojson
from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.models import Descriptor, ImageConfig, Manifest
from polyarch.ops.describe import ImageDescription, IndexDescription
from polyarch.platform import Platform

__all__ = ["DockerImage", "config_platform", "from_description", "render"]

#: What docker writes for a list entry without a platform: Go's zero ``PlatformSpec``.
EMPTY_PLATFORM = Platform(os="", architecture="")


@dataclass(frozen=True, slots=True)
class DockerImage:
    """One ``types.ImageManifest``: a reference, a descriptor and the manifest bytes."""

    ref: str
    descriptor: Descriptor
    manifest: Manifest


def render(value: DockerImage | Sequence[DockerImage]) -> bytes:
    """``json.MarshalIndent(value, "", "\t")`` plus the newline docker prints."""
    document = _image(value) if isinstance(value, DockerImage) else [_image(v) for v in value]
    return gojson.marshal_indent(document, "\t") + b"\n"


def from_description(
    description: ImageDescription | IndexDescription,
    *,
    ref: str,
    child_ref: Callable[[Digest], str],
) -> DockerImage | list[DockerImage]:
    """What docker shows for an image (one object) or a list (one object per entry).

    :param ref: the reference the user asked for, normalized (docker's ``Ref``).
    :param child_ref: the ``Ref`` of a list entry, from its digest.
    :raises InvalidManifestError: a single image's config has platform fields of the
        wrong type (docker fails there too).
    """
    if isinstance(description, ImageDescription):
        image = description.manifest
        blob = description.config_blob
        if description.config is not None:
            platform: Platform | None = description.config.platform
        else:
            platform = None if blob is None else config_platform(blob)
        return DockerImage(ref, image.descriptor(platform=platform), image)
    images = []
    for child in description.children:
        manifest: Manifest = child.index if isinstance(child, IndexDescription) else child.manifest
        entry = child.entry
        platform = entry.platform if entry is not None and entry.platform else EMPTY_PLATFORM
        descriptor = manifest.descriptor(platform=platform)
        images.append(DockerImage(child_ref(manifest.digest), descriptor, manifest))
    return images


def _image(image: DockerImage) -> dict[str, Any]:
    out: dict[str, Any] = {"Ref": image.ref, "Descriptor": image.descriptor.to_dict()}
    raw = image.manifest.raw
    if raw:
        out["Raw"] = base64.b64encode(raw).decode("ascii")
    if image.manifest.media_type == mt.DOCKER_MANIFEST:
        out["SchemaV2Manifest"] = gojson.RawJSON(raw)
    elif image.manifest.media_type == mt.OCI_MANIFEST:
        out["OCIManifest"] = gojson.RawJSON(raw)
    return out


def config_platform(blob: bytes) -> Platform:
    """The platform docker reads from a config blob (``json.Unmarshal`` into an
    ``ocispec.Platform``), which is the one polyarch reads: a config Go would read
    otherwise (a key spelled ``Architecture``, a key twice) is refused, whatever its media
    type.

    :raises InvalidManifestError: not a JSON object, or platform fields of the wrong type.
    """
    return ImageConfig.parse(blob).platform
