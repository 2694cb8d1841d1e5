"""Bearer tokens over time, and the refusals a user must be able to read, against the real
distribution registry with ``auth: token`` and the suite's token service
(``token_registry``).

Tokens expire: polyarch renews them before they do by its own clock (``issued_at`` +
``expires_in``), for reads and writes alike, uploads included; a token the registry
refuses although that clock says it is valid is renewed once and the request sent once
more, never in a loop. Re-scoping: a push needs ``pull,push`` on the target, a mount
also ``pull`` on the source, in one token.

Distribution 2.8 accepts a token up to 60 s past its ``exp``. The token service's
``exp_skew`` moves ``exp`` without changing the ``expires_in`` polyarch reads: -60 makes
the registry refuse a token exactly when ``expires_in`` says it ends (so renewing it is
necessary, not just tidy), and a larger skew makes the registry refuse a token polyarch
still believes in.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from polyarch.digest import Digest
from polyarch.errors import (
    AuthenticationError,
    NetworkError,
    PermissionDeniedError,
    PolyarchError,
)
from polyarch.models import Descriptor, parse_manifest
from polyarch.registry import RegistryClient, RegistryOptions, RegistryStore
from polyarch.registry._auth import TokenRenewedError
from tests.clirun import assert_clean_error, polyarch
from tests.imagegen import make_image, sha256_digest
from tests.registry_server import LOOPBACK, RegistryFactory, TokenAuth
from tests.token_server import TokenRegistry
from tests.tokenflow import (
    AMD64,
    ARM64,
    Marks,
    asked,
    challenged,
    client_as,
    credentials,
    new_repo,
    pull_image,
    pull_scope,
    push_image,
    push_scope,
    seed,
)

#: Lifetime of the short tokens, seconds; long enough for a few requests on a slow machine.
LIFETIME = 2
#: Sleeping this long outlives a short token, by our clock and by the registry's.
OUTLIVE = LIFETIME + 0.3
#: Tokens from :func:`refused_early` are refused by the registry this long after issue.
EARLY = 3


def blob(data: bytes) -> Descriptor:
    return Descriptor("application/octet-stream", Digest.parse(sha256_digest(data)), len(data))


def statuses(marks: Marks, *methods: str) -> list[tuple[str, int]]:
    """(method, status) of the registry requests since ``marks``, of these methods only."""
    return [(e.method, e.status) for e in marks.registry_requests() if e.method in methods]


@pytest.fixture
def short_tokens(token_registry: TokenRegistry, monkeypatch: pytest.MonkeyPatch) -> TokenRegistry:
    """Tokens that live :data:`LIFETIME` seconds, at the registry as for polyarch."""
    monkeypatch.setattr(token_registry.tokens, "lifetime", LIFETIME)
    monkeypatch.setattr(token_registry.tokens, "exp_skew", -60)
    return token_registry


@contextmanager
def refused_early(
    tr: TokenRegistry, monkeypatch: pytest.MonkeyPatch, *, wait: bool = True
) -> Iterator[None]:
    """Tokens issued inside the block say they live 300 s but the registry refuses them
    :data:`EARLY` s after their issue; tokens issued afterwards are sound. On leaving,
    waits (unless told not to) until the registry refuses the block's tokens."""
    monkeypatch.setattr(tr.tokens, "lifetime", 300)
    monkeypatch.setattr(tr.tokens, "exp_skew", -(300 + 60 - EARLY))
    yield
    monkeypatch.setattr(tr.tokens, "exp_skew", 0)
    if wait:
        # iat is a whole second no later than now: refused after iat + EARLY.
        time.sleep(EARLY + 0.2)


# -- the premise --------------------------------------------------------------------------


def test_the_registry_refuses_short_tokens_once_they_expire(short_tokens: TokenRegistry) -> None:
    tr = short_tokens
    repo = new_repo("public")
    seed(tr, repo, make_image(AMD64, seed=40), "v1")
    token = tr.tokens.token_for(None, pull_scope(repo))
    path = f"/v2/{repo}/tags/list"
    assert (
        tr.registry.request("GET", path, headers={"Authorization": f"Bearer {token}"}).status == 200
    )
    time.sleep(OUTLIVE)
    refused = tr.registry.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    assert refused.status == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


# -- renewed before they expire, by our clock ------------------------------------------------


def test_a_read_after_the_token_expired_gets_a_new_one_up_front(
    short_tokens: TokenRegistry,
) -> None:
    tr = short_tokens
    repo = new_repo("alice")
    image = make_image(AMD64, seed=41)
    seed(tr, repo, image, "v1")
    with client_as(tr, "alice") as client:
        store = RegistryStore(client, repo)
        pull_image(store, "v1")
        time.sleep(OUTLIVE)

        marks = Marks(tr)
        assert pull_image(store, "v1").raw == image.manifest
        assert asked(marks.token_requests()) == [("alice", [pull_scope(repo)], [pull_scope(repo)])]
        assert challenged(marks.registry_requests()) == []


def test_a_push_whose_token_expired_before_the_manifest_put(short_tokens: TokenRegistry) -> None:
    tr = short_tokens
    repo = new_repo("alice")
    image = make_image(ARM64, seed=42)
    with client_as(tr, "alice") as client:
        store = RegistryStore(client, repo)
        for digest, data in image.blobs.items():
            store.put_blob(blob(data), [data])
            assert digest == sha256_digest(data)
        time.sleep(OUTLIVE)

        marks = Marks(tr)
        store.put_manifest(parse_manifest(image.manifest), tag="v1")
        assert asked(marks.token_requests()) == [("alice", [push_scope(repo)], [push_scope(repo)])]
        assert statuses(marks, "PUT") == [("PUT", 201)]
        assert challenged(marks.registry_requests()) == []
        assert store.get_manifest("v1").raw == image.manifest


def test_a_monolithic_upload_whose_token_expires_before_its_put(
    short_tokens: TokenRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload session was opened with one token; its bytes go up with the next."""
    tr = short_tokens
    repo = new_repo("alice")
    data = os.urandom(300_000)
    with client_as(tr, "alice") as client:
        store = RegistryStore(client, repo)
        start_upload = store._uploads._start

        def slow_start(*args: Any) -> str:
            location = start_upload(*args)
            time.sleep(OUTLIVE)
            return location

        monkeypatch.setattr(store._uploads, "_start", slow_start)
        client.ping()  # the challenge is known from here
        marks = Marks(tr)
        store.put_blob(blob(data), iter([data]))  # a stream: it cannot be sent twice

        assert [r.scopes for r in marks.token_requests()] == [(push_scope(repo),)] * 2
        assert statuses(marks, "POST", "PUT", "PATCH") == [("POST", 202), ("PUT", 201)]
        assert challenged(marks.registry_requests()) == []
        assert store.get_blob(blob(data)) == data


def test_a_chunked_upload_renews_its_token_between_chunks(
    short_tokens: TokenRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    tr = short_tokens
    repo = new_repo("alice")
    chunk = 64 * 1024
    data = os.urandom(3 * chunk - 100)
    with client_as(tr, "alice") as client:
        store = RegistryStore(client, repo, upload_chunk_size=chunk)
        patch = store._uploads._patch
        calls = [0]

        def slow_patch(*args: Any, **kwargs: Any) -> str:
            calls[0] += 1
            if calls[0] == 3:  # between the first and second chunk of the upload below
                time.sleep(OUTLIVE)
            return patch(*args, **kwargs)

        monkeypatch.setattr(store._uploads, "_patch", slow_patch)
        store.put_blob(blob(b"warm-up"), [b"warm-up"])  # the challenge is known from here
        marks = Marks(tr)
        store.put_blob(
            blob(data), iter([data[i : i + 10_000] for i in range(0, len(data), 10_000)])
        )

        assert calls[0] == 1 + 3
        writes = statuses(marks, "POST", "PUT", "PATCH")
        assert writes == [
            ("POST", 202),
            ("PATCH", 202),
            ("PATCH", 202),
            ("PATCH", 202),
            ("PUT", 201),
        ]
        assert [r.scopes for r in marks.token_requests()] == [(push_scope(repo),)]
        assert challenged(marks.registry_requests()) == []
        assert store.get_blob(blob(data)) == data


def test_a_mount_after_expiry_asks_for_both_scopes_in_one_token(
    short_tokens: TokenRegistry,
) -> None:
    tr = short_tokens
    source, target = new_repo("alice"), new_repo("alice")
    image = make_image(AMD64, seed=43)
    layer = image.layers[0]
    descriptor = Descriptor(layer.media_type, Digest.parse(layer.digest), layer.size)
    with client_as(tr, "alice") as client:
        src, dst = RegistryStore(client, source), RegistryStore(client, target)
        push_image(src, image, tag="v1")
        push_image(dst, make_image(ARM64, seed=43), tag="v1")  # a push token for the target
        time.sleep(OUTLIVE)

        marks = Marks(tr)
        assert dst.mount_blob(descriptor, src)
        scopes = sorted([push_scope(target), pull_scope(source)])
        assert asked(marks.token_requests()) == [("alice", scopes, scopes)]
        assert statuses(marks, "POST") == [("POST", 201)]
        assert challenged(marks.registry_requests()) == []

        # The mount token serves later pulls of the source and mounts between the same
        # two repositories; a push to the source needs a token of its own.
        marks = Marks(tr)
        assert src.has_blob(descriptor)
        other = make_image(ARM64, seed=44)
        push_image(src, other, tag="v2")
        assert dst.mount_blob(
            Descriptor(other.media_type, Digest.parse(other.config_digest), len(other.config)),
            src,
        )
        assert [sorted(r.scopes) for r in marks.token_requests()] == [[push_scope(source)]]


def test_a_push_token_is_asked_for_when_a_pull_token_is_held(
    short_tokens: TokenRegistry,
) -> None:
    tr = short_tokens
    repo = new_repo("alice")
    image = make_image(AMD64, seed=45)
    seed(tr, repo, image, "v1")
    with client_as(tr, "alice") as client:
        store = RegistryStore(client, repo)
        marks = Marks(tr)
        pull_image(store, "v1")
        store.put_manifest(parse_manifest(image.manifest), tag="v2")
        time.sleep(OUTLIVE)
        store.put_manifest(parse_manifest(image.manifest), tag="v3")
        assert [r.scopes for r in marks.token_requests()] == [
            (pull_scope(repo),),
            (push_scope(repo),),
            (push_scope(repo),),
        ]
        assert len(challenged(marks.registry_requests())) == 1  # the first contact


# -- refused by the registry although our clock says valid: one retry ------------------------


def test_a_read_with_a_token_refused_early_is_renewed_and_sent_once_more(
    token_registry: TokenRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    tr = token_registry
    repo = new_repo("alice")
    image = make_image(AMD64, seed=46)
    seed(tr, repo, image, "v1")
    with client_as(tr, "alice") as client:
        store = RegistryStore(client, repo)
        with refused_early(tr, monkeypatch):
            pull_image(store, "v1")

        marks = Marks(tr)
        assert store.get_manifest("v1").raw == image.manifest
        assert asked(marks.token_requests()) == [("alice", [pull_scope(repo)], [pull_scope(repo)])]
        assert statuses(marks, "GET") == [("GET", 401), ("GET", 200)]


def test_a_write_with_a_token_refused_early_is_renewed_and_sent_once_more(
    token_registry: TokenRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    tr = token_registry
    repo = new_repo("alice")
    image = make_image(ARM64, seed=47)
    with client_as(tr, "alice") as client:
        store = RegistryStore(client, repo)
        with refused_early(tr, monkeypatch):
            for data in image.blobs.values():
                store.put_blob(blob(data), [data])

        marks = Marks(tr)
        store.put_manifest(parse_manifest(image.manifest), tag="v1")
        assert asked(marks.token_requests()) == [("alice", [push_scope(repo)], [push_scope(repo)])]
        assert statuses(marks, "PUT") == [("PUT", 401), ("PUT", 201)]
        assert pull_image(store, "v1").raw == image.manifest


def test_an_upload_refused_midway_starts_again_with_the_new_token(
    token_registry: TokenRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session opened with a token the registry then refuses: the streamed PUT cannot
    be sent again, so the upload starts over (its bytes can be read again), once."""
    tr = token_registry
    repo = new_repo("alice")
    data = os.urandom(200_000)
    with client_as(tr, "alice") as client:
        store = RegistryStore(client, repo)
        start_upload = store._uploads._start
        slept = [False]

        def start_then_outlive(*args: Any) -> str:
            location = start_upload(*args)
            if not slept[0]:
                slept[0] = True
                time.sleep(EARLY + 0.2)
            return location

        with refused_early(tr, monkeypatch, wait=False):
            store.put_blob(blob(b"warm-up"), [b"warm-up"])  # the token, issued early
            monkeypatch.setattr(tr.tokens, "exp_skew", 0)  # the next one is sound
            monkeypatch.setattr(store._uploads, "_start", start_then_outlive)
            marks = Marks(tr)
            store.put_blob(blob(data), [data])  # a list: it can be read again

        assert [r.scopes for r in marks.token_requests()] == [(push_scope(repo),)]
        writes = statuses(marks, "POST", "PUT")
        assert writes == [("POST", 202), ("PUT", 401), ("POST", 202), ("PUT", 201)]
        assert store.get_blob(blob(data)) == data


def test_a_one_shot_upload_refused_midway_fails_cleanly_and_the_next_works(
    token_registry: TokenRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    tr = token_registry
    repo = new_repo("alice")
    data = os.urandom(100_000)
    with client_as(tr, "alice") as client:
        store = RegistryStore(client, repo)
        start_upload = store._uploads._start

        with refused_early(tr, monkeypatch, wait=False):
            store.put_blob(blob(b"warm-up"), [b"warm-up"])
            monkeypatch.setattr(tr.tokens, "exp_skew", 0)

            def start_then_outlive(*args: Any) -> str:
                location = start_upload(*args)
                time.sleep(EARLY + 0.2)
                return location

            monkeypatch.setattr(store._uploads, "_start", start_then_outlive)
            marks = Marks(tr)
            with pytest.raises(TokenRenewedError) as info:
                store.put_blob(blob(data), iter([data]))  # a stream: read once only
            monkeypatch.setattr(store._uploads, "_start", start_upload)

        message = str(info.value)
        assert "\n" not in message
        assert "had not expired by this machine's clock" in message
        assert "a new token is ready" in message
        assert info.value.exit_code == 5
        assert not store.has_blob(blob(data))
        # The session holds the renewed token: the next try needs no exchange.
        store.put_blob(blob(data), iter([data]))
        assert [r.scopes for r in marks.token_requests()] == [(push_scope(repo),)]
        assert store.get_blob(blob(data)) == data


def test_a_token_refused_again_after_renewal_is_not_retried_in_a_loop(
    token_registry: TokenRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    tr = token_registry
    repo = new_repo("alice")
    seed(tr, repo, make_image(AMD64, seed=48), "v1")
    with client_as(tr, "alice") as client:
        store = RegistryStore(client, repo)
        with refused_early(tr, monkeypatch):
            store.get_manifest("v1")
        monkeypatch.setattr(tr.tokens, "exp_skew", -1000)  # every new token is dead

        marks = Marks(tr)
        with pytest.raises(AuthenticationError) as info:
            store.get_manifest("v1")
        assert len(marks.token_requests()) == 1
        assert statuses(marks, "GET") == [("GET", 401), ("GET", 401)]
        assert info.value.exit_code == 4
        assert "the test credentials of alice" in str(info.value)


# -- refusals, named ---------------------------------------------------------------------------


def docker_config(directory: Path, config: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def auths(tr: TokenRegistry, user: str, password: str | None = None) -> dict[str, Any]:
    secret = f"{user}:{tr.password(user) if password is None else password}"
    return {"auths": {tr.host: {"auth": base64.b64encode(secret.encode()).decode()}}}


def run(
    args: list[str], *, config_dir: Path, home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    mine = {"DOCKER_CONFIG": str(config_dir), "POLYARCH_HOME": str(home), **(env or {})}
    return polyarch(*args, env=mine, text=True, isolated=True)


def one_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The error line of a failed run (a hint line may follow); no traceback."""
    return assert_clean_error(result, code)


def test_a_refused_push_names_config_json_and_the_denied_scope(
    token_registry: TokenRegistry, tmp_path: Path
) -> None:
    tr = token_registry
    repo = new_repo("alice")
    image = make_image(AMD64, seed=50)
    seed(tr, repo, image, "v1")
    config_dir = docker_config(tmp_path / "docker", auths(tr, "bob"))

    options = RegistryOptions(config_dir=config_dir)
    with (
        RegistryClient(tr.host, options=options) as client,
        pytest.raises(PermissionDeniedError) as info,
    ):
        RegistryStore(client, repo).put_manifest(parse_manifest(image.manifest), tag="x")
    message = str(info.value)
    assert "config.json (auths)" in message
    assert push_scope(repo) in message
    assert tr.host in message
    assert info.value.exit_code == 4

    # The same, as a user sees it.
    home = tmp_path / "home"
    target = f"{tr.host}/{repo}:list"
    created = run(["create", target, f"{tr.host}/{repo}:v1"], config_dir=config_dir, home=home)
    assert created.returncode == 0, created.stderr
    stderr = one_error(run(["push", target], config_dir=config_dir, home=home), 4)
    assert "config.json (auths)" in stderr
    assert push_scope(repo) in stderr
    assert tr.password("bob") not in stderr


def test_a_refused_scope_names_the_credential_helper(
    token_registry: TokenRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tr = token_registry
    repo = new_repo("alice")
    image = make_image(ARM64, seed=51)
    seed(tr, repo, image, "v1")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-polyarchtest"
    answer = json.dumps({"ServerURL": tr.host, "Username": "bob", "Secret": tr.password("bob")})
    helper.write_text(f"#!/bin/sh\ncat >/dev/null\necho '{answer}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config_dir = docker_config(tmp_path / "docker", {"credHelpers": {tr.host: "polyarchtest"}})

    with RegistryClient(tr.host, options=RegistryOptions(config_dir=config_dir)) as client:
        store = RegistryStore(client, repo)
        assert pull_image(store, "v1").raw == image.manifest  # bob may pull
        with pytest.raises(PermissionDeniedError) as info:
            store.put_manifest(parse_manifest(image.manifest), tag="bob")
    message = str(info.value)
    assert "credential helper docker-credential-polyarchtest" in message
    assert push_scope(repo) in message
    assert tr.password("bob") not in message


def test_an_anonymous_push_is_refused_with_a_login_hint(
    token_registry: TokenRegistry, tmp_path: Path
) -> None:
    tr = token_registry
    repo = new_repo("public")  # everyone may pull, nobody anonymous may push
    image = make_image(AMD64, seed=52)
    seed(tr, repo, image, "v1")
    empty = docker_config(tmp_path / "docker", {})

    with RegistryClient(tr.host, options=RegistryOptions(config_dir=empty)) as client:
        store = RegistryStore(client, repo)
        assert pull_image(store, "v1").raw == image.manifest
        marks = Marks(tr)
        with pytest.raises(AuthenticationError) as info:
            store.put_manifest(parse_manifest(image.manifest), tag="anon")
    assert asked(marks.token_requests()) == [(None, [push_scope(repo)], [pull_scope(repo)])]
    assert info.value.hint == f"log in first: polyarch login {tr.host}"
    assert tr.host in str(info.value)
    assert info.value.exit_code == 4

    home = tmp_path / "home"
    target = f"{tr.host}/{repo}:list"
    assert (
        run(["create", target, f"{tr.host}/{repo}:v1"], config_dir=empty, home=home).returncode == 0
    )
    stderr = one_error(run(["push", target], config_dir=empty, home=home), 4)
    assert f"hint: log in first: polyarch login {tr.host}" in stderr


def test_a_wrong_password_in_config_json_is_refused_by_the_token_service(
    token_registry: TokenRegistry, tmp_path: Path
) -> None:
    tr = token_registry
    repo = new_repo("alice")
    wrong = "wrong-" + tr.password("alice")[::-1]
    config_dir = docker_config(tmp_path / "docker", auths(tr, "alice", wrong))

    with RegistryClient(tr.host, options=RegistryOptions(config_dir=config_dir)) as client:
        marks = Marks(tr)
        with pytest.raises(AuthenticationError) as info:
            RegistryStore(client, repo).list_tags()
    assert [(r.status, r.user) for r in marks.token_requests()] == [(401, None)]
    message = f"{info.value} {info.value.hint} {info.value!r}"
    assert "token service" in message
    assert "config.json (auths)" in message
    assert wrong not in message
    assert info.value.exit_code == 4

    result = run(["tags", f"{tr.host}/{repo}"], config_dir=config_dir, home=tmp_path / "home")
    stderr = one_error(result, 4)
    assert "config.json (auths)" in stderr
    assert wrong not in result.stdout + stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def registry_with_realm(tr: TokenRegistry, factory: RegistryFactory, realm: str) -> str:
    """A fresh registry that trusts the suite's token signer but sends clients to
    ``realm`` for tokens; its host."""
    auth = TokenAuth(
        realm=realm,
        service=tr.tokens.service,
        issuer=tr.tokens.issuer,
        rootcertbundle=tr.tokens.root_certificate_path,
    )
    return factory(token_auth=auth).host


def test_a_token_service_that_is_down_is_a_network_error_naming_it(
    token_registry: TokenRegistry, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    tr = token_registry
    dead = f"{LOOPBACK}:{free_port()}"
    host = registry_with_realm(tr, registry_factory, f"http://{dead}/token")
    options = RegistryOptions(credentials=credentials(tr, "alice"), retries=0)

    with RegistryClient(host, options=options) as client, pytest.raises(NetworkError) as info:
        RegistryStore(client, "alice/app").list_tags()
    message = str(info.value)
    assert f"token service of {host} at {dead}" in message
    assert info.value.exit_code == 5
    assert f"http://{dead}/token" in (info.value.hint or "")

    config_dir = docker_config(tmp_path / "docker", {})
    result = run(
        ["tags", "--retries", "0", f"{host}/alice/app"], config_dir=config_dir, home=tmp_path
    )
    assert f"token service of {host} at {dead}" in one_error(result, 5)


def test_a_token_service_that_never_answers_times_out(
    token_registry: TokenRegistry, registry_factory: RegistryFactory
) -> None:
    """httpx gives the requests of an auth flow no timeout: polyarch passes its own on."""
    tr = token_registry
    with socket.socket() as silent:
        silent.bind((LOOPBACK, 0))
        silent.listen(8)  # connections are accepted by the kernel, and never answered
        where = f"{LOOPBACK}:{silent.getsockname()[1]}"
        host = registry_with_realm(tr, registry_factory, f"http://{where}/token")
        options = RegistryOptions(credentials=credentials(tr, "alice"), retries=0, timeout=1.0)
        outcome: list[BaseException | None] = []

        def attempt() -> None:
            try:
                with RegistryClient(host, options=options) as client:
                    RegistryStore(client, "alice/app").list_tags()
                outcome.append(None)
            except PolyarchError as err:
                outcome.append(err)

        started = time.monotonic()
        worker = threading.Thread(target=attempt, daemon=True)
        worker.start()
        worker.join(timeout=30)
        assert not worker.is_alive(), "polyarch hung on a token service that never answers"
    [err] = outcome
    assert isinstance(err, NetworkError)
    assert f"token service of {host} at {where}" in str(err)
    assert time.monotonic() - started < 15


# -- plain HTTP: credentials go to this machine ------------------------------------------------


@pytest.mark.parametrize("spelling", ["127.0.0.1", "localhost"])
def test_credentials_go_over_plain_http_to_loopback(
    token_registry: TokenRegistry, spelling: str
) -> None:
    """The loopback case the refusals of tests/unit/test_registry_auth.py leave open: the
    registry and its realm are http://127.0.0.1, and the password and tokens go there."""
    tr = token_registry
    host = tr.host.replace(LOOPBACK, spelling)
    repo = new_repo("alice")
    image = make_image(AMD64, seed=53)
    options = RegistryOptions(credentials=credentials(tr, "alice"))
    with RegistryClient(host, options=options) as client:
        assert client.base_url == f"http://{host}"
        marks = Marks(tr)
        store = RegistryStore(client, repo)
        push_image(store, image, tag="v1")
        assert pull_image(store, "v1").raw == image.manifest
    assert [(r.user, r.status) for r in marks.token_requests()] == [("alice", 200)]
    assert {e.status for e in marks.registry_requests()} <= {200, 201, 202, 401}
