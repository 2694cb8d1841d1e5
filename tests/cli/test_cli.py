"""The polyarch command as a user runs it: output, messages and exit codes."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from polyarch.digest import Digest
from polyarch.models import Descriptor, parse_manifest
from polyarch.registry import RegistryClient, RegistryStore
from tests.clirun import EXAMPLE, POLYARCH, ROOT, assert_clean_error, polyarch
from tests.imagegen import make_image, make_index
from tests.registry_server import RegistryServer


def test_help_is_fast_and_lazy() -> None:
    code = (
        "import sys; from polyarch.cli import run\n"
        "try:\n    run(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('urllib3', 'rich', 'yaml', 'polyarch.registry')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    assert out.decode().strip().endswith("[]")


def test_a_layout_only_command_loads_no_http_client() -> None:
    code = (
        "import sys; from polyarch.cli import run\n"
        f"code = run(['inspect', 'oci:{EXAMPLE}:1.0'])\n"
        "print(code, 'urllib3' in sys.modules, 'polyarch.registry.client' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    assert out.decode().strip().endswith("0 False False")  # after the JSON inspect printed


def test_help_lists_commands() -> None:
    result = polyarch("--help")
    assert result.returncode == 0
    for command in ("inspect", "login", "logout"):
        assert command in result.stdout.decode()


def test_version() -> None:
    result = polyarch("--version")
    assert result.returncode == 0
    assert b"polyarch" in result.stdout


def test_inspect_example_layout_prints_exact_bytes() -> None:
    result = polyarch("inspect", f"oci:{EXAMPLE}:1.0")
    assert result.returncode == 0, result.stderr
    index = json.loads((EXAMPLE / "index.json").read_bytes())
    digest = index["manifests"][0]["digest"]
    blob = (EXAMPLE / "blobs" / "sha256" / digest.partition(":")[2]).read_bytes()
    assert result.stdout == blob


def test_inspect_layout_without_tag_takes_the_only_image() -> None:
    assert (
        polyarch("inspect", f"oci:{EXAMPLE}").stdout
        == polyarch("inspect", f"oci:{EXAMPLE}:1.0").stdout
    )


@pytest.mark.parametrize(
    ("spec", "expected_arch", "exact"),
    [
        ("linux/arm64", "arm64", True),
        ("linux/aarch64", "arm64", True),
        ("linux/arm/v7", "arm", True),
        ("linux/arm/v8", "arm", False),  # an arm/v8 machine runs arm/v7
        ("linux/x86_64", "amd64", True),
    ],
)
def test_inspect_platform_chooses_and_explains(spec: str, expected_arch: str, exact: bool) -> None:
    result = polyarch("inspect", "--platform", spec, f"oci:{EXAMPLE}:1.0")
    assert result.returncode == 0, result.stderr
    manifest = parse_manifest(result.stdout)
    config = json.loads(
        (EXAMPLE / "blobs" / "sha256" / manifest.config.digest.encoded).read_bytes()  # type: ignore[union-attr]
    )
    assert config["architecture"] == expected_arch
    assert (b"is an exact match" in result.stderr) == exact


def test_inspect_platform_nothing_fits_lists_what_is_there() -> None:
    result = polyarch("inspect", "--platform", "linux/s390x", f"oci:{EXAMPLE}:1.0")
    stderr = assert_clean_error(result, 3)
    assert "linux/amd64, linux/arm64/v8, linux/arm/v7" in stderr


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["inspect", "UPPER/Case"], 2, "lowercase"),
        (["inspect", "oci:"], 2, "names no directory"),
        (["inspect", "ftp://x/y"], 2, "ftp://"),
        (["inspect", "--platform", "linux/armv7", "oci:x"], 2, "arm/v7"),
        (["inspect", "oci:/nonexistent/layout:1.0"], 3, "no OCI layout"),
        (["inspect", f"oci:{EXAMPLE}:2.0"], 3, "tags in the layout: 1.0"),
        (["inspect"], 2, "Missing argument"),
        (["frobnicate"], 2, "No such command"),
    ],
)
def test_bad_input_gives_clean_errors(args: list[str], code: int, fragment: str) -> None:
    result = polyarch(*args)
    stderr = assert_clean_error(result, code)
    assert fragment in stderr


def test_unreachable_registry_exit_code() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        result = polyarch(
            "inspect", f"127.0.0.1:{port}/app:1.0", env={"POLYARCH_RETRY_BACKOFF": "0.01"}
        )
    stderr = assert_clean_error(result, 5)
    assert f"cannot reach 127.0.0.1:{port}" in stderr


def test_corrupt_layout_blob_is_bad_content(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    shutil.copytree(EXAMPLE, layout)
    index = json.loads((layout / "index.json").read_bytes())
    blob = layout / "blobs" / "sha256" / index["manifests"][0]["digest"].partition(":")[2]
    blob.write_bytes(blob.read_bytes().replace(b"linux", b"LINUX", 1))
    result = polyarch("inspect", f"oci:{layout}:1.0")
    stderr = assert_clean_error(result, 6)
    assert "digest mismatch" in stderr


def test_inspect_registry_list_exact_bytes(registry: RegistryServer) -> None:
    images = [
        make_image({"os": "linux", "architecture": "amd64"}, seed=31),
        make_image({"os": "linux", "architecture": "arm", "variant": "v6"}, seed=31),
    ]
    raw = make_index(images, oci=True)
    with RegistryClient(registry.host) as client:
        store = RegistryStore(client, "cli/inspect")
        for image in images:
            for digest, data in image.blobs.items():
                store.put_blob(
                    Descriptor("application/octet-stream", Digest.parse(digest), len(data)),
                    [data],
                )
            store.put_manifest(parse_manifest(image.manifest))
        store.put_manifest(parse_manifest(raw), tag="multi")
    ref = f"{registry.host}/cli/inspect:multi"
    result = polyarch("inspect", ref)
    assert result.returncode == 0, result.stderr
    assert result.stdout == raw
    by_digest = polyarch("inspect", f"{registry.host}/cli/inspect@{Digest.of(raw)}")
    assert by_digest.stdout == raw
    # arm/v7 host runs the arm/v6 entry; amd64 host runs amd64.
    chosen = polyarch("inspect", "--platform", "linux/arm/v7", ref)
    assert chosen.stdout == images[1].manifest
    assert_clean_error(polyarch("inspect", f"{registry.host}/cli/inspect:absent"), 3)


def test_debug_shows_http_but_no_secrets(auth_registry: RegistryServer, tmp_path: Path) -> None:
    password = auth_registry.password or ""
    login = polyarch(
        "login",
        "-u",
        auth_registry.username or "",
        "--password-stdin",
        auth_registry.host,
        stdin=password + "\n",
        env={"DOCKER_CONFIG": str(tmp_path)},
    )
    assert login.returncode == 0, login.stderr
    result = polyarch(
        "--debug",
        "inspect",
        f"{auth_registry.host}/nothing/here:1",
        env={"DOCKER_CONFIG": str(tmp_path)},
    )
    assert result.returncode == 3
    everything = (login.stdout + login.stderr + result.stdout + result.stderr).decode()
    assert password not in everything
    import base64

    assert base64.b64encode(f"polyarch:{password}".encode()).decode() not in everything
    assert "HTTP Request" in result.stderr.decode()  # --debug really logged traffic


def test_wrong_password_from_docker_config(auth_registry: RegistryServer, tmp_path: Path) -> None:
    import base64

    secret = base64.b64encode(b"polyarch:wrong-password").decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {auth_registry.host: {"auth": secret}}})
    )
    result = polyarch(
        "inspect", f"{auth_registry.host}/x/y:1", env={"DOCKER_CONFIG": str(tmp_path)}
    )
    stderr = assert_clean_error(result, 4)
    assert "rejected the credentials" in stderr
    assert "wrong-password" not in stderr


def test_malformed_manifest_in_layout_is_bad_content(tmp_path: Path) -> None:
    from polyarch.layout import LayoutStore

    data = b"this is { not json"
    store = LayoutStore(tmp_path / "layout")
    desc = Descriptor("application/vnd.oci.image.manifest.v1+json", Digest.of(data), len(data))
    store.put_blob(desc, [data])
    result = polyarch("inspect", f"oci:{tmp_path / 'layout'}@{desc.digest}")
    stderr = assert_clean_error(result, 6)
    assert "not JSON" in stderr


def test_readme_first_command_runs_as_written() -> None:
    """The README's install-and-run line, minus the install (the suite runs installed)."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```sh\n", 1)[1].split("```", 1)[0].strip()
    commands = [c.strip() for c in block.split("&&")]
    assert commands[0] == "pip install ."
    for command in commands[1:]:
        args = command.split()
        assert args[0] == "polyarch"
        result = subprocess.run(
            [POLYARCH, *args[1:]], cwd=ROOT, capture_output=True, timeout=60, check=False
        )
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout
