"""huey: calling the task enqueues it; no bulk API; the worker is ``huey_consumer -k thread``."""

from __future__ import annotations

import os
import sys

import redis
from huey import RedisHuey

from bench import bodies

NAME = "huey"
DB = 10
WORKER = "huey_consumer -k thread -w C (1 process, C worker threads)"
JOBS = {"noop": 10_000, "redis-call": 5_000, "io-10ms": 10_000}
enqueue_bulk = None
huey = RedisHuey("bench", url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"))


@huey.task()
def noop(n: int) -> None:
    """The job."""


@huey.task()
def redis_call(n: int) -> None:
    bodies.redis_call()


@huey.task()
def io_10ms(n: int) -> None:
    bodies.io_10ms()


@huey.task()
def probe(enqueued_at: float) -> None:
    bodies.probe(enqueued_at)


TASKS = {"noop": noop, "redis-call": redis_call, "io-10ms": io_10ms}


def setup(url: str) -> None:
    """The huey instance reads ``BENCH_REDIS_URL`` at import, which the runner sets."""


def enqueue_single(n: int) -> None:
    for i in range(n):
        noop(i)


def fill(workload: str, n: int) -> None:
    task = TASKS[workload]
    for i in range(n):
        task(i)


def enqueue_probe(enqueued_at: float) -> None:
    probe(enqueued_at)


def worker_command(url: str, workload: str = "noop") -> tuple[list[str], dict[str, str]]:
    from bench.workloads import WORKLOADS

    exe = os.path.join(os.path.dirname(sys.executable), "huey_consumer")
    return [exe, "bench.peers.huey_peer.huey", "-k", "thread", "-w",
            str(WORKLOADS[workload].concurrency), "-q"], {"BENCH_REDIS_URL": url}


def remaining(r: redis.Redis, n: int, workload: str = "noop") -> int:
    # Dequeued tasks run at once (at most C in flight, one per thread, when this reads 0).
    return int(r.llen("huey.redis.bench"))
