"""huey: calling the task enqueues it; no bulk API; the worker is ``huey_consumer -k thread``."""

from __future__ import annotations

import os
import sys

import redis
from huey import RedisHuey

NAME = "huey"
DB = 10
WORKER = "huey_consumer -k thread -w 10 (1 process, 10 worker threads)"
enqueue_bulk = None
huey = RedisHuey("bench", url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"))


@huey.task()
def noop(n: int) -> None:
    """The job."""


def setup(url: str) -> None:
    """The huey instance reads ``BENCH_REDIS_URL`` at import, which the runner sets."""


def enqueue_single(n: int) -> None:
    for i in range(n):
        noop(i)


fill = enqueue_single


def worker_command(url: str) -> tuple[list[str], dict[str, str]]:
    exe = os.path.join(os.path.dirname(sys.executable), "huey_consumer")
    return [exe, "bench.peers.huey_peer.huey", "-k", "thread", "-w", "10", "-q"], {
        "BENCH_REDIS_URL": url}


def remaining(r: redis.Redis, n: int) -> int:
    # Dequeued tasks run at once (at most 10 in flight, one per thread, when this reads 0).
    return int(r.llen("huey.redis.bench"))
