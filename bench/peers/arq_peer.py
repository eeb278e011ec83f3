"""arq: ``ArqRedis.enqueue_job``; no bulk API; the worker is arq's ``Worker`` in one process.

arq pins redis<6, so its side runs on its own environment's python (``BENCH_ARQ_PYTHON``,
default /tmp/jobkit-bench-arq/bin/python; see bench/README.md). Run as
``python -m bench.peers.arq_peer`` it is the worker: ``arq.run_worker`` with the default
settings (max_jobs=10), logging at WARNING like the other workers (the ``arq`` command logs
every job at INFO).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import redis

NAME = "arq"
DB = 8
WORKER = "arq Worker via arq.run_worker (1 process, asyncio, max_jobs=10, poll_delay=0.05)"
PYTHON = os.environ.get("BENCH_ARQ_PYTHON", "/tmp/jobkit-bench-arq/bin/python")
enqueue_bulk = None
_url = ""


async def noop(ctx: dict[str, Any], n: int) -> None:
    """The job."""


def setup(url: str) -> None:
    global _url
    _url = url


async def _enqueue(n: int) -> None:
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(_url))
    try:
        for i in range(n):
            await pool.enqueue_job("noop", i)
    finally:
        await pool.aclose()


def enqueue_single(n: int) -> None:
    # Includes opening the pool (one connection): arq's client is async-only.
    asyncio.run(_enqueue(n))


fill = enqueue_single


def worker_command(url: str) -> tuple[list[str], dict[str, str]]:
    return [PYTHON, "-m", "bench.peers.arq_peer"], {"BENCH_REDIS_URL": url}


def remaining(r: redis.Redis, n: int) -> int:
    # A job leaves the arq:queue sorted set when it finishes.
    return int(r.zcard("arq:queue"))


if __name__ == "__main__":
    from arq import run_worker
    from arq.connections import RedisSettings

    class WorkerSettings:
        functions = [noop]
        redis_settings = RedisSettings.from_dsn(os.environ["BENCH_REDIS_URL"])
        # arq sleeps poll_delay (default 0.5 s) between fetches of up to max_jobs jobs, which
        # caps it far below its speed with a full queue; 0.05 s is its best setting here.
        poll_delay = 0.05

    logging.basicConfig(level=logging.WARNING)
    run_worker(WorkerSettings)  # type: ignore[arg-type]
