"""Celery: ``task.delay`` / ``group(...).apply_async()``; the worker is ``celery worker``.

No result backend and ``task_ignore_result``: the jobs' results are not wanted, and the
Redis transport's defaults are otherwise kept (prefetch multiplier 4, early ack).
"""

from __future__ import annotations

import os
import sys

import redis
from celery import Celery, group

from bench import bodies

NAME = "celery"
DB = 9
POOL = os.environ.get("BENCH_CELERY_POOL", "threads")
WORKER = (f"celery worker --pool {POOL} --concurrency C --without-gossip --without-mingle "
          "--without-heartbeat (1 process)")
JOBS = {"noop": 3_000, "redis-call": 3_000, "io-10ms": 5_000}
app = Celery("bench", broker=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"))
app.conf.task_ignore_result = True


@app.task
def noop(n: int) -> None:
    """The job."""


@app.task
def redis_call(n: int) -> None:
    bodies.redis_call()


@app.task
def io_10ms(n: int) -> None:
    bodies.io_10ms()


@app.task
def probe(enqueued_at: float) -> None:
    bodies.probe(enqueued_at)


TASKS = {"noop": noop, "redis-call": redis_call, "io-10ms": io_10ms}


def setup(url: str) -> None:
    """The app reads ``BENCH_REDIS_URL`` at import, which the runner sets."""


def enqueue_single(n: int) -> None:
    for i in range(n):
        noop.delay(i)


def enqueue_bulk(n: int) -> None:
    # A group sends its n task messages through one producer; chunks would change the jobs.
    group(noop.s(i) for i in range(n)).apply_async()


def fill(workload: str, n: int) -> None:
    task = TASKS[workload]
    group(task.s(i) for i in range(n)).apply_async()


def enqueue_probe(enqueued_at: float) -> None:
    probe.delay(enqueued_at)


def worker_command(url: str, workload: str = "noop") -> tuple[list[str], dict[str, str]]:
    from bench.workloads import WORKLOADS

    exe = os.path.join(os.path.dirname(sys.executable), "celery")
    return [exe, "-A", "bench.peers.celery_peer", "worker", "--pool", POOL, "--concurrency",
            str(WORKLOADS[workload].concurrency), "--loglevel", "WARNING", "--without-gossip",
            "--without-mingle", "--without-heartbeat"], {"BENCH_REDIS_URL": url}


def remaining(r: redis.Redis, n: int, workload: str = "noop") -> int:
    # Waiting in the list, or delivered and not yet acknowledged (early ack: at most the
    # prefetch of 4 x C tasks are still running when this reads 0).
    return int(r.llen("celery")) + int(r.hlen("unacked"))
