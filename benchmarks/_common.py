"""What the benchmarks share: finding the tools, formatting numbers, reporting progress,
the client state each command starts in, the options and the report's pieces."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def default_polyarch() -> str:
    """The console script beside this interpreter; a pyenv shim would add its own start-up."""
    beside = Path(sys.executable).parent / "polyarch"
    if beside.exists():
        return str(beside)
    return shutil.which("polyarch") or "polyarch"


def fmt(value: float | None, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def ratio_of(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def tool_version(argv: list[str]) -> str:
    """The first line a tool prints for its version, or why it could not say."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{argv[0]} ({err})"
    return proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else argv[0]


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def machine(load_before: float) -> str:
    """The interpreter, the CPUs and the load before and now: what the numbers depend on."""
    return (
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )


# -- the options -----------------------------------------------------------------------


def add_tool_arguments(parser: argparse.ArgumentParser, *peers: str) -> None:
    """``--polyarch``, one option per peer tool (found on ``PATH``), then ``--json``: the
    options every benchmark ends with, in the order its ``--help`` lists them."""
    parser.add_argument("--polyarch", default=default_polyarch(), help="polyarch executable")
    for peer in peers:
        parser.add_argument(f"--{peer}", default=shutil.which(peer) or peer)
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")


def write_json(path: Path, doc: Mapping[str, Any]) -> None:
    """The raw measurements, as ``--json`` asks."""
    path.write_text(json.dumps(doc, indent=2) + "\n")


# -- running one command ---------------------------------------------------------------


def client_env(
    workdir: Path, state: Path, polyarch_home: Path | None = None, *, xdg: bool = True
) -> dict[str, str]:
    """This environment with fresh, empty client state under ``state`` (``polyarch_home``
    keeps a given one, its cache), so no tool reuses a login, a cache or a config.

    ``xdg``: also an empty ``XDG_RUNTIME_DIR`` (skopeo's ``auth.json``: none) and no
    ``REGISTRY_AUTH_FILE``; ``bench_manifest.py`` runs no skopeo and keeps both.
    """
    names = ("docker", "polyarch", "xdg") if xdg else ("docker", "polyarch")
    for name in names:
        (state / name).mkdir(parents=True)
    env = dict(os.environ)
    env.update(
        DOCKER_CONFIG=str(state / "docker"),
        POLYARCH_HOME=str(polyarch_home or state / "polyarch"),
    )
    if xdg:
        env["XDG_RUNTIME_DIR"] = str(state / "xdg")
    env.update(
        # The registries are on loopback: never through a proxy, whatever the host says.
        NO_PROXY=",".join(filter(None, (env.get("NO_PROXY"), "127.0.0.1,localhost"))),
        no_proxy=",".join(filter(None, (env.get("no_proxy"), "127.0.0.1,localhost"))),
    )
    if xdg:
        env.pop("REGISTRY_AUTH_FILE", None)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    # Run polyarch as a normal installation does, with its bytecode cached (pip writes
    # .pyc files at install time), even from an editable install in a tree where
    # PYTHONDONTWRITEBYTECODE is set; the cache lives in our temp dir, not in src/.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def timed_run(
    argv: Sequence[str], env: Mapping[str, str], timeout: float
) -> tuple[float, int, str, str]:
    """Wall seconds (start-up included, on purpose), exit code, stdout, stderr; a timeout
    is exit -9 with the reason as stderr (``subprocess.run`` killed the child it started,
    by its PID)."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        return time.perf_counter() - start, -9, "", f"timed out after {err.timeout} s"
    return time.perf_counter() - start, proc.returncode, proc.stdout, proc.stderr


class Outcome:
    """What every benchmark's ``Run`` says of how its command ended."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failure(self) -> str:
        lines = (self.stderr or self.stdout).strip().splitlines() or ["(no output)"]
        return f"exit {self.returncode}: {lines[-1][:160]}"


def request_breakdown(
    cells: Mapping[tuple[str, str], Any], scenarios: Sequence[str], tools: Sequence[str]
) -> list[str]:
    """The requests of each tool's last run of each scenario, by registry, method, kind
    (manifests, blobs, uploads, mount, tags, ``/v2/``) and status; ``cells`` maps
    ``(scenario, tool)`` to what has ``runs[-1].requests``: registry name -> log entries."""
    width = max((len(s) for s in scenarios), default=0)
    lines = ["requests (last run), by registry, method, kind and status:"]
    for scenario in scenarios:
        for tool in tools:
            cell = cells.get((scenario, tool))
            if not cell or not cell.runs:
                continue
            for registry, entries in sorted(cell.runs[-1].requests.items()):
                counts: dict[str, int] = {}
                for entry in entries:
                    parts = entry.path.split("/")
                    kind = next(
                        (p for p in ("manifests", "uploads", "blobs", "tags") if p in parts), "/v2/"
                    )
                    if kind == "uploads" and "mount=" in entry.uri:
                        kind = "mount"
                    key = f"{entry.method} {kind} {entry.status}"
                    counts[key] = counts.get(key, 0) + 1
                text = ", ".join(f"{n}x {k}" for k, n in sorted(counts.items()))
                lines.append(f"  {scenario:<{width}} {tool:<8} {registry}: {text or 'none'}")
    return lines


# -- at a distance -----------------------------------------------------------------------


def add_delay_argument(parser: argparse.ArgumentParser) -> None:
    """``--delay MS``: every tool reaches each registry through a latency proxy."""
    parser.add_argument(
        "--delay",
        type=int,
        default=None,
        metavar="MS",
        help="reach each registry through a latency proxy adding MS each way (0: a proxy "
        "adding nothing; default: no proxy); bench_all.py runs every benchmark at several",
    )


class Distant:
    """A registry as the tools see it through a latency proxy: ``host`` (what references
    are made of) is the proxy's; everything else, seeding and the access log's marks
    included, is the registry's own. Restarted (``stop``, ``start``: empty, on a new
    port), it gets a new proxy too, so that no client state knows it."""

    def __init__(self, server: Any, delay_s: float) -> None:
        self._server = server
        self._delay_s = delay_s
        self.proxy: Any = None
        self._proxy_started()

    def _proxy_started(self) -> None:
        from latency_proxy import LatencyProxy

        self.proxy = LatencyProxy(self._server.port, self._delay_s).start()

    @property
    def host(self) -> str:
        return str(self.proxy.host)

    def stop_proxy(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None

    def stop(self) -> None:
        self.stop_proxy()
        self._server.stop()

    def start(self) -> Any:
        self._server.start()
        self._proxy_started()
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


class AtDistance:
    """``with AtDistance(delay_ms, RegistryServer(...), ...) as (a, ...):`` the registries
    started, and behind latency proxies (``delay_ms`` ``None``: as they are, no proxy);
    all stopped on the way out."""

    def __init__(self, delay_ms: int | None, *servers: Any) -> None:
        import contextlib

        self.delay_ms = delay_ms
        self.servers = servers
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> list[Any]:
        with self._stack as stack:
            started = [stack.enter_context(server) for server in self.servers]
            if self.delay_ms is not None:
                distant = [Distant(server, self.delay_ms / 1000) for server in started]
                for reached in distant:
                    stack.callback(reached.stop_proxy)
                started = distant
            self._stack = stack.pop_all()
        return started

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def describe(self) -> str:
        """For the report's first line."""
        if self.delay_ms is None:
            return "registries on this machine, no proxy"
        return f"through latency proxies adding {self.delay_ms} ms each way"
