"""polyarch copy vs ``skopeo copy --all`` with what each remembers between runs (issue 14).

::

    python benchmarks/bench_cache.py [--repeat 3]

Starts two CNCF distribution registries (``tests/registry_server.py``) on two loopback
ports in a temporary directory and pushes to registry A the image ``bench_copy.py`` copies:
a 4-platform OCI index, 5 incompressible layers of 8 MiB per platform (160 MiB of blobs,
none shared). Then, alternating which tool goes first, ``--repeat`` times, each tool on a
registry B just restarted empty on a new port:

* ``first copy``: ``A/bench/img:1`` to ``B/bench/TOOL-rN:1``, nothing remembered: skopeo's
  blob info cache (``/var/lib/containers/cache/blob-info-cache-v1.boltdb`` for root) is
  deleted first, polyarch gets an empty ``POLYARCH_HOME``;
* ``no-op``: the same command again, each with what the first copy left (the boltdb file,
  the same ``POLYARCH_HOME``): the tag is already at the source's digest;
* ``sibling``: ``A/bench/img:1`` to ``B/bench/TOOL-rN-sibling:1``, caches still kept: every
  blob is on B already, in the first copy's repository, so it can be mounted;
* ``no-op, cleared``: the no-op once more with nothing remembered (boltdb deleted, a new
  empty ``POLYARCH_HOME``), to show what the cache itself is worth there.

Each command runs with fresh ``DOCKER_CONFIG`` and ``XDG_RUNTIME_DIR`` (``POLYARCH_HOME``
as above), without ``PYTHONDONTWRITEBYTECODE`` and with ``PYTHONPYCACHEPREFIX`` in the
temporary directory, under GNU time, as in ``bench_copy.py`` (whose runner this uses).
Wall time is the median of the runs, ``time.perf_counter`` around the process (start-up
included); requests are those each registry's access log shows between two marks
(``mark()``/``requests()``). Every copy is checked: the destination's tag must have the
source's digest and every child manifest and blob must be there. Nothing here asserts: it
reports, and says whether issue 14's targets hold.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.registry_server import RegistryServer

from _common import (
    AtDistance,
    add_delay_argument,
    add_tool_arguments,
    fmt,
    machine,
    progress,
    ratio_of,
    request_breakdown,
    tool_version,
    write_json,
)
from bench_copy import (
    LAYER_MIB,
    LAYERS,
    MIB,
    PLATFORMS,
    SOURCE,
    TAG,
    Cell,
    Image,
    Run,
    TwoRegistries,
    _table,
    cell_records,
    check_registry,
    copy_argv,
    push_index,
    request_columns,
    wrong_content,
)

ROOT = Path(__file__).resolve().parent.parent
#: skopeo's blob info cache when run as root (c/image's default for uid 0).
ROOT_BOLTDB = Path("/var/lib/containers/cache/blob-info-cache-v1.boltdb")
#: Issue 14's targets: wall time polyarch/skopeo, and the no-op's requests.
TARGET_RATIO = {"first copy": 0.8, "no-op": 0.5, "sibling": 1.0}
TARGET_NOOP_REQUESTS = 2

SCENARIOS = ("first copy", "no-op", "sibling", "no-op, cleared")
TOOLS = ("skopeo", "polyarch")


def skopeo_cache_file() -> Path:
    """Where skopeo 1.9 keeps its blob info cache: root's, else ``$XDG_DATA_HOME``'s."""
    if os.geteuid() == 0:
        return ROOT_BOLTDB
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "containers" / "cache" / "blob-info-cache-v1.boltdb"


class Remembering(TwoRegistries):
    """Between A and B, with what each tool remembers between runs: skopeo's boltdb, a
    ``POLYARCH_HOME`` (``bench_sync.py`` too)."""

    def __init__(
        self, args: argparse.Namespace, a: RegistryServer, b: RegistryServer, workdir: Path
    ) -> None:
        super().__init__(args, a, b, workdir)
        self.boltdb = skopeo_cache_file()
        self._homes = 0

    def forget(self, tool: str) -> Path | None:
        """Clear what ``tool`` remembers: delete skopeo's boltdb, or a new empty home."""
        if tool == "skopeo":
            self.boltdb.unlink(missing_ok=True)
            return None
        self._homes += 1
        home = self.workdir / f"home-{self._homes}"
        home.mkdir()
        return home


class Bench(Remembering):
    def __init__(
        self, args: argparse.Namespace, a: RegistryServer, b: RegistryServer, workdir: Path
    ) -> None:
        super().__init__(args, a, b, workdir)
        self.image = Image(SOURCE, "")

    def copy_argv(self, tool: str, dest: str) -> list[str]:
        return copy_argv(self.args, tool, f"{self.a.host}/{self.image.repository}:{TAG}", dest)

    def copy(self, scenario: str, tool: str, repository: str, home: Path | None) -> None:
        argv = self.copy_argv(tool, f"{self.b.host}/{repository}:{TAG}")
        run = self.runner.run(argv, polyarch_home=home)
        self.cell(scenario, tool).add(run, check_registry(self.b, repository, self.image))

    def measure(self, tool: str, rep: int) -> None:
        self.fresh_b()
        repository = f"bench/{tool}-r{rep}"
        home = self.forget(tool)
        self.copy("first copy", tool, repository, home)
        self.copy("no-op", tool, repository, home)
        self.copy("sibling", tool, f"{repository}-sibling", home)
        self.copy("no-op, cleared", tool, repository, self.forget(tool))

    def warm_up(self) -> None:
        """One unmeasured copy per tool: bytecode cache, page cache, registry start-up."""
        for tool in TOOLS:
            run = self.runner.run(self.copy_argv(tool, f"{self.b.host}/bench/warmup-{tool}:{TAG}"))
            if not run.ok:
                self.warn(f"warm-up {tool}: {run.failure()}")


# -- reporting -------------------------------------------------------------------------


def total_requests(cell: Cell | None) -> float | None:
    """Median requests at A and B together."""
    if cell is None or not cell.runs:
        return None
    counts = [cell.requests(r) for r in ("A", "B")]
    return sum(c[0] for c in counts if c)


def mounted(run: Run) -> tuple[int, int]:
    """Blob mounts B accepted (201) in one run, and blobs it read from A (GET 200)."""
    mounts = sum(
        1
        for e in run.requests.get("B", [])
        if e.method == "POST" and "mount=" in e.uri and e.status == 201
    )
    reads = sum(
        1
        for e in run.requests.get("A", [])
        if e.method == "GET" and "/blobs/" in e.path and e.status == 200
    )
    return mounts, reads


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
        "req A",
        "req B",
        "req",
        "x req",
        "notes",
    )
    rows: list[Sequence[str]] = []
    order = sorted(bench.cells, key=lambda k: (SCENARIOS.index(k[0]), TOOLS.index(k[1])))
    for scenario, tool in order:
        cell = bench.cells[scenario, tool]
        other = bench.cells.get((scenario, "skopeo")) if tool != "skopeo" else None
        notes = [x for x in (cell.unavailable, cell.varied(), *cell.notes) if x]
        if cell.runs and scenario == "sibling":
            mounts, reads = mounted(cell.runs[-1])
            notes.append(f"{mounts} blobs mounted, {reads} read from A")
        rows.append(
            (
                scenario,
                tool,
                fmt(cell.seconds, ".3f"),
                fmt(size_mib / cell.seconds, ".0f")
                if scenario in ("first copy", "sibling") and cell.seconds
                else "",
                fmt(ratio_of(cell.seconds, other.seconds), ".2f") if other else "",
                fmt(cell.cpu, ".2f"),
                fmt(cell.registry_cpu, ".2f"),
                *request_columns(cell),
                fmt(total_requests(cell)),
                fmt(ratio_of(total_requests(cell), total_requests(other)), ".2f") if other else "",
                "; ".join(notes),
            )
        )
    out = _table(header, rows, set(range(2, 11)))
    out.append(
        "(req A / B: requests served at each registry, in parentheses those answered 404;\n"
        " req: both; x skopeo, x req: polyarch/skopeo; MiB/s: blobs of the image per second,\n"
        " copied or mounted)"
    )
    out.append("")
    out.extend(request_breakdown(bench.cells, SCENARIOS, TOOLS))
    out.append("")
    out.append("targets (issue 14):")
    out.extend(targets(bench))
    return "\n".join(out)


def targets(bench: Bench) -> list[str]:
    lines = []
    for scenario, target in TARGET_RATIO.items():
        poly = bench.cells.get((scenario, "polyarch"))
        skopeo = bench.cells.get((scenario, "skopeo"))
        ratio = ratio_of(poly.seconds, skopeo.seconds) if poly and skopeo else None
        verdict = "n/a " if ratio is None else ("PASS" if ratio <= target else "FAIL")
        lines.append(
            f"  [{verdict}] {scenario}: wall {fmt(ratio, '.2f')}x skopeo copy --all "
            f"(target <= {target}x)"
        )
    noop = bench.cells.get(("no-op", "polyarch"))
    if noop and noop.runs:
        most = max(sum(r.count(x)[0] for x in ("A", "B")) for r in noop.runs)
        verdict = "PASS" if most <= TARGET_NOOP_REQUESTS else "FAIL"
        lines.append(
            f"  [{verdict}] no-op after the first copy: at most {most} requests "
            f"(target <= {TARGET_NOOP_REQUESTS})"
        )
    else:
        lines.append(f"  [n/a ] no-op after the first copy: <= {TARGET_NOOP_REQUESTS} requests")
    sibling = bench.cells.get(("sibling", "polyarch"))
    if sibling and sibling.runs:
        blobs = len(bench.image.blobs)
        per_run = [mounted(run) for run in sibling.runs]
        mounts = min(m for m, _ in per_run)
        reads = max(r for _, r in per_run)
        verdict = "PASS" if mounts == blobs and reads == 0 else "FAIL"
        lines.append(
            f"  [{verdict}] sibling: every blob mounted ({mounts} of {blobs} in the worst run, "
            f"{reads} read from A)"
        )
    wrong = wrong_content(bench.cells)
    if wrong:
        lines.append(f"  [FAIL] wrong content at the destination: {', '.join(wrong)}")
    else:
        lines.append("  [PASS] every copy has the source's digests")
    failed = [
        f"{c.tool} {c.scenario}: {c.unavailable}" for c in bench.cells.values() if c.unavailable
    ]
    lines.extend(f"  [FAIL] {text}" for text in failed)
    return lines


# -- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    add_delay_argument(parser)
    add_tool_arguments(parser, "skopeo")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.registry_server import RegistryServer

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="polyarch-bench-cache-") as tmp:
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
        report = render(bench)
    print(
        f"polyarch copy vs skopeo copy --all, caches kept or cleared, {distance.describe()}: "
        f"{len(PLATFORMS)} "
        f"platforms x {LAYERS} layers x {LAYER_MIB} MiB ({bench.image.size / MIB:.1f} MiB of "
        f"blobs), median of {args.repeat} runs; {tool_version([args.polyarch, '--version'])}, "
        f"{tool_version([args.skopeo, '--version'])} (cache {bench.boltdb}), "
        f"{machine(load_before)}"
    )
    print(report)
    if args.json:
        write_json(args.json, {"cells": cell_records(bench.cells), "warnings": bench.warnings})
    return 0


if __name__ == "__main__":
    sys.exit(main())
