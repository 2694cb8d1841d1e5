"""``polyarch sync`` vs ``skopeo sync --all``, side by side in one run, between two registries.

::

    python benchmarks/bench_sync.py [--images 50] [--repeat 3] [--parallel N] [--jobs N]

Starts two CNCF distribution registries (``tests/registry_server.py``) on two loopback
ports in a temporary directory and pushes to registry A one repository, ``bench/sync``,
with ``--images`` tags (``t00``, ``t01``, ...), each a 4-platform OCI index whose images
have 2 layers of 256 KiB (random bytes in level-0 gzip, as in ``bench_copy.py``; nothing
shared between images or platforms). Then, alternating which tool goes first,
``--repeat`` times, each tool on a registry B just restarted empty on a new port:

* ``first sync``: every tag of ``A/bench/sync`` to ``B/mirror/sync``, nothing remembered
  (skopeo's blob info cache deleted, an empty ``POLYARCH_HOME``):
  ``polyarch sync --format json FILE`` with ``FILE`` in regsync's shape (``sync: [{source:
  A/bench/sync, target: B/mirror/sync, type: repository}]``) vs ``skopeo sync --src docker
  --dest docker --src-tls-verify=false --dest-tls-verify=false --all A/bench/sync
  B/mirror``;
* ``second sync``: the same command again, caches kept: nothing to do.

Wall time is the median of the runs, ``time.perf_counter`` around the process (start-up
included); requests are those both registries' access logs show between two marks
(``mark()``/``requests()``), and polyarch's own count (``"requests"`` in its JSON) is
compared with them. After every sync each tag at B is checked with the harness's client:
the source's digest, every child manifest and blob there. Nothing here asserts: it
reports, and says whether what issue 14 claims for a second sync holds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
from bench_cache import Remembering, total_requests
from bench_copy import (
    PLATFORMS,
    Cell,
    Image,
    Run,
    _table,
    cell_records,
    check_registry,
    copy_argv,
    push_index,
    request_columns,
    wrong_content,
)

ROOT = Path(__file__).resolve().parent.parent
KIB = 1024
SOURCE = "bench/sync"
TARGET_PREFIX = "mirror"
TARGET = f"{TARGET_PREFIX}/sync"  # skopeo keeps the last part of the source's path
LAYERS = 2
LAYER_KIB = 256
#: What issue 14 says a second sync costs: two requests an image (a HEAD at each end),
#: after listing the source's tags (one request per 1000 tags).
REQUESTS_PER_IMAGE = 2

SCENARIOS = ("first sync", "second sync")
TOOLS = ("skopeo", "polyarch")


def sync_file(source: str, target: str) -> str:
    """regsync's shape: one repository, every tag."""
    return f"version: 1\nsync:\n  - source: {source}\n    target: {target}\n    type: repository\n"


class Bench(Remembering):
    def __init__(
        self, args: argparse.Namespace, a: RegistryServer, b: RegistryServer, workdir: Path
    ) -> None:
        super().__init__(args, a, b, workdir)
        self.images: dict[str, Image] = {}
        """tag -> what was pushed to A under it."""

    def seed(self) -> None:
        for i in range(self.args.images):
            tag = f"t{i:02d}"
            self.images[tag] = push_index(
                self.a, SOURCE, tag, layers_per_image=LAYERS, layer_bytes=LAYER_KIB * KIB
            )

    @property
    def size(self) -> int:
        return sum(image.size for image in self.images.values())

    def sync_argv(self, tool: str, name: str) -> list[str]:
        source = f"{self.a.host}/{SOURCE}"
        if tool == "skopeo":
            return [
                self.args.skopeo,
                "sync",
                "--src",
                "docker",
                "--dest",
                "docker",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                "--all",
                source,
                f"{self.b.host}/{TARGET_PREFIX}",
            ]
        path = self.workdir / f"{name}.yaml"
        path.write_text(sync_file(source, f"{self.b.host}/{TARGET}"))
        argv = [self.args.polyarch, "sync", "--format", "json"]
        if self.args.parallel:
            argv += ["--parallel", str(self.args.parallel)]
        if self.args.jobs:
            argv += ["--jobs", str(self.args.jobs)]
        return [*argv, str(path)]

    def check(self) -> list[str]:
        problems = []
        for tag, image in self.images.items():
            problems.extend(check_registry(self.b, TARGET, image, tag))
        return problems

    def measure(self, tool: str, rep: int) -> None:
        self.fresh_b()
        home = self.forget(tool)
        argv = self.sync_argv(tool, f"{tool}-r{rep}")
        for scenario in SCENARIOS:
            run = self.runner.run(argv, polyarch_home=home)
            cell = self.cell(scenario, tool)
            cell.add(run, self.check() if run.ok else [])
            if run.ok:
                self.summarize(cell, tool, run)

    def summarize(self, cell: Cell, tool: str, run: Run) -> None:
        """What the tool says it did, in the notes."""
        logged = sum(run.count(r)[0] for r in ("A", "B"))
        if tool == "skopeo":
            found = re.search(r"Synced (\d+) images from (\d+) sources", run.stderr)
            if found:
                cell.note(f"says synced {found[1]} images")
            return
        try:
            doc = json.loads(run.stdout)
        except ValueError:
            cell.note("no JSON on stdout")
            return
        cell.note(f"says {doc.get('copied')} copied, {doc.get('up_to_date')} up to date")
        counted = doc.get("requests")
        if counted != logged:
            cell.note(f"counted {counted} requests itself, logs show {logged}")

    def warm_up(self) -> None:
        """One unmeasured copy per tool: bytecode cache, page cache, registry start-up."""
        tag = next(iter(self.images))
        source = f"{self.a.host}/{SOURCE}:{tag}"
        for tool in TOOLS:
            dest = f"{self.b.host}/bench/warmup-{tool}:{tag}"
            run = self.runner.run(copy_argv(self.args, tool, source, dest))
            if not run.ok:
                self.warn(f"warm-up {tool}: {run.failure()}")


# -- reporting -------------------------------------------------------------------------


def render(bench: Bench) -> str:
    size_mib = bench.size / KIB / KIB
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
        rows.append(
            (
                scenario,
                tool,
                fmt(cell.seconds, ".2f"),
                fmt(size_mib / cell.seconds, ".1f")
                if scenario == "first sync" and cell.seconds
                else "",
                fmt(ratio_of(cell.seconds, other.seconds), ".2f") if other else "",
                fmt(cell.cpu, ".2f"),
                fmt(cell.registry_cpu, ".2f"),
                fmt(cell.rss_mib, ".0f"),
                *request_columns(cell),
                fmt(total_requests(cell)),
                fmt(ratio_of(total_requests(cell), total_requests(other)), ".2f") if other else "",
                "; ".join(notes),
            )
        )
    out = _table(header, rows, set(range(2, 12)))
    out.append(
        "(CPU s: the tool's user+system time; reg CPU: both registries' meanwhile, on the\n"
        " same CPUs; RSS: the tool's peak; req A / B: requests served at each registry, in\n"
        " parentheses those answered 404; req: both; x skopeo, x req: polyarch/skopeo)"
    )
    out.append("")
    out.extend(request_breakdown(bench.cells, SCENARIOS, TOOLS))
    out.append("")
    out.append("checks (issue 14):")
    out.extend(checks(bench))
    return "\n".join(out)


def checks(bench: Bench) -> list[str]:
    lines = []
    for scenario in SCENARIOS:
        poly = bench.cells.get((scenario, "polyarch"))
        skopeo = bench.cells.get((scenario, "skopeo"))
        wall = ratio_of(poly.seconds, skopeo.seconds) if poly and skopeo else None
        reqs = ratio_of(total_requests(poly), total_requests(skopeo))
        lines.append(
            f"  [info] {scenario}: wall {fmt(wall, '.2f')}x skopeo sync, requests "
            f"{fmt(reqs, '.2f')}x (no target set)"
        )
    second = bench.cells.get(("second sync", "polyarch"))
    images = len(bench.images)
    allowed = REQUESTS_PER_IMAGE * images + images // 1000 + 1
    if second and second.runs:
        most = max(sum(r.count(x)[0] for x in ("A", "B")) for r in second.runs)
        verdict = "PASS" if most <= allowed else "FAIL"
        lines.append(
            f"  [{verdict}] second sync: at most {most} requests for {images} images up to "
            f"date (claim: {REQUESTS_PER_IMAGE} an image + the tag list = {allowed})"
        )
    else:
        lines.append(f"  [n/a ] second sync: <= {allowed} requests")
    miscounted = [
        f"{c.scenario}: {n}"
        for c in bench.cells.values()
        if c.tool == "polyarch"
        for n in c.notes
        if n.startswith("counted")
    ]
    if miscounted:
        lines.append("  [FAIL] polyarch's own request count: " + "; ".join(miscounted))
    else:
        lines.append("  [PASS] polyarch's own request count (JSON) matches the registries' logs")
    wrong = wrong_content(bench.cells)
    if wrong:
        lines.append(f"  [FAIL] wrong content at the destination: {', '.join(wrong)}")
    else:
        lines.append(f"  [PASS] after every sync, all {images} tags at B have the source's digests")
    lines.extend(
        f"  [FAIL] {c.tool} {c.scenario}: {c.unavailable}"
        for c in bench.cells.values()
        if c.unavailable
    )
    return lines


# -- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=50, help="tags in the source repository")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--parallel", type=int, help="polyarch sync --parallel (default: polyarch's own)"
    )
    parser.add_argument("--jobs", type=int, help="polyarch sync --jobs (default: polyarch's own)")
    add_delay_argument(parser)
    add_tool_arguments(parser, "skopeo")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not 1 <= args.images <= 100:
        parser.error("--images must be in 1..100")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.registry_server import RegistryServer

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="polyarch-bench-sync-") as tmp:
        workdir = Path(tmp)
        distance = AtDistance(
            args.delay, RegistryServer(workdir / "a"), RegistryServer(workdir / "b")
        )
        with distance as (a, b):
            bench = Bench(args, a, b, workdir)
            progress(
                f"registries A {a.url} (pid {a.pid}), B {b.url} (pid {b.pid}); "
                f"seeding {args.images} images"
            )
            bench.seed()
            progress("warm-up")
            bench.warm_up()
            bench.measure_alternately(TOOLS)
        report = render(bench)
    blobs = sum(len(image.blobs) for image in bench.images.values())
    options = " ".join(
        f"--{k} {v}" for k, v in (("parallel", args.parallel), ("jobs", args.jobs)) if v
    )
    print(
        f"polyarch sync{' ' + options if options else ''} vs skopeo sync --all: one repository, "
        f"{args.images} tags, each {len(PLATFORMS)} platforms x {LAYERS} layers x {LAYER_KIB} "
        f"KiB ({blobs} blobs, {bench.size / KIB / KIB:.1f} MiB), median of {args.repeat} runs; "
        f"{tool_version([args.polyarch, '--version'])}, "
        f"{tool_version([args.skopeo, '--version'])}, {distance.describe()}, "
        f"{machine(load_before)}"
    )
    print(report)
    if args.json:
        write_json(args.json, {"cells": cell_records(bench.cells), "warnings": bench.warnings})
    return 0


if __name__ == "__main__":
    sys.exit(main())
