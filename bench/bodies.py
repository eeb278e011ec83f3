"""The job bodies every peer of bench/throughput.py runs, so that each system does the same work.

- ``noop``: nothing (the runtime's own overhead).
- ``redis_call``: one ``INCR bench:calls`` on the job's own connection (one per thread; one per
  event loop for the coroutine version), the shape of a job that makes one network call.
- ``io_10ms``: ``time.sleep(0.01)`` / ``asyncio.sleep(0.01)``, a job waiting on a slow service.
- ``probe``: the latency probe; its first line reads the clock and pushes
  ``now - enqueued_at`` (seconds) onto ``bench:latency``.

The Redis is ``BENCH_REDIS_URL`` (set by the runner for the worker processes)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

import redis

CALLS = "bench:calls"
LATENCY = "bench:latency"
_local = threading.local()
_async_clients: dict[int, Any] = {}


def _client() -> redis.Redis:
    client: redis.Redis | None = getattr(_local, "client", None)
    if client is None:
        client = _local.client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    return client


def _async_client() -> Any:
    import redis.asyncio

    loop = id(asyncio.get_running_loop())
    client = _async_clients.get(loop)
    if client is None:
        client = _async_clients[loop] = redis.asyncio.Redis.from_url(
            os.environ["BENCH_REDIS_URL"])
    return client


def noop() -> None:
    pass


def redis_call() -> None:
    _client().incr(CALLS)


def io_10ms() -> None:
    time.sleep(0.01)


def probe(enqueued_at: float) -> None:
    latency = time.time() - enqueued_at
    _client().rpush(LATENCY, latency)


async def anoop() -> None:
    pass


async def aredis_call() -> None:
    await _async_client().incr(CALLS)


async def aio_10ms() -> None:
    await asyncio.sleep(0.01)


async def aprobe(enqueued_at: float) -> None:
    latency = time.time() - enqueued_at
    await _async_client().rpush(LATENCY, latency)
