"""Type-checked only (by tests/runtime/test_packaging.py): the public API as users write it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping

import jobkit


class ProcessOrderJob(jobkit.Job):
    queue = "critical"
    retry = 3

    def perform(self, order_id: int) -> None: ...


class NightlyReportJob(jobkit.Job):
    cron = "0 3 * * *"
    cron_tz = "Europe/Berlin"
    catch_up = "all"

    def perform(self) -> None:
        period_end: dt.datetime | None = self.tick
        print(period_end)


class PingJob(jobkit.Job):
    every = dt.timedelta(seconds=30)

    def perform(self) -> None: ...


@jobkit.job(queue="mailers")
def send_welcome(user_id: int) -> None: ...


class FetchFeedJob(jobkit.Job):
    async def perform(self, url: str) -> None: ...


@jobkit.job(queue="io")
async def refresh(user_id: int) -> None: ...


class AsyncTiming(jobkit.ServerMiddleware):
    async def aperform(
        self, job: jobkit.Job, payload: dict[str, object],
        call_next: Callable[[], Awaitable[None]],
    ) -> None:
        await call_next()


async def use_async() -> None:
    jid: str | None = await FetchFeedJob.aperform_async("https://example.com/feed")
    await FetchFeedJob.set(queue="low").aperform_in(dt.timedelta(seconds=5), "u")
    await refresh.aperform_at(dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc), 1)
    jids: list[str | None] = await refresh.aperform_bulk([[1], [2]])
    await refresh(3)
    client: jobkit.AsyncClient = jobkit.get_async_client()
    await jobkit.aclose()
    print(jid, jids, client.settings, FetchFeedJob.is_coroutine())


class Sink:
    def timing(self, name: str, ms: float, tags: Mapping[str, str]) -> None: ...

    def increment(self, name: str, tags: Mapping[str, str]) -> None: ...


def use() -> None:
    settings: jobkit.Settings = jobkit.configure(
        redis_url="memory://typing", server_middleware=[jobkit.MetricsMiddleware(Sink())]
    )
    jid: str | None = ProcessOrderJob.perform_async(42)
    ProcessOrderJob.perform_in(dt.timedelta(minutes=5), 42)
    ProcessOrderJob.perform_at(dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc), 42)
    jids: list[str | None] = ProcessOrderJob.set(queue="low").perform_bulk([[1], [2]])
    send_welcome.perform_async(1)
    send_welcome(1)
    worker = jobkit.Worker(settings, jobkit.WorkerOptions(queues=(("critical", 3),)))
    outcome: jobkit.Outcome | None = worker.process_one()
    options: jobkit.JobOptions = jobkit.resolve(send_welcome).options()
    jobkit.periodic("sync-eu", ProcessOrderJob, cron="*/5 * * * *", tz="UTC", args=[1])
    jobkit.periodic("ping", PingJob, every=30, catch_up="none")
    from jobkit.api import Admin
    from jobkit.status import JobStatus

    found: JobStatus = Admin(settings).status("abc123")
    print(jid, jids, outcome, options.queue, found.state, found.position)
