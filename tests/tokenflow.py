"""Helpers of the token-auth tests: users' clients of the token registry, the scopes they
ask for, and marks in the registry's and the token service's records."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from polyarch.auth import Credentials
from polyarch.digest import Digest
from polyarch.models import Descriptor, ImageManifest, parse_manifest
from polyarch.registry import RegistryClient, RegistryOptions, RegistryStore
from tests.imagegen import SyntheticImage
from tests.registry_server import AccessLogEntry
from tests.token_server import TokenRegistry, TokenRequest

AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}


def new_repo(namespace: str) -> str:
    return f"{namespace}/{uuid.uuid4().hex[:12]}"


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


def push_scope(repository: str) -> str:
    return f"repository:{repository}:pull,push"


def credentials(tr: TokenRegistry, user: str, password: str | None = None) -> Credentials:
    return Credentials(
        username=user,
        password=tr.password(user) if password is None else password,
        source=f"the test credentials of {user}",
    )


@contextmanager
def client_as(
    tr: TokenRegistry, user: str, password: str | None = None
) -> Iterator[RegistryClient]:
    options = RegistryOptions(credentials=credentials(tr, user, password))
    with RegistryClient(tr.host, options=options) as client:
        yield client


def push_image(store: RegistryStore, image: SyntheticImage, tag: str | None = None) -> None:
    for digest, data in image.blobs.items():
        store.put_blob(
            Descriptor("application/octet-stream", Digest.parse(digest), len(data)), [data]
        )
    store.put_manifest(parse_manifest(image.manifest), tag=tag)


def pull_image(store: RegistryStore, tag: str) -> ImageManifest:
    manifest = store.get_manifest(tag)
    assert isinstance(manifest, ImageManifest)
    for blob in (manifest.config, *manifest.layers):
        assert len(store.get_blob(blob)) == blob.size
    return manifest


def seed(tr: TokenRegistry, repository: str, image: SyntheticImage, tag: str) -> None:
    """Push as ``admin``, who may push anywhere."""
    with client_as(tr, "admin") as client:
        push_image(RegistryStore(client, repository), image, tag=tag)


def asked(requests: list[TokenRequest]) -> list[tuple[str | None, list[str], list[str]]]:
    """Who asked for which scopes and what they got, scopes sorted."""
    return [(r.user, sorted(r.scopes), sorted(r.granted)) for r in requests]


def challenged(entries: list[AccessLogEntry]) -> list[AccessLogEntry]:
    return [e for e in entries if e.status == 401]


class Marks:
    """Positions in the registry's access log and the token service's record."""

    def __init__(self, tr: TokenRegistry) -> None:
        self.tr = tr
        self.registry = tr.registry.mark()
        self.tokens = tr.tokens.mark()

    def token_requests(self) -> list[TokenRequest]:
        return self.tr.tokens.requests(self.tokens)

    def registry_requests(self) -> list[AccessLogEntry]:
        return self.tr.registry.requests(self.registry)


# -- scopes and the token cache ------------------------------------------------------------
