"""taskiq with taskiq-redis's ``ListQueueBroker``: ``task.kiq``; no bulk enqueue; the worker is
``taskiq worker`` (1 process, ``--max-async-tasks`` set to the workload's concurrency)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import redis
from taskiq_redis import ListQueueBroker

from bench import bodies

NAME = "taskiq"
DB = 13
WORKER = "taskiq worker --workers 1 --max-async-tasks C (ListQueueBroker, 1 process)"
JOBS = {"noop": 5_000, "async-redis-call": 5_000, "async-io-10ms": 20_000}
enqueue_bulk = None
broker = ListQueueBroker(url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))


@broker.task
async def noop(n: int) -> None:
    """The job."""


@broker.task
async def redis_call(n: int) -> None:
    await bodies.aredis_call()


@broker.task
async def io_10ms(n: int) -> None:
    await bodies.aio_10ms()


@broker.task
async def probe(enqueued_at: float) -> None:
    await bodies.aprobe(enqueued_at)


TASKS: dict[str, Any] = {"noop": noop, "async-redis-call": redis_call,
                         "async-io-10ms": io_10ms}


def setup(url: str) -> None:
    """The broker reads ``BENCH_REDIS_URL`` at import, which the runner sets."""


async def _enqueue(task: Any, n: int) -> None:
    await broker.startup()
    try:
        for start in range(0, n, 500):
            await asyncio.gather(*(task.kiq(i) for i in range(start, min(n, start + 500))))
    finally:
        await broker.shutdown()


def enqueue_single(n: int) -> None:
    asyncio.run(_enqueue(noop, n))


def fill(workload: str, n: int) -> None:
    asyncio.run(_enqueue(TASKS[workload], n))


_loop: asyncio.AbstractEventLoop | None = None


def enqueue_probe(enqueued_at: float) -> None:
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
        _loop.run_until_complete(broker.startup())
    _loop.run_until_complete(probe.kiq(enqueued_at))


def worker_command(url: str, workload: str = "noop") -> tuple[list[str], dict[str, str]]:
    from bench.workloads import WORKLOADS

    exe = os.path.join(os.path.dirname(sys.executable), "taskiq")
    return [exe, "worker", "bench.peers.taskiq_peer:broker", "--workers", "1",
            "--max-async-tasks", str(WORKLOADS[workload].concurrency),
            "--log-level", "WARNING"], {"BENCH_REDIS_URL": url}


def remaining(r: redis.Redis, n: int, workload: str = "noop") -> int:
    # Taken from the list when a task starts (at most C in flight when this reads 0).
    return int(r.llen("taskiq"))
