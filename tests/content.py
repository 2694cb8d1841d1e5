"""Image content as exact bytes, seeded into registries and layouts and checked there
without polyarch (the harness's own HTTP client, files read by hand, ``skopeo inspect
--raw``): the oracles of the copy, pull and crash tests."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.imagegen import (
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    Attestation,
    SyntheticImage,
    make_attestation,
    make_image,
    sha256_digest,
)
from tests.registry_server import AccessLogEntry, RegistryServer

ACCEPT = ", ".join(
    [
        OCI_INDEX,
        OCI_MANIFEST,
        DOCKER_MANIFEST_LIST,
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
PLATFORMS: list[dict[str, str]] = [
    {"os": "linux", "architecture": "amd64"},
    {"os": "linux", "architecture": "arm64", "variant": "v8"},
    {"os": "linux", "architecture": "arm", "variant": "v7"},
]
IN_TOTO = "application/vnd.in-toto+json"


# -- content as exact bytes, seeded and checked without polyarch ----------------------------


@dataclass(frozen=True)
class Content:
    """An image or an index with everything it references, as exact bytes."""

    root: bytes
    media_type: str
    children: tuple[tuple[bytes, str], ...] = ()
    """Manifests the root references (by digest), with their media types."""
    blobs: Mapping[str, bytes] = field(default_factory=dict)
    """Every config and layer of the root or its children: digest -> bytes."""

    @property
    def digest(self) -> str:
        return sha256_digest(self.root)

    def entries(self) -> list[dict[str, object]]:
        """The root's index entries (an image has none)."""
        entries: list[dict[str, object]] = json.loads(self.root).get("manifests", [])
        return entries

    def push(self, server: RegistryServer, repository: str, tag: str) -> str:
        """Seed ``repository`` with the harness's own client; returns the reference."""
        for data in self.blobs.values():
            server.push_blob(repository, data)
        for raw, media_type in self.children:
            server.push_manifest(repository, sha256_digest(raw), raw, media_type)
        server.push_manifest(repository, tag, self.root, self.media_type)
        return f"{server.host}/{repository}:{tag}"

    def write_layout(self, path: Path, tag: str) -> str:
        """Write an OCI layout by hand (the spec's three parts); returns ``oci:PATH:TAG``."""
        blobs = path / "blobs" / "sha256"
        blobs.mkdir(parents=True)
        for data in [*self.blobs.values(), *(raw for raw, _ in self.children), self.root]:
            (blobs / sha256_digest(data).partition(":")[2]).write_bytes(data)
        (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        entry = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": len(self.root),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
        (path / "index.json").write_text(json.dumps(index))
        return f"oci:{path}:{tag}"


def single(image: SyntheticImage) -> Content:
    return Content(image.manifest, image.media_type, (), dict(image.blobs))


def attestation(image: SyntheticImage) -> tuple[bytes, dict[str, bytes], dict[str, object]]:
    """A buildx-style attestation manifest for ``image``: its bytes, blobs and index entry."""
    made = make_attestation(image)
    return made.manifest, dict(made.blobs), made.descriptor()


def multi(
    images: Sequence[SyntheticImage], *, oci: bool = True, attestations: bool = False
) -> Content:
    """An index of ``images`` (buildx order: the images, then their attestations)."""
    entries = [image.descriptor() for image in images]
    children = [(image.manifest, image.media_type) for image in images]
    blobs: dict[str, bytes] = {}
    for image in images:
        blobs.update(image.blobs)
    if attestations:
        for image in images:
            manifest, attestation_blobs, entry = attestation(image)
            entries.append(entry)
            children.append((manifest, OCI_MANIFEST))
            blobs.update(attestation_blobs)
    media_type = OCI_INDEX if oci else DOCKER_MANIFEST_LIST
    root = json.dumps(
        {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}, indent=3
    ).encode()
    return Content(root, media_type, tuple(children), blobs)


def images_for(
    seed: int, *, oci: bool = True, layers: int = 2, layer_size: int = 1024
) -> list[SyntheticImage]:
    return [
        make_image(p, seed=seed, oci=oci, layers=layers, layer_size=layer_size) for p in PLATFORMS
    ]


def unique(prefix: str) -> str:
    """A repository name no other test uses (the session registry is shared)."""
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


# -- oracles ----------------------------------------------------------------------------


def skopeo_raw(location: str) -> bytes:
    """``skopeo inspect --raw``: the exact bytes skopeo reads at ``location``."""
    args = ["skopeo", "inspect", "--raw"]
    if location.startswith("docker://"):
        args.append("--tls-verify=false")
    result = subprocess.run([*args, location], capture_output=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def registry_manifest(server: RegistryServer, repository: str, reference: str) -> bytes | None:
    """The manifest bytes the registry serves, or ``None`` on 404."""
    response = server.request(
        "GET", f"/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT}
    )
    if response.status == 404:
        return None
    assert response.status == 200, response.body
    return response.body


def registry_has_blob(server: RegistryServer, repository: str, digest: str) -> bool:
    status = server.request("HEAD", f"/v2/{repository}/blobs/{digest}").status
    assert status in (200, 404)
    return status == 200


def assert_complete_in_registry(
    server: RegistryServer, repository: str, content: Content, root: bytes | None = None
) -> None:
    """Every manifest ``root`` (default: ``content``'s root) names is there, with its blobs."""
    root = content.root if root is None else root
    manifests = {sha256_digest(raw): raw for raw, _ in content.children}
    todo = [root]
    while todo:
        raw = todo.pop()
        document = json.loads(raw)
        for entry in document.get("manifests", []):
            served = registry_manifest(server, repository, entry["digest"])
            assert served == manifests[entry["digest"]], entry
            todo.append(served)
        for blob in [document.get("config"), *document.get("layers", [])]:
            if blob is not None:
                assert registry_has_blob(server, repository, blob["digest"]), blob


def assert_complete_in_layout(path: Path, content: Content, root: bytes | None = None) -> None:
    root = content.root if root is None else root
    blobs = path / "blobs" / "sha256"
    todo = [root]
    while todo:
        document = json.loads(todo.pop())
        for entry in document.get("manifests", []):
            data = (blobs / entry["digest"][7:]).read_bytes()
            assert sha256_digest(data) == entry["digest"]
            todo.append(data)
        for blob in [document.get("config"), *document.get("layers", [])]:
            if blob is not None:
                data = (blobs / blob["digest"][7:]).read_bytes()
                assert data == content.blobs[blob["digest"]]


def layout_tags(path: Path) -> dict[str, str]:
    """tag -> digest, read from index.json by hand."""
    index = json.loads((path / "index.json").read_bytes())
    return {
        entry["annotations"]["org.opencontainers.image.ref.name"]: entry["digest"]
        for entry in index["manifests"]
        if "org.opencontainers.image.ref.name" in entry.get("annotations", {})
    }


def blob_requests(entries: list[AccessLogEntry], method: str) -> list[AccessLogEntry]:
    """Requests of ``method`` on blobs or uploads (``/v2/<repo>/blobs/...``)."""
    return [e for e in entries if e.method == method and "/blobs/" in e.path]


def push_buildx_image(
    server: RegistryServer, repository: str, images: Sequence[SyntheticImage], tag: str
) -> tuple[bytes, list[Attestation]]:
    attestations = [make_attestation(image) for image in images]
    for image in images:
        server.push_image(repository, image)
    for attestation in attestations:
        for data in attestation.blobs.values():
            server.push_blob(repository, data)
        server.push_manifest(repository, attestation.digest, attestation.manifest, OCI_MANIFEST)
    index = buildx_index(images, attestations)
    server.push_manifest(repository, tag, index, OCI_INDEX)
    return index, attestations


def buildx_index(images: Sequence[SyntheticImage], attestations: Sequence[Attestation]) -> bytes:
    """An OCI index as ``docker buildx build --provenance`` pushes it."""
    entries: list[dict[str, Any]] = [image.descriptor() for image in images]
    entries += [attestation.descriptor() for attestation in attestations]
    return json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, indent=2
    ).encode()
