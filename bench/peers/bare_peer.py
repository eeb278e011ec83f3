"""The ceiling for processing: the job body alone, in a plain loop, at the workload's
concurrency (threads, or coroutines on one event loop), in one process. No queue at all."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from bench import bodies

NAME = "bare loop"
DB = 14
WORKER = "the body in a loop: C threads, or C coroutines on one asyncio loop (1 process)"
JOBS = {"redis-call": 20_000, "io-10ms": 30_000, "async-redis-call": 30_000,
        "async-io-10ms": 100_000}


def setup(url: str) -> None:
    """Nothing: the bodies read ``BENCH_REDIS_URL``."""


def run(workload: str, n: int) -> None:
    """Run ``n`` bodies of ``workload`` at its concurrency; returns when all are done."""
    from bench.workloads import WORKLOADS

    w = WORKLOADS[workload]
    body: Any = getattr(bodies, w.body)
    if w.coroutine:
        asyncio.run(_gather(body, n, w.concurrency))
        return
    counts = [n // w.concurrency + (i < n % w.concurrency) for i in range(w.concurrency)]

    def loop(count: int) -> None:
        for _ in range(count):
            body()

    threads = [threading.Thread(target=loop, args=(c,)) for c in counts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


async def _gather(body: Any, n: int, concurrency: int) -> None:
    left = n

    async def loop() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await body()

    await asyncio.gather(*(loop() for _ in range(concurrency)))
