"""SAQ (simple async queue): ``Queue.enqueue``; no bulk enqueue; the worker is ``saq`` with
``concurrency`` set to the workload's, in one process."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import redis

from bench import bodies

NAME = "saq"
DB = 12
WORKER = "saq bench.peers.saq_peer.settings (1 process, asyncio, concurrency=C)"
JOBS = {"noop": 5_000, "async-redis-call": 5_000, "async-io-10ms": 20_000}
FUNCTIONS = {"noop": "noop", "async-redis-call": "redis_call", "async-io-10ms": "io_10ms"}
enqueue_bulk = None
_url = ""


async def noop(ctx: dict[str, Any], *, n: int) -> None:
    """The job."""


async def redis_call(ctx: dict[str, Any], *, n: int) -> None:
    await bodies.aredis_call()


async def io_10ms(ctx: dict[str, Any], *, n: int) -> None:
    await bodies.aio_10ms()


async def probe(ctx: dict[str, Any], *, enqueued_at: float) -> None:
    await bodies.aprobe(enqueued_at)


def _queue(url: str) -> Any:
    import redis.asyncio
    from saq.queue.redis import RedisQueue

    # redis-py's asyncio pool holds 100 connections by default, which SAQ exhausts with 1,000
    # jobs in flight ("Too many connections"); give it room for the workload's concurrency.
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "10"))
    return RedisQueue(redis.asyncio.from_url(url, max_connections=concurrency + 100))


def setup(url: str) -> None:
    global _url
    _url = url


async def _enqueue(function: str, n: int) -> None:
    queue = _queue(_url)
    await queue.connect()
    try:
        for start in range(0, n, 500):
            await asyncio.gather(*(queue.enqueue(function, n=i)
                                   for i in range(start, min(n, start + 500))))
    finally:
        await queue.disconnect()


def enqueue_single(n: int) -> None:
    asyncio.run(_enqueue("noop", n))


def fill(workload: str, n: int) -> None:
    asyncio.run(_enqueue(FUNCTIONS[workload], n))


_loop: asyncio.AbstractEventLoop | None = None
_probe_queue: Any = None


def enqueue_probe(enqueued_at: float) -> None:
    global _loop, _probe_queue
    if _loop is None:
        _loop = asyncio.new_event_loop()
        _probe_queue = _queue(_url)
        _loop.run_until_complete(_probe_queue.connect())
    _loop.run_until_complete(_probe_queue.enqueue("probe", enqueued_at=enqueued_at))


def worker_command(url: str, workload: str = "noop") -> tuple[list[str], dict[str, str]]:
    from bench.workloads import WORKLOADS

    exe = os.path.join(os.path.dirname(sys.executable), "saq")
    return [exe, "bench.peers.saq_peer.settings", "--quiet"], {
        "BENCH_REDIS_URL": url, "BENCH_CONCURRENCY": str(WORKLOADS[workload].concurrency)}


def remaining(r: redis.Redis, n: int, workload: str = "noop") -> int:
    # A job stays in the incomplete sorted set until it is done.
    return int(r.zcard("saq:default:incomplete"))


settings = {
    "queue": _queue(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")),
    "functions": [noop, redis_call, io_10ms, probe],
    "concurrency": int(os.environ.get("BENCH_CONCURRENCY", "10")),
}
