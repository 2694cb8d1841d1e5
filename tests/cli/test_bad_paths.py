"""Paths the user names that cannot be what they should: one clear error line, the
documented exit code, nothing written, never "a bug in polyarch" (exit 70). Each of these
gave exit 70 before issue 9."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.clirun import EXAMPLE, assert_clean_error, polyarch
from tests.imagegen import make_image
from tests.registry_server import RegistryServer

SOURCE = f"oci:{EXAMPLE}:1.0"


def test_oci_naming_a_file_is_bad_input() -> None:
    stderr = assert_clean_error(polyarch("inspect", f"oci:{EXAMPLE / 'index.json'}"), 2)
    assert "is not a directory" in stderr


@pytest.mark.parametrize("command", ["inspect", "tags"])
def test_oci_under_proc_is_not_found(command: str) -> None:
    stderr = assert_clean_error(polyarch(command, "oci:/proc/polyarch-nothing-here"), 3)
    assert "no OCI layout" in stderr


def test_writing_a_layout_under_proc_is_bad_input() -> None:
    result = polyarch("pull", "--platform", "linux/amd64", SOURCE, "oci:/proc/polyarch-x")
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "cannot create the layout directory /proc/polyarch-x" in stderr
    assert "Traceback" not in stderr


def test_a_layout_name_too_long_is_bad_input(tmp_path: Path) -> None:
    result = polyarch("copy", "--quiet", SOURCE, f"oci:{tmp_path / ('a' * 300)}:1")
    stderr = assert_clean_error(result, 2)
    assert "File name too long" in stderr


@pytest.mark.parametrize(
    ("destination", "said"),
    [
        ("{tmp}", "is a directory"),
        ("{tmp}/missing/image.tar", "does not exist"),
        ("{tmp}/" + "a" * 300 + ".tar", "longer than the 255 bytes"),
        ("{tmp}/" + "a" * 300 + "/image.tar", "File name too long"),
        ("/proc/polyarch-image.tar", "cannot write /proc/polyarch-image.tar"),
    ],
    ids=["a-directory", "a-missing-directory", "a-name-too-long", "a-directory-too-long", "proc"],
)
def test_docker_archive_destinations_that_cannot_be(
    tmp_path: Path, destination: str, said: str
) -> None:
    target = destination.format(tmp=tmp_path)
    result = polyarch("pull", "--platform", "linux/amd64", SOURCE, f"docker-archive:{target}")
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "Traceback" not in stderr
    # Checked before anything is fetched, but for /proc, which only the write can tell.
    assert stderr.count("\n") == (2 if target.startswith("/proc") else 1), stderr
    assert stderr.splitlines()[-1].startswith("polyarch: error: ")
    assert said in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_repository_path_too_long_for_a_file_name(
    registry: RegistryServer, tmp_path: Path
) -> None:
    """Percent-encoded, a 250-character repository path of single letters is 740 bytes,
    past NAME_MAX: the pending list's file name keeps its start and ends in a hash."""
    member = f"bad-paths/{secrets.token_hex(4)}"
    registry.push_image(member, make_image({"os": "linux", "architecture": "amd64"}), tag="1")
    deep = "/".join(["a"] * 120)
    target = f"{registry.host}/{deep}:1.0"
    env = {"POLYARCH_HOME": str(tmp_path)}
    created = polyarch("create", target, f"{registry.host}/{member}:1", env=env)
    assert created.returncode == 0, created.stderr.decode()
    [saved] = (tmp_path / "lists").iterdir()
    assert len(saved.name) <= 200
    assert "~" in saved.name
    shown = polyarch("inspect", target, env=env)
    assert shown.returncode == 0, shown.stderr.decode()
    assert b"linux" in shown.stdout
    again = polyarch("create", target, f"{registry.host}/{member}:1", env=env)
    assert "exists already" in assert_clean_error(again, 7)
    removed = polyarch("rm", target, env=env)
    assert removed.returncode == 0, removed.stderr.decode()
    assert list((tmp_path / "lists").iterdir()) == []
