"""polyarch copy vs ``skopeo copy --all``, side by side in one run, between two registries.

::

    python benchmarks/bench_copy.py [--repeat 3] [--big-layer-mib 1024]

Starts two CNCF distribution registries (``tests/registry_server.py``) on two loopback
ports in a temporary directory and pushes to registry A a 4-platform OCI index whose
images have 5 layers of 8 MiB each (random bytes in level-0 gzip: incompressible, and
valid gzip, which skopeo checks; 160 MiB of blobs, none shared). Then, alternating which
tool goes first, ``--repeat`` times:

* ``reg->reg``: ``skopeo copy --all --src-tls-verify=false --dest-tls-verify=false
  docker://A/bench/img:1 docker://B/REPO:1`` vs ``polyarch copy --quiet A/bench/img:1
  B/REPO:1``, to a new repository of registry B just restarted empty on a new port: skopeo
  keeps a blob info cache (``/var/lib/containers/cache`` for root, not movable) and would
  otherwise mount blobs it saw in earlier runs; this way neither tool can skip anything;
* ``reg->reg again``: the same command once more (nothing to copy: the cost of a resume);
* ``reg->oci`` and ``reg->oci again``: the same to a new OCI layout (``oci:DIR:1``), twice.

Then the peak RSS of each tool copying, from A to B, a single-platform image with one layer
of 64 MiB and one of ``--big-layer-mib`` MiB (default 1024). That blob is written to a
temporary file in chunks and uploaded with one streamed PUT: it is never in memory.

Wall time is the median of the runs, ``time.perf_counter`` around the process (start-up
included). Each command runs under GNU time, which gives its peak RSS (``%M``); its CPU
time comes from ``wait4``, and the registries' CPU time meanwhile from ``/proc/PID/stat``
(they share the machine's CPUs). Requests are those each registry's access log shows
between two marks (``mark()``/``requests()``), with how many were answered 404. Every copy
is checked: the destination's tag must have the source's digest, and every child manifest
and blob must be there. Nothing here asserts: it reports, and says whether issue 4's
targets hold.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from tests.registry_server import AccessLogEntry, RegistryServer

from _common import (
    AtDistance,
    Outcome,
    add_delay_argument,
    add_tool_arguments,
    client_env,
    fmt,
    machine,
    progress,
    ratio_of,
    tool_version,
    write_json,
)

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
COMMAND_TIMEOUT = 600.0
GNU_TIME = Path("/usr/bin/time")
SOURCE = "bench/img"
TAG = "1"
PLATFORMS = (("amd64", None), ("arm64", None), ("arm", "v7"), ("ppc64le", None))
LAYERS = 5
LAYER_MIB = 8
SMALL_BIG_MIB = 64
#: Issue 4's targets.
TARGET_RATIO = 0.8
TARGET_RSS_MIB = 120.0
#: "Does not grow with layer size": the big copy may use at most this much more than 64 MiB.
RSS_GROWTH_MIB = 8.0

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ACCEPT = f"{OCI_INDEX}, {OCI_MANIFEST}"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- the images ------------------------------------------------------------------------


@dataclass
class Image:
    """What was pushed to A: the root's digest and everything it references."""

    repository: str
    digest: str
    manifests: list[str] = field(default_factory=list)
    """Child manifests (empty for a plain image)."""
    blobs: dict[str, int] = field(default_factory=dict)
    """digest -> size, configs and layers."""

    @property
    def size(self) -> int:
        return sum(self.blobs.values())


def _manifest(config: tuple[str, int], layers: Sequence[tuple[str, int]]) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config[0], "size": config[1]},
        "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": s} for d, s in layers],
    }
    return json.dumps(doc, indent=3).encode()


def _config(arch: str, variant: str | None, layers: Sequence[str]) -> bytes:
    # Neither the registry nor a copy looks inside layers, so the diff IDs are simply the
    # layer digests (not those of the uncompressed bytes): a config of the right shape.
    doc: dict[str, Any] = {"architecture": arch, "os": "linux"}
    if variant:
        doc["variant"] = variant
    doc["rootfs"] = {"type": "layers", "diff_ids": list(layers)}
    doc["config"] = {}
    return json.dumps(doc, indent=3).encode()


def push_index(
    server: RegistryServer,
    repository: str = SOURCE,
    tag: str = TAG,
    *,
    layers_per_image: int = LAYERS,
    layer_bytes: int = LAYER_MIB * MIB,
) -> Image:
    """The 4-platform index, 5 incompressible 8 MiB layers per platform (by default)."""
    image = Image(repository, "")
    entries = []
    for arch, variant in PLATFORMS:
        layers = []
        for _ in range(layers_per_image):
            data = layer_blob(layer_bytes)
            layers.append((server.push_blob(repository, data), len(data)))
        config = _config(arch, variant, [d for d, _ in layers])
        config_desc = (server.push_blob(repository, config), len(config))
        manifest = _manifest(config_desc, layers)
        digest = server.push_manifest(repository, sha256(manifest), manifest, OCI_MANIFEST)
        image.manifests.append(digest)
        image.blobs.update([config_desc, *layers])
        platform = {
            "architecture": arch,
            "os": "linux",
            **({"variant": variant} if variant else {}),
        }
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": len(manifest),
                "platform": platform,
            }
        )
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, indent=3
    ).encode()
    image.digest = server.push_manifest(repository, tag, index, OCI_INDEX)
    return image


def layer_blob(size: int) -> bytes:
    """``size`` random bytes as a gzip stream of stored blocks (level 0): incompressible,
    and valid gzip, which skopeo checks (it rewrites the media type of a layer whose bytes
    are not what the type says, and with it the digests)."""
    return gzip.compress(os.urandom(size), compresslevel=0, mtime=0)


class _HashingWriter:
    """A write-only file that hashes what goes through it."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        return self.f.write(data)

    def flush(self) -> None:
        self.f.flush()


def push_big(server: RegistryServer, repository: str, mib: int, workdir: Path) -> Image:
    """A plain image with one layer of ``mib`` MiB, streamed from a file, never in memory."""
    path = workdir / f"big-{mib}.bin"
    with path.open("wb") as f:
        hashing = _HashingWriter(f)
        with gzip.GzipFile(fileobj=hashing, mode="wb", compresslevel=0, mtime=0) as gz:
            for _ in range(mib):
                gz.write(os.urandom(MIB))
    digest, size = "sha256:" + hashing.hash.hexdigest(), path.stat().st_size
    try:
        _put_file(server, repository, path, digest)
    finally:
        path.unlink()
    config = _config("amd64", None, [digest])
    config_desc = (server.push_blob(repository, config), len(config))
    manifest = _manifest(config_desc, [(digest, size)])
    root = server.push_manifest(repository, TAG, manifest, OCI_MANIFEST)
    return Image(repository, root, [], dict([config_desc, (digest, size)]))


def _put_file(server: RegistryServer, repository: str, path: Path, digest: str) -> None:
    """POST an upload, then one PUT whose body is read from ``path`` 1 MiB at a time."""
    from tests.registry_server import CLIENT_USER_AGENT

    started = server.request("POST", f"/v2/{repository}/blobs/uploads/", body=b"")
    if started.status != 202:
        raise RuntimeError(f"POST upload to {repository}: HTTP {started.status}")
    url = urllib.parse.urlsplit(urllib.parse.urljoin(server.url + "/", started.headers["Location"]))
    query = [*urllib.parse.parse_qsl(url.query), ("digest", digest)]
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=300, blocksize=MIB)
    try:
        with path.open("rb") as body:
            conn.request(
                "PUT",
                f"{url.path}?{urllib.parse.urlencode(query)}",
                body=body,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(path.stat().st_size),
                    "User-Agent": CLIENT_USER_AGENT,
                },
            )
            response = conn.getresponse()
            response.read()
    finally:
        conn.close()
    if response.status != 201:
        raise RuntimeError(f"PUT {path.name} to {repository}: HTTP {response.status}")


# -- running one command ---------------------------------------------------------------


@dataclass
class Run(Outcome):
    """One command: wall and CPU time, peak RSS, the requests it made at each registry."""

    seconds: float
    cpu: float
    rss_mib: float | None
    returncode: int
    stdout: str
    stderr: str
    requests: dict[str, list[AccessLogEntry]] = field(default_factory=dict)
    registry_cpu: float = 0.0
    """CPU seconds both registries spent meanwhile (they share the machine's CPUs)."""
    foreign_requests: int = 0
    """Requests in the window that were not the tool's (should be 0)."""

    def count(self, registry: str) -> tuple[int, int]:
        """(requests, of which answered 404) at one registry."""
        entries = self.requests.get(registry, [])
        return len(entries), sum(1 for e in entries if e.status == 404)


def execute(argv: Sequence[str], env: dict[str, str], timeout: float = COMMAND_TIMEOUT) -> Run:
    """Run ``argv`` under GNU time, which reports its peak RSS; CPU time from ``wait4``.

    Not ``wait4``'s own ``ru_maxrss``: Linux keeps the high-water mark of the address space
    an ``exec`` replaces, so a child started by this ~45 MiB Python process never reports
    less than 45 MiB; GNU time's child is started by a 2 MiB process.
    """
    with tempfile.TemporaryDirectory(prefix="run-") as tmp:
        report = Path(tmp) / "maxrss"
        command = [*argv]
        if GNU_TIME.exists():
            command = [str(GNU_TIME), "--format=%M", f"--output={report}", *argv]
        with (Path(tmp) / "out").open("w+b") as out, (Path(tmp) / "err").open("w+b") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # one process group: a timeout ends time and the tool
            )
            reaped: dict[str, Any] = {}

            def reap() -> None:
                _, status, usage = os.wait4(proc.pid, 0)
                reaped.update(end=time.perf_counter(), status=status, usage=usage)

            waiter = threading.Thread(target=reap, daemon=True)
            waiter.start()
            waiter.join(timeout)
            timed_out = waiter.is_alive()
            if timed_out:
                os.killpg(proc.pid, signal.SIGKILL)  # the group we started, by its id
                waiter.join()
            # Popen must not wait for a PID that wait4 already reaped.
            proc.returncode = os.waitstatus_to_exitcode(reaped["status"])
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode("utf-8", "replace")
            stderr = err.read().decode("utf-8", "replace")
        try:
            rss_mib: float | None = int(report.read_text().split()[-1]) / 1024  # KiB
        except (OSError, ValueError, IndexError):
            rss_mib = None
    usage = reaped["usage"]
    return Run(
        seconds=reaped["end"] - start,
        cpu=usage.ru_utime + usage.ru_stime,  # the tool's and time's, which is ~0
        rss_mib=rss_mib,
        returncode=proc.returncode,
        stdout=stdout,
        stderr=f"timed out after {timeout} s" if timed_out else stderr,
    )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process, from ``/proc/PID/stat``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Runner:
    """Runs commands in fresh client state and counts their requests at A and B."""

    def __init__(self, registries: dict[str, RegistryServer], workdir: Path) -> None:
        self.registries = registries
        self.workdir = workdir
        self._fresh = 0

    def env(self, polyarch_home: Path | None = None) -> dict[str, str]:
        """Fresh, empty client state; ``polyarch_home`` keeps a given one (its cache)."""
        self._fresh += 1
        return client_env(self.workdir, self.workdir / f"state-{self._fresh}", polyarch_home)

    def run(self, argv: Sequence[str], polyarch_home: Path | None = None) -> Run:
        marks = {name: server.mark() for name, server in self.registries.items()}
        cpu = sum(_cpu_seconds(server.pid) for server in self.registries.values())
        result = execute(argv, self.env(polyarch_home))
        result.registry_cpu = sum(_cpu_seconds(s.pid) for s in self.registries.values()) - cpu
        attribute_requests(result, self.registries, marks)
        return result


def attribute_requests(
    run: Any, registries: Mapping[str, RegistryServer], marks: Mapping[str, int]
) -> None:
    """Each registry's requests since its mark into ``run.requests`` (any benchmark's
    ``Run``: ``requests`` by registry, ``foreign_requests``); those the harness's
    own client made (checks, seeding) are not the tool's: counted as foreign instead."""
    from tests.registry_server import CLIENT_USER_AGENT

    for name, server in registries.items():
        entries = server.requests(since=marks[name])
        mine = [e for e in entries if e.user_agent != CLIENT_USER_AGENT]
        run.requests[name] = mine
        run.foreign_requests += len(entries) - len(mine)


# -- checking what arrived --------------------------------------------------------------


def check_registry(
    server: RegistryServer, repository: str, image: Image, tag: str = TAG
) -> list[str]:
    """What is wrong with ``repository:TAG`` at ``server`` compared with ``image``."""
    problems = []
    head = server.request("HEAD", f"/v2/{repository}/manifests/{tag}", headers={"Accept": ACCEPT})
    got = head.headers.get("Docker-Content-Digest") if head.status == 200 else None
    if got != image.digest:
        problems.append(f"{repository}:{tag} is {got or f'HTTP {head.status}'}, not {image.digest}")
    for digest in image.manifests:
        status = server.request(
            "HEAD", f"/v2/{repository}/manifests/{digest}", headers={"Accept": ACCEPT}
        ).status
        if status != 200:
            problems.append(f"manifest {digest}: HTTP {status}")
    for digest, size in image.blobs.items():
        resp = server.request("HEAD", f"/v2/{repository}/blobs/{digest}")
        if resp.status != 200 or resp.headers.get("Content-Length") != str(size):
            problems.append(f"blob {digest}: HTTP {resp.status}")
    return problems


def check_layout(path: Path, image: Image) -> list[str]:
    """What is wrong with the layout's image tagged ``1`` compared with ``image``."""
    try:
        index = json.loads((path / "index.json").read_text())
    except (OSError, ValueError) as err:
        return [f"index.json: {err}"]
    tagged = [
        m.get("digest")
        for m in index.get("manifests", [])
        if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == TAG
    ]
    problems = [] if tagged == [image.digest] else [f"tag {TAG} is {tagged}, not {image.digest}"]
    for digest in [image.digest, *image.manifests, *image.blobs]:
        if not (path / "blobs" / "sha256" / digest.removeprefix("sha256:")).is_file():
            problems.append(f"{digest} missing")
    for digest, size in image.blobs.items():
        blob = path / "blobs" / "sha256" / digest.removeprefix("sha256:")
        if blob.is_file() and blob.stat().st_size != size:
            problems.append(f"{digest} has {blob.stat().st_size} bytes, not {size}")
    return problems


# -- results ---------------------------------------------------------------------------


@dataclass
class Cell:
    """Repeated runs of one scenario by one tool."""

    scenario: str
    tool: str
    runs: list[Run] = field(default_factory=list)
    unavailable: str | None = None
    notes: list[str] = field(default_factory=list)

    def add(self, run: Run, problems: list[str]) -> None:
        if not run.ok:
            self.unavailable = run.failure()
            return
        self.runs.append(run)
        if run.foreign_requests:
            self.note(f"{run.foreign_requests} requests by another client")
        if problems:
            self.note("WRONG RESULT: " + "; ".join(problems[:3]))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    @property
    def seconds(self) -> float | None:
        return statistics.median(r.seconds for r in self.runs) if self.runs else None

    @property
    def cpu(self) -> float | None:
        return statistics.median(r.cpu for r in self.runs) if self.runs else None

    @property
    def registry_cpu(self) -> float | None:
        return statistics.median(r.registry_cpu for r in self.runs) if self.runs else None

    @property
    def rss_mib(self) -> float | None:
        values = [r.rss_mib for r in self.runs if r.rss_mib is not None]
        return max(values) if values else None

    def requests(self, registry: str) -> tuple[float, float] | None:
        if not self.runs:
            return None
        counts = [r.count(registry) for r in self.runs]
        return statistics.median(c[0] for c in counts), statistics.median(c[1] for c in counts)

    def varied(self) -> str:
        """Wall-time spread, requests that varied between runs, and mounts tried."""
        parts = []
        if len(self.runs) > 1:
            walls = [r.seconds for r in self.runs]
            parts.append(f"wall {min(walls):.3f}..{max(walls):.3f}")
        mounts = max(
            (sum("mount=" in e.uri for e in r.requests.get("B", [])) for r in self.runs),
            default=0,
        )
        if mounts:
            parts.append(f"up to {mounts} mount requests")
        for registry in ("A", "B"):
            totals = [r.count(registry)[0] for r in self.runs]
            if totals and min(totals) != max(totals):
                parts.append(f"requests at {registry} {min(totals)}..{max(totals)}")
        return "; ".join(parts)


# -- the benchmark ---------------------------------------------------------------------

SCENARIOS = ("reg->reg", "reg->reg again", "reg->oci", "reg->oci again")
TOOLS = ("skopeo", "polyarch")


def copy_argv(args: argparse.Namespace, tool: str, source: str, dest: str) -> list[str]:
    """``skopeo copy --all`` or ``polyarch copy --quiet`` (``args.skopeo``,
    ``args.polyarch``) from ``HOST/REPO:TAG`` to ``HOST/REPO:TAG`` or ``oci:DIR:TAG``: the
    one copy every benchmark compares."""
    if tool == "skopeo":
        argv = [args.skopeo, "copy", "--all", "--src-tls-verify=false"]
        if not dest.startswith("oci:"):
            argv.append("--dest-tls-verify=false")
            dest = "docker://" + dest
        return [*argv, "docker://" + source, dest]
    return [args.polyarch, "copy", "--quiet", source, dest]


class TwoRegistries:
    """What a benchmark between registries A and B keeps: its runner, its cells (by
    scenario and tool) and its warnings; ``bench_cache.py`` and ``bench_sync.py`` too."""

    def __init__(
        self, args: argparse.Namespace, a: RegistryServer, b: RegistryServer, workdir: Path
    ) -> None:
        self.args = args
        self.a = a
        self.b = b
        self.workdir = workdir
        self.runner = Runner({"A": a, "B": b}, workdir)
        self.cells: dict[tuple[str, str], Cell] = {}
        self.warnings: list[str] = []

    def cell(self, scenario: str, tool: str) -> Cell:
        return self.cells.setdefault((scenario, tool), Cell(scenario, tool))

    def fresh_b(self) -> None:
        """Restart B empty, on a new port: nothing to skip, nothing a cache knows about."""
        self.b.stop()
        shutil.rmtree(self.b.data_dir, ignore_errors=True)
        self.b.start()

    def measure(self, tool: str, rep: int) -> None:
        raise NotImplementedError

    def measure_alternately(self, tools: Sequence[str]) -> None:
        """``--repeat`` rounds of :meth:`measure`, each tool in turn, the first alternating:
        neither always has the warmer caches."""
        for rep in range(self.args.repeat):
            order = tools if rep % 2 == 0 else tools[::-1]
            for tool in order:
                progress(f"run {rep + 1}/{self.args.repeat}: {tool}")
                self.measure(tool, rep)

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        print(f"warning: {text}", file=sys.stderr, flush=True)


class Bench(TwoRegistries):
    def __init__(
        self, args: argparse.Namespace, a: RegistryServer, b: RegistryServer, workdir: Path
    ) -> None:
        super().__init__(args, a, b, workdir)
        self.rss: dict[tuple[str, int], Run | str] = {}
        self.image = Image(SOURCE, "")

    def copy_argv(self, tool: str, source: str, dest: str) -> list[str]:
        """``dest`` is ``HOST/REPO:TAG`` or ``oci:DIR:TAG``."""
        return copy_argv(self.args, tool, source, dest)

    def source(self, image: Image) -> str:
        return f"{self.a.host}/{image.repository}:{TAG}"

    def measure(self, tool: str, rep: int) -> None:
        self.fresh_b()
        repository = f"bench/{tool}-r{rep}"
        argv = self.copy_argv(tool, self.source(self.image), f"{self.b.host}/{repository}:{TAG}")
        for scenario in SCENARIOS[:2]:
            run = self.runner.run(argv)
            self.cell(scenario, tool).add(run, check_registry(self.b, repository, self.image))
        layout = self.workdir / f"oci-{tool}-r{rep}"
        argv = self.copy_argv(tool, self.source(self.image), f"oci:{layout}:{TAG}")
        for scenario in SCENARIOS[2:]:
            run = self.runner.run(argv)
            self.cell(scenario, tool).add(run, check_layout(layout, self.image))
        shutil.rmtree(layout, ignore_errors=True)

    def warm_up(self) -> None:
        """One unmeasured copy per tool: bytecode cache, page cache, registry start-up."""
        for tool in TOOLS:
            dest = f"{self.b.host}/bench/warmup-{tool}:{TAG}"
            run = self.runner.run(self.copy_argv(tool, self.source(self.image), dest))
            if not run.ok:
                self.warn(f"warm-up {tool}: {run.failure()}")

    def peak_rss(self, tools: Sequence[str]) -> None:
        for mib in sorted({SMALL_BIG_MIB, self.args.big_layer_mib}):
            progress(f"peak RSS: pushing a {mib} MiB layer")
            image = push_big(self.a, f"bench/big{mib}", mib, self.workdir)
            for tool in tools:
                self.fresh_b()
                repository = f"bench/big{mib}-{tool}"
                dest = f"{self.b.host}/{repository}:{TAG}"
                run = self.runner.run(self.copy_argv(tool, self.source(image), dest))
                if not run.ok:
                    self.rss[tool, mib] = run.failure()
                    continue
                self.rss[tool, mib] = run
                problems = check_registry(self.b, repository, image)
                if problems:
                    self.warn(f"{tool} {mib} MiB: " + "; ".join(problems))
            self.fresh_b()


# -- reporting -------------------------------------------------------------------------


def _table(header: Sequence[str], rows: list[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    return [line(header), line(["-" * w for w in widths]), *map(line, rows)]


def request_columns(cell: Cell) -> list[str]:
    """``req A``, ``req B``: the median requests at each registry, 404s in parentheses."""
    reqs = []
    for registry in ("A", "B"):
        count = cell.requests(registry)
        reqs.append(f"{count[0]:.0f} ({count[1]:.0f})" if count else "-")
    return reqs


def wrong_content(cells: Mapping[tuple[str, str], Cell]) -> list[str]:
    """``TOOL SCENARIO`` of each cell a check found a wrong result in."""
    return [
        f"{c.tool} {c.scenario}"
        for c in cells.values()
        if any(n.startswith("WRONG") for n in c.notes)
    ]


def cell_records(cells: Mapping[tuple[str, str], Cell]) -> list[dict[str, Any]]:
    """The cells for ``--json``: every run's wall and CPU time and requests by registry."""
    return [
        {
            "scenario": c.scenario,
            "tool": c.tool,
            "seconds": [r.seconds for r in c.runs],
            "cpu": [r.cpu for r in c.runs],
            "requests": [{k: len(v) for k, v in r.requests.items()} for r in c.runs],
            "unavailable": c.unavailable,
            "notes": c.notes,
        }
        for c in cells.values()
    ]


def render(bench: Bench) -> str:
    size_mib = bench.image.size / MIB
    header = (
        "scenario",
        "tool",
        "wall s",
        "MiB/s",
        "x skopeo",
        "CPU s",
        "reg CPU",
        "RSS MiB",
        "req A",
        "req B",
        "notes",
    )
    rows: list[Sequence[str]] = []
    order = sorted(bench.cells, key=lambda k: (SCENARIOS.index(k[0]), TOOLS.index(k[1])))
    for scenario, tool in order:
        cell = bench.cells[scenario, tool]
        other = bench.cells.get((scenario, "skopeo"))
        notes = [x for x in (cell.unavailable, cell.varied(), *cell.notes) if x]
        copies = not scenario.endswith("again")
        rows.append(
            (
                scenario,
                tool,
                fmt(cell.seconds, ".3f"),
                fmt(size_mib / cell.seconds, ".0f") if copies and cell.seconds else "",
                fmt(ratio_of(cell.seconds, other.seconds), ".2f")
                if tool != "skopeo" and other
                else "",
                fmt(cell.cpu, ".2f"),
                fmt(cell.registry_cpu, ".2f"),
                fmt(cell.rss_mib, ".0f"),
                *request_columns(cell),
                "; ".join(notes),
            )
        )
    out = _table(header, rows, {2, 3, 4, 5, 6, 7, 8, 9})
    out.append(
        "(CPU s: the tool's user+system time; reg CPU: both registries' meanwhile, on the "
        "same CPUs;\n RSS: the tool's peak; req A / B: requests served at each registry, "
        "in parentheses those\n answered 404; reg->oci writes to a local layout, so B shows none)"
    )
    out.append("")
    out.extend(breakdown(bench))
    out.append("")
    out.extend(rss_table(bench))
    out.append("")
    out.append("targets (issue 4):")
    out.extend(targets(bench))
    return "\n".join(out)


def breakdown(bench: Bench) -> list[str]:
    """The reg->reg requests of each tool's last run, by method, kind and status."""
    lines = ["requests in reg->reg (last run), by registry, method, kind and status:"]
    for tool in TOOLS:
        cell = bench.cells.get(("reg->reg", tool))
        if not cell or not cell.runs:
            continue
        run = cell.runs[-1]
        for registry in ("A", "B"):
            counts: dict[str, int] = {}
            for entry in run.requests.get(registry, []):
                parts = entry.path.split("/")
                kind = next((p for p in ("manifests", "uploads", "blobs") if p in parts), "/v2/")
                key = f"{entry.method} {kind} {entry.status}"
                counts[key] = counts.get(key, 0) + 1
            text = ", ".join(f"{n}x {k}" for k, n in sorted(counts.items()))
            lines.append(f"  {tool:<8} {registry}: {text or 'none'}")
    return lines


def rss_table(bench: Bench) -> list[str]:
    sizes = sorted({mib for _, mib in bench.rss})
    if not sizes:
        return []
    header = (
        "peak RSS MiB",
        *(f"{mib} MiB layer" for mib in sizes),
        f"{sizes[-1]} MiB: wall s",
        "MiB/s",
        "CPU s",
    )
    rows: list[Sequence[str]] = []
    for tool in TOOLS:
        cells = [bench.rss.get((tool, mib)) for mib in sizes]
        if all(c is None for c in cells):
            continue
        last = cells[-1]
        rss = [fmt(c.rss_mib, ".1f") if isinstance(c, Run) else (c or "-")[:40] for c in cells]
        if isinstance(last, Run):
            timing = [f"{last.seconds:.2f}", f"{sizes[-1] / last.seconds:.0f}", f"{last.cpu:.2f}"]
        else:
            timing = ["-", "-", "-"]
        rows.append((tool, *rss, *timing))
    return _table(header, rows, set(range(1, len(header))))


def targets(bench: Bench) -> list[str]:
    lines = []
    poly = bench.cells.get(("reg->reg", "polyarch"))
    skopeo = bench.cells.get(("reg->reg", "skopeo"))
    ratio = ratio_of(poly.seconds, skopeo.seconds) if poly and skopeo else None
    verdict = "n/a " if ratio is None else ("PASS" if ratio <= TARGET_RATIO else "FAIL")
    lines.append(
        f"  [{verdict}] reg->reg wall {fmt(ratio, '.2f')}x skopeo copy --all "
        f"(target <= {TARGET_RATIO}x)"
    )
    lines.extend(_rss_targets(bench))
    for scenario in SCENARIOS:
        totals = {}
        for tool in TOOLS:
            cell = bench.cells.get((scenario, tool))
            counts = [cell.requests(r) for r in ("A", "B")] if cell else []
            if all(counts):
                totals[tool] = sum(c[0] for c in counts if c)
        if len(totals) == 2 and totals["polyarch"] > totals["skopeo"]:
            lines.append(
                f"  [FAIL] {scenario}: {totals['polyarch']:.0f} requests "
                f"> skopeo's {totals['skopeo']:.0f}"
            )
    if not any("requests >" in x for x in lines):
        lines.append("  [PASS] never more requests than skopeo")
    wrong = wrong_content(bench.cells)
    if wrong:
        lines.append(f"  [FAIL] wrong content at the destination: {', '.join(wrong)}")
    else:
        lines.append("  [PASS] every copy has the source's digests")
    return lines


def _rss_targets(bench: Bench) -> list[str]:
    sizes = sorted(mib for tool, mib in bench.rss if tool == "polyarch")
    runs = [bench.rss["polyarch", mib] for mib in sizes]
    rss = [r.rss_mib for r in runs if isinstance(r, Run) and r.rss_mib is not None]
    if not sizes or len(rss) != len(sizes):
        return ["  [n/a ] peak RSS"]
    big, small = rss[-1], rss[0]
    lines = [
        f"  [{'PASS' if big < TARGET_RSS_MIB else 'FAIL'}] peak RSS {big:.1f} MiB copying a "
        f"{sizes[-1]} MiB layer (target < {TARGET_RSS_MIB:.0f} MiB"
        + ("" if sizes[-1] >= 1024 else ", set for 1024 MiB")
        + ")"
    ]
    if len(sizes) > 1:
        growth = big - small
        lines.append(
            f"  [{'PASS' if growth <= RSS_GROWTH_MIB else 'FAIL'}] peak RSS does not grow with "
            f"layer size: {growth:+.1f} MiB from {sizes[0]} to {sizes[-1]} MiB "
            f"(allowed {RSS_GROWTH_MIB:+.0f})"
        )
    return lines


# -- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--big-layer-mib", type=int, default=1024, help="layer size for the peak RSS run"
    )
    parser.add_argument("--no-rss", action="store_true", help="skip the peak RSS runs")
    add_delay_argument(parser)
    add_tool_arguments(parser, "skopeo")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.big_layer_mib < 1:
        parser.error("--big-layer-mib must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.registry_server import RegistryServer

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="polyarch-bench-copy-") as tmp:
        workdir = Path(tmp)
        distance = AtDistance(
            args.delay, RegistryServer(workdir / "a"), RegistryServer(workdir / "b")
        )
        with distance as (a, b):
            bench = Bench(args, a, b, workdir)
            progress(f"registries A {a.url} (pid {a.pid}), B {b.url} (pid {b.pid}); seeding")
            bench.image = push_index(a)
            progress("warm-up")
            bench.warm_up()
            bench.measure_alternately(TOOLS)
            if not args.no_rss:
                bench.peak_rss(TOOLS)
        report = render(bench)
    print(
        f"polyarch copy vs skopeo copy --all, {distance.describe()}: {len(PLATFORMS)} "
        f"platforms x {LAYERS} layers "
        f"x {LAYER_MIB} MiB ({bench.image.size / MIB:.1f} MiB of blobs), median of "
        f"{args.repeat} runs; {tool_version([args.polyarch, '--version'])}, "
        f"{tool_version([args.skopeo, '--version'])}, {machine(load_before)}"
    )
    print(report)
    if args.json:
        doc = {
            "cells": cell_records(bench.cells),
            "rss_mib": {
                f"{tool} {mib}": run.rss_mib if isinstance(run, Run) else run
                for (tool, mib), run in bench.rss.items()
            },
            "warnings": bench.warnings,
        }
        write_json(args.json, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
