"""Celery: ``task.delay`` / ``group(...).apply_async()``; the worker is ``celery worker``.

No result backend and ``task_ignore_result``: a no-op job's result is not wanted, and the
Redis transport's defaults are otherwise kept (prefetch multiplier 4, early ack).
"""

from __future__ import annotations

import os
import sys

import redis
from celery import Celery, group

NAME = "celery"
DB = 9
POOL = os.environ.get("BENCH_CELERY_POOL", "threads")
WORKER = (f"celery worker --pool {POOL} --concurrency 10 --without-gossip --without-mingle "
          "--without-heartbeat (1 process)")
app = Celery("bench", broker=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"))
app.conf.task_ignore_result = True


@app.task
def noop(n: int) -> None:
    """The job."""


def setup(url: str) -> None:
    """The app reads ``BENCH_REDIS_URL`` at import, which the runner sets."""


def enqueue_single(n: int) -> None:
    for i in range(n):
        noop.delay(i)


def enqueue_bulk(n: int) -> None:
    # A group sends its n task messages through one producer; chunks would change the jobs.
    group(noop.s(i) for i in range(n)).apply_async()


fill = enqueue_bulk


def worker_command(url: str) -> tuple[list[str], dict[str, str]]:
    exe = os.path.join(os.path.dirname(sys.executable), "celery")
    return [exe, "-A", "bench.peers.celery_peer", "worker", "--pool", POOL, "--concurrency",
            "10", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
            "--without-heartbeat"], {"BENCH_REDIS_URL": url}


def remaining(r: redis.Redis, n: int) -> int:
    # Waiting in the list, or delivered and not yet acknowledged (early ack: at most the
    # prefetch of 40 no-op tasks are still running when this reads 0).
    return int(r.llen("celery")) + int(r.hlen("unacked"))
