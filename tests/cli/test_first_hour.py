"""What a first-time user types in the first hour, and what polyarch must answer: the
mistakes it catches before any request, the flags people put where they think of them,
and output for scripts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clirun import EXAMPLE, POLYARCH, assert_clean_error, polyarch
from tests.content import multi, unique
from tests.imagegen import make_image
from tests.registry_server import RegistryServer

AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64"}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding a copy of the example layout, as a clone of the
    project does."""
    shutil.copytree(EXAMPLE, tmp_path / "examples" / "hello-multiarch")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_layout_named_without_oci_is_caught_before_any_request(here: Path) -> None:
    result = polyarch("inspect", "examples/hello-multiarch:1.0", text=True, timeout=10)
    stderr = assert_clean_error(result, 2)
    assert "did you mean oci:examples/hello-multiarch:1.0?" in stderr
    assert "docker.io/examples/hello-multiarch:1.0" in stderr  # how to mean Docker Hub
    for command in (
        ["pull", "examples/hello-multiarch:1.0", "oci:out"],
        ["tags", "examples/hello-multiarch"],
    ):
        assert "did you mean oci:" in assert_clean_error(polyarch(*command, text=True), 2)
    assert polyarch("inspect", "oci:examples/hello-multiarch:1.0").returncode == 0


def test_a_plain_directory_of_that_name_is_no_layout(here: Path, registry: RegistryServer) -> None:
    (here / "cli").mkdir()
    result = polyarch("inspect", f"{registry.host}/cli/absent:1", text=True)
    assert "did you mean" not in assert_clean_error(result, 3)


def test_debug_is_accepted_after_the_command() -> None:
    result = polyarch("inspect", f"oci:{EXAMPLE}:1.0", "--debug", text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["mediaType"]
    # After --, it is an argument like any other.
    result = polyarch("inspect", "--", "--debug", text=True)
    assert "No such option" not in result.stderr


@pytest.fixture(scope="module")
def pushed(registry: RegistryServer) -> tuple[str, str, list[str]]:
    images = [make_image(p, seed=950, oci=True) for p in (AMD64, ARM64)]
    repository = unique("first-hour/app")
    content = multi(images)
    reference = content.push(registry, repository, "1.0")
    return reference, content.digest, [image.manifest_digest for image in images]


def test_digest_and_tags_print_json_for_scripts(
    pushed: tuple[str, str, list[str]], registry: RegistryServer
) -> None:
    reference, digest, _ = pushed
    shown = polyarch("digest", "--format", "json", reference, text=True)
    assert shown.returncode == 0, shown.stderr
    descriptor = json.loads(shown.stdout)
    assert descriptor["digest"] == digest
    assert descriptor["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert descriptor["size"] > 0

    repository = reference.rpartition(":")[0]
    listed = polyarch("tags", "--format", "json", repository, text=True)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"name": repository, "tags": ["1.0"]}
    layout = polyarch("tags", "--format", "json", f"oci:{EXAMPLE}", text=True)
    assert json.loads(layout.stdout)["tags"] == ["1.0"]


def test_digest_platform_prints_the_entry_that_platform_runs(
    pushed: tuple[str, str, list[str]],
) -> None:
    reference, _, children = pushed
    result = polyarch("digest", "--platform", "linux/arm64", reference, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == children[1] + "\n"
    assert "exact match for linux/arm64" in result.stderr
    nothing = polyarch("digest", "--platform", "linux/s390x", reference, text=True)
    assert "available platforms: linux/amd64, linux/arm64" in assert_clean_error(nothing, 3)


def test_pull_quiet_says_nothing_on_stderr(
    pushed: tuple[str, str, list[str]], tmp_path: Path
) -> None:
    reference, _, children = pushed
    result = polyarch(
        "pull", "-q", "--platform", "linux/arm64", reference, f"oci:{tmp_path}/l", text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == children[1] + "\n"
    assert result.stderr == ""


def test_login_without_a_terminal_or_password_stdin_is_a_usage_error(
    registry: RegistryServer, tmp_path: Path
) -> None:
    for args in ([], ["-u", "someone"]):
        result = polyarch(
            "login", *args, registry.host, stdin="", text=True, env={"DOCKER_CONFIG": str(tmp_path)}
        )
        stderr = assert_clean_error(result, 2)
        assert "no terminal to ask for" in stderr
        assert "--password-stdin" in stderr
        assert "Warning" not in stderr
    assert not (tmp_path / "config.json").exists()


def test_login_with_standard_input_closed_is_a_usage_error(
    registry: RegistryServer, tmp_path: Path
) -> None:
    for args in ("", "-u someone --password-stdin"):
        result = subprocess.run(
            ["bash", "-c", f'"$0" login {args} {registry.host} 0<&-', POLYARCH],
            capture_output=True,
            text=True,
            env={**os.environ, "DOCKER_CONFIG": str(tmp_path)},
            timeout=30,
            check=False,
        )
        assert_clean_error(result, 2)
