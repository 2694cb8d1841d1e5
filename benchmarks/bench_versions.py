"""Two builds of polyarch side by side on the fast paths, for "before and after" figures.

::

    python benchmarks/bench_versions.py --baseline /tmp/old-venv/bin/polyarch [--repeat 21]

Runs ``polyarch --help``, ``inspect`` of an OCI layout (``examples/``) and, against a
registry it starts itself holding an 8-platform index, ``digest``, ``inspect`` and
``inspect --verbose`` — each command alternately with the baseline and with the build
under test (default: the console script beside this interpreter), so both see the same
machine. Prints the median wall time per build and the ratio new/baseline. Bytecode is
cached for both (``PYTHONPYCACHEPREFIX`` in a temporary directory), as after
``pip install``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import default_polyarch, fmt, progress, ratio_of

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = [
    {"os": "linux", "architecture": "amd64"},
    {"os": "linux", "architecture": "arm64", "variant": "v8"},
    {"os": "linux", "architecture": "arm", "variant": "v7"},
    {"os": "linux", "architecture": "arm", "variant": "v6"},
    {"os": "linux", "architecture": "386"},
    {"os": "linux", "architecture": "ppc64le"},
    {"os": "linux", "architecture": "s390x"},
    {"os": "linux", "architecture": "riscv64"},
]


def _time(argv: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, timeout=120, check=False)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the polyarch executable to compare with")
    parser.add_argument("--polyarch", default=default_polyarch(), help="the build under test")
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()

    from tests.imagegen import make_image, make_index
    from tests.registry_server import RegistryServer

    with tempfile.TemporaryDirectory(prefix="polyarch-bench-versions-") as temporary:
        workdir = Path(temporary)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
        env["POLYARCH_HOME"] = str(workdir / "home")
        with RegistryServer(workdir / "registry") as server:
            images = [make_image(platform, seed=i) for i, platform in enumerate(PLATFORMS)]
            for image in images:
                server.push_image("bench/versions", image)
            index = make_index(images, oci=False)
            server.push_manifest(
                "bench/versions",
                "1",
                index,
                "application/vnd.docker.distribution.manifest.list.v2+json",
            )
            reference = f"{server.host}/bench/versions:1"
            scenarios = {
                "--help": ["--help"],
                "inspect oci:": ["inspect", f"oci:{ROOT / 'examples' / 'hello-multiarch'}:1.0"],
                "digest (registry)": ["digest", reference],
                "inspect (registry)": ["inspect", reference],
                "inspect --verbose (8)": ["inspect", "--verbose", reference],
            }
            builds = {"baseline": args.baseline, "new": args.polyarch}
            times: dict[tuple[str, str], list[float]] = {}
            for name, command in scenarios.items():
                progress(f"{name} ...")
                for build in builds.values():  # warm the bytecode caches
                    _time([build, *command], env)
                for run in range(args.repeat):
                    order = list(builds.items()) if run % 2 == 0 else list(builds.items())[::-1]
                    for label, build in order:
                        times.setdefault((name, label), []).append(_time([build, *command], env))
    print(f"{'scenario':<24} {'baseline ms':>12} {'new ms':>8} {'new/baseline':>13}")
    for name in scenarios:
        old = statistics.median(times[(name, "baseline")]) * 1000
        new = statistics.median(times[(name, "new")]) * 1000
        print(
            f"{name:<24} {fmt(old, '12.1f')} {fmt(new, '8.1f')} {fmt(ratio_of(new, old), '13.2f')}"
        )


if __name__ == "__main__":
    main()
