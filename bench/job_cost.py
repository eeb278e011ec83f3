"""The processor's own instructions per job, in-process: decode, middleware chain, perform,
outcome; no exchanger, no fetch. Run under callgrind twice and subtract, so start-up cancels:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/job_cost.py sync 500
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/job_cost.py sync 2000

(Ir(2000) - Ir(500)) / 1500 is the cost of one job. ``worker-sync`` / ``worker-async`` drain
that many jobs, pushed beforehand, through a whole worker (fetch, exchanger, executors,
acknowledgement) started in this process: its redis database is flushed first.
``sync-redis`` and ``async-redis`` jobs make one INCR each (the redis-call workloads), the
others nothing. ``async`` runs coroutine jobs through ``Processor.arun`` on one event loop,
one task per job as the loop executor does.
"""

from __future__ import annotations

import asyncio
import sys
import time

import redis
import redis.asyncio as aredis

from jobkit import Job
from jobkit import payload as pl
from jobkit.keys import Keys
from jobkit.middleware.logging import JobLogger
from jobkit.processor import Processor
from jobkit.settings import Settings
from jobkit.worker import Worker
from jobkit.worker_options import WorkerOptions


class NoopJob(Job):
    """A plain job that does nothing."""

    def perform(self, n: int) -> None:
        pass


class AsyncNoopJob(Job):
    """A coroutine job that does nothing."""

    async def perform(self, n: int) -> None:
        pass


class RedisCallJob(Job):
    """One INCR on the job's own connection (bench/throughput.py's redis-call body)."""

    url = ""
    connection: redis.Redis | None = None

    def perform(self, n: int) -> None:
        if self.connection is None:
            RedisCallJob.connection = redis.Redis.from_url(self.url)
        self.connection.incr("job-cost")  # type: ignore[union-attr]


class AsyncRedisCallJob(Job):
    """One INCR on the job's own ``redis.asyncio`` connection."""

    connection: aredis.Redis | None = None

    async def perform(self, n: int) -> None:
        # Made on first use, on the loop that runs the jobs.
        if self.connection is None:
            AsyncRedisCallJob.connection = aredis.Redis.from_url(RedisCallJob.url)
        await self.connection.incr("job-cost")  # type: ignore[union-attr]


#: mode -> (job class, coroutine job?)
MODES: dict[str, type[Job]] = {
    "sync": NoopJob, "async": AsyncNoopJob,
    "sync-redis": RedisCallJob, "async-redis": AsyncRedisCallJob,
}


def payloads(job: type[Job], count: int) -> list[bytes]:
    # One encoded payload with a distinct jid per job: building each is not the cost measured.
    now = time.time()
    template = pl.encode(pl.build(job.name, [1], queue="default", retry=True, now=now,
                                  jid="0" * 24, extra={"enqueued_at": now}))
    return [template.replace(b"0" * 24, b"%024x" % i) for i in range(count)]


def drain_worker(job: type[Job], count: int, settings: Settings) -> None:
    """Push ``count`` jobs, then run a worker until it has processed them all."""
    connection = redis.Redis.from_url(settings.redis_url)
    connection.flushdb()
    raws = payloads(job, count)
    queue = Keys(settings.namespace).queue("default")
    for start in range(0, count, 1000):
        connection.lpush(queue, *raws[start : start + 1000])
    worker = Worker(settings, WorkerOptions())
    worker.start()
    # Polled, not awaited: the worker has no completion hook, and a poll every 50 ms costs
    # the same few instructions per second in both runs, not per job.
    while worker.processed < count:
        time.sleep(0.05)
    worker.stop()
    assert worker.failed == 0, worker.failed


def main() -> None:
    mode, count = sys.argv[1], int(sys.argv[2])
    url = sys.argv[3] if len(sys.argv) > 3 else "redis://127.0.0.1:6379/0"
    settings = Settings(redis_url=url)
    RedisCallJob.url = url
    if mode.startswith("worker-"):
        drain_worker(MODES[mode.removeprefix("worker-")], count, settings)
        return
    # The worker's default chain: JobLogger, with the jobkit.job logger at WARNING.
    processor = Processor(settings, redis.Redis.from_url(url), middleware=(JobLogger(),))
    job = MODES[mode]
    if not job.is_coroutine():
        process = processor.process
        for raw in payloads(job, count):
            outcome = process(raw, "default")
            assert outcome.status == "done", outcome
    else:
        raws = payloads(job, count)

        async def one(raw: bytes) -> None:
            loaded = processor.load(raw, "default")
            assert isinstance(loaded, tuple), loaded
            outcome = await processor.arun(raw, "default", *loaded)
            assert outcome.status == "done", outcome

        async def drain() -> None:
            for raw in raws:
                await asyncio.get_running_loop().create_task(one(raw))

        asyncio.run(drain())


if __name__ == "__main__":
    main()
