"""Per-test overhead of the ``jobkit`` fixture.

Generates N tests that each enqueue one job and drain it through the fixture, and N tests
that call the same service function directly; runs both in one pytest process and reports
the per-test time (setup + call + teardown) of each and the difference: the fixture's
overhead, median and p95.

    python bench/plugin_overhead.py                 # embedded fakeredis, 1,000 tests each
    python bench/plugin_overhead.py --redis-url redis://127.0.0.1:6379/13
    python bench/plugin_overhead.py --profile       # where the fixture's time goes
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

SERVICE = '''
import jobkit

TOTAL = [0]


def service(n: int) -> None:
    TOTAL[0] += n


class ServiceJob(jobkit.Job):
    def perform(self, n: int) -> None:
        service(n)
'''


def write_suite(root: Path, count: int) -> None:
    """One file alternating direct and fixture tests, so load changes hit both alike."""
    (root / "bench_service.py").write_text(textwrap.dedent(SERVICE))
    lines = ["import bench_service\n"]
    for i in range(count):
        lines.append(f"\ndef test_direct_{i}():\n    bench_service.service({i})\n")
        lines.append(
            f"\ndef test_jobkit_{i}(jobkit):\n"
            f"    bench_service.ServiceJob.perform_async({i})\n"
            "    jobkit.drain()\n"
        )
    (root / "test_bench.py").write_text("".join(lines))
    (root / "pytest.ini").write_text("[pytest]\n")


class Timer:
    """Sums the setup, call and teardown durations of every test."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.total[report.nodeid] += report.duration


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--tests", type=int, default=1000)
    parser.add_argument("--redis-url", default=None, help="measure on this real Redis")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the run")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_suite(root, options.tests)
        timer = Timer()
        args = [str(root), "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist"]
        args += ["-p", "no:benchmark", "--rootdir", str(root), "-o", "addopts="]
        if options.redis_url:
            args.append(f"--jobkit-redis-url={options.redis_url}")
        sys.path.insert(0, str(root))
        profiler = cProfile.Profile() if options.profile else None
        if profiler:
            profiler.enable()
        code = pytest.main(args, plugins=[timer])
        if profiler:
            profiler.disable()
        if code != 0:
            print(f"the generated suite failed (exit {code})")
            return 1
    direct = [timer.total[f"test_bench.py::test_direct_{i}"] for i in range(options.tests)]
    jobkit = [timer.total[f"test_bench.py::test_jobkit_{i}"] for i in range(options.tests)]
    # Each fixture test against the direct test run just before it.
    overhead = [j - d for j, d in zip(jobkit, direct, strict=True)]
    ms = 1000.0
    backend = options.redis_url or "embedded fakeredis, one server per process"
    backend += ", a namespace per test"
    print(f"\nbackend: {backend}; {len(jobkit)} fixture tests, {len(direct)} direct tests")
    for label, values in (
        ("direct call per test:   ", direct),
        ("jobkit fixture per test:", jobkit),
        ("fixture overhead:       ", overhead),
    ):
        print(
            f"{label} median {statistics.median(values) * ms:.3f} ms, "
            f"p95 {percentile(values, 0.95) * ms:.3f} ms"
        )
    print("target: overhead median <= 2 ms")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
