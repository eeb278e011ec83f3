"""jobkit: ``perform_async`` / ``perform_bulk``; the worker is ``python -m jobkit worker``."""

from __future__ import annotations

import sys

import redis

NAME = "jobkit"
DB = 4
NAMESPACE = "bench"
CONCURRENCY = 10
WORKER = f"python -m jobkit worker -c {CONCURRENCY} (1 process, 10 threads, reliable fetch)"


def setup(url: str) -> None:
    import jobkit

    jobkit.configure(redis_url=url, namespace=NAMESPACE)


def enqueue_single(n: int) -> None:
    from bench.jobs_module import NoopJob

    for i in range(n):
        NoopJob.perform_async(i)


def enqueue_bulk(n: int) -> None:
    from bench.jobs_module import NoopJob

    NoopJob.perform_bulk([[i] for i in range(n)])


fill = enqueue_bulk


def worker_command(url: str) -> tuple[list[str], dict[str, str]]:
    argv = [sys.executable, "-m", "jobkit", "worker", "-r", "bench.jobs_module",
            "-c", str(CONCURRENCY), "--log-level", "WARNING"]
    return argv, {"JOBKIT_REDIS_URL": url, "JOBKIT_NAMESPACE": NAMESPACE}


def remaining(r: redis.Redis, n: int) -> int:
    # Sidekiq's counter, incremented in the same MULTI that acknowledges each job.
    return n - int(r.get(f"{NAMESPACE}:stat:processed") or 0)
