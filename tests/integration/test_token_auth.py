"""polyarch's bearer-token flow against a real distribution registry and a token service,
the way Docker Hub splits the work: the registry challenges, the token service decides.

The registry and the token service are shared by the session (``token_registry``); each
test uses its own repositories and counts only what happened between two marks.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from polyarch.digest import Digest
from polyarch.errors import AuthenticationError, PermissionDeniedError
from polyarch.models import Descriptor, parse_manifest
from polyarch.registry import RegistryClient, RegistryOptions, RegistryStore
from tests.imagegen import make_image
from tests.token_server import TokenRegistry
from tests.tokenflow import (
    AMD64,
    ARM64,
    Marks,
    asked,
    challenged,
    client_as,
    new_repo,
    pull_image,
    pull_scope,
    push_image,
    push_scope,
    seed,
)


def test_push_asks_for_pull_push_once_then_reuses_the_token(token_registry: TokenRegistry) -> None:
    tr = token_registry
    repo = new_repo("alice")
    with client_as(tr, "alice") as client:
        store = RegistryStore(client, repo)
        marks = Marks(tr)
        push_image(store, make_image(AMD64, seed=21), tag="v1")

        assert asked(marks.token_requests()) == [("alice", [push_scope(repo)], [push_scope(repo)])]
        assert [r.method for r in marks.token_requests()] == ["GET"]
        # One 401 to learn where tokens come from; every later request sends the token.
        assert len(challenged(marks.registry_requests())) == 1

        marks = Marks(tr)
        push_image(store, make_image(ARM64, seed=21), tag="v2")
        assert marks.token_requests() == []
        assert challenged(marks.registry_requests()) == []
        served = marks.registry_requests()
        assert served
        assert {e.status for e in served} <= {201, 202}


def test_pull_asks_for_pull_only_and_push_rescopes(token_registry: TokenRegistry) -> None:
    tr = token_registry
    repo = new_repo("alice")
    image = make_image(AMD64, seed=22)
    with client_as(tr, "alice") as client:
        push_image(RegistryStore(client, repo), image, tag="v1")
        push_image(RegistryStore(client, repo), make_image(ARM64, seed=22), tag="v2")

    with client_as(tr, "alice") as client:
        store = RegistryStore(client, repo)
        marks = Marks(tr)
        assert pull_image(store, "v1").raw == image.manifest
        assert asked(marks.token_requests()) == [("alice", [pull_scope(repo)], [pull_scope(repo)])]
        assert len(challenged(marks.registry_requests())) == 1

        marks = Marks(tr)
        pull_image(store, "v2")
        store.list_tags()
        assert marks.token_requests() == []
        assert challenged(marks.registry_requests()) == []

        # Pushing needs more than the pull token holds: a new token, asked for up front
        # because the challenge is known, so no 401 either.
        marks = Marks(tr)
        store.put_manifest(parse_manifest(image.manifest), tag="v3")
        assert asked(marks.token_requests()) == [("alice", [push_scope(repo)], [push_scope(repo)])]
        assert challenged(marks.registry_requests()) == []
        assert [(e.method, e.status) for e in marks.registry_requests()] == [("PUT", 201)]

        # The push token covers pulls too.
        marks = Marks(tr)
        pull_image(store, "v3")
        assert marks.token_requests() == []


def test_cross_repository_mount_asks_for_both_scopes_in_one_token(
    token_registry: TokenRegistry,
) -> None:
    tr = token_registry
    source, target = new_repo("alice"), new_repo("alice")
    image = make_image(AMD64, seed=23)
    layer = Descriptor(
        image.layers[0].media_type, Digest.parse(image.layers[0].digest), image.layers[0].size
    )
    with client_as(tr, "alice") as client:
        src = RegistryStore(client, source)
        push_image(src, image, tag="v1")
        dst = RegistryStore(client, target)

        marks = Marks(tr)
        assert dst.mount_blob(layer, src)

        scopes = sorted([push_scope(target), pull_scope(source)])
        assert asked(marks.token_requests()) == [("alice", scopes, scopes)]
        assert [(e.method, e.status) for e in marks.registry_requests()] == [("POST", 201)]
        mount = marks.registry_requests()[0]
        assert mount.query == {"mount": [str(layer.digest)], "from": [source]}
        assert dst.has_blob(layer)


def test_mount_from_a_readable_namespace(token_registry: TokenRegistry) -> None:
    # alice may pull shared/* but not push there: enough to mount from it.
    tr = token_registry
    source, target = new_repo("shared"), new_repo("alice")
    image = make_image(ARM64, seed=24)
    seed(tr, source, image, "v1")
    config = Descriptor(image.media_type, Digest.parse(image.config_digest), len(image.config))
    with client_as(tr, "alice") as client:
        marks = Marks(tr)
        assert RegistryStore(client, target).mount_blob(config, RegistryStore(client, source))
        scopes = sorted([push_scope(target), pull_scope(source)])
        assert asked(marks.token_requests()) == [("alice", scopes, scopes)]


# -- anonymous access ----------------------------------------------------------------------


def test_anonymous_pull_of_a_public_repository(
    token_registry: TokenRegistry, tmp_path: Path
) -> None:
    tr = token_registry
    repo = new_repo("public")
    image = make_image(AMD64, seed=25)
    seed(tr, repo, image, "latest")

    # An empty docker config directory: no credentials at all.
    with RegistryClient(tr.host, options=RegistryOptions(config_dir=tmp_path)) as client:
        marks = Marks(tr)
        assert pull_image(RegistryStore(client, repo), "latest").raw == image.manifest
    requests = marks.token_requests()
    assert asked(requests) == [(None, [pull_scope(repo)], [pull_scope(repo)])]
    assert requests[0].method == "GET"


def test_anonymous_pull_of_a_private_repository_says_log_in(
    token_registry: TokenRegistry, tmp_path: Path
) -> None:
    tr = token_registry
    repo = new_repo("alice")
    seed(tr, repo, make_image(AMD64, seed=26), "v1")

    with RegistryClient(tr.host, options=RegistryOptions(config_dir=tmp_path)) as client:
        marks = Marks(tr)
        with pytest.raises(AuthenticationError) as info:
            RegistryStore(client, repo).get_manifest("v1")

    # The token service granted nothing (not an error on its side); the registry refused.
    assert asked(marks.token_requests()) == [(None, [pull_scope(repo)], [])]
    message = str(info.value)
    assert "\n" not in message
    assert tr.host in message
    assert "requires authentication" in message
    assert info.value.hint == f"log in first: polyarch login {tr.host}"
    assert info.value.exit_code == 4


# -- refusals ------------------------------------------------------------------------------


def test_pull_only_user_cannot_push(token_registry: TokenRegistry) -> None:
    tr = token_registry
    repo = new_repo("alice")
    image = make_image(AMD64, seed=27)
    seed(tr, repo, image, "v1")

    with client_as(tr, "bob") as client:
        store = RegistryStore(client, repo)
        assert pull_image(store, "v1").raw == image.manifest
        marks = Marks(tr)
        with pytest.raises(PermissionDeniedError) as info:
            store.put_manifest(parse_manifest(image.manifest), tag="bob-was-here")

    # One exchange: the granted scopes are read from the token, so it is not asked twice.
    assert asked(marks.token_requests()) == [("bob", [push_scope(repo)], [pull_scope(repo)])]
    message = str(info.value)
    assert "\n" not in message
    assert tr.host in message
    assert "the test credentials of bob" in message
    assert push_scope(repo) in message
    assert info.value.exit_code == 4
    with client_as(tr, "alice") as client:
        assert "bob-was-here" not in RegistryStore(client, repo).list_tags()


def test_wrong_password_is_refused_by_the_token_service(token_registry: TokenRegistry) -> None:
    tr = token_registry
    repo = new_repo("alice")
    wrong = "not-" + tr.password("alice")
    with client_as(tr, "alice", wrong) as client:
        marks = Marks(tr)
        with pytest.raises(AuthenticationError) as info:
            RegistryStore(client, repo).list_tags()

    [request] = marks.token_requests()
    assert (request.status, request.user, request.granted) == (401, None, ())
    message = str(info.value)
    assert "\n" not in message
    assert f"token service of {tr.host}" in message
    assert "the test credentials of alice" in message
    assert wrong not in message
    assert wrong not in repr(info.value)
    assert info.value.exit_code == 4


# -- identity tokens (OAuth2 refresh tokens) --------------------------------------------------


def write_docker_config(directory: Path, auths: dict[str, dict[str, str]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps({"auths": auths}))
    return directory


def test_identity_token_is_exchanged_by_the_refresh_token_grant(
    token_registry: TokenRegistry, tmp_path: Path
) -> None:
    tr = token_registry
    repo = new_repo("alice")
    image = make_image(AMD64, seed=28)
    refresh = tr.tokens.issue_refresh_token("alice")
    config_dir = write_docker_config(tmp_path, {tr.host: {"identitytoken": refresh}})

    with RegistryClient(tr.host, options=RegistryOptions(config_dir=config_dir)) as client:
        store = RegistryStore(client, repo)
        marks = Marks(tr)
        push_image(store, image, tag="v1")
        assert pull_image(store, "v1").raw == image.manifest

    [request] = marks.token_requests()
    assert (request.method, request.grant_type, request.client_id) == (
        "POST",
        "refresh_token",
        "polyarch",
    )
    assert (request.user, request.scopes, request.granted) == (
        "alice",
        (push_scope(repo),),
        (push_scope(repo),),
    )
    assert request.service == tr.tokens.service


def test_unknown_identity_token_is_an_authentication_error(
    token_registry: TokenRegistry, tmp_path: Path
) -> None:
    tr = token_registry
    config_dir = write_docker_config(tmp_path, {tr.host: {"identitytoken": "revoked-token"}})
    with RegistryClient(tr.host, options=RegistryOptions(config_dir=config_dir)) as client:
        marks = Marks(tr)
        with pytest.raises(AuthenticationError) as info:
            RegistryStore(client, new_repo("alice")).list_tags()
    assert [(r.grant_type, r.status) for r in marks.token_requests()] == [("refresh_token", 401)]
    assert "revoked-token" not in str(info.value)
    assert "config.json" in str(info.value)


# -- polyarch login / logout, the real console script ---------------------------------------


def run_polyarch(
    args: list[str], config_dir: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("polyarch")
    assert executable is not None, "the polyarch console script is not installed"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "POLYARCH_"))}
    env["DOCKER_CONFIG"] = str(config_dir)
    return subprocess.run(
        [executable, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_login_stores_checked_credentials_and_logout_removes_them(
    token_registry: TokenRegistry, tmp_path: Path
) -> None:
    tr = token_registry
    password = tr.password("alice")
    marks = Marks(tr)

    login = run_polyarch(
        ["login", "-u", "alice", "--password-stdin", tr.host], tmp_path, password + "\n"
    )

    assert login.returncode == 0, login.stderr
    assert password not in login.stdout + login.stderr
    # The credentials were checked against the registry: a token for no scope at all.
    assert [(r.user, r.scopes, r.status) for r in marks.token_requests()] == [("alice", (), 200)]
    auths = json.loads((tmp_path / "config.json").read_text())["auths"]
    assert base64.b64decode(auths[tr.host]["auth"]).decode() == f"alice:{password}"

    logout = run_polyarch(["logout", tr.host], tmp_path)
    assert logout.returncode == 0, logout.stderr
    assert tr.host not in json.loads((tmp_path / "config.json").read_text()).get("auths", {})


def test_login_with_a_wrong_password_fails_cleanly(
    token_registry: TokenRegistry, tmp_path: Path
) -> None:
    tr = token_registry
    wrong = "not-" + tr.password("alice")

    login = run_polyarch(
        ["login", "-u", "alice", "--password-stdin", tr.host], tmp_path, wrong + "\n"
    )

    assert login.returncode == 4, login.stderr
    lines = login.stderr.strip().splitlines()
    assert len(lines) == 1, login.stderr
    assert lines[0].startswith("polyarch: error: ")
    assert tr.host in lines[0]
    assert "Traceback" not in login.stderr
    assert wrong not in login.stdout + login.stderr
    assert not (tmp_path / "config.json").exists()


# -- the token service itself: the other tests trust its records -----------------------------


def token_call(
    tr: TokenRegistry,
    *,
    query: list[tuple[str, str]] | None = None,
    form: list[tuple[str, str]] | None = None,
    basic: tuple[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    url = tr.tokens.realm
    if query is not None:
        url += "?" + urllib.parse.urlencode(query)
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if form else "GET")
    if basic is not None:
        request.add_header(
            "Authorization", "Basic " + base64.b64encode(":".join(basic).encode()).decode()
        )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_token_service_grants_the_intersection_and_records_no_secret(
    token_registry: TokenRegistry, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    tr, tokens = token_registry, token_registry.tokens
    caplog.set_level(logging.DEBUG, logger="tests.token_server")
    monkeypatch.setattr(tokens, "lifetime", 42)
    password = tr.password("alice")
    mine, theirs = new_repo("alice"), new_repo("private")
    marks = Marks(tr)

    status, body = token_call(
        tr,
        query=[
            ("service", tokens.service),
            ("scope", push_scope(mine)),
            ("scope", f"repository:{theirs}:pull repository:shared/x:pull,push,delete"),
        ],
        basic=("alice", password),
    )
    assert status == 200
    assert set(body) == {"token", "access_token", "expires_in", "issued_at"}
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 42
    header, claims = tokens.decode(body["token"])
    assert header == {"typ": "JWT", "alg": "ES256", "kid": tokens.key_id}
    assert (claims["iss"], claims["aud"], claims["sub"]) == (tokens.issuer, tokens.service, "alice")
    assert claims["exp"] - claims["iat"] == 42
    assert claims["access"] == [
        {"type": "repository", "name": mine, "actions": ["pull", "push"]},
        {"type": "repository", "name": "shared/x", "actions": ["pull"]},
    ]

    assert token_call(tr, query=[("service", tokens.service)], basic=("alice", "nope"))[0] == 401
    assert token_call(tr, query=[("service", "another-registry")])[0] == 400

    # docker's OAuth2 flow: a password grant hands out a refresh token, which then works.
    status, body = token_call(
        tr,
        form=[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", password),
            ("service", tokens.service),
            ("client_id", "docker"),
            ("access_type", "offline"),
            ("scope", pull_scope(mine)),
        ],
    )
    assert status == 200
    assert body["scope"] == pull_scope(mine)
    assert tokens.refresh_tokens[body["refresh_token"]] == "alice"
    status, body = token_call(
        tr,
        form=[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"]),
            ("service", tokens.service),
            ("client_id", "docker"),
            ("scope", f"{pull_scope(theirs)} {pull_scope(mine)}"),
        ],
    )
    assert (status, body["scope"], body["token_type"]) == (200, pull_scope(mine), "Bearer")
    assert "refresh_token" not in body
    unsupported = [("grant_type", "client_credentials"), ("client_id", "docker")]
    assert token_call(tr, form=unsupported)[0] == 400

    assert [
        (r.method, r.grant_type, r.user, r.status, r.offline) for r in marks.token_requests()
    ] == [
        ("GET", None, "alice", 200, False),
        ("GET", None, None, 401, False),
        ("GET", None, None, 400, False),
        ("POST", "password", "alice", 200, True),
        ("POST", "refresh_token", "alice", 200, False),
        ("POST", "client_credentials", None, 400, False),
    ]
    recorded = repr(marks.token_requests()) + caplog.text
    assert password not in recorded
    assert "nope" not in recorded


def test_concurrent_pulls_share_one_token(token_registry: TokenRegistry) -> None:
    from concurrent.futures import ThreadPoolExecutor

    tr = token_registry
    repo = new_repo("alice")
    image = make_image(AMD64, seed=29)
    seed(tr, repo, image, "v1")
    with client_as(tr, "alice") as client:
        store = RegistryStore(client, repo)
        marks = Marks(tr)
        with ThreadPoolExecutor(8) as pool:
            raws = list(pool.map(lambda _: store.get_manifest("v1").raw, range(16)))
        assert set(raws) == {image.manifest}
        assert len(marks.token_requests()) == 1
        assert [r.status for r in marks.registry_requests()].count(401) == 1
