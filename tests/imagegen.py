"""Small synthetic container images for tests: pure functions, no I/O.

Everything here is deterministic: the same arguments give the same bytes, hence the same
digests, on every run. Layers are real gzip-compressed tar archives (one file of seeded
pseudo-random bytes) with fixed mtimes and owners; configs are valid image configs whose
``rootfs.diff_ids`` are the digests of the uncompressed tars; manifests carry the exact
sizes and digests of the blobs they reference.

Media types are spelled out here on purpose instead of being imported from
:mod:`polyarch.mediatype`: the test oracle must not depend on the code under test.

::

    image = make_image({"architecture": "arm64", "os": "linux", "variant": "v8"})
    image.manifest, image.manifest_digest, image.media_type   # the manifest
    image.blobs                                               # digest -> bytes
    index = make_index([image, other], oci=True)              # bytes of an OCI index

    # A Windows-like image whose first layer is foreign (OCI: non-distributable): its
    # descriptor names URLs, and its bytes are in foreign_blobs, not in blobs.
    windows = make_image(
        {"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.5936"},
        foreign_urls=lambda digest: [f"https://127.0.0.1:4443/blobs/{digest}"],
    )
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

__all__ = [
    "DOCKER_CONFIG",
    "DOCKER_FOREIGN_LAYER",
    "DOCKER_LAYER",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "IN_TOTO_LAYER",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_MANIFEST",
    "OCI_NONDISTRIBUTABLE_LAYER",
    "Attestation",
    "Layer",
    "SyntheticImage",
    "make_attestation",
    "make_image",
    "make_index",
    "sha256_digest",
]

DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_LAYER: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_FOREIGN_LAYER: Final = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_NONDISTRIBUTABLE_LAYER: Final = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"

# Fixed timestamps keep tar headers, configs and therefore digests reproducible.
_EPOCH: Final = 1_700_000_000
_CREATED: Final = "2023-11-14T22:13:20Z"
_PLATFORM_KEYS: Final = ("architecture", "os", "variant", "os.version", "os.features")


def sha256_digest(data: bytes) -> str:
    """Return the ``sha256:<hex>`` digest of *data*."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _dump(value: object) -> bytes:
    # Docker writes manifests indented by three spaces. Indented bytes also make any
    # re-serialization by the code under test visible as a digest change.
    return json.dumps(value, indent=3).encode()


@dataclass(frozen=True, slots=True)
class Layer:
    """One compressed layer blob and the digest of its uncompressed tar (the diff ID);
    a non-distributable one names the ``urls`` it is fetched from."""

    data: bytes
    digest: str
    diff_id: str
    media_type: str
    urls: tuple[str, ...] = ()

    def descriptor(self) -> dict[str, object]:
        """The manifest's entry for it, in distribution's field order."""
        desc: dict[str, object] = {
            "mediaType": self.media_type,
            "size": self.size,
            "digest": self.digest,
        }
        if self.urls:
            desc["urls"] = list(self.urls)
        return desc

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class SyntheticImage:
    """A single-platform image: manifest, config and layers, all as exact bytes.

    Equality and hashing use the bytes and digests; ``platform`` and ``blobs`` are derived
    views (read-only mappings).
    """

    media_type: str
    manifest: bytes
    manifest_digest: str
    config: bytes
    config_digest: str
    config_media_type: str
    layers: tuple[Layer, ...]
    platform: Mapping[str, str | tuple[str, ...]] = field(compare=False)
    blobs: Mapping[str, bytes] = field(compare=False)
    """Every blob the manifest references, config first: digest -> bytes; the
    non-distributable layers left out (a registry need not have them)."""
    foreign_blobs: Mapping[str, bytes] = field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )
    """The non-distributable layers, served from their URLs: digest -> bytes."""

    @property
    def size(self) -> int:
        """Size in bytes of the manifest."""
        return len(self.manifest)

    @property
    def platform_string(self) -> str:
        """``os/architecture[/variant]``, as docker and skopeo spell it."""
        parts = [str(self.platform["os"]), str(self.platform["architecture"])]
        if "variant" in self.platform:
            parts.append(str(self.platform["variant"]))
        return "/".join(parts)

    def descriptor(self, *, with_platform: bool = True) -> dict[str, object]:
        """The descriptor of the manifest, as an index entry (JSON-ready)."""
        desc: dict[str, object] = {
            "mediaType": self.media_type,
            "size": self.size,
            "digest": self.manifest_digest,
        }
        if with_platform:
            desc["platform"] = _platform_json(self.platform)
        return desc


def _platform_json(platform: Mapping[str, str | tuple[str, ...]]) -> dict[str, object]:
    return {
        key: list(platform[key]) if key == "os.features" else platform[key]
        for key in _PLATFORM_KEYS
        if key in platform
    }


def _check_platform(platform: Mapping[str, object]) -> dict[str, str | tuple[str, ...]]:
    unknown = sorted(set(platform) - set(_PLATFORM_KEYS))
    if unknown:
        raise ValueError(f"unknown platform keys {unknown}; allowed: {list(_PLATFORM_KEYS)}")
    checked: dict[str, str | tuple[str, ...]] = {}
    for key in _PLATFORM_KEYS:
        if key not in platform:
            if key in ("architecture", "os"):
                raise ValueError(f"platform {dict(platform)!r} lacks {key!r}")
            continue
        value = platform[key]
        if key == "os.features":
            if not isinstance(value, list | tuple) or not all(isinstance(f, str) for f in value):
                raise ValueError(f"platform 'os.features' must be a list of str, got {value!r}")
            checked[key] = tuple(value)
        elif isinstance(value, str) and value:
            checked[key] = value
        else:
            raise ValueError(f"platform {key!r} must be a non-empty str, got {value!r}")
    return checked


def _layer_tar(name: str, content: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mtime = _EPOCH
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def make_image(
    platform: Mapping[str, object],
    *,
    layers: int = 2,
    layer_size: int = 1024,
    seed: int = 0,
    oci: bool = False,
    foreign_urls: Callable[[str], Sequence[str]] | None = None,
) -> SyntheticImage:
    """Build a synthetic single-platform image.

    Layer contents depend on *seed*, the platform and the layer's position, so images for
    different platforms share no layers while the same call always yields the same bytes.

    :param platform: ``architecture`` and ``os`` (required), ``variant``, ``os.version``,
        ``os.features`` (list of str); written to the config as given.
    :param layers: number of layers (0 is allowed).
    :param layer_size: bytes of pseudo-random content per layer (before compression).
    :param seed: varies the content, hence every digest.
    :param oci: OCI media types instead of Docker v2.2 ones.
    :param foreign_urls: the first layer is non-distributable (Docker's foreign layer,
        OCI's non-distributable one) and names the URLs this returns for its digest; its
        bytes go to ``foreign_blobs``, not to ``blobs``, as a Windows base layer's.
    :raises ValueError: on an invalid platform or negative counts.
    """
    if layers < 0 or layer_size < 0:
        raise ValueError(f"layers and layer_size must be >= 0, got {layers}, {layer_size}")
    plat = _check_platform(platform)
    slug = "-".join(str(plat[k]) for k in ("os", "architecture", "variant") if k in plat)
    layer_type = OCI_LAYER if oci else DOCKER_LAYER
    config_type = OCI_CONFIG if oci else DOCKER_CONFIG
    manifest_type = OCI_MANIFEST if oci else DOCKER_MANIFEST

    built: list[Layer] = []
    for i in range(layers):
        # A str seed is hashed with SHA-512 by random.Random: stable across runs and hosts.
        rng = random.Random(f"polyarch-imagegen/{seed}/{slug}/{i}")
        tar = _layer_tar(f"polyarch/{slug}/layer-{i}.bin", rng.randbytes(layer_size))
        data = gzip.compress(tar, compresslevel=6, mtime=0)
        digest = sha256_digest(data)
        if i == 0 and foreign_urls is not None:
            foreign_type = OCI_NONDISTRIBUTABLE_LAYER if oci else DOCKER_FOREIGN_LAYER
            urls = tuple(foreign_urls(digest))
            built.append(Layer(data, digest, sha256_digest(tar), foreign_type, urls))
        else:
            built.append(Layer(data, digest, sha256_digest(tar), layer_type))

    config_doc: dict[str, object] = _platform_json(plat)
    config_doc.update(
        {
            "created": _CREATED,
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["/bin/sh"],
                "Labels": {"org.polyarch.test.seed": str(seed)},
            },
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in built]},
            "history": [
                {"created": _CREATED, "created_by": f"polyarch imagegen layer {i}"}
                for i in range(layers)
            ],
        }
    )
    config = json.dumps(config_doc, separators=(",", ":")).encode()
    config_digest = sha256_digest(config)

    manifest = _dump(
        {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "size": len(config), "digest": config_digest},
            "layers": [layer.descriptor() for layer in built],
        }
    )
    foreign = {layer.digest: layer.data for layer in built if layer.urls}
    blobs = {config_digest: config} | {
        layer.digest: layer.data for layer in built if layer.digest not in foreign
    }
    return SyntheticImage(
        media_type=manifest_type,
        manifest=manifest,
        manifest_digest=sha256_digest(manifest),
        config=config,
        config_digest=config_digest,
        config_media_type=config_type,
        layers=tuple(built),
        platform=MappingProxyType(plat),
        blobs=MappingProxyType(blobs),
        foreign_blobs=MappingProxyType(foreign),
    )


def make_index(
    images: Sequence[SyntheticImage],
    *,
    oci: bool,
    annotations: Mapping[str, str] | None = None,
) -> bytes:
    """Build the bytes of a Docker manifest list or, with *oci*, an OCI image index.

    Each entry is the image's descriptor with its platform object. Children keep their own
    media types, so Docker manifests inside an OCI index (and vice versa) are possible.

    :param annotations: index-level annotations (OCI only).
    :raises ValueError: if *annotations* are given for a Docker manifest list.
    """
    if annotations and not oci:
        raise ValueError("a Docker manifest list has no annotations; pass oci=True")
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX if oci else DOCKER_MANIFEST_LIST,
        "manifests": [image.descriptor() for image in images],
    }
    if annotations:
        doc["annotations"] = dict(annotations)
    return _dump(doc)


IN_TOTO_LAYER: Final = "application/vnd.in-toto+json"


@dataclass(frozen=True, slots=True)
class Attestation:
    """A buildx-style provenance attestation of one image: an OCI manifest whose layer is
    an in-toto statement naming the image, listed in an index under ``unknown/unknown``."""

    subject: str
    manifest: bytes
    blobs: Mapping[str, bytes] = field(compare=False)

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    def descriptor(self) -> dict[str, object]:
        """Its index entry, as buildx writes it."""
        return {
            "mediaType": OCI_MANIFEST,
            "digest": self.digest,
            "size": len(self.manifest),
            "annotations": {
                "vnd.docker.reference.digest": self.subject,
                "vnd.docker.reference.type": "attestation-manifest",
            },
            "platform": {"architecture": "unknown", "os": "unknown"},
        }


def make_attestation(subject: SyntheticImage) -> Attestation:
    """A provenance attestation of ``subject`` (deterministic bytes)."""
    statement = json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "subject": [{"name": "_", "digest": {"sha256": subject.manifest_digest[7:]}}],
            "predicate": {"builder": {"id": "polyarch-tests"}},
        },
        separators=(",", ":"),
    ).encode()
    config = json.dumps(
        {
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(statement)]},
        },
        separators=(",", ":"),
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": IN_TOTO_LAYER,
                    "digest": sha256_digest(statement),
                    "size": len(statement),
                    "annotations": {
                        "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"
                    },
                }
            ],
        },
        indent=2,
    ).encode()
    blobs = {sha256_digest(config): config, sha256_digest(statement): statement}
    return Attestation(subject.manifest_digest, manifest, MappingProxyType(blobs))
