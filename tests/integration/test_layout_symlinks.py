"""OCI layouts that someone else prepared: no symbolic link inside a layout is followed,
for reading or writing.

Each case plants a link (or a FIFO, or a directory where a file belongs) in a layout and
runs the real console script on it as a victim would (``pull`` and ``copy`` into it,
``inspect`` and ``copy`` out of it). The command must fail with exit code 6 and one error
line naming the path, and nothing may be read through the link or written anywhere: the
file or directory it points to and the layout are exactly as they were. Before issue 9,
``index.json -> ~victim/.docker/config.json`` had the victim's credentials copied into a
world-readable ``index.json``, and ``blobs -> /some/dir`` had files written there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.clirun import EXAMPLE
from tests.clirun import polyarch as run_polyarch

SECRET = '{"auths": {"registry.example": {"auth": "dmljdGltOnMzY3JldA=="}}, "manifests": []}'
BLOBS = EXAMPLE / "blobs" / "sha256"
#: The blobs a linux/amd64 pull of the example writes.
AMD64_MANIFEST = "44672cc4282cc7cd1b709a9a6bb92574365279a30e3ae8dd40aac3bc8c1dd508"


def polyarch(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return run_polyarch(*args, env={"POLYARCH_HOME": str(home)}, text=True, timeout=30)


def snapshot(*roots: Path) -> dict[str, object]:
    """Every path under ``roots`` (links not followed) with its kind and content."""
    seen: dict[str, object] = {}
    for root in roots:
        for directory, names, files in os.walk(root, followlinks=False):
            for name in names + files:
                path = Path(directory) / name
                if path.is_symlink():
                    seen[str(path)] = ("link", os.readlink(path))
                elif path.is_file():
                    seen[str(path)] = ("file", path.read_bytes(), path.stat().st_mode)
                else:
                    seen[str(path)] = ("other", path.stat().st_mode & 0o170000)
    return seen


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """Someone else's files: a config with credentials and an empty directory."""
    home = tmp_path / "victim"
    (home / "dir").mkdir(parents=True)
    config = home / "config.json"
    config.write_text(SECRET)
    config.chmod(0o600)
    return home


def prepared(tmp_path: Path) -> Path:
    """A destination layout as an attacker leaves it: valid, empty, with links planted
    by the caller."""
    layout = tmp_path / "prepared"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return layout


def plant(layout: Path, name: str, target: Path) -> None:
    path = layout / name
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to(target)


Plant = Callable[[Path, Path], None]

WRITE_CASES: dict[str, Plant] = {
    "index.json": lambda layout, victim: plant(layout, "index.json", victim / "config.json"),
    "oci-layout": lambda layout, victim: plant(layout, "oci-layout", victim / "config.json"),
    "blobs": lambda layout, victim: plant(layout, "blobs", victim / "dir"),
    "blobs/sha256": lambda layout, victim: plant(layout, "blobs/sha256", victim / "dir"),
    "a blob": lambda layout, victim: plant(
        layout, f"blobs/sha256/{AMD64_MANIFEST}", victim / "config.json"
    ),
}


@pytest.mark.parametrize("command", ["pull", "copy"])
@pytest.mark.parametrize("case", WRITE_CASES.values(), ids=WRITE_CASES.keys())
def test_writing_into_a_layout_follows_no_link(
    tmp_path: Path, victim: Path, case: Plant, command: str
) -> None:
    layout = prepared(tmp_path)
    case(layout, victim)
    before = snapshot(layout, victim)
    args = ["--platform", "linux/amd64"] if command == "pull" else ["--quiet", "--jobs", "1"]
    result = polyarch(command, *args, f"oci:{EXAMPLE}:1.0", f"oci:{layout}:1", home=tmp_path)
    assert result.returncode == 6, result.stderr
    assert "symbolic link" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("polyarch: error:") == 1
    assert snapshot(layout, victim) == before
    assert "s3cret" not in result.stderr
    assert "dmljdGlt" not in result.stderr


def test_the_path_named_may_itself_be_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    result = polyarch(
        "pull", "--platform", "linux/amd64", f"oci:{EXAMPLE}:1.0", f"oci:{link}:1", home=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert (real / "blobs" / "sha256" / AMD64_MANIFEST).is_file()
    assert json.loads((real / "index.json").read_text())["manifests"][0]["digest"].endswith(
        AMD64_MANIFEST
    )
    inspect = polyarch("inspect", f"oci:{link}:1", home=tmp_path)
    assert inspect.returncode == 0, inspect.stderr


def copy_of_example(tmp_path: Path) -> Path:
    layout = tmp_path / "source"
    shutil.copytree(EXAMPLE, layout)
    return layout


def _blob_linked_out(layout: Path, victim: Path) -> None:
    outside = victim / "manifest"
    shutil.copy(layout / "blobs" / "sha256" / AMD64_MANIFEST, outside)
    plant(layout, f"blobs/sha256/{AMD64_MANIFEST}", outside)


def _blobs_linked_out(layout: Path, victim: Path) -> None:
    shutil.copytree(layout / "blobs" / "sha256", victim / "sha256")
    plant(layout, "blobs/sha256", victim / "sha256")


def _index_linked_out(layout: Path, victim: Path) -> None:
    shutil.copy(layout / "index.json", victim / "index.json")
    plant(layout, "index.json", victim / "index.json")


def _fifo_blob(layout: Path, victim: Path) -> None:
    path = layout / "blobs" / "sha256" / AMD64_MANIFEST
    path.unlink()
    os.mkfifo(path)


def _directory_index(layout: Path, victim: Path) -> None:
    (layout / "index.json").unlink()
    (layout / "index.json").mkdir()


READ_CASES: dict[str, tuple[Plant, str]] = {
    "a blob": (_blob_linked_out, "symbolic link"),
    "blobs/sha256": (_blobs_linked_out, "symbolic link"),
    "index.json": (_index_linked_out, "symbolic link"),
    "a FIFO for a blob": (_fifo_blob, "not a regular file"),
    "a directory for index.json": (_directory_index, "not a regular file"),
}


@pytest.mark.parametrize("command", ["inspect", "copy"])
@pytest.mark.parametrize(("case", "said"), READ_CASES.values(), ids=READ_CASES.keys())
def test_reading_a_layout_follows_no_link(
    tmp_path: Path, victim: Path, case: Plant, said: str, command: str
) -> None:
    layout = copy_of_example(tmp_path)
    case(layout, victim)
    if command == "inspect":
        args = ["inspect", "--platform", "linux/amd64", f"oci:{layout}:1.0"]
    else:
        args = ["copy", "--quiet", f"oci:{layout}:1.0", f"oci:{tmp_path / 'out'}:1"]
    result = polyarch(*args, home=tmp_path)
    assert result.returncode == 6, result.stderr
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
