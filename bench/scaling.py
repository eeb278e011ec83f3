"""Steady-state scaling of ``jobkit worker``: one process against ``--processes 2``, pinned
(the default) and with ``--no-pin``, with the CPU each process and Redis used.

Run from the repository root (jobkit installed):

    python bench/scaling.py [--rounds 3] [--jobs 1000000]

For each setup and round: a backlog of no-op jobs is bulk-enqueued into database 4 of
``BENCH_REDIS`` (flushed before and after: never point it at data you keep), the worker is
started, and after a 1 s warm-up the processed counter and the CPU time of every worker
process and of Redis (from ``/proc``, so Linux only, with Redis on this machine) are read
over a 3 s window. Start-up is left out, unlike bench/throughput.py, to show where the
processes spend the machine. Setups are interleaved and rotated per round; medians printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379") + "/4"
NAMESPACE = "bench"
WARMUP, WINDOW = 1.0, 3.0
SETUPS = {
    "1 process": [],
    "--processes 2": ["--processes", "2"],
    "--processes 2 --no-pin": ["--processes", "2", "--no-pin"],
}


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [pid, *(int(p) for p in out.split())]


def _redis_pid(r: redis.Redis) -> int:
    pid = int(r.info("server")["process_id"])
    if not Path(f"/proc/{pid}").exists():
        sys.exit(f"Redis at {URL} is not on this machine (pid {pid}): its CPU cannot be read")
    return pid


def measure(extra: list[str], jobs: int) -> tuple[float, float, float]:
    """(jobs/s, worker CPU cores, Redis CPU cores) over the window."""
    sys.path.insert(0, str(ROOT))
    import jobkit
    from bench.jobs_module import NoopJob

    r = redis.Redis.from_url(URL)
    r.flushdb()
    jobkit.configure(redis_url=URL, namespace=NAMESPACE)
    for start in range(0, jobs, 100_000):
        NoopJob.perform_bulk([[i] for i in range(start, min(jobs, start + 100_000))])
    env = {**os.environ, "JOBKIT_REDIS_URL": URL, "JOBKIT_NAMESPACE": NAMESPACE,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    argv = [sys.executable, "-m", "jobkit", "worker", "-r", "bench.jobs_module", "-c", "10",
            "--log-level", "WARNING", *extra]
    redis_pid = _redis_pid(r)
    proc = subprocess.Popen(argv, cwd=ROOT, env=env)
    try:
        time.sleep(WARMUP)
        pids = _tree(proc.pid)
        cpu0 = [_cpu_seconds(p) for p in pids]
        redis0 = _cpu_seconds(redis_pid)
        done0 = int(r.get(f"{NAMESPACE}:stat:processed") or 0)
        t0 = time.monotonic()
        time.sleep(WINDOW)
        done1 = int(r.get(f"{NAMESPACE}:stat:processed") or 0)
        elapsed = time.monotonic() - t0
        workers = sum(_cpu_seconds(p) - c for p, c in zip(pids, cpu0, strict=True))
        redis_cpu = _cpu_seconds(redis_pid) - redis0
        if done1 >= jobs:
            sys.exit(f"the backlog of {jobs:,} ran out inside the window: use --jobs")
    finally:
        proc.terminate()
        proc.wait(60)
        r.flushdb()
    return (done1 - done0) / elapsed, workers / elapsed, redis_cpu / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    args = parser.parse_args()
    names = list(SETUPS)
    runs: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    for rnd in range(args.rounds):
        for name in names[rnd % len(names):] + names[:rnd % len(names)]:
            rate, workers, redis_cpu = measure(SETUPS[name], args.jobs)
            runs[name].append((rate, workers, redis_cpu))
            print(f"[round {rnd + 1}/{args.rounds}] {name}: {rate:,.0f} jobs/s, workers "
                  f"{workers:.2f} cores, Redis {redis_cpu:.2f}", flush=True)
    print(f"\nsteady state, median of {args.rounds} round(s), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'setup':<24}{'jobs/s':>10}{'x 1 process':>13}{'worker cores':>14}{'Redis cores':>13}")
    base = statistics.median(r[0] for r in runs[names[0]])
    for name in names:
        rate = statistics.median(r[0] for r in runs[name])
        workers = statistics.median(r[1] for r in runs[name])
        redis_cpu = statistics.median(r[2] for r in runs[name])
        print(f"{name:<24}{rate:>10,.0f}{rate / base:>12.2f}x{workers:>14.2f}{redis_cpu:>13.2f}")


if __name__ == "__main__":
    main()
