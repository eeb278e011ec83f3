"""The processor's own instructions per job, in-process: decode, middleware chain, perform,
outcome; no exchanger, no fetch. Run under callgrind twice and subtract, so start-up cancels:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/job_cost.py sync 500
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/job_cost.py sync 2000

(Ir(2000) - Ir(500)) / 1500 is the cost of one job. ``sync-redis`` and ``async-redis`` jobs
make one INCR each (the redis-call workloads). ``async`` runs coroutine jobs through
``Processor.arun`` on one event loop, one task per job as the loop executor does. The job
bodies do nothing: the figure is the runtime's own cost.
"""

from __future__ import annotations

import asyncio
import sys
import time

import redis
import redis.asyncio as aredis

from jobkit import Job
from jobkit import payload as pl
from jobkit.middleware.logging import JobLogger
from jobkit.processor import Processor
from jobkit.settings import Settings


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

    connection: redis.Redis | None = None

    def perform(self, n: int) -> None:
        assert self.connection is not None
        self.connection.incr("job-cost")


class AsyncRedisCallJob(Job):
    """One INCR on the job's own ``redis.asyncio`` connection."""

    connection: aredis.Redis | None = None

    async def perform(self, n: int) -> None:
        assert self.connection is not None
        await self.connection.incr("job-cost")


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


def main() -> None:
    mode, count = sys.argv[1], int(sys.argv[2])
    url = sys.argv[3] if len(sys.argv) > 3 else "redis://127.0.0.1:6379/0"
    settings = Settings(redis_url=url)
    # The worker's default chain: JobLogger, with the jobkit.job logger at WARNING.
    processor = Processor(settings, redis.Redis.from_url(url), middleware=(JobLogger(),))
    job = MODES[mode]
    RedisCallJob.connection = redis.Redis.from_url(url)
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
            AsyncRedisCallJob.connection = aredis.Redis.from_url(url)
            for raw in raws:
                await asyncio.get_running_loop().create_task(one(raw))

        asyncio.run(drain())


if __name__ == "__main__":
    main()
