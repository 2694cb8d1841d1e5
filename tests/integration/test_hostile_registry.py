"""A hostile registry: the real registry behind a proxy that rewrites its answers.

Each case of :data:`CASES` damages one answer (a blob's bytes, a manifest, a header) and
runs ``polyarch inspect``, ``create``, ``pull`` and ``copy`` (to a layout, and to another
registry) against it, as a user would, through the console script. Every run must

* fail with one clear error line (and at most a hint), exit code 6 (bad content) or 5
  (network), no traceback, nothing on stdout;
* stay bounded: it ends within :data:`TIME_LIMIT`, its peak memory stays under
  :data:`MEMORY_LIMIT`, and where the registry sends without end (an endless body, a
  manifest over 4 MiB) the proxy counts that it was sent little more than the limit before
  polyarch hung up;
* write nothing: the OCI layout holds no blob, no manifest, no tag and no temporary file;
  the destination registry has neither the tag nor any blob of the image; the pending-list
  store is byte for byte what it was.

Transfers run with ``--jobs 1`` here, so that the damaged blob (an image's config, the
first one a copy moves) is the only transfer attempted: "nothing written" is then exact.
With parallel transfers, blobs already in flight when another fails still arrive, verified;
:func:`test_a_damaged_layer_among_many_leaves_no_trace` checks that case.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from polyarch.models import MAX_MANIFEST_SIZE
from tests.clirun import POLYARCH
from tests.fault_proxy import (
    Endless,
    Fault,
    FaultProxy,
    Rewrite,
    claim_digest,
    cut_short,
    lying_length,
    not_json,
    oversized,
    replace_body,
    truncated,
    wrong_bytes,
)
from tests.imagegen import OCI_INDEX, SyntheticImage, make_image, make_index, sha256_digest
from tests.registry_server import RegistryServer

AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}
#: Wall time one command may take, whatever the registry does.
TIME_LIMIT = 20.0
#: Peak resident memory of one command (a plain run takes about 30 MiB; reading what an
#: endless answer offers would take ENDLESS).
MEMORY_LIMIT = 128 * 1024 * 1024
#: What an endless answer would send if nobody hung up: far over every bound below.
ENDLESS = 512 * 1024 * 1024
#: What the kernel's socket buffers may hold between the proxy and polyarch: bytes the
#: proxy sent that polyarch never read.
SOCKET_SLACK = 24 * 1024 * 1024

_MEASURE = """
import resource, subprocess, sys, time
started = time.monotonic()
code = subprocess.call(sys.argv[2:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
with open(sys.argv[1], "w") as out:
    out.write(f"{peak} {time.monotonic() - started}")
sys.exit(code)
"""


@dataclass(frozen=True)
class Run:
    result: subprocess.CompletedProcess[bytes]
    peak_memory: int
    seconds: float


def measured(args: list[str], env: dict[str, str], tmp_path: Path) -> Run:
    """Run polyarch; its peak memory (the largest of its processes) and wall time."""
    stats = tmp_path / f"stats-{uuid.uuid4().hex}"
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(stats), POLYARCH, *args],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    peak, seconds = stats.read_text().split()
    return Run(result, int(peak), float(seconds))


# -- the content the registry holds ---------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """What the registry holds, seeded with the harness's own client."""

    repository: str
    image: SyntheticImage
    """Under ``:single``."""
    children: tuple[SyntheticImage, ...]
    index: bytes
    """Under ``:multi``: an OCI index of ``children``."""

    def blobs(self) -> set[str]:
        return {d for image in (self.image, *self.children) for d in image.blobs}


@pytest.fixture(scope="module")
def source(registry: RegistryServer) -> Source:
    repository = f"hostile/{uuid.uuid4().hex[:10]}"
    image = make_image(AMD64, seed=100, oci=True, layers=2, layer_size=8192)
    registry.push_image(repository, image, tag="single")
    children = (
        make_image(AMD64, seed=101, oci=True),
        make_image(ARM64, seed=101, oci=True),
    )
    index = make_index(children, oci=True)
    registry.push_index(repository, children, index, OCI_INDEX, tag="multi")
    return Source(repository, image, children, index)


@pytest.fixture(scope="module")
def other_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Where ``copy`` writes: it must end up with nothing."""
    with RegistryServer(tmp_path_factory.mktemp("hostile-destination")) as server:
        yield server


LIST = "lists.example/hostile/app:1"


@pytest.fixture(scope="module")
def pending_home(
    registry: RegistryServer, source: Source, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A pending-list store holding one list, made from the registry without the proxy;
    and no cache: what the registry answered honestly must not answer for the proxy."""
    home = tmp_path_factory.mktemp("pending-home")
    result = subprocess.run(
        [POLYARCH, "create", "--no-cache", LIST, f"{registry.host}/{source.repository}:single"],
        capture_output=True,
        env={**os.environ, "POLYARCH_HOME": str(home)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert snapshot(home)
    return home


# -- oracles --------------------------------------------------------------------------------


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory``: relative path -> bytes."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def assert_empty_layout(path: Path) -> None:
    """No blob, no manifest, no tag, no temporary file: at most an empty layout."""
    if not path.exists():
        return
    files = snapshot(path)
    assert set(files) <= {"oci-layout", "index.json"}, sorted(files)
    if "index.json" in files:
        assert json.loads(files["index.json"])["manifests"] == []
    leftovers = [p.name for p in path.rglob("*") if p.is_file() and ".tmp" in p.name]
    assert leftovers == []


def assert_nothing_in_registry(server: RegistryServer, repository: str, source: Source) -> None:
    tags = server.request("GET", f"/v2/{repository}/tags/list")
    assert tags.status == 404 or "1" not in (tags.json().get("tags") or []), tags.body
    for digest in [
        source.image.manifest_digest,
        sha256_digest(source.index),
        *(c.manifest_digest for c in source.children),
    ]:
        assert server.request("HEAD", f"/v2/{repository}/manifests/{digest}").status == 404
    for digest in source.blobs():
        assert server.request("HEAD", f"/v2/{repository}/blobs/{digest}").status == 404, digest


def assert_one_clear_error(run: Run, codes: set[int], fragment: str) -> str:
    stderr = run.result.stderr.decode()
    assert run.result.returncode in codes, stderr
    assert "Traceback" not in stderr
    assert run.result.stdout == b""
    lines = stderr.splitlines()
    errors = [n for n, line in enumerate(lines) if line.startswith("polyarch: error: ")]
    assert len(errors) == 1, stderr
    # Progress lines of what did arrive may come first; after the error, a hint at most.
    assert all(line.startswith("hint: ") for line in lines[errors[0] + 1 :]), stderr
    assert fragment in lines[errors[0]], stderr
    return lines[errors[0]]


# -- the cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    tag: str
    """The tag the commands name: ``single`` (an image) or ``multi`` (an index)."""
    fault: Callable[[Source], tuple[Fault, str, str]]
    """The fault, the method and the path (a regex) of the requests it damages."""
    code: int
    fragment: str
    """A part of the error line."""
    sent_at_most: int | None = None
    """Bytes the proxy may have sent in one damaged answer, when it offered more."""
    inspect_verbose: bool = False
    """``inspect`` alone shows the root as it is; ``--verbose`` reads what is damaged."""


def on_config(fault: Fault) -> Callable[[Source], tuple[Fault, str, str]]:
    return lambda s: (fault, "GET", f"/blobs/{s.image.config_digest}$")


def on_tag(fault: Fault) -> Callable[[Source], tuple[Fault, str, str]]:
    return lambda s: (fault, "GET", "/manifests/single$")


def on_child(fault: Callable[[Source], Fault]) -> Callable[[Source], tuple[Fault, str, str]]:
    return lambda s: (fault(s), "GET", f"/manifests/{s.children[0].manifest_digest}$")


CASES = [
    # Blobs (the image's config: every command reads it first).
    Case("wrong bytes for a blob digest", "single", on_config(Rewrite(wrong_bytes)), 6,
         "digest mismatch", inspect_verbose=True),
    Case("a truncated blob", "single", on_config(Rewrite(truncated)), 6,
         "expected", inspect_verbose=True),
    Case("a blob body cut short (Content-Length longer than the body)", "single",
         on_config(Rewrite(cut_short)), 5, "broke while reading", inspect_verbose=True),
    Case("a blob whose Content-Length claims more", "single",
         on_config(Rewrite(lying_length(+4096))), 6, "expected", inspect_verbose=True),
    Case("a blob whose Content-Length claims less", "single",
         on_config(Rewrite(lying_length(-16))), 6, "expected", inspect_verbose=True),
    Case("an endless blob", "single", on_config(Endless(limit=ENDLESS)), 6,
         "longer than its declared size", sent_at_most=SOCKET_SLACK, inspect_verbose=True),
    Case("a redirect with an endless body", "single",
         on_config(Endless(status=307, headers=(("Location", "http://127.0.0.2:9/blob"),),
                           limit=ENDLESS)),
         5, "redirect", sent_at_most=SOCKET_SLACK, inspect_verbose=True),
    # Manifests.
    Case("a manifest over 4 MiB", "single",
         on_tag(Rewrite(oversized(64 * 1024 * 1024))), 6, "byte limit",
         sent_at_most=SOCKET_SLACK),
    Case("an endless manifest", "single",
         on_tag(Endless(prefix=b'{"schemaVersion": 2, "x": "', pattern=b"x" * 65536,
                        limit=ENDLESS)),
         6, "byte limit", sent_at_most=MAX_MANIFEST_SIZE + SOCKET_SLACK),
    Case("a manifest that is not JSON", "single", on_tag(Rewrite(not_json)), 6, "not JSON"),
    Case("a tag whose bytes do not match Docker-Content-Digest", "single",
         on_tag(Rewrite(claim_digest(sha256_digest(b"something else")))), 6, "digest mismatch"),
    Case("a manifest cut short (Content-Length longer than the body)", "single",
         on_tag(Rewrite(cut_short)), 5, "broke while reading"),
    Case("a manifest whose Content-Length claims less", "single",
         on_tag(Rewrite(lying_length(-40))), 6, "digest mismatch"),
    Case("wrong bytes for a manifest digest", "multi", on_child(lambda s: Rewrite(wrong_bytes)),
         6, "digest mismatch", inspect_verbose=True),
    Case("an index whose entry points at itself", "multi",
         on_child(lambda s: Rewrite(replace_body(s.index, media_type=OCI_INDEX,
                                                  digest=s.children[0].manifest_digest))),
         6, "digest mismatch", inspect_verbose=True),
]  # fmt: skip


@pytest.fixture
def proxy(registry: RegistryServer) -> Iterator[FaultProxy]:
    before = set(threading.enumerate())
    with FaultProxy(registry.url) as proxy:
        yield proxy
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive()]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_answer(
    case: Case,
    source: Source,
    proxy: FaultProxy,
    other_registry: RegistryServer,
    pending_home: Path,
    tmp_path: Path,
) -> None:
    fault, method, path = case.fault(source)
    proxy.add(fault, method=method, path=path)
    reference = f"{proxy.host}/{source.repository}:{case.tag}"
    destination = f"hostile/{uuid.uuid4().hex[:10]}"
    home = tmp_path / "home"
    shutil.copytree(pending_home, home)
    before = snapshot(home)
    env = {**os.environ, "POLYARCH_HOME": str(home), "POLYARCH_RETRY_BACKOFF": "0.01"}
    commands: dict[str, tuple[list[str], Callable[[], None]]] = {
        "inspect": (
            ["inspect", *(["--verbose"] if case.inspect_verbose else []), reference],
            lambda: None,
        ),
        "create": (
            ["create", "--amend", LIST, reference],
            lambda: assert_same(snapshot(home), before),
        ),
        "pull": (
            ["pull", "--jobs", "1", "--platform", "linux/amd64", reference, f"oci:{tmp_path}/p"],
            lambda: assert_empty_layout(tmp_path / "p"),
        ),
        "copy to a layout": (
            ["copy", "--jobs", "1", reference, f"oci:{tmp_path}/c:1"],
            lambda: assert_empty_layout(tmp_path / "c"),
        ),
        "copy to a registry": (
            ["copy", "--jobs", "1", reference, f"{other_registry.host}/{destination}:1"],
            lambda: assert_nothing_in_registry(other_registry, destination, source),
        ),
    }
    for name, (args, nothing_written) in commands.items():
        proxy.seen.clear()
        run = measured(args, env, tmp_path)
        expected = {case.code}
        try:
            assert_one_clear_error(run, expected, case.fragment)
            assert run.seconds < TIME_LIMIT
            assert run.peak_memory < MEMORY_LIMIT
            damaged = [s for s in proxy.seen if s.fault == fault.name]
            assert damaged, "the damaged answer was never asked for"
            if case.sent_at_most is not None:
                assert max(s.bytes_sent for s in damaged) <= case.sent_at_most
            nothing_written()
        except AssertionError as err:
            raise AssertionError(f"polyarch {name}: {err}") from err


def assert_same(after: dict[str, bytes], before: dict[str, bytes]) -> None:
    """The pending lists as they were (the cache may have learned what was verified)."""

    def lists(files: dict[str, bytes]) -> dict[str, bytes]:
        return {name: data for name, data in files.items() if not name.startswith("cache/")}

    assert lists(after) == lists(before), "the pending-list store changed"


def test_a_damaged_layer_among_many_leaves_no_trace(
    registry: RegistryServer, proxy: FaultProxy, other_registry: RegistryServer, tmp_path: Path
) -> None:
    """Parallel transfers (the default ``--jobs``): blobs already moving when the damaged
    one fails may arrive, each verified; the damaged one, a manifest, a tag or a temporary
    file never do."""
    image = make_image(AMD64, seed=102, oci=True, layers=6, layer_size=64 * 1024)
    repository = f"hostile/{uuid.uuid4().hex[:10]}"
    registry.push_image(repository, image, tag="1")
    damaged = image.layers[3].digest
    proxy.add(Rewrite(wrong_bytes), method="GET", path=f"/blobs/{damaged}$")
    env = {**os.environ, "POLYARCH_RETRY_BACKOFF": "0.01"}
    layout = tmp_path / "layout"
    run = measured(["copy", f"{proxy.host}/{repository}:1", f"oci:{layout}:1"], env, tmp_path)
    assert_one_clear_error(run, {6}, "digest mismatch")
    files = snapshot(layout)
    assert json.loads(files.pop("index.json"))["manifests"] == []
    files.pop("oci-layout")
    for name, data in files.items():
        assert name.startswith("blobs/sha256/"), name
        digest = "sha256:" + name.rpartition("/")[2]
        assert digest == "sha256:" + hashlib.sha256(data).hexdigest(), name
        assert digest in image.blobs, name
        assert digest != damaged
    assert image.manifest_digest not in {f"sha256:{n.rpartition('/')[2]}" for n in files}

    destination = f"hostile/{uuid.uuid4().hex[:10]}"
    run = measured(
        ["copy", f"{proxy.host}/{repository}:1", f"{other_registry.host}/{destination}:1"],
        env,
        tmp_path,
    )
    assert_one_clear_error(run, {6}, "digest mismatch")
    assert other_registry.request("GET", f"/v2/{destination}/tags/list").status == 404
    path = f"/v2/{destination}/manifests/{image.manifest_digest}"
    assert other_registry.request("HEAD", path).status == 404
    assert other_registry.request("HEAD", f"/v2/{destination}/blobs/{damaged}").status == 404
