"""Every benchmark scenario at several distances, polyarch and its peers side by side.

::

    python benchmarks/bench_all.py [--delays 0,10,50] [--repeat 3] [--only manifest,copy]

Runs ``bench_manifest.py``, ``bench_copy.py``, ``bench_cache.py`` and ``bench_sync.py``
once per delay with ``--delay D`` (every registry behind a
:class:`latency_proxy.LatencyProxy` adding D ms each way, the same proxy for every tool)
and ``--json``, each in its own process with its own registries, and prints one table:
for each scenario and delay, each tool's median wall time and requests, the ratio
polyarch/peer, and the sequential round trips each tool waited for, ``(wall(D) -
wall(0)) / 2D`` (a round trip is twice the delay). Each benchmark's own report goes to
``--log`` (default: a file in the temporary directory, named at the end). Nothing here
asserts: it reports.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import add_tool_arguments, fmt, progress, ratio_of, tool_version
from bench_copy import _table

HERE = Path(__file__).resolve().parent
#: Each benchmark, the peer it measures polyarch against, and options of its own.
BENCHMARKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "manifest": ("docker", ("--platforms", "2,8,32")),
    "copy": ("skopeo", ("--no-rss",)),
    "cache": ("skopeo", ()),
    "sync": ("skopeo", ()),
}


@dataclass(frozen=True)
class Key:
    bench: str
    scenario: str
    tool: str


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _requests(cell: dict[str, Any]) -> float | None:
    counts = [sum(r.values()) if isinstance(r, dict) else r for r in cell.get("requests", [])]
    return _median(counts)


def scenario_of(bench: str, cell: dict[str, Any]) -> str:
    if bench == "manifest":
        return f"{cell['scenario']} {cell['step']} N={cell['n']}"
    return str(cell["scenario"])


def read(bench: str, path: Path) -> dict[Key, dict[str, float | None]]:
    doc = json.loads(path.read_text())
    out: dict[Key, dict[str, float | None]] = {}
    for cell in doc.get("cells", []):
        if cell.get("unavailable"):
            continue
        out[Key(bench, scenario_of(bench, cell), cell["tool"])] = {
            "seconds": _median(cell.get("seconds", [])),
            "requests": _requests(cell),
        }
    return out


def run_one(
    args: argparse.Namespace, bench: str, delay: int, workdir: Path, log: Any
) -> dict[Key, dict[str, float | None]]:
    peer, extra = BENCHMARKS[bench]
    out = workdir / f"{bench}-{delay}.json"
    argv = [
        sys.executable,
        str(HERE / f"bench_{bench}.py"),
        "--delay",
        str(delay),
        "--repeat",
        str(args.repeat),
        "--polyarch",
        args.polyarch,
        f"--{peer}",
        getattr(args, peer),
        "--json",
        str(out),
        *extra,
    ]
    progress(f"{bench} at {delay} ms: {' '.join(argv[1:])}")
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    log.write(f"$ {' '.join(argv)}\n{proc.stdout}\n{proc.stderr[-4000:]}\n")
    log.flush()
    if proc.returncode != 0 or not out.exists():
        progress(f"  failed (exit {proc.returncode}); see the log")
        return {}
    progress(f"  {time.monotonic() - started:.0f} s")
    return read(bench, out)


def render(results: dict[int, dict[Key, dict[str, float | None]]], delays: Sequence[int]) -> str:
    header = ["scenario", "tool"]
    for d in delays:
        header += [f"s@{d}", f"x@{d}", f"req@{d}"]
    header += [f"RTs@{d}" for d in delays if d]
    keys = sorted(
        {k for by_key in results.values() for k in by_key},
        key=lambda k: (list(BENCHMARKS).index(k.bench), k.scenario, k.tool != "polyarch"),
    )
    rows: list[Sequence[str]] = []
    for key in keys:
        peer = BENCHMARKS[key.bench][0]
        row = [f"{key.bench}: {key.scenario}", key.tool]
        for d in delays:
            cell = results.get(d, {}).get(key)
            other = results.get(d, {}).get(Key(key.bench, key.scenario, peer))
            seconds = cell["seconds"] if cell else None
            ratio = (
                ratio_of(seconds, other["seconds"])
                if key.tool == "polyarch" and other is not None
                else None
            )
            requests = cell["requests"] if cell else None
            row += [fmt(seconds, ".3f"), fmt(ratio, ".3f") if ratio else "", fmt(requests)]
        base = results.get(0, {}).get(key)
        for d in delays:
            if not d:
                continue
            cell = results.get(d, {}).get(key)
            rts = None
            if cell and base and cell["seconds"] is not None and base["seconds"] is not None:
                rts = (cell["seconds"] - base["seconds"]) / (2 * d / 1000)
            row.append(fmt(rts, ".1f"))
        rows.append(row)
    lines = _table(header, rows, set(range(2, len(header))))
    lines.append(
        "(s: median wall seconds; x: polyarch/peer; req: requests served; RTs: (s@D - s@0) /"
        " round trip, the round trips waited for in a row; D in ms, added each way)"
    )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delays", default="0,10,50", help="ms added each way, e.g. 0,10,50")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help=f"of {','.join(BENCHMARKS)}")
    parser.add_argument("--log", type=Path, help="where each benchmark's own report goes")
    add_tool_arguments(parser, "docker", "skopeo")
    args = parser.parse_args(argv)
    try:
        args.delays = sorted({int(x) for x in args.delays.split(",") if x.strip()})
    except ValueError:
        parser.error(f"--delays: numbers like 0,10,50, not {args.delays!r}")
    args.only = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = [b for b in args.only if b not in BENCHMARKS]
    if unknown:
        parser.error(f"--only: no benchmark {', '.join(unknown)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    results: dict[int, dict[Key, dict[str, float | None]]] = {}
    with tempfile.TemporaryDirectory(prefix="polyarch-bench-all-") as tmp:
        workdir = Path(tmp)
        log_path = args.log or Path(tempfile.gettempdir()) / "polyarch-bench-all.log"
        with log_path.open("w") as log:
            for delay in args.delays:
                for bench in args.only:
                    results.setdefault(delay, {}).update(run_one(args, bench, delay, workdir, log))
    print(
        f"every benchmark at {','.join(map(str, args.delays))} ms each way, median of "
        f"{args.repeat} runs; {tool_version([args.polyarch, '--version'])}, "
        f"{tool_version([args.docker, '--version'])}, {tool_version([args.skopeo, '--version'])}"
        f"; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
        f"{time.monotonic() - started:.0f} s; each report in {log_path}"
    )
    print(render(results, args.delays))
    if 0 not in args.delays:
        print("(no 0 ms run: no round-trip estimates)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
