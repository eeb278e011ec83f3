"""RQ: ``Queue.enqueue`` / ``Queue.enqueue_many``; the worker is ``rq worker`` with SimpleWorker."""

from __future__ import annotations

import os
import sys

import redis

NAME = "rq"
DB = 6
WORKER = "rq worker --worker-class rq.worker.SimpleWorker (1 process, jobs in-process, no fork)"
_queue = None


def noop(n: int) -> None:
    """The job."""


def setup(url: str) -> None:
    global _queue
    from rq import Queue

    _queue = Queue("default", connection=redis.Redis.from_url(url))


def enqueue_single(n: int) -> None:
    assert _queue is not None
    for i in range(n):
        _queue.enqueue(noop, i)


def enqueue_bulk(n: int) -> None:
    from rq import Queue

    assert _queue is not None
    # enqueue_many pipelines the whole batch in one round trip.
    _queue.enqueue_many([Queue.prepare_data(noop, (i,)) for i in range(n)])


fill = enqueue_bulk


def worker_command(url: str) -> tuple[list[str], dict[str, str]]:
    rq = os.path.join(os.path.dirname(sys.executable), "rq")
    return [rq, "worker", "--url", url, "--worker-class", "rq.worker.SimpleWorker",
            "--logging_level", "WARNING", "default"], {}


def remaining(r: redis.Redis, n: int) -> int:
    return n - int(r.zcard("rq:finished:default"))
