"""The workloads of bench/throughput.py: which job body, how many in flight, how to count."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Workload:
    """One job body run by every peer that can run it.

    ``concurrency`` is the threads (or coroutines, for ``coroutine`` workloads) each peer's
    worker process runs at once; ``counted`` workloads are drained when the body's own
    ``INCR bench:calls`` reaches the job count, which is exact for every peer."""

    name: str
    body: str
    concurrency: int
    coroutine: bool = False
    counted: bool = False


WORKLOADS = {
    w.name: w
    for w in (
        Workload("noop", "noop", 10),
        Workload("redis-call", "redis_call", 10, counted=True),
        Workload("io-10ms", "io_10ms", 100),
        Workload("async-redis-call", "aredis_call", 100, coroutine=True, counted=True),
        Workload("async-io-10ms", "aio_10ms", 1000, coroutine=True),
    )
}


def jobs_for(rate: float, seconds: float = 3.0, minimum: int = 500) -> int:
    """Jobs for a run of about ``seconds`` at ``rate`` jobs/s (rounded to a thousand)."""
    return max(minimum, int(rate * seconds) // 1000 * 1000)
