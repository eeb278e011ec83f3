"""RQ: ``Queue.enqueue`` / ``Queue.enqueue_many``; the worker is ``rq worker`` with SimpleWorker.

RQ runs one job at a time per worker process (no threads), whatever the workload's
concurrency: its row is one process as for every peer."""

from __future__ import annotations

import os
import sys

import redis

from bench import bodies

NAME = "rq"
DB = 6
WORKER = "rq worker --worker-class rq.worker.SimpleWorker (1 process, 1 job at a time, no fork)"
JOBS = {"noop": 1_000, "redis-call": 1_000, "io-10ms": 300}
_queue = None


def noop(n: int) -> None:
    """The job."""


def redis_call(n: int) -> None:
    bodies.redis_call()


def io_10ms(n: int) -> None:
    bodies.io_10ms()


def probe(enqueued_at: float) -> None:
    bodies.probe(enqueued_at)


FUNCS = {"noop": noop, "redis-call": redis_call, "io-10ms": io_10ms}


def setup(url: str) -> None:
    global _queue
    from rq import Queue

    _queue = Queue("default", connection=redis.Redis.from_url(url))


def enqueue_single(n: int) -> None:
    assert _queue is not None
    for i in range(n):
        _queue.enqueue(noop, i)


def enqueue_bulk(n: int) -> None:
    _bulk(noop, n)


def _bulk(func: object, n: int) -> None:
    from rq import Queue

    assert _queue is not None
    # enqueue_many pipelines the whole batch in one round trip.
    _queue.enqueue_many([Queue.prepare_data(func, (i,)) for i in range(n)])


def fill(workload: str, n: int) -> None:
    _bulk(FUNCS[workload], n)


def enqueue_probe(enqueued_at: float) -> None:
    assert _queue is not None
    _queue.enqueue(probe, enqueued_at)


def worker_command(url: str, workload: str = "noop") -> tuple[list[str], dict[str, str]]:
    rq = os.path.join(os.path.dirname(sys.executable), "rq")
    return [rq, "worker", "--url", url, "--worker-class", "rq.worker.SimpleWorker",
            "--logging_level", "WARNING", "default"], {"BENCH_REDIS_URL": url}


def remaining(r: redis.Redis, n: int, workload: str = "noop") -> int:
    return n - int(r.zcard("rq:finished:default"))
