"""arq: ``ArqRedis.enqueue_job``; no bulk API; the worker is arq's ``Worker`` in one process.

arq pins redis<6, so its side runs on its own environment's python (``BENCH_ARQ_PYTHON``,
default /tmp/jobkit-bench-arq/bin/python; see bench/README.md). Run as
``python -m bench.peers.arq_peer`` it is the worker: ``arq.run_worker`` with ``max_jobs`` set to
the workload's concurrency, logging at WARNING like the other workers (the ``arq`` command logs
every job at INFO).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import redis

from bench import bodies

NAME = "arq"
DB = 8
WORKER = "arq Worker via arq.run_worker (1 process, asyncio, max_jobs=C, poll_delay=0.05)"
PYTHON = os.environ.get("BENCH_ARQ_PYTHON", "/tmp/jobkit-bench-arq/bin/python")
JOBS = {"noop": 5_000, "async-redis-call": 5_000, "async-io-10ms": 20_000}
FUNCTIONS = {"noop": "noop", "async-redis-call": "redis_call", "async-io-10ms": "io_10ms"}
enqueue_bulk = None
_url = ""


async def noop(ctx: dict[str, Any], n: int) -> None:
    """The job."""


async def redis_call(ctx: dict[str, Any], n: int) -> None:
    await bodies.aredis_call()


async def io_10ms(ctx: dict[str, Any], n: int) -> None:
    await bodies.aio_10ms()


async def probe(ctx: dict[str, Any], enqueued_at: float) -> None:
    await bodies.aprobe(enqueued_at)


def setup(url: str) -> None:
    global _url
    _url = url


async def _enqueue(function: str, args: list[Any]) -> None:
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(_url))
    try:
        for arg in args:
            await pool.enqueue_job(function, arg)
    finally:
        await pool.aclose()


def enqueue_single(n: int) -> None:
    # Includes opening the pool (one connection): arq's client is async-only.
    asyncio.run(_enqueue("noop", list(range(n))))


def fill(workload: str, n: int) -> None:
    asyncio.run(_enqueue(FUNCTIONS[workload], list(range(n))))


_loop: asyncio.AbstractEventLoop | None = None
_pool: Any = None


def enqueue_probe(enqueued_at: float) -> None:
    global _loop, _pool
    from arq import create_pool
    from arq.connections import RedisSettings

    if _loop is None:
        _loop = asyncio.new_event_loop()
        _pool = _loop.run_until_complete(create_pool(RedisSettings.from_dsn(_url)))
    _loop.run_until_complete(_pool.enqueue_job("probe", enqueued_at))


def worker_command(url: str, workload: str = "noop") -> tuple[list[str], dict[str, str]]:
    from bench.workloads import WORKLOADS

    return [PYTHON, "-m", "bench.peers.arq_peer"], {
        "BENCH_REDIS_URL": url, "BENCH_CONCURRENCY": str(WORKLOADS[workload].concurrency)}


def remaining(r: redis.Redis, n: int, workload: str = "noop") -> int:
    # A job leaves the arq:queue sorted set when it finishes.
    return int(r.zcard("arq:queue"))


if __name__ == "__main__":
    from arq import run_worker
    from arq.connections import RedisSettings

    class WorkerSettings:
        functions = [noop, redis_call, io_10ms, probe]
        redis_settings = RedisSettings.from_dsn(os.environ["BENCH_REDIS_URL"])
        max_jobs = int(os.environ.get("BENCH_CONCURRENCY", "10"))
        # arq sleeps poll_delay (default 0.5 s) between fetches of up to max_jobs jobs, which
        # caps it far below its speed with a full queue; 0.05 s is its best setting here.
        poll_delay = 0.05

    logging.basicConfig(level=logging.WARNING)
    run_worker(WorkerSettings)  # type: ignore[arg-type]
