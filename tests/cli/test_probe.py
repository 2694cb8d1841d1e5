"""``polyarch probe HOST`` and ``polyarch auth explain HOST`` against real registries: plain,
htpasswd, token auth (the session's token service), and one that does not delete."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.clirun import assert_clean_error, polyarch
from tests.content import unique
from tests.fault_proxy import FaultProxy, Reply, Rewrite, Upstream
from tests.imagegen import make_image
from tests.registry_server import RegistryFactory, RegistryServer
from tests.token_server import TokenRegistry

AMD64 = {"os": "linux", "architecture": "amd64"}


def checks(*args: str, env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    result = polyarch("probe", "--format", "json", *args, env=env, text=True)
    assert result.returncode == 0, result.stderr
    return {c["check"]: c for c in json.loads(result.stdout)["checks"]}


def logged_in(tmp_path: Path, host: str, user: str, password: str) -> dict[str, str]:
    env = {"DOCKER_CONFIG": str(tmp_path / "docker")}
    login = polyarch("login", "-u", user, "--password-stdin", host, stdin=password, env=env)
    assert login.returncode == 0, login.stderr
    return env


def test_probe_reads_without_writing(registry: RegistryServer) -> None:
    repository = unique("probe/read")
    image = make_image(AMD64, seed=1601, oci=True)
    registry.push_image(repository, image, tag="a")
    registry.push_manifest(repository, "b", image.manifest, image.media_type)
    start = registry.mark()

    found = checks("--repository", repository, registry.host)

    assert {k: v["answer"] for k, v in found.items()} == {
        "api": "yes",
        "scheme": "http",
        "auth": "none",
        "tag-pagination": "no",  # distribution 2.8 sends every tag, n or not
        "referrers-api": "no",
        "rate-limit": "none seen",
    }
    assert "registry/2.0" in found["api"]["detail"]
    assert {e.method for e in registry.requests(start)} <= {"GET", "HEAD"}


def test_probe_write_tries_every_write_path_and_leaves_nothing(registry: RegistryServer) -> None:
    repository = unique("probe/write")

    found = checks("--write", repository, registry.host)

    for name in ("push-blob", "oci-manifest", "docker-manifest", "oci-index", "docker-list"):
        assert found[name]["answer"] == "yes", found[name]
    assert found["cross-repository-mount"]["answer"] == "yes"
    assert found["referrers-on-push"]["answer"] == "no"  # distribution 2.8: the tag schema
    assert found["delete"] == {
        "check": "delete",
        "answer": "yes",
        "detail": "what the probe made is removed",
    }
    tags = registry.request("GET", f"/v2/{repository}/tags/list").json()
    assert not tags.get("tags")


def test_probe_names_what_a_registry_that_does_not_delete_keeps(
    registry_factory: RegistryFactory,
) -> None:
    keeping = registry_factory(delete_enabled=False)
    repository = unique("probe/keeps")

    found = checks("--write", repository, keeping.host)

    assert found["delete"]["answer"] == "no"
    assert found["delete"]["detail"].startswith(f"left behind: {keeping.host}/{repository}@sha256:")


def test_probe_sees_rate_limit_headers(registry: RegistryServer) -> None:
    def limited(upstream: Upstream) -> Reply:
        headers = [
            *upstream.headers,
            ("ratelimit-limit", "100;w=21600"),
            ("ratelimit-remaining", "97;w=21600"),
        ]
        return Reply(upstream.status, headers, upstream.body)

    with FaultProxy(registry.url) as proxy:
        proxy.add(Rewrite(limited), method="GET", path=r"^/v2/$")
        found = checks(proxy.host)

    assert found["rate-limit"]["answer"] == "seen"
    assert (
        found["rate-limit"]["detail"]
        == "ratelimit-limit: 100;w=21600, ratelimit-remaining: 97;w=21600"
    )


def test_probe_and_auth_explain_of_a_token_registry(
    token_registry: TokenRegistry, tmp_path: Path
) -> None:
    tr = token_registry
    env = logged_in(tmp_path, tr.host, "alice", tr.password("alice"))

    found = checks(tr.host, env=env)
    assert found["auth"]["answer"] == "bearer"
    assert "realm http://127.0.0.1:" in found["auth"]["detail"]

    repository = f"alice/{unique('explain')}"
    result = polyarch(
        "auth",
        "explain",
        "--format",
        "json",
        "--repository",
        repository,
        "--push",
        tr.host,
        env=env,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["credentialKind"] == "username and password"
    assert report["credentialSource"].endswith("config.json (auths)")
    assert report["authScheme"] == "bearer"
    assert report["scopesGranted"] == [f"repository:{repository}:pull,push"]
    assert 0 < report["expiresInSeconds"] <= 3600

    # bob may only pull alice's: the service grants less than was asked.
    env_bob = logged_in(tmp_path / "bob", tr.host, "bob", tr.password("bob"))
    text = polyarch(
        "auth", "explain", "--repository", repository, "--push", tr.host, env=env_bob, text=True
    )
    assert text.returncode == 0, text.stderr
    assert f"granted       repository:{repository}:pull\n" in text.stdout
    assert tr.password("bob") not in text.stdout


def test_auth_explain_anonymous_and_basic(
    registry: RegistryServer, auth_registry: RegistryServer, tmp_path: Path
) -> None:
    result = polyarch(
        "auth", "explain", registry.host, env={"DOCKER_CONFIG": str(tmp_path / "none")}, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "credentials   anonymous, from no credentials" in result.stdout
    assert "challenge     none" in result.stdout

    assert auth_registry.username is not None
    assert auth_registry.password is not None
    env = logged_in(tmp_path, auth_registry.host, auth_registry.username, auth_registry.password)
    basic = polyarch("auth", "explain", auth_registry.host, env=env, text=True)
    assert basic.returncode == 0, basic.stderr
    assert "challenge     basic" in basic.stdout


def test_probe_of_a_repository_name_that_is_not_one_is_bad_input(registry: RegistryServer) -> None:
    assert_clean_error(polyarch("probe", "--repository", "UPPER", registry.host, text=True), 2)
    assert_clean_error(polyarch("probe", "host/with/path", text=True), 2)


@pytest.mark.parametrize("how", ["credHelpers", "credsStore"])
def test_auth_explain_names_the_helper_and_the_key_that_chose_it(
    how: str, token_registry: TokenRegistry, tmp_path: Path
) -> None:
    tr = token_registry

    def helper_answering(name: str, username: str, secret: str) -> dict[str, str]:
        bin_dir = tmp_path / name
        bin_dir.mkdir()
        helper = bin_dir / f"docker-credential-{name}"
        answer = json.dumps({"ServerURL": tr.host, "Username": username, "Secret": secret})
        helper.write_text(f"#!/bin/sh\ncat >/dev/null\necho '{answer}'\n")
        helper.chmod(0o755)
        config_dir = tmp_path / f"docker-{name}"
        config_dir.mkdir()
        settings = (
            {"credHelpers": {tr.host: name}} if how == "credHelpers" else {"credsStore": name}
        )
        (config_dir / "config.json").write_text(json.dumps(settings))
        return {
            "DOCKER_CONFIG": str(config_dir),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        }

    env = helper_answering("alicehelper", "alice", tr.password("alice"))
    result = polyarch(
        "auth",
        "explain",
        "--format",
        "json",
        "--repository",
        "alice/x",
        tr.host,
        env=env,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    key = f'"credHelpers" entry "{tr.host}"' if how == "credHelpers" else '"credsStore"'
    assert report["credentialSource"].startswith(
        f"credential helper docker-credential-alicehelper ({key} of "
    )
    assert report["credentialKind"] == "username and password"
    assert report["scopesGranted"] == ["repository:alice/x:pull"]

    # An identity token the service does not know: what answered is still said.
    env = helper_answering("tokenhelper", "<token>", "not-a-real-refresh-token")
    refused = polyarch("auth", "explain", tr.host, env=env, text=True)
    assert refused.returncode == 4
    assert (
        "credentials   identity token, from credential helper docker-credential-tokenhelper"
        in refused.stdout
    )
    assert "refused       " in refused.stdout
    assert "not-a-real-refresh-token" not in refused.stdout + refused.stderr


def test_probe_write_stops_at_max_requests_and_says_so(registry: RegistryServer) -> None:
    for bound in ("3", "6"):
        result = polyarch(
            "probe", "--write", f"scratch/{bound}", "--max-requests", bound, registry.host,
            text=True,
        )  # fmt: skip
        stderr = assert_clean_error(result, 5)
        assert f"--max-requests {bound} are spent" in stderr
