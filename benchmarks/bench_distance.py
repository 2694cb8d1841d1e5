"""polyarch vs ``docker manifest`` and ``skopeo copy --all`` at a distance (issue 15).

::

    python benchmarks/bench_distance.py [--delays 0,10,50] [--platforms 32] [--repeat 3]
    python benchmarks/bench_distance.py --curve [--repeat 1]

Starts two CNCF distribution registries (``tests/registry_server.py``), A and B, on two
loopback ports in a temporary directory, pushes to A 32 single-platform images (distinct
platforms, ``bench_manifest.py``'s) and the 4-platform index of ``bench_copy.py`` (5
incompressible 8 MiB layers per platform). Then for each delay of ``--delays`` (ms, each
way) it puts one :class:`latency_proxy.LatencyProxy` in front of each registry, so every
tool sees the registry at the proxy's address, and ``--repeat`` times, alternating which
tool goes first, each command with a fresh ``DOCKER_CONFIG`` and ``POLYARCH_HOME``:

* create+push: ``docker manifest create --insecure L M...`` + ``docker manifest push
  --insecure L`` vs ``polyarch create L M...`` + ``polyarch push L``, N members from
  ``A/bench/src`` to a new repository of A (every blob mounted);
* inspect --verbose: ``docker manifest inspect --verbose --insecure L`` vs ``polyarch
  inspect --verbose L``, of the list docker pushed in that run;
* copy: ``skopeo copy --all --src-tls-verify=false --dest-tls-verify=false`` vs ``polyarch
  copy --quiet``, the index from A to a new repository of B; skopeo's blob info cache is
  deleted before each of its runs, polyarch's ``POLYARCH_HOME`` is empty.

Wall time is the median of the runs, ``time.perf_counter`` around the process (start-up
included); requests are those each registry's access log shows between two marks
(``mark()``/``requests()``); connections are those the proxies accepted meanwhile. From
the wall times at delay d and at 0 it estimates each tool's sequential round trips,
``(wall(d) - wall(0)) / 2d``. ``--curve`` measures instead how the costs grow: N = 2, 8,
32, 64 and 1, 5, 20, 50 layers per image, at 0 and 10 ms. Nothing here asserts: it
reports, and says whether issue 15's targets hold.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.registry_server import AccessLogEntry, RegistryServer

from _common import (
    Outcome,
    add_tool_arguments,
    client_env,
    fmt,
    progress,
    ratio_of,
    timed_run,
    tool_version,
    write_json,
)
from bench_cache import skopeo_cache_file
from bench_copy import (
    LAYER_MIB,
    LAYERS,
    MIB,
    TAG,
    Image,
    _table,
    attribute_requests,
    check_registry,
    copy_argv,
    push_index,
)
from bench_copy import PLATFORMS as COPY_PLATFORMS
from bench_manifest import PLATFORMS as LIST_PLATFORMS
from bench_manifest import SOURCE_REPOSITORY, _docker_digest, _same_json
from latency_proxy import LatencyProxy

ROOT = Path(__file__).resolve().parent.parent
COMMAND_TIMEOUT = 600.0
STEPS = ("create+push", "inspect --verbose", "copy")
PEER = {"create+push": "docker", "inspect --verbose": "docker", "copy": "skopeo"}
#: The ``--baseline`` build of polyarch, run beside the current one: before and after.
BEFORE = "before"
#: Issue 15's targets: wall time polyarch/peer at 10 ms each way, for N = 32 and for the
#: copy of bench_copy's index (5 layers of 8 MiB per platform).
TARGET_DELAY_MS = 10
TARGETS = {("create+push", 32): 0.06, ("inspect --verbose", 32): 0.12, ("copy", LAYERS): 0.5}
CURVE_PLATFORMS = (2, 8, 32, 64)
CURVE_LAYERS = (1, 5, 20, 50)
CURVE_DELAYS = (0, 10)
#: Beyond bench_manifest's 32: Windows builds, distinct for polyarch by ``os.version``.
PLATFORMS: tuple[dict[str, Any], ...] = (
    *LIST_PLATFORMS,
    *(
        {"os": "windows", "architecture": "amd64", "os.version": f"10.0.20348.{3000 + i}"}
        for i in range(32)
    ),
)


# -- running one command ---------------------------------------------------------------


@dataclass
class Run(Outcome):
    """One command (or two, summed): wall time, requests at each registry, connections."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str
    requests: dict[str, list[AccessLogEntry]] = field(default_factory=dict)
    connections: int = 0
    """TCP connections the proxies accepted meanwhile."""
    foreign_requests: int = 0
    """Requests in the window that were not the tool's (should be 0)."""

    def count(self, registry: str | None = None) -> int:
        if registry is not None:
            return len(self.requests.get(registry, []))
        return sum(len(v) for v in self.requests.values())


class Runner:
    """Runs commands in fresh client state, counts their requests and connections."""

    def __init__(self, registries: Mapping[str, RegistryServer], workdir: Path) -> None:
        self.registries = registries
        self.workdir = workdir
        self.proxies: dict[str, LatencyProxy] = {}
        self._fresh = 0

    def env(self) -> dict[str, str]:
        """Fresh, empty client state: DOCKER_CONFIG, POLYARCH_HOME, XDG_RUNTIME_DIR."""
        self._fresh += 1
        return client_env(self.workdir, self.workdir / f"state-{self._fresh}")

    def run(self, argv: Sequence[str], env: dict[str, str]) -> Run:
        marks = {name: server.mark() for name, server in self.registries.items()}
        connections = sum(p.connections for p in self.proxies.values())
        result = Run(*timed_run(argv, env, COMMAND_TIMEOUT))
        result.connections = sum(p.connections for p in self.proxies.values()) - connections
        attribute_requests(result, self.registries, marks)
        return result


def combined(runs: Sequence[Run]) -> Run:
    """Two commands (create, push) as one: times, requests and connections summed."""
    requests: dict[str, list[AccessLogEntry]] = {}
    for run in runs:
        for name, entries in run.requests.items():
            requests.setdefault(name, []).extend(entries)
    return Run(
        seconds=sum(r.seconds for r in runs),
        returncode=next((r.returncode for r in runs if not r.ok), 0),
        stdout=runs[-1].stdout,
        stderr="\n".join(r.stderr for r in runs if r.stderr),
        requests=requests,
        connections=sum(r.connections for r in runs),
        foreign_requests=sum(r.foreign_requests for r in runs),
    )


# -- results ---------------------------------------------------------------------------


@dataclass
class Cell:
    """Repeated runs of one step, at one delay and size, by one tool."""

    delay_ms: int
    step: str
    n: int
    tool: str
    runs: list[Run] = field(default_factory=list)
    parts: dict[str, list[float]] = field(default_factory=dict)
    unavailable: str | None = None
    notes: list[str] = field(default_factory=list)

    def add(self, runs: Mapping[str, Run], problems: Sequence[str] = ()) -> bool:
        """Record one repetition: ``{"create": run, "push": run}`` or one command."""
        failed = [f"{name}: {run.failure()}" for name, run in runs.items() if not run.ok]
        if failed:
            self.unavailable = "; ".join(failed)
            return False
        run = combined(list(runs.values()))
        self.runs.append(run)
        if len(runs) > 1:
            for name, part in runs.items():
                self.parts.setdefault(name, []).append(part.seconds)
        if run.foreign_requests:
            self.note(f"{run.foreign_requests} requests by another client")
        if problems:
            self.note("WRONG RESULT: " + "; ".join(problems[:3]))
        return True

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    @property
    def seconds(self) -> float | None:
        return statistics.median(r.seconds for r in self.runs) if self.runs else None

    def requests(self, registry: str | None = None) -> float | None:
        return statistics.median(r.count(registry) for r in self.runs) if self.runs else None

    @property
    def connections(self) -> float | None:
        return statistics.median(r.connections for r in self.runs) if self.runs else None

    def detail(self) -> str:
        """The create/push split, the spread, requests that varied, the copy's A/B split."""
        parts = []
        if self.parts:
            parts.append(
                " + ".join(f"{k} {statistics.median(v):.2f}" for k, v in self.parts.items())
            )
        if len(self.runs) > 1:
            walls = [r.seconds for r in self.runs]
            parts.append(f"wall {min(walls):.2f}..{max(walls):.2f}")
        totals = [r.count() for r in self.runs]
        if totals and min(totals) != max(totals):
            parts.append(f"requests {min(totals)}..{max(totals)}")
        if self.step == "copy" and self.runs:
            parts.append(f"A {fmt(self.requests('A'))} + B {fmt(self.requests('B'))}")
        return "; ".join(parts)


# -- the benchmark ---------------------------------------------------------------------


class Bench:
    def __init__(
        self, args: argparse.Namespace, a: RegistryServer, b: RegistryServer, workdir: Path
    ) -> None:
        self.args = args
        self.a = a
        self.b = b
        self.workdir = workdir
        self.runner = Runner({"A": a, "B": b}, workdir)
        self.cells: dict[tuple[int, str, int, str], Cell] = {}
        self.warnings: list[str] = []
        self.members: list[str] = []
        """Tags of the single-platform images in A's SOURCE_REPOSITORY."""
        self.images: dict[int, Image] = {}
        """Layers per platform -> the index pushed to A with that many."""
        self.boltdb = skopeo_cache_file()
        self.round = 0
        self.proxy_a: LatencyProxy | None = None
        self.proxy_b: LatencyProxy | None = None

    def cell(self, delay_ms: int, step: str, n: int, tool: str) -> Cell:
        key = (delay_ms, step, n, tool)
        return self.cells.setdefault(key, Cell(delay_ms, step, n, tool))

    # -- seeding -------------------------------------------------------------------------

    def seed(self, count: int, layer_counts: Sequence[int], layer_mib: int) -> None:
        from tests.imagegen import make_image

        for i, platform in enumerate(PLATFORMS[:count]):
            image = make_image(platform, seed=i)
            tag = image.platform_string.replace("/", "-") + (
                "-" + str(platform["os.version"]) if "os.version" in platform else ""
            )
            self.a.push_image(SOURCE_REPOSITORY, image, tag=tag)
            self.members.append(tag)
        for layers in layer_counts:
            self.images[layers] = push_index(
                self.a, f"bench/img-l{layers}", layers_per_image=layers, layer_bytes=layer_mib * MIB
            )

    # -- the commands --------------------------------------------------------------------

    @property
    def host_a(self) -> str:
        assert self.proxy_a is not None
        return self.proxy_a.host

    @property
    def host_b(self) -> str:
        assert self.proxy_b is not None
        return self.proxy_b.host

    def create_push(self, tool: str, ref: str, members: Sequence[str]) -> dict[str, Run]:
        env = self.runner.env()
        run = self.runner.run
        if tool == "docker":
            create = run([self.args.docker, "manifest", "create", "--insecure", ref, *members], env)
            if not create.ok:
                return {"create": create}
            return {
                "create": create,
                "push": run([self.args.docker, "manifest", "push", "--insecure", ref], env),
            }
        polyarch = self.executable(tool)
        create = run([polyarch, "create", ref, *members], env)
        if not create.ok:
            return {"create": create}
        return {"create": create, "push": run([polyarch, "push", ref], env)}

    def inspect(self, tool: str, ref: str) -> Run:
        if tool == "docker":
            argv = [self.args.docker, "manifest", "inspect", "--verbose", "--insecure", ref]
        else:
            argv = [self.executable(tool), "inspect", "--verbose", ref]
        return self.runner.run(argv, self.runner.env())

    def copy(self, tool: str, source: str, dest: str) -> Run:
        if tool == "skopeo":
            self.boltdb.unlink(missing_ok=True)  # nothing remembered
            argv = copy_argv(self.args, tool, source, dest)
        else:
            argv = [self.executable(tool), "copy", "--quiet", source, dest]
        return self.runner.run(argv, self.runner.env())

    def executable(self, tool: str) -> str:
        """polyarch's, or the ``--baseline`` build's (the tool ``before``)."""
        return str(self.args.baseline if tool == BEFORE else self.args.polyarch)

    def tools(self, peer: str, peer_first: bool) -> tuple[str, ...]:
        """The peer and polyarch, in turns first; the baseline build last, when given."""
        pair = (peer, "polyarch") if peer_first else ("polyarch", peer)
        return (*pair, BEFORE) if self.args.baseline else pair

    # -- the rounds ----------------------------------------------------------------------

    def lists(self, delay_ms: int, n: int, rep: int, peer_first: bool) -> None:
        """create+push of N members by each tool, then inspect --verbose of docker's list."""
        members = [f"{self.host_a}/{SOURCE_REPOSITORY}:{tag}" for tag in self.members[:n]]
        order = self.tools("docker", peer_first)
        digests: dict[str, str] = {}
        for tool in order:
            ref = f"{self.host_a}/bench/{tool}-d{delay_ms}-n{n}-r{rep}:list"
            runs = self.create_push(tool, ref, members)
            ok = self.cell(delay_ms, "create+push", n, tool).add(runs)
            digests[tool] = _docker_digest(runs["push"].stdout) if ok else ""
        if all(digests.values()) and len(set(digests.values())) > 1:
            self.warn(
                f"{delay_ms} ms N={n} run {rep}: "
                + ", ".join(f"{tool} pushed {digest}" for tool, digest in digests.items())
            )
            for tool in order:
                self.cell(delay_ms, "create+push", n, tool).note("digests differ")
        if not digests["docker"]:
            return  # nothing docker pushed to inspect
        ref = f"{self.host_a}/bench/docker-d{delay_ms}-n{n}-r{rep}:list"
        outputs: dict[str, str] = {}
        for tool in order:
            result = self.inspect(tool, ref)
            if self.cell(delay_ms, "inspect --verbose", n, tool).add({"inspect": result}):
                outputs[tool] = result.stdout
        docker = outputs.get("docker")
        for tool, output in outputs.items():
            if docker is not None and tool != "docker" and not _same_json(docker, output):
                cell = self.cell(delay_ms, "inspect --verbose", n, tool)
                cell.note("output differs from docker's")

    def copies(self, delay_ms: int, layers: int, rep: int, peer_first: bool) -> None:
        """The index with ``layers`` layers per platform, A to a new repository of B."""
        image = self.images[layers]
        source = f"{self.host_a}/{image.repository}:{TAG}"
        for tool in self.tools("skopeo", peer_first):
            repository = f"bench/{tool}-d{delay_ms}-l{layers}-r{rep}"
            run = self.copy(tool, source, f"{self.host_b}/{repository}:{TAG}")
            problems = check_registry(self.b, repository, image) if run.ok else []
            self.cell(delay_ms, "copy", layers, tool).add({"copy": run}, problems)

    def at_delay(self, delay_ms: int, sizes: Sequence[int], layer_counts: Sequence[int]) -> None:
        delay = delay_ms / 1000
        handshake = not self.args.no_handshake
        with (
            LatencyProxy(self.a.port, delay, handshake=handshake) as self.proxy_a,
            LatencyProxy(self.b.port, delay, handshake=handshake) as self.proxy_b,
        ):
            self.runner.proxies = {"A": self.proxy_a, "B": self.proxy_b}
            try:
                for rep in range(self.args.repeat):
                    peer_first = self.round % 2 == 0
                    self.round += 1
                    for n in sizes:
                        progress(f"{delay_ms} ms: run {rep + 1}/{self.args.repeat}: lists N={n}")
                        self.lists(delay_ms, n, rep, peer_first)
                    for layers in layer_counts:
                        progress(
                            f"{delay_ms} ms: run {rep + 1}/{self.args.repeat}: copy, "
                            f"{layers} layers per platform"
                        )
                        self.copies(delay_ms, layers, rep, peer_first)
            finally:
                self.runner.proxies = {}

    def warm_up(self) -> None:
        """One unmeasured round per tool through a 0 ms proxy: bytecode and OS caches."""
        with (
            LatencyProxy(self.a.port, 0.0) as self.proxy_a,
            LatencyProxy(self.b.port, 0.0) as self.proxy_b,
        ):
            members = [f"{self.host_a}/{SOURCE_REPOSITORY}:{tag}" for tag in self.members[:2]]
            for tool in self.tools("docker", True):
                ref = f"{self.host_a}/bench/warmup-{tool}:list"
                runs = self.create_push(tool, ref, members)
                failed = [f"{tool} {k}: {r.failure()}" for k, r in runs.items() if not r.ok]
                for text in failed:
                    self.warn(f"warm-up {text}")
                if not failed:
                    run = self.inspect(tool, ref)
                    if not run.ok:
                        self.warn(f"warm-up {tool} inspect --verbose: {run.failure()}")
            image = self.images[min(self.images)]
            for tool in self.tools("skopeo", True):
                run = self.copy(
                    tool,
                    f"{self.host_a}/{image.repository}:{TAG}",
                    f"{self.host_b}/bench/warmup-{tool}:{TAG}",
                )
                if not run.ok:
                    self.warn(f"warm-up {tool} copy: {run.failure()}")

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        print(f"warning: {text}", file=sys.stderr, flush=True)


# -- reporting -------------------------------------------------------------------------


def round_trips(bench: Bench, cell: Cell) -> float | None:
    """``(wall(d) - wall(0)) / 2d``: how many round trips the tool waited for in a row."""
    base = bench.cells.get((0, cell.step, cell.n, cell.tool))
    if cell.delay_ms == 0 or base is None or base.seconds is None or cell.seconds is None:
        return None
    return (cell.seconds - base.seconds) / (2 * cell.delay_ms / 1000)


def size_label(step: str, n: int) -> str:
    return f"{len(COPY_PLATFORMS)}x{n}" if step == "copy" else str(n)


def ordered(bench: Bench) -> list[tuple[int, str, int, str]]:
    return sorted(
        bench.cells,
        key=lambda k: (k[0], STEPS.index(k[1]), k[2], (PEER[k[1]], "polyarch", BEFORE).index(k[3])),
    )


def render(bench: Bench) -> str:
    header = (
        "delay",
        "step",
        "N",
        "tool",
        "wall s",
        "x wall",
        "req",
        "x req",
        "conns",
        "RTs",
        "notes",
    )
    rows: list[Sequence[str]] = []
    for key in ordered(bench):
        delay_ms, step, n, tool = key
        cell = bench.cells[key]
        peer = bench.cells.get((delay_ms, step, n, PEER[step])) if tool != PEER[step] else None
        notes = [x for x in (cell.unavailable, cell.detail(), *cell.notes) if x]
        rows.append(
            (
                f"{delay_ms} ms",
                step,
                size_label(step, n),
                tool,
                fmt(cell.seconds, ".3f"),
                fmt(ratio_of(cell.seconds, peer.seconds), ".3f") if peer else "",
                fmt(cell.requests()),
                fmt(ratio_of(cell.requests(), peer.requests()), ".2f") if peer else "",
                fmt(cell.connections),
                fmt(round_trips(bench, cell), ".1f"),
                "; ".join(notes),
            )
        )
    out = _table(header, rows, {4, 5, 6, 7, 8, 9})
    out.append(
        "(delay: added each way, a round trip is twice it; x wall, x req: polyarch/peer (before:\n"
        " the --baseline build); req:\n"
        " requests served at both registries; conns: TCP connections the proxies accepted;\n"
        " RTs: (wall at this delay - wall at 0 ms) / round trip, the round trips waited for in\n"
        " a row; copy N: platforms x layers; notes: create + push s, spread, requests varied)"
    )
    return "\n".join(out)


def curve_table(bench: Bench) -> list[str]:
    delays = sorted({k[0] for k in bench.cells})
    header: list[str] = ["step", "N"]
    for d in delays:
        header += [f"poly s@{d}", f"peer s@{d}", f"x@{d}"]
    header += ["req poly", "req peer"]
    for d in delays:
        if d:
            header += [f"RTs poly@{d}", f"RTs peer@{d}"]
    rows: list[Sequence[str]] = []
    pairs = sorted({(k[1], k[2]) for k in bench.cells}, key=lambda p: (STEPS.index(p[0]), p[1]))
    for step, n in pairs:
        row = [f"{step} ({PEER[step]})", size_label(step, n)]
        for d in delays:
            poly = bench.cells.get((d, step, n, "polyarch"))
            peer = bench.cells.get((d, step, n, PEER[step]))
            row += [
                fmt(poly.seconds if poly else None, ".3f"),
                fmt(peer.seconds if peer else None, ".3f"),
                fmt(ratio_of(poly.seconds, peer.seconds), ".3f") if poly and peer else "-",
            ]
        poly0 = bench.cells.get((delays[0], step, n, "polyarch"))
        peer0 = bench.cells.get((delays[0], step, n, PEER[step]))
        row += [fmt(poly0.requests() if poly0 else None), fmt(peer0.requests() if peer0 else None)]
        for d in delays:
            if d:
                for tool in ("polyarch", PEER[step]):
                    cell = bench.cells.get((d, step, n, tool))
                    row.append(fmt(round_trips(bench, cell) if cell else None, ".1f"))
        rows.append(row)
    out = ["cost curves (median wall s; x: polyarch/peer; req at the first delay):"]
    out += _table(header, rows, set(range(1, len(header))))
    return out


def targets(bench: Bench) -> list[str]:
    lines = []
    for (step, n), target in TARGETS.items():
        label = f"{step} N={size_label(step, n)}"
        poly = bench.cells.get((TARGET_DELAY_MS, step, n, "polyarch"))
        peer = bench.cells.get((TARGET_DELAY_MS, step, n, PEER[step]))
        ratio = ratio_of(poly.seconds, peer.seconds) if poly and peer else None
        other_size = step == "copy" and bench.args.layer_mib != LAYER_MIB
        verdict = "n/a " if ratio is None or other_size else ("PASS" if ratio <= target else "FAIL")
        lines.append(
            f"  [{verdict}] {label} at {TARGET_DELAY_MS} ms: wall {fmt(ratio, '.3f')}x "
            f"{PEER[step]} (target <= {target}x"
            + (f", set for {LAYER_MIB} MiB layers)" if other_size else ")")
        )
    for step, n in TARGETS:
        before = bench.cells.get((TARGET_DELAY_MS, step, n, BEFORE))
        peer = bench.cells.get((TARGET_DELAY_MS, step, n, PEER[step]))
        if before and peer:
            lines.append(
                f"  [info] {step} N={size_label(step, n)} at {TARGET_DELAY_MS} ms, the baseline "
                f"build: wall {fmt(ratio_of(before.seconds, peer.seconds), '.3f')}x {PEER[step]}"
            )
    for step, n in TARGETS:
        poly = bench.cells.get((0, step, n, "polyarch"))
        peer = bench.cells.get((0, step, n, PEER[step]))
        if poly and peer:
            lines.append(
                f"  [info] {step} N={size_label(step, n)} at 0 ms: wall "
                f"{fmt(ratio_of(poly.seconds, peer.seconds), '.3f')}x {PEER[step]} "
                f"(for comparison; the target is for {TARGET_DELAY_MS} ms)"
            )
    wrong = [
        f"{c.tool} {c.step} {c.delay_ms} ms"
        for c in bench.cells.values()
        if any(n.startswith("WRONG") or "differ" in n for n in c.notes)
    ]
    if wrong:
        lines.append(f"  [FAIL] results differ or are wrong: {', '.join(wrong)}")
    else:
        lines.append(
            "  [PASS] same digests pushed, same inspect --verbose output, every copy complete"
        )
    lines.extend(
        f"  [FAIL] {c.tool} {c.step} N={c.n} at {c.delay_ms} ms: {c.unavailable}"
        for c in bench.cells.values()
        if c.unavailable
    )
    return lines


# -- main ------------------------------------------------------------------------------


def _numbers(low: int, high: int) -> Callable[[str], list[int]]:
    def parse(text: str) -> list[int]:
        try:
            values = sorted({int(x) for x in text.split(",") if x.strip()})
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected numbers like 0,10,50: {text!r}") from None
        if not values or values[0] < low or values[-1] > high:
            raise argparse.ArgumentTypeError(f"each value must be in {low}..{high}")
        return values

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--delays", type=_numbers(0, 1000), help="ms added each way (default 0,10,50; curve 0,10)"
    )
    parser.add_argument(
        "--platforms", type=_numbers(1, len(PLATFORMS)), help="list sizes N (default 32)"
    )
    parser.add_argument(
        "--layers", type=_numbers(1, 100), help="copy: layers per platform (default 5)"
    )
    parser.add_argument(
        "--layer-mib", type=int, help=f"copy: MiB per layer (default {LAYER_MIB}; curve 1)"
    )
    parser.add_argument(
        "--curve",
        action="store_true",
        help="cost curves: N = 2,8,32,64 and 1,5,20,50 layers of 1 MiB, at 0 and 10 ms",
    )
    parser.add_argument(
        "--no-handshake", action="store_true", help="new connections cost no round trip"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--baseline",
        help="another polyarch build, run beside (as 'before'): figures before and after",
    )
    add_tool_arguments(parser, "docker", "skopeo")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.delays = args.delays or list(CURVE_DELAYS if args.curve else (0, 10, 50))
    args.platforms = args.platforms or list(CURVE_PLATFORMS if args.curve else (32,))
    args.layers = args.layers or list(CURVE_LAYERS if args.curve else (LAYERS,))
    args.layer_mib = args.layer_mib or (1 if args.curve else LAYER_MIB)
    if args.layer_mib < 1:
        parser.error("--layer-mib must be at least 1")
    if 0 not in args.delays:
        progress("note: without delay 0 there are no round-trip estimates")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.registry_server import RegistryServer

    load_before = os.getloadavg()[0]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="polyarch-bench-distance-") as tmp:
        workdir = Path(tmp)
        with RegistryServer(workdir / "a") as a, RegistryServer(workdir / "b") as b:
            bench = Bench(args, a, b, workdir)
            progress(
                f"registries A {a.url} (pid {a.pid}), B {b.url} (pid {b.pid}); seeding "
                f"{max(args.platforms)} images and {len(args.layers)} indexes"
            )
            bench.seed(max(args.platforms), args.layers, args.layer_mib)
            progress("warm-up")
            bench.warm_up()
            loads = []
            for delay_ms in args.delays:
                bench.at_delay(delay_ms, args.platforms, args.layers)
                loads.append(f"{os.getloadavg()[0]:.2f} after {delay_ms} ms")
        report = render(bench)
    print(
        f"polyarch at a distance (a latency proxy before each registry"
        f"{'' if args.no_handshake else ', a new connection costs a round trip'}): delays "
        f"{','.join(map(str, args.delays))} ms each way, median of {args.repeat} runs; "
        f"copy {len(COPY_PLATFORMS)} platforms x {','.join(map(str, args.layers))} layers x "
        f"{args.layer_mib} MiB; {tool_version([args.polyarch, '--version'])}, "
        f"{tool_version([args.docker, '--version'])}, {tool_version([args.skopeo, '--version'])}"
        f", Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{load_before:.2f} before, {', '.join(loads)}; {time.monotonic() - started:.0f} s"
    )
    print(report)
    if args.curve or len(args.platforms) > 1 or len(args.layers) > 1:
        print()
        print("\n".join(curve_table(bench)))
    print()
    print(f"targets (issue 15, at {TARGET_DELAY_MS} ms each way):")
    print("\n".join(targets(bench)))
    if args.json:
        doc = {
            "delays_ms": args.delays,
            "handshake": not args.no_handshake,
            "layer_mib": args.layer_mib,
            "cells": [
                {
                    "delay_ms": c.delay_ms,
                    "step": c.step,
                    "n": c.n,
                    "tool": c.tool,
                    "seconds": [r.seconds for r in c.runs],
                    "requests": [{k: len(v) for k, v in r.requests.items()} for r in c.runs],
                    "connections": [r.connections for r in c.runs],
                    "unavailable": c.unavailable,
                    "notes": c.notes,
                }
                for c in bench.cells.values()
            ],
            "warnings": bench.warnings,
        }
        write_json(args.json, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
