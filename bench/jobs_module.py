"""The jobs that ``jobkit worker -r bench.jobs_module`` runs in bench/throughput.py.

Each class runs one body of bench/bodies.py. ``name`` is the plain class name, so the
Sidekiq peer (bench/sidekiq_job.rb) runs the very same payloads.
"""

from __future__ import annotations

import asyncio
from typing import Any

import jobkit
from bench import bodies


class NoopJob(jobkit.Job):
    """Does nothing with one int argument: the benchmark measures the runtime, not the job."""

    name = "NoopJob"

    def perform(self, n: int) -> None:
        pass


class RedisCallJob(jobkit.Job):
    name = "RedisCallJob"

    def perform(self, n: int) -> None:
        bodies.redis_call()


class Io10msJob(jobkit.Job):
    name = "Io10msJob"

    def perform(self, n: int) -> None:
        bodies.io_10ms()


class ProbeJob(jobkit.Job):
    name = "ProbeJob"

    def perform(self, enqueued_at: float) -> None:
        bodies.probe(enqueued_at)


#: workload name -> job class; the coroutine ones only where this jobkit runs them.
JOBS: dict[str, Any] = {"noop": NoopJob, "redis-call": RedisCallJob, "io-10ms": Io10msJob,
                        "probe": ProbeJob}
ASYNC_UNSUPPORTED: str | None = None

try:
    class AsyncRedisCallJob(jobkit.Job):
        name = "AsyncRedisCallJob"

        async def perform(self, n: int) -> None:  # type: ignore[override]
            await bodies.aredis_call()

    class AsyncIo10msJob(jobkit.Job):
        name = "AsyncIo10msJob"

        async def perform(self, n: int) -> None:  # type: ignore[override]
            await bodies.aio_10ms()

    class AsyncHoldJob(jobkit.Job):
        """Sleeps ``seconds`` on the event loop: holds a coroutine slot (the RSS probe)."""

        name = "AsyncHoldJob"

        async def perform(self, seconds: float) -> None:  # type: ignore[override]
            await asyncio.sleep(seconds)

    JOBS.update({"async-redis-call": AsyncRedisCallJob, "async-io-10ms": AsyncIo10msJob,
                 "async-hold": AsyncHoldJob})
except jobkit.JobDefinitionError as e:
    ASYNC_UNSUPPORTED = f"this jobkit runs no coroutine jobs ({e})"
