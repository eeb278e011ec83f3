"""jobkit: ``perform_async`` / ``perform_bulk``; the worker is ``python -m jobkit worker``."""

from __future__ import annotations

import os
import shlex
import sys

import redis

from bench.workloads import WORKLOADS

NAME = "jobkit"
DB = 4
NAMESPACE = "bench"
CONCURRENCY = 10
WORKER = "python -m jobkit worker -c C (1 process, C threads, reliable fetch)"
#: Jobs per processing run of each workload.
JOBS = {"noop": 200_000, "redis-call": 20_000, "io-10ms": 30_000,
        "async-redis-call": 30_000, "async-io-10ms": 100_000}


def setup(url: str) -> None:
    import jobkit

    jobkit.configure(redis_url=url, namespace=NAMESPACE)


def unsupported(workload: str) -> str | None:
    from bench import jobs_module

    if WORKLOADS[workload].coroutine:
        return jobs_module.ASYNC_UNSUPPORTED
    return None


def enqueue_single(n: int) -> None:
    from bench.jobs_module import NoopJob

    for i in range(n):
        NoopJob.perform_async(i)


def enqueue_bulk(n: int) -> None:
    from bench.jobs_module import NoopJob

    NoopJob.perform_bulk([[i] for i in range(n)])


def fill(workload: str, n: int) -> None:
    from bench.jobs_module import JOBS

    if workload == "async-hold":  # the RSS probe: each job holds its slot for a minute
        JOBS[workload].perform_bulk([[60.0]] * n)
        return
    JOBS[workload].perform_bulk([[i] for i in range(n)])


def enqueue_probe(enqueued_at: float) -> None:
    from bench.jobs_module import ProbeJob

    ProbeJob.perform_async(enqueued_at)


def worker_command(url: str, workload: str = "noop") -> tuple[list[str], dict[str, str]]:
    w = WORKLOADS[workload]
    argv = [sys.executable, "-m", "jobkit", "worker", "-r", "bench.jobs_module",
            "-c", str(CONCURRENCY if w.coroutine else w.concurrency), "--log-level", "WARNING"]
    if w.coroutine:
        argv += ["--async-concurrency", str(w.concurrency)]
    # e.g. BENCH_JOBKIT_ARGS="--cpu 1": the same worker pinned, to compare in one run.
    argv += shlex.split(os.environ.get("BENCH_JOBKIT_ARGS", ""))
    return argv, {"JOBKIT_REDIS_URL": url, "JOBKIT_NAMESPACE": NAMESPACE}


def remaining(r: redis.Redis, n: int, workload: str = "noop") -> int:
    # Sidekiq's counter, incremented in the same write that acknowledges each job.
    return n - int(r.get(f"{NAMESPACE}:stat:processed") or 0)
