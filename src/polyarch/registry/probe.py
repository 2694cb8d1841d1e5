"""What a registry can do, asked of it: ``polyarch probe`` and ``polyarch auth explain``.

Read-only unless asked: the API root, the scheme, how it authenticates, its rate-limit
headers; with a repository, tag pagination and the referrers API; with a scratch
repository to write to, whether it takes OCI indexes and Docker lists, mounts blobs across
repositories, lists referrers itself (``OCI-Subject``), and deletes, everything it made
removed again (or named, when the registry does not delete). Nothing here prints or
keeps a secret: a token's scopes and lifetime are read, never its value.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from polyarch import mediatype as mt
from polyarch.digest import Digest
from polyarch.errors import (
    AuthenticationError,
    PermissionDeniedError,
    PolyarchError,
    RegistryError,
    RequestLimitError,
)
from polyarch.models import Descriptor, Manifest, parse_manifest
from polyarch.registry._download import status_in
from polyarch.registry._http import Response
from polyarch.registry._tokens import repository_scope
from polyarch.registry._url import without_query
from polyarch.registry.client import RegistryClient
from polyarch.registry.store import RegistryStore

__all__ = ["AuthReport", "Check", "explain_auth", "probe"]

#: Response headers that tell a client how much it may still ask (Docker Hub's, the
#: IETF draft's, GitHub's and others' spellings).
RATE_LIMIT_HEADERS: Final = (
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit",
    "ratelimit-policy",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "retry-after",
)
_NO_DIGEST: Final = "sha256:" + "0" * 64


@dataclass(frozen=True, slots=True)
class Check:
    """One question asked of the registry and its answer (``yes``, ``no``, a value, or
    ``unknown`` when it could not tell)."""

    name: str
    answer: str
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"check": self.name, "answer": self.answer, "detail": self.detail}


@dataclass
class _Probe:
    client: RegistryClient
    checks: list[Check] = field(default_factory=list)
    rate_limits: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, answer: str, detail: str = "") -> None:
        self.checks.append(Check(name, answer, detail))

    def ask(
        self, method: str, path: str, *, scopes: tuple[str, ...] = (), **kwargs: Any
    ) -> Response:
        response = self.client.request(method, path, scopes=scopes, **kwargs)
        for name in RATE_LIMIT_HEADERS:
            value = response.headers.get(name)
            if value is not None:
                self.rate_limits[name] = value[:200]
        return response


def probe(
    client: RegistryClient, *, repository: str | None = None, write: str | None = None
) -> list[Check]:
    """Ask ``client``'s registry what it can do; ``repository`` for the read-only questions
    about one, ``write`` for a scratch repository to try the write paths in.

    :raises NetworkError: the registry does not answer at all.
    """
    asked = _Probe(client)
    root = asked.ask("GET", "/v2/", expect=status_in(200, 401, 404), what="ping")
    version = root.headers.get("Docker-Distribution-API-Version")
    asked.add(
        "api",
        "yes" if root.status_code == 200 else f"HTTP {root.status_code}",
        f"/v2/ answered {root.status_code}" + (f", API version {version}" if version else ""),
    )
    asked.add("scheme", client.scheme, f"reached as {client.base_url}")
    challenge = client.auth.challenge
    if challenge is None:
        asked.add("auth", "none", "no challenge: anonymous access")
    else:
        detail = f"realm {without_query(challenge.realm)}" if challenge.scheme == "bearer" else ""
        if challenge.scheme == "bearer" and challenge.service:
            detail += f", service {challenge.service}"
        asked.add("auth", challenge.scheme, detail)
    for name in (repository, write):
        if name is not None:
            _read_checks(asked, name)
            break
    if write is not None:
        _write_checks(asked, write)
    asked.add(
        "rate-limit",
        "seen" if asked.rate_limits else "none seen",
        ", ".join(f"{k}: {v}" for k, v in sorted(asked.rate_limits.items())),
    )
    return asked.checks


def _read_checks(asked: _Probe, repository: str) -> None:
    pull = (repository_scope(repository, "pull"),)
    tags = asked.ask(
        "GET",
        f"/v2/{repository}/tags/list?n=1",
        scopes=pull,
        expect=status_in(200, 404),
        what=f"list tags of {repository}",
    )
    if tags.status_code == 404:
        asked.add("tag-pagination", "unknown", f"{repository} has no tags yet")
    else:
        link = tags.headers.get("Link")
        asked.add(
            "tag-pagination",
            "yes" if link else "no",
            "a Link to the next page with n=1"
            if link
            else "no Link with n=1: all tags in one answer (or only one tag)",
        )
    referrers = asked.ask(
        "GET",
        f"/v2/{repository}/referrers/{_NO_DIGEST}",
        scopes=pull,
        headers={"Accept": mt.OCI_INDEX},
        expect=status_in(200, 400, 404, 405),
        what=f"referrers in {repository}",
    )
    answers = {200: "yes", 404: "no"}
    answer = answers.get(referrers.status_code, "unknown")
    detail = f"GET /v2/NAME/referrers/DIGEST answered {referrers.status_code}"
    if referrers.status_code == 200 and not _is_index(referrers):
        # A catch-all page (a web front end, a proxy's) answers 200 to every path.
        answer, detail = "unknown", detail + " with no OCI index: not the referrers API"
    elif referrers.status_code == 404:
        detail += "; the referrers tag is used"
    asked.add("referrers-api", answer, detail)


def _is_index(response: Response) -> bool:
    """Whether the body is an OCI index, as the referrers API answers."""
    try:
        document = response.json()
    except (ValueError, RuntimeError):
        return False
    return isinstance(document, dict) and isinstance(document.get("manifests"), list)


def _write_checks(asked: _Probe, repository: str) -> None:
    """Push a tiny image, an OCI index and a Docker list of it, a referrer, mount a blob
    into a second repository, then delete all of it."""
    store = RegistryStore(asked.client, repository)
    mirror = RegistryStore(asked.client, f"{repository}-mount-{secrets.token_hex(3)}")
    made: list[tuple[RegistryStore, Manifest]] = []
    blobs: list[tuple[RegistryStore, Descriptor]] = []
    nonce = secrets.token_hex(8)  # content of its own: never another's blob or tag
    config_data = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"polyarch.probe": nonce}},
            "rootfs": {"type": "layers", "diff_ids": []},
        },
        separators=(",", ":"),
    ).encode()

    def attempt(name: str, work: Callable[[], str], ok_detail: str = "") -> bool:
        try:
            asked.add(name, work(), ok_detail)
            return True
        except RequestLimitError:
            raise  # not the registry's "no": the probe stops, what it made stays
        except PolyarchError as err:
            asked.add(name, "no", str(err).splitlines()[0][:300])
            return False

    config = Descriptor(mt.OCI_CONFIG, Digest.of(config_data), len(config_data))
    if not attempt("push-blob", lambda: _put_blob(store, config, config_data, blobs)):
        return
    image = _manifest(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": config.to_dict(),
            "layers": [],
        }
    )
    attempt("oci-manifest", lambda: _put(store, image, made))
    docker_config = Descriptor(mt.DOCKER_CONFIG, config.digest, config.size)
    docker_image = _manifest(
        {
            "schemaVersion": 2,
            "mediaType": mt.DOCKER_MANIFEST,
            "config": docker_config.to_dict(),
            "layers": [],
        }
    )
    attempt("docker-manifest", lambda: _put(store, docker_image, made))
    platform = {"architecture": "amd64", "os": "linux"}
    index = _manifest(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_INDEX,
            "manifests": [{**image.descriptor().to_dict(), "platform": platform}],
        }
    )
    attempt("oci-index", lambda: _put(store, index, made, tag=f"polyarch-probe-{nonce}"))
    docker_list = _manifest(
        {
            "schemaVersion": 2,
            "mediaType": mt.DOCKER_MANIFEST_LIST,
            "manifests": [{**docker_image.descriptor().to_dict(), "platform": platform}],
        }
    )
    attempt("docker-list", lambda: _put(store, docker_list, made))
    referrer = _manifest(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "artifactType": "application/vnd.polyarch.probe",
            "config": config.to_dict(),
            "layers": [],
            "subject": image.descriptor().to_dict(),
        }
    )

    def subject_indexed() -> str:
        _put(store, referrer, made)
        return "yes" if store.lists_referrer(referrer.digest) else "no"

    attempt("referrers-on-push", subject_indexed)

    def mount() -> str:
        mounted = mirror.mount_blob(config, store)
        if mounted:
            blobs.append((mirror, config))
        return "yes" if mounted else "no"

    attempt("cross-repository-mount", mount)
    _clean_up(asked, made, blobs)


def _manifest(document: dict[str, Any]) -> Manifest:
    return parse_manifest(json.dumps(document, separators=(",", ":")).encode())


def _put_blob(
    store: RegistryStore,
    blob: Descriptor,
    data: bytes,
    blobs: list[tuple[RegistryStore, Descriptor]],
) -> str:
    store.put_blob(blob, [data])
    blobs.append((store, blob))
    return "yes"


def _put(
    store: RegistryStore,
    manifest: Manifest,
    made: list[tuple[RegistryStore, Manifest]],
    *,
    tag: str | None = None,
) -> str:
    store.put_manifest(manifest, tag=tag)
    made.append((store, manifest))
    return "yes"


def _clean_up(
    asked: _Probe,
    made: list[tuple[RegistryStore, Manifest]],
    blobs: list[tuple[RegistryStore, Descriptor]],
) -> None:
    """Delete what the probe made, the referrer first, the image last; say whether the
    registry deletes, and what is left when it does not."""
    left: list[str] = []
    deletes = "yes"
    for store, manifest in reversed(made):
        try:
            store.delete(manifest.digest)
        except RequestLimitError:
            raise
        except RegistryError as err:
            if err.status == 405:
                deletes = "no"
            left.append(f"{store.location}@{manifest.digest}")
    for store, blob in blobs:
        try:
            store.client.request(
                "DELETE",
                f"/v2/{store.repository}/blobs/{blob.digest}",
                scopes=(repository_scope(store.repository, "delete"),),
                expect=status_in(202, 404, 405),
                what=f"delete blob {blob.digest} from {store.location}",
            )
        except RequestLimitError:
            raise
        except RegistryError:
            left.append(f"blob {blob.digest} in {store.location}")
    asked.add(
        "delete",
        deletes,
        "what the probe made is removed"
        if not left
        else "left behind: " + ", ".join(left[:6]) + (" ..." if len(left) > 6 else ""),
    )


@dataclass(frozen=True, slots=True)
class AuthReport:
    """How polyarch authenticates to one registry: never a secret."""

    registry: str
    credential_source: str
    kind: str
    scheme: str
    realm: str | None = None
    service: str | None = None
    #: Scopes asked for, and those the token service granted (``None``: an opaque token).
    asked: tuple[str, ...] = ()
    granted: tuple[str, ...] | None = None
    expires_in: float | None = None
    #: What the registry or its token service said when it refused (``None``: it did not).
    refused: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "credentialSource": self.credential_source,
            "credentialKind": self.kind,
            "authScheme": self.scheme,
            "realm": self.realm,
            "service": self.service,
            "scopesAsked": list(self.asked),
            "scopesGranted": None if self.granted is None else list(self.granted),
            "expiresInSeconds": None if self.expires_in is None else round(self.expires_in),
            "refused": self.refused,
        }


def explain_auth(
    client: RegistryClient, *, repository: str | None = None, push: bool = False
) -> AuthReport:
    """Which credentials answer for ``client``'s registry, how it challenges, and (with
    ``repository``, for a token service) which scopes it grants and for how long.

    A refusal (the registry's or its token service's) is part of the answer, in
    ``refused``.
    """
    creds = client.auth.credentials
    if creds is None or creds.is_empty:
        kind = "anonymous"
    elif creds.identity_token:
        kind = "identity token"
    else:
        kind = "username and password"
    asked: tuple[str, ...] = ()
    granted: tuple[str, ...] | None = None
    expires_in: float | None = None
    refused: str | None = None
    try:
        client.ping()
        if repository is not None:
            actions = ("pull", "push") if push else ("pull",)
            asked = (repository_scope(repository, *actions),)
            client.request(
                "GET",
                f"/v2/{repository}/tags/list?n=1",
                scopes=asked,
                expect=status_in(200, 404),
                what=f"list tags of {repository}",
            )
    except (AuthenticationError, PermissionDeniedError) as err:
        refused = str(err).splitlines()[0]  # messages never hold a secret
    challenge = client.auth.challenge
    if asked and refused is None and challenge is not None and challenge.scheme == "bearer":
        token = client.auth.token_for(frozenset(asked))
        if token is not None:
            scopes, expires_at, opaque = token
            granted = None if opaque else tuple(sorted(scopes))
            expires_in = max(0.0, expires_at - time.monotonic())
    return AuthReport(
        client.registry,
        client.auth.credential_source,
        kind,
        challenge.scheme if challenge is not None else "none",
        without_query(challenge.realm)
        if challenge is not None and challenge.scheme == "bearer"
        else None,
        challenge.service if challenge is not None else None,
        asked,
        granted,
        expires_in,
        refused,
    )
