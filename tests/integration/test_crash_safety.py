"""Crash safety: polyarch killed at any moment loses nothing and leaves nothing broken.

The real console script runs ``create``, ``push``, ``pull`` (to an OCI layout) and
``copy`` (registry -> layout, registry -> registry) against real registries and is
killed with SIGKILL, by its PID, after a random delay drawn from the command's measured
duration: while Python starts, while it fetches, inside a blob write, between the blobs
and the index. Images have layers of 1 MiB, so the blob writes take part of that time.

After every kill, read by hand (``json`` and ``hashlib``, not polyarch's own reader
where an independent one is possible):

* the pending-list store: every file in ``$POLYARCH_HOME/lists`` loads with
  :class:`PendingListStore` and holds the whole list (the digest of an uninterrupted
  ``create``); any other file is a temporary file (``.NAME.tmp-XXXX``);
* every OCI layout: ``oci-layout`` and ``index.json`` parse; every blob file's bytes
  have the digest that names it; everything reachable from ``index.json`` is present
  and verifies (blobs go first, the index last); tags finished before the kill are
  still there; nothing but layout files and temporary files. A layout killed while
  it was being created may lack ``oci-layout``, and then holds no blob and no tag;
* a registry tag is absent or the finished image, never something else.

An episode kills a command one to three times in a row (each run resuming the last),
then runs it to completion: it must succeed, print the digest of an uninterrupted run,
and leave the stores as an uninterrupted run would (temporary files of killed runs are
ignored by the re-run; skopeo reads the layouts too). ``POLYARCH_CRASH_SEED=N``
replays a run; the seed is in every failure message.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import pytest

from polyarch.ops.pending import PendingListStore
from polyarch.reference import Reference
from tests.clirun import POLYARCH
from tests.content import (
    Content,
    multi,
    registry_manifest,
    single,
    skopeo_raw,
    unique,
)
from tests.imagegen import OCI_INDEX, OCI_MANIFEST, SyntheticImage, make_image, sha256_digest
from tests.registry_server import RegistryServer

#: Real kills (the process was still running when SIGKILL came) per command.
KILLS_PER_SCENARIO = 12
#: Runs that end before their kill do not count; this bounds the attempts anyway.
MAX_ATTEMPTS = 6 * KILLS_PER_SCENARIO
#: Uninterrupted runs whose median duration is the range of the random delays.
REFERENCE_RUNS = 3
LAYER_SIZE = 1024 * 1024
AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}
#: What polyarch.atomic names its temporary files: ``.NAME.tmp-RANDOM``.
TEMPORARY = re.compile(r"\A\..+\.tmp-[^/]+\Z")
MANIFEST_TYPES = {
    OCI_INDEX,
    OCI_MANIFEST,
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}


# -- what a store may look like after a kill -----------------------------------------------


@dataclass
class LayoutState:
    """What a killed command left in a layout, read by hand."""

    tags: dict[str, str] = field(default_factory=dict)
    blobs: int = 0
    temporary: list[str] = field(default_factory=list)
    exists: bool = False


def check_layout(path: Path) -> LayoutState:
    """Assert ``path`` is a valid (possibly empty or still being created) OCI layout."""
    state = LayoutState(exists=path.exists())
    if not state.exists:
        return state
    files = sorted(p for p in path.rglob("*") if not p.is_dir())
    blob_files: dict[str, Path] = {}
    for file in files:
        relative = file.relative_to(path).as_posix()
        if TEMPORARY.match(file.name):
            state.temporary.append(relative)
        elif relative in ("oci-layout", "index.json"):
            continue
        elif re.fullmatch(r"blobs/sha256/[0-9a-f]{64}", relative):
            blob_files[f"sha256:{file.name}"] = file
        else:
            raise AssertionError(f"stray file {relative} in the layout {path}")
    for digest, file in blob_files.items():
        assert sha256_digest(file.read_bytes()) == digest, f"blob {file} has other bytes"
    state.blobs = len(blob_files)

    marker = path / "oci-layout"
    index_path = path / "index.json"
    if not marker.exists():
        # Killed while the layout itself was being made: it holds nothing yet.
        assert not blob_files, f"{path} has blobs but no oci-layout"
        if index_path.exists():
            assert json.loads(index_path.read_bytes())["manifests"] == []
        return state
    assert json.loads(marker.read_bytes()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(index_path.read_bytes())
    assert index["schemaVersion"] == 2
    todo = list(index["manifests"])
    for root in todo:
        tag = (root.get("annotations") or {}).get("org.opencontainers.image.ref.name")
        if tag is not None:
            assert tag not in state.tags, f"tag {tag} twice in {index_path}"
            state.tags[tag] = root["digest"]
    # Everything a root reaches is there and has its size: the index is written last.
    while todo:
        descriptor = todo.pop()
        file = blob_files.get(descriptor["digest"])
        assert file is not None, f"{path}: {descriptor['digest']} is referenced but missing"
        data = file.read_bytes()
        assert len(data) == descriptor["size"], f"{file} has the wrong size"
        if descriptor["mediaType"] in MANIFEST_TYPES:
            document = json.loads(data)
            todo.extend(document.get("manifests", []))
            todo.extend(d for d in [document.get("config"), *document.get("layers", [])] if d)
    return state


def check_pending_lists(home: Path, expected: str | None) -> dict[str, str]:
    """Assert every pending list in ``home`` loads whole; returns list -> index digest."""
    directory = home / "lists"
    if not directory.exists():
        return {}
    store = PendingListStore(home)
    found = {}
    for file in directory.iterdir():
        if TEMPORARY.match(file.name):
            continue
        assert file.is_file(), f"stray {file}"
        assert file.name.endswith(".json"), f"stray {file}"
        reference = Reference.parse(unquote(file.name.removesuffix(".json")), default_tag=None)
        pending = store.load(reference)
        assert pending is not None
        found[str(reference)] = digest = pending.index().digest
        if expected is not None:
            assert digest == expected, f"{file} holds a partial list"
    return found


def registry_tag(server: RegistryServer, repository: str, tag: str) -> str | None:
    raw = registry_manifest(server, repository, tag)
    return None if raw is None else sha256_digest(raw)


# -- the kill loop ------------------------------------------------------------------------


@dataclass
class Stats:
    kills: int = 0
    finished_before_kill: int = 0
    completions: int = 0
    inside_a_write: int = 0
    partial_content: int = 0

    def __str__(self) -> str:
        return (
            f"{self.kills} kills ({self.partial_content} left a partial copy, "
            f"{self.inside_a_write} came inside a file write), {self.completions} runs "
            f"to completion, {self.finished_before_kill} runs ended before their kill"
        )


@dataclass(frozen=True)
class Seen:
    """What a check saw besides validity."""

    #: Killed inside the transfer: some blobs written, the tag not yet.
    partial: bool = False
    #: New temporary files: killed inside an atomic write.
    new_temporary: int = 0


NOTHING = Seen()


class Layouts:
    """Checks layouts, remembering the temporary files each had at its last check."""

    def __init__(self) -> None:
        self.temporary: dict[Path, set[str]] = {}

    def check(self, path: Path, *, tags: set[str]) -> tuple[LayoutState, Seen]:
        state = check_layout(path)
        assert set(state.tags.values()) <= tags, state.tags
        before = self.temporary.get(path, set())
        self.temporary[path] = set(state.temporary)
        return state, Seen(
            partial=bool(state.blobs) and not state.tags,
            new_temporary=len(set(state.temporary) - before),
        )


def slot(i: int) -> str:
    """Episode ``i``'s part of a name: ``ref1``... for the reference runs (``i < 0``)."""
    return f"ref{-i}" if i < 0 else str(i)


@dataclass
class Scenario:
    """One command, run in episodes: ``argv(i)`` is episode ``i``'s command line."""

    name: str
    argv: Callable[[int], list[str]]
    #: Asserts the stores valid after a kill in episode ``i``; says what it saw.
    check: Callable[[int], Seen]
    #: Asserts the result of episode ``i`` run to completion (its stdout).
    finished: Callable[[int, str], None]
    prepare: Callable[[int], None] = lambda i: None
    #: Go on until a kill has left a partial copy (the delays reach into transfers).
    wants_partial: bool = False
    stats: Stats = field(default_factory=Stats)


class KillLoop:
    def __init__(self, env: dict[str, str], seed: int) -> None:
        self.env = env
        self.seed = seed
        self.rng = random.Random(seed)

    def context(self, scenario: Scenario, episode: int) -> str:
        return f"{scenario.name}, episode {episode}, POLYARCH_CRASH_SEED={self.seed}"

    def complete(self, scenario: Scenario, episode: int) -> float:
        """Run episode ``episode`` to the end; returns its duration."""
        start = time.monotonic()
        result = subprocess.run(
            [POLYARCH, *scenario.argv(episode)],
            capture_output=True,
            env=self.env,
            timeout=60,
            check=False,
        )
        duration = time.monotonic() - start
        context = self.context(scenario, episode)
        stderr = result.stderr.decode()
        assert result.returncode == 0, f"{context}: {stderr}"
        assert "Traceback" not in stderr, context
        scenario.finished(episode, result.stdout.decode())
        scenario.check(episode)
        scenario.stats.completions += 1
        return duration

    def kill_once(self, scenario: Scenario, episode: int, duration: float) -> bool:
        """Start episode ``episode`` and SIGKILL it after a random delay; True if it was
        still running then (a real kill)."""
        # Anywhere in [0, duration], later moments more often (density rising linearly):
        # the first part of every run is Python starting, the same each time.
        delay = duration * self.rng.random() ** 0.5
        proc = subprocess.Popen(
            [POLYARCH, *scenario.argv(episode)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
        )
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)  # exactly the PID we started
        finally:
            _, stderr = proc.communicate(timeout=60)
        context = self.context(scenario, episode)
        if proc.returncode != -signal.SIGKILL:
            # It finished first: then it must have succeeded.
            assert proc.returncode == 0, f"{context}: {stderr.decode()}"
            scenario.stats.finished_before_kill += 1
            return False
        scenario.stats.kills += 1
        try:
            seen = scenario.check(episode)
        except AssertionError as err:
            raise AssertionError(f"{context}, killed after {delay:.3f} s: {err}") from err
        scenario.stats.partial_content += seen.partial
        scenario.stats.inside_a_write += seen.new_temporary > 0
        return True

    def run(self, scenario: Scenario, kills: int) -> Stats:
        durations = []
        for reference in range(-1, -REFERENCE_RUNS - 1, -1):
            scenario.prepare(reference)
            durations.append(self.complete(scenario, reference))
        duration = statistics.median(durations)
        episode = attempts = 0
        stats = scenario.stats
        while stats.kills < kills or (scenario.wants_partial and not stats.partial_content):
            scenario.prepare(episode)
            in_a_row = self.rng.randint(1, 3)
            killed = 0
            while killed < in_a_row:
                assert attempts < MAX_ATTEMPTS, f"{scenario.name}: too few runs could be killed"
                attempts += 1
                killed += self.kill_once(scenario, episode, duration)
            self.complete(scenario, episode)
            episode += 1
        return scenario.stats


# -- fixtures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Images:
    """Two images of four 1 MiB layers, an index of them, pushed to ``registry``."""

    registry: RegistryServer
    repository: str
    amd64: SyntheticImage
    arm64: SyntheticImage
    index: Content

    def ref(self, tag: str) -> str:
        return f"{self.registry.host}/{self.repository}:{tag}"


@pytest.fixture(scope="module")
def images(registry: RegistryServer) -> Images:
    amd64, arm64 = (
        make_image(platform, seed=4242, layers=4, layer_size=LAYER_SIZE, oci=True)
        for platform in (AMD64, ARM64)
    )
    repository = unique("crash/app")
    content = multi([amd64, arm64])
    content.push(registry, repository, "multi")
    single(amd64).push(registry, repository, "amd64")
    single(arm64).push(registry, repository, "arm64")
    return Images(registry, repository, amd64, arm64, content)


@pytest.fixture(scope="module")
def other_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with RegistryServer(tmp_path_factory.mktemp("crash-other-registry")) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "docker").mkdir()
    return {
        **os.environ,
        "POLYARCH_HOME": str(tmp_path / "home"),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
    }


# -- the scenarios ------------------------------------------------------------------------


def create_scenario(images: Images, home: Path, expected: dict[str, str]) -> Scenario:
    registry = images.registry
    members = [images.ref("amd64"), images.ref("arm64")]

    def target(i: int) -> str:
        return f"{registry.host}/{images.repository}-lists/created-{slot(i)}:1.0"

    def finished(i: int, stdout: str) -> None:
        assert stdout.startswith("Created manifest list")
        lists = check_pending_lists(home, None)
        assert target(i) in lists
        expected.setdefault("list", lists[target(i)])

    temporary: set[str] = set()

    def check(i: int) -> Seen:
        check_pending_lists(home, expected["list"])
        now = {p.name for p in (home / "lists").glob(".*") if TEMPORARY.match(p.name)}
        seen = Seen(new_temporary=len(now - temporary))
        temporary.update(now)
        return seen

    return Scenario("create", lambda i: ["create", "--amend", target(i), *members], check, finished)


def push_scenario(
    images: Images, home: Path, expected: dict[str, str], env: dict[str, str]
) -> Scenario:
    registry = images.registry
    repository = f"{images.repository}-pushed"

    def target(i: int) -> str:
        return f"{registry.host}/{repository}:{slot(i)}"

    def prepare(i: int) -> None:
        result = subprocess.run(
            [POLYARCH, "create", target(i), images.ref("amd64"), images.ref("arm64")],
            capture_output=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode()

    def check(i: int) -> Seen:
        check_pending_lists(home, expected["list"])
        tag = registry_tag(registry, repository, slot(i))
        assert tag in (None, expected["list"]), f"{target(i)} is {tag}"
        return NOTHING

    def finished(i: int, stdout: str) -> None:
        assert stdout.splitlines()[-1] == expected["list"]
        assert registry_tag(registry, repository, slot(i)) == expected["list"]

    return Scenario("push", lambda i: ["push", target(i)], check, finished, prepare)


def pull_scenario(images: Images, root: Path) -> Scenario:
    """Each episode pulls into a new layout."""
    wanted = images.arm64.manifest_digest
    layouts = Layouts()

    def layout(i: int) -> Path:
        return root / f"pull-{slot(i)}"

    def check(i: int) -> Seen:
        return layouts.check(layout(i), tags={wanted})[1]

    def finished(i: int, stdout: str) -> None:
        assert stdout.splitlines()[-1] == wanted
        assert check_layout(layout(i)).tags == {"multi": wanted}

    return Scenario(
        "pull",
        lambda i: ["pull", "--platform", "linux/arm64", images.ref("multi"), f"oci:{layout(i)}"],
        check,
        finished,
        wants_partial=True,
    )


def copy_to_layout_scenario(images: Images, root: Path) -> Scenario:
    """Even episodes add a tag to one shared layout (its index.json rewritten under the
    earlier tags, which must survive); odd ones fill a new layout."""
    shared = root / "copies"
    digest = images.index.digest
    layouts = Layouts()

    def layout(i: int) -> Path:
        return shared if i >= 0 and i % 2 == 0 else root / f"copy-{slot(i)}"

    def check(i: int) -> Seen:
        state, seen = layouts.check(layout(i), tags={digest})
        if layout(i) != shared:
            return seen
        # Every tag finished before this episode is still there.
        assert {f"t{j}" for j in range(0, i, 2)} <= set(state.tags)
        return Seen(new_temporary=seen.new_temporary)

    def finished(i: int, stdout: str) -> None:
        assert stdout.splitlines()[-1] == digest
        assert check_layout(layout(i)).tags[f"t{slot(i)}"] == digest

    return Scenario(
        "copy to a layout",
        lambda i: ["copy", images.ref("multi"), f"oci:{layout(i)}:t{slot(i)}"],
        check,
        finished,
        wants_partial=True,
    )


def copy_to_registry_scenario(images: Images, other: RegistryServer) -> Scenario:
    digest = images.index.digest

    def repository(i: int) -> str:
        return f"{images.repository}-copy-{slot(i)}"

    def check(i: int) -> Seen:
        tag = registry_tag(other, repository(i), "1.0")
        assert tag in (None, digest), f"{repository(i)}:1.0 is {tag}"
        return NOTHING

    def finished(i: int, stdout: str) -> None:
        assert stdout.splitlines()[-1] == digest
        assert registry_manifest(other, repository(i), "1.0") == images.index.root

    return Scenario(
        "copy to a registry",
        lambda i: ["copy", images.ref("multi"), f"{other.host}/{repository(i)}:1.0"],
        check,
        finished,
    )


# -- the test -----------------------------------------------------------------------------


@pytest.mark.slow
def test_killed_commands_leave_valid_stores_and_resume(
    images: Images,
    other_registry: RegistryServer,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("POLYARCH_CRASH_SEED") or time.time_ns() % 2**32)
    loop = KillLoop(env, seed)
    home = Path(env["POLYARCH_HOME"])
    expected: dict[str, str] = {}
    scenarios = [
        create_scenario(images, home, expected),
        push_scenario(images, home, expected, env),
        pull_scenario(images, tmp_path),
        copy_to_layout_scenario(images, tmp_path),
        copy_to_registry_scenario(images, other_registry),
    ]
    report = []
    for scenario in scenarios:
        stats = loop.run(scenario, KILLS_PER_SCENARIO)
        report.append(f"{scenario.name}: {stats}")
    print(f"\nPOLYARCH_CRASH_SEED={seed}\n" + "\n".join(report))

    total = sum(s.stats.kills for s in scenarios)
    assert total >= 50
    # The delays really reach into the transfers, not only into Python's start-up.
    assert all(s.stats.partial_content for s in scenarios if s.wants_partial), report
    # The pushed list is the list created, and the image docker would pull.
    assert expected["list"] == images.index.digest
    # Layouts that survived kills (and hold their temporary files) read fine elsewhere.
    assert skopeo_raw(f"oci:{tmp_path / 'copies'}:t0") == images.index.root
    assert skopeo_raw(f"oci:{tmp_path / 'pull-0'}:multi") == images.arm64.manifest
