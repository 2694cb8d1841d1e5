"""polyarch vs ``docker manifest``, side by side in one run, against a local registry.

::

    python benchmarks/bench_manifest.py [--platforms 2,8,32] [--repeat 5]

Starts its own CNCF distribution registry (``tests/registry_server.py``) in a temporary
directory, pushes synthetic single-platform images (distinct platforms) to a source
repository, then for each list size N and each scenario

* ``same-repo``: the list goes to the members' repository;
* ``cross-repo``: the list goes to another repository of the same registry (a fresh one
  per run, so blobs are mounted every time);

runs, alternating which tool goes first, each command with a fresh ``DOCKER_CONFIG`` and
``POLYARCH_HOME``:

* create+push: ``docker manifest create --insecure L M...`` + ``docker manifest push
  --insecure L`` vs ``polyarch create L M...`` + ``polyarch push L``, to a new tag each run;
* inspect: ``docker manifest inspect --verbose --insecure L`` vs ``polyarch inspect
  --verbose L`` on the list docker pushed in that run;
* inspect warm: the same inspect twice with one ``DOCKER_CONFIG`` and ``POLYARCH_HOME``,
  the second run measured: polyarch then has its cache (issue 14), docker what it keeps.

Wall time is the median of ``--repeat`` runs of ``time.perf_counter`` around
``subprocess.run`` (Python start-up included, on purpose). Requests are those the registry's
access log shows between two marks, counted by user agent (``polyarch/VERSION``; docker 28
sends ``Docker-Client/VERSION (linux)``). It checks that both tools push the same digest
and print the same ``inspect --verbose`` JSON, and whether the targets of issue 3 hold
(issue 14 sets none for a warm inspect: its ratios are reported). Nothing here asserts:
it reports.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.registry_server import RegistryServer

from _common import (
    AtDistance,
    Outcome,
    add_delay_argument,
    add_tool_arguments,
    client_env,
    fmt,
    progress,
    ratio_of,
    timed_run,
    tool_version,
    write_json,
)

ROOT = Path(__file__).resolve().parent.parent
SOURCE_REPOSITORY = "bench/src"
COMMAND_TIMEOUT = 120.0
#: Issue 3's targets, checked at the largest N of 32 (or the largest one run); issue 14
#: sets no wall-time target for "inspect warm" (reported, and in the request check).
TARGET_N = 32
TARGET_RATIO = {"create+push": 0.6, "inspect": 1.0}


def _made_by(tool: str, user_agent: str) -> bool:
    """docker 28 sends ``Docker-Client/28.2.2 (linux)``; others ``docker/VERSION ...``."""
    if tool == "polyarch":
        return user_agent.startswith("polyarch/")
    return "docker" in user_agent.lower() and not user_agent.startswith("polyarch/")


#: Distinct platforms, none equal to another after normalization (polyarch refuses
#: duplicates), every one a valid image-index platform.
PLATFORMS: tuple[dict[str, Any], ...] = (
    *(
        {"os": "linux", "architecture": arch, **({"variant": variant} if variant else {})}
        for arch, variant in (
            ("amd64", None),
            ("arm64", None),
            ("arm", "v7"),
            ("arm", "v6"),
            ("ppc64le", None),
            ("s390x", None),
            ("386", None),
            ("riscv64", None),
            ("arm", "v5"),
            ("amd64", "v2"),
            ("amd64", "v3"),
            ("amd64", "v4"),
            ("mips64le", None),
            ("mips64", None),
            ("mipsle", None),
            ("mips", None),
            ("loong64", None),
            ("ppc64", None),
        )
    ),
    *(
        {"os": "windows", "architecture": "amd64", "os.version": version}
        for version in ("10.0.14393.7515", "10.0.17763.6532", "10.0.20348.2849", "10.0.26100.2314")
    ),
    {"os": "windows", "architecture": "arm64", "os.version": "10.0.26100.2314"},
    {"os": "freebsd", "architecture": "amd64"},
    {"os": "freebsd", "architecture": "arm64"},
    {"os": "freebsd", "architecture": "386"},
    {"os": "netbsd", "architecture": "amd64"},
    {"os": "openbsd", "architecture": "amd64"},
    {"os": "solaris", "architecture": "amd64"},
    {"os": "illumos", "architecture": "amd64"},
    {"os": "darwin", "architecture": "arm64"},
    {"os": "aix", "architecture": "ppc64"},
)


# -- running one command ---------------------------------------------------------------


@dataclass
class Run(Outcome):
    """One command: its wall time, the requests it made, its output."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str
    requests: int = 0
    foreign_requests: int = 0
    """Requests in the window that carried neither tool's user agent (should be 0)."""


class Runner:
    """Runs commands in fresh client state and counts their registry requests."""

    def __init__(self, server: RegistryServer | None, workdir: Path) -> None:
        self.server = server
        self.workdir = workdir
        self._fresh = 0

    def env(self) -> dict[str, str]:
        self._fresh += 1
        return client_env(self.workdir, self.workdir / f"state-{self._fresh}", xdg=False)

    def run(self, argv: Sequence[str], env: dict[str, str], *, tool: str | None = None) -> Run:
        mark = self.server.mark() if self.server and tool else None
        result = Run(*timed_run(argv, env, COMMAND_TIMEOUT))
        if self.server is not None and mark is not None and tool is not None:
            entries = self.server.requests(since=mark)
            mine = [e for e in entries if _made_by(tool, e.user_agent)]
            result.requests = len(mine)
            result.foreign_requests = len(entries) - len(mine)
        return result


# -- results ---------------------------------------------------------------------------


@dataclass
class Cell:
    """Repeated measurements of one step by one tool in one scenario."""

    scenario: str
    n: int
    step: str
    tool: str
    seconds: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    parts: dict[str, list[float]] = field(default_factory=dict)
    unavailable: str | None = None
    notes: list[str] = field(default_factory=list)

    def add(self, runs: dict[str, Run]) -> bool:
        """Record the runs of one repetition (``{"create": run, "push": run}``)."""
        failed = [f"{name}: {run.failure()}" for name, run in runs.items() if not run.ok]
        if failed:
            self.unavailable = "; ".join(failed)
            return False
        self.seconds.append(sum(run.seconds for run in runs.values()))
        self.requests.append(sum(run.requests for run in runs.values()))
        for name, run in runs.items():
            self.parts.setdefault(name, []).append(run.seconds)
            if run.foreign_requests:
                self.note(f"{run.foreign_requests} requests by another client during {name}")
        return True

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    @property
    def ms(self) -> float | None:
        return statistics.median(self.seconds) * 1000 if self.seconds else None

    @property
    def median_requests(self) -> float | None:
        return statistics.median(self.requests) if self.requests else None

    def detail(self) -> str:
        """Median ms per command when there are several, and requests that varied."""
        parts = []
        if len(self.parts) > 1:
            parts.append(
                " + ".join(f"{k} {statistics.median(v) * 1000:.0f}" for k, v in self.parts.items())
            )
        if self.requests and min(self.requests) != max(self.requests):
            parts.append(f"requests {min(self.requests)}..{max(self.requests)}")
        return "; ".join(parts)


def _docker_digest(stdout: str) -> str:
    lines = stdout.strip().splitlines()
    return lines[-1].strip() if lines else ""


def _same_json(a: str, b: str) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return False


# -- the benchmark ---------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, server: RegistryServer, workdir: Path) -> None:
        self.args = args
        self.server = server
        self.runner = Runner(server, workdir)
        self.docker = args.docker
        self.polyarch = args.polyarch
        self.cells: dict[tuple[str, int, str, str], Cell] = {}
        self.warnings: list[str] = []
        self.members: list[str] = []
        self.verbose_inspect = _polyarch_has_verbose(self.polyarch, self.runner)

    def cell(self, scenario: str, n: int, step: str, tool: str) -> Cell:
        key = (scenario, n, step, tool)
        if key not in self.cells:
            self.cells[key] = Cell(scenario, n, step, tool)
        return self.cells[key]

    def seed(self, count: int) -> None:
        sys.path.insert(0, str(ROOT))
        from tests.imagegen import make_image

        for i, platform in enumerate(PLATFORMS[:count]):
            image = make_image(platform, seed=i)
            tag = image.platform_string.replace("/", "-") + (
                "-" + str(platform["os.version"]) if "os.version" in platform else ""
            )
            self.server.push_image(SOURCE_REPOSITORY, image, tag=tag)
            self.members.append(f"{self.server.host}/{SOURCE_REPOSITORY}:{tag}")

    def list_ref(self, scenario: str, n: int, tool: str, rep: int) -> str:
        host = self.server.host
        if scenario == "same-repo":
            return f"{host}/{SOURCE_REPOSITORY}:list-{tool}-n{n}-r{rep}"
        return f"{host}/bench/{tool}-n{n}-r{rep}:list"

    def create_push(self, tool: str, ref: str, members: list[str]) -> tuple[dict[str, Run], str]:
        env = self.runner.env()
        run = self.runner.run
        if tool == "docker":
            create = run(
                [self.docker, "manifest", "create", "--insecure", ref, *members], env, tool=tool
            )
            push = run([self.docker, "manifest", "push", "--insecure", ref], env, tool=tool)
        else:
            create = run([self.polyarch, "create", ref, *members], env, tool=tool)
            push = run([self.polyarch, "push", ref], env, tool=tool)
        runs = {"create": create} if not create.ok else {"create": create, "push": push}
        return runs, _docker_digest(push.stdout) if create.ok and push.ok else ""

    def inspect(self, tool: str, ref: str, env: dict[str, str] | None = None) -> Run:
        env = env or self.runner.env()
        if tool == "docker":
            argv = [self.docker, "manifest", "inspect", "--verbose", "--insecure", ref]
        else:
            argv = [self.polyarch, "inspect", "--verbose", ref]
        return self.runner.run(argv, env, tool=tool)

    def scenario(self, scenario: str, n: int) -> None:
        members = self.members[:n]
        tools = ("docker", "polyarch")
        for rep in range(self.args.repeat):
            order = tools if rep % 2 == 0 else tools[::-1]
            digests: dict[str, str] = {}
            for tool in order:
                runs, digest = self.create_push(
                    tool, self.list_ref(scenario, n, tool, rep), members
                )
                self.cell(scenario, n, "create+push", tool).add(runs)
                digests[tool] = digest
            if all(digests.values()) and digests["docker"] != digests["polyarch"]:
                self.warn(
                    f"{scenario} N={n} run {rep}: docker pushed {digests['docker']}, "
                    f"polyarch {digests['polyarch']}"
                )
                for tool in tools:
                    self.cell(scenario, n, "create+push", tool).note("digests differ")
            if not digests["docker"]:
                continue  # nothing docker pushed to inspect
            ref = self.list_ref(scenario, n, "docker", rep)
            outputs: dict[str, str] = {}
            for tool in order:
                cell = self.cell(scenario, n, "inspect", tool)
                if tool == "polyarch" and self.verbose_inspect is not None:
                    cell.unavailable = self.verbose_inspect
                    continue
                result = self.inspect(tool, ref)
                if cell.add({"inspect": result}):
                    outputs[tool] = result.stdout
            if len(outputs) == 2 and not _same_json(outputs["docker"], outputs["polyarch"]):
                self.cell(scenario, n, "inspect", "polyarch").note("output differs from docker's")
            self.inspect_warm(scenario, n, ref, order)

    def inspect_warm(self, scenario: str, n: int, ref: str, order: Sequence[str]) -> None:
        """The inspect twice in one client state; the second run is measured."""
        outputs: dict[str, str] = {}
        for tool in order:
            cell = self.cell(scenario, n, "inspect warm", tool)
            if tool == "polyarch" and self.verbose_inspect is not None:
                cell.unavailable = self.verbose_inspect
                continue
            env = self.runner.env()
            first = self.inspect(tool, ref, env)
            if not first.ok:
                cell.add({"inspect (first)": first})
                continue
            result = self.inspect(tool, ref, env)
            if cell.add({"inspect": result}):
                outputs[tool] = result.stdout
        if len(outputs) == 2 and not _same_json(outputs["docker"], outputs["polyarch"]):
            self.cell(scenario, n, "inspect warm", "polyarch").note("output differs from docker's")

    def warm_up(self) -> None:
        """One unmeasured round per tool: fills the bytecode cache and the OS's caches."""
        members = self.members[:2]
        for tool in ("docker", "polyarch"):
            ref = f"{self.server.host}/bench/warmup-{tool}:list"
            runs, _ = self.create_push(tool, ref, members)
            failed = [f"{tool} {name}: {run.failure()}" for name, run in runs.items() if not run.ok]
            for text in failed:
                self.warn(f"warm-up {text}")
            if not failed:
                # Plain inspect imports the inspect command's modules even without --verbose.
                self.runner.run(
                    [self.polyarch, "inspect", ref]
                    if tool == "polyarch"
                    else [self.docker, "manifest", "inspect", "--insecure", ref],
                    self.runner.env(),
                )

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        print(f"warning: {text}", file=sys.stderr, flush=True)

    def startup(self) -> list[tuple[str, float | None, str]]:
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "polyarch --help": [self.polyarch, "--help"],
            "docker manifest --help": [self.docker, "manifest", "--help"],
        }
        rows: list[tuple[str, float | None, str]] = []
        for label, argv in commands.items():
            times: list[float] = []
            failure = ""
            for _ in range(max(self.args.repeat, 5)):
                result = self.runner.run(argv, self.runner.env())
                if not result.ok:
                    failure = result.failure()
                    break
                times.append(result.seconds)
            rows.append((label, statistics.median(times) * 1000 if times else None, failure))
        return rows


def _polyarch_has_verbose(polyarch: str, runner: Runner) -> str | None:
    """``None`` when ``polyarch inspect`` takes ``--verbose``, else why not."""
    result = runner.run([polyarch, "inspect", "--help"], runner.env())
    if not result.ok:
        return f"not available ({result.failure()})"
    if "--verbose" not in result.stdout:
        return "not available (polyarch inspect has no --verbose yet)"
    return None


# -- reporting -------------------------------------------------------------------------


def render(bench: Bench, startup: list[tuple[str, float | None, str]]) -> str:
    header = ("scenario", "N", "step", "tool", "wall ms", "requests", "x wall", "x req", "notes")
    rows: list[tuple[str, ...]] = []
    for (scenario, n, step, tool), cell in bench.cells.items():
        other = bench.cells.get((scenario, n, step, "docker"))
        is_poly = tool == "polyarch" and other is not None
        notes = [cell.detail(), *cell.notes]
        if cell.unavailable:
            notes.insert(0, cell.unavailable)
        rows.append(
            (
                scenario,
                str(n),
                step,
                tool,
                fmt(cell.ms) if not cell.unavailable else "n/a",
                fmt(cell.median_requests) if not cell.unavailable else "n/a",
                fmt(ratio_of(cell.ms, other.ms), ".2f") if is_poly and other else "",
                fmt(ratio_of(cell.median_requests, other.median_requests), ".2f")
                if is_poly and other
                else "",
                "; ".join(x for x in notes if x),
            )
        )
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in (1, 4, 5, 6, 7) else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    out = [line(header), line(["-" * w for w in widths]), *map(line, rows), ""]
    out.append("start-up (median ms): " + ", ".join(f"{k} {fmt(v)}" for k, v, _ in startup))
    out.extend(f"  {k}: {why}" for k, _, why in startup if why)
    out.append("")
    out.append("targets (issue 3; issue 14 sets none for inspect warm):")
    out.extend(targets(bench))
    return "\n".join(out)


def targets(bench: Bench) -> list[str]:
    lines: list[str] = []
    sizes = sorted({n for _, n, _, _ in bench.cells})
    at = TARGET_N if TARGET_N in sizes else (sizes[-1] if sizes else TARGET_N)
    for (scenario, n, step, tool), cell in bench.cells.items():
        if tool != "polyarch":
            continue
        docker = bench.cells.get((scenario, n, step, "docker"))
        label = f"{scenario} N={n} {step}"
        target = TARGET_RATIO.get(step)
        if cell.unavailable or docker is None or docker.unavailable:
            if n == at:
                lines.append(
                    f"  [n/a ] {label}" + (f": wall <= {target}x docker" if target else "")
                )
            continue
        if n == at and target is None:
            lines.append(
                f"  [info] {label}: wall {fmt(ratio_of(cell.ms, docker.ms), '.2f')}x docker, "
                f"{fmt(cell.median_requests)} requests vs docker's "
                f"{fmt(docker.median_requests)} (no target set)"
            )
        elif n == at:
            ratio = ratio_of(cell.ms, docker.ms)
            verdict = "PASS" if ratio is not None and ratio <= target else "FAIL"
            lines.append(
                f"  [{verdict}] {label}: wall {fmt(ratio, '.2f')}x docker (target <= {target}x)"
            )
        mine, theirs = cell.median_requests, docker.median_requests
        if mine is not None and theirs is not None and mine > theirs:
            lines.append(f"  [FAIL] {label}: {mine:.0f} requests > docker's {theirs:.0f}")
    requests_ok = not any("requests >" in x for x in lines)
    lines.append(
        f"  [{'PASS' if requests_ok else 'FAIL'}] never more requests than docker"
        + ("" if requests_ok else " (see above)")
        + (" (inspect --verbose not measured)" if bench.verbose_inspect else "")
    )
    if at != TARGET_N:
        lines.insert(0, f"  (targets are for N={TARGET_N}; checked at N={at})")
    return lines


# -- main ------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 2,8,32, got {text!r}") from None
    if not sizes or sizes[0] < 1 or sizes[-1] > len(PLATFORMS):
        raise argparse.ArgumentTypeError(f"each size must be in 1..{len(PLATFORMS)}")
    return sizes


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platforms", type=_sizes, default=[2, 8, 32], help="list sizes N")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (median)")
    add_delay_argument(parser)
    add_tool_arguments(parser, "docker")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.registry_server import RegistryServer

    with tempfile.TemporaryDirectory(prefix="polyarch-bench-") as tmp:
        workdir = Path(tmp)
        distance = AtDistance(args.delay, RegistryServer(workdir / "registry"))
        with distance as (server,):
            bench = Bench(args, server, workdir)
            progress(
                f"registry {server.url} (pid {server.pid}); seeding {max(args.platforms)} images"
            )
            bench.seed(max(args.platforms))
            progress("warm-up")
            bench.warm_up()
            progress("start-up")
            startup = bench.startup()
            for n in args.platforms:
                for scenario in ("same-repo", "cross-repo"):
                    progress(f"{scenario} N={n} x{args.repeat}")
                    bench.scenario(scenario, n)
        report = render(bench, startup)
    print(
        f"polyarch vs docker manifest, {distance.describe()}: median of {args.repeat} runs; "
        f"{tool_version([args.polyarch, '--version'])} ({args.polyarch}), "
        f"{tool_version([args.docker, '--version'])}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs"
    )
    print(report)
    if args.json:
        doc = {
            "startup_ms": {k: v for k, v, _ in startup},
            "cells": [asdict(c) for c in bench.cells.values()],
            "warnings": bench.warnings,
        }
        write_json(args.json, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
