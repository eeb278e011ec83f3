"""The awaitable enqueue API (``await Job.aperform_async(...)`` and friends) on
``redis.asyncio``: the same payloads, checks, middleware and unique locks as the sync one,
one connection pool per event loop — on fakeredis and on the real Redis."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import redis

import jobkit
from jobkit.keys import Keys

from . import coroutine_jobs as cj
from .helpers import Clock

T = TypeVar("T")
VARYING = {"jid", "created_at", "enqueued_at"}


def arun(make: Callable[[], Awaitable[T]]) -> T:
    """Run ``make()`` on a new loop, closing that loop's jobkit pool before it ends."""

    async def main() -> T:
        try:
            return await make()
        finally:
            await jobkit.aclose()

    return asyncio.run(main())


def stable(raw: bytes) -> dict[str, Any]:
    return {k: v for k, v in json.loads(raw).items() if k not in VARYING}


class Report(jobkit.Job):
    name = "aclient_test.Report"
    queue = "reports"
    retry = 4
    tags = ("nightly",)

    def perform(self, account: int, fmt: str = "pdf") -> None: ...


class Unique(jobkit.Job):
    name = "aclient_test.Unique"
    unique = "until_executed"

    async def perform(self, n: int) -> None: ...


@jobkit.job(name="aclient_test.ping", queue="io")
async def ping(host: str) -> None:
    """A function coroutine job."""


def test_aperform_async_writes_what_perform_async_writes(settings: jobkit.Settings,
                                                         r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    sync_jid = Report.perform_async(7, "csv")
    async_jid = arun(lambda: Report.aperform_async(7, "csv"))
    assert sync_jid and async_jid and sync_jid != async_jid
    first, second = r.lrange(keys.queue("reports"), 0, -1)
    assert stable(first) == stable(second)
    assert json.loads(first)["jid"] == async_jid
    assert r.smembers(keys.queues) == {b"reports"}


def test_set_and_function_jobs_have_awaitable_variants(settings: jobkit.Settings,
                                                       r: redis.Redis) -> None:
    keys = Keys(settings.namespace)

    async def main() -> None:
        await Report.set(queue="low", retry=1).aperform_async(1)
        await ping.aperform_async("db-1")
        await ping.set(queue="urgent").aperform_async("db-2")

    arun(main)
    (low,) = r.lrange(keys.queue("low"), 0, -1)
    assert json.loads(low)["retry"] == 1
    assert json.loads(r.lrange(keys.queue("io"), 0, -1)[0])["args"] == ["db-1"]
    assert json.loads(r.lrange(keys.queue("urgent"), 0, -1)[0])["class"] == "aclient_test.ping"


def test_aperform_in_and_at_schedule_by_the_settings_clock(settings: jobkit.Settings,
                                                           r: redis.Redis) -> None:
    clock = Clock()
    s = jobkit.configure(settings.replace(clock=clock))
    keys = Keys(s.namespace)

    async def main() -> list[str | None]:
        return [await Report.aperform_in(90, 1), await Report.aperform_at(clock.now + 600, 2),
                await ping.aperform_in(0, "now")]

    jids = arun(main)
    scheduled = r.zrange(keys.schedule, 0, -1, withscores=True)
    assert [(json.loads(m)["jid"], score) for m, score in scheduled] == [
        (jids[0], clock.now + 90), (jids[1], clock.now + 600)]
    # Due already: pushed onto the queue, as perform_in(0) does.
    assert json.loads(r.lrange(keys.queue("io"), 0, -1)[0])["jid"] == jids[2]


def test_aperform_bulk_keeps_order_and_batches(settings: jobkit.Settings, r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    jids = arun(lambda: Report.aperform_bulk([[i] for i in range(25)], batch_size=10))
    assert len(jids) == 25 and all(jids)
    queued = [json.loads(m) for m in reversed(r.lrange(keys.queue("reports"), 0, -1))]
    assert [q["args"] for q in queued] == [[i] for i in range(25)]
    assert [q["jid"] for q in queued] == jids


@pytest.mark.parametrize(("call", "message"), [
    (lambda: Report.aperform_async(), r"takes 1 to 2 argument\(s\) but 0 were given"),
    (lambda: Report.aperform_async(1, account=2), "keyword arguments are not supported"),
    (lambda: Report.aperform_async(object()), r"args\[0\]=<object"),  # noqa: JK102
    (lambda: Report.aperform_bulk([[1], 2]), r"args_list\[1\]=2 must be a list"),
    (lambda: Report.aperform_bulk([[1]], batch_size=0), "batch_size=0 must be a positive"),
    (lambda: Report.aperform_in("soon", 1), "soon"),
])
def test_bad_arguments_raise_the_sync_apis_errors(
    settings: jobkit.Settings, r: redis.Redis, call: Callable[[], Awaitable[Any]], message: str
) -> None:
    with pytest.raises((jobkit.ArgumentError, jobkit.ScheduleError), match=message):
        arun(call)
    assert not list(r.scan_iter(match=f"{settings.namespace}:*"))


def test_unique_locks_use_the_same_script_for_both_clients(settings: jobkit.Settings,
                                                           r: redis.Redis) -> None:
    keys = Keys(settings.namespace)

    async def main() -> list[Any]:
        return [await Unique.aperform_async(1), await Unique.aperform_async(1),
                Unique.perform_async(1), await Unique.aperform_bulk([[1], [2], [2]])]

    first, again, sync_again, bulk = arun(main)
    assert first and again is None and sync_again is None
    assert bulk[0] is None and bulk[1] and bulk[2] is None
    assert int(r.get(keys.unique_rejected) or 0) == 4
    assert r.llen(keys.queue("default")) == 2


class Stamp(jobkit.ClientMiddleware):
    def __init__(self) -> None:
        self.pushed: list[str] = []

    def enqueue(self, payload: dict[str, Any],
                call_next: Callable[[dict[str, Any]], dict[str, Any] | None]
                ) -> dict[str, Any] | None:
        if payload["args"] == [13]:
            return None
        payload["stamped"] = True
        return call_next(payload)

    def after_push(self, payload: dict[str, Any]) -> None:
        self.pushed.append(payload["jid"])


def test_sync_client_middleware_runs_as_is(settings: jobkit.Settings, r: redis.Redis) -> None:
    stamp = Stamp()
    s = jobkit.configure(settings.replace(client_middleware=[stamp]))

    async def main() -> list[Any]:
        return [await Report.aperform_async(1), await Report.aperform_async(13),
                await Report.aperform_bulk([[2], [13], [3]])]

    one, dropped, bulk = arun(main)
    assert dropped is None and bulk[1] is None
    assert stamp.pushed == [one, bulk[0], bulk[2]]
    queued = r.lrange(Keys(s.namespace).queue("reports"), 0, -1)
    assert len(queued) == 3 and all(json.loads(m)["stamped"] for m in queued)


def test_each_event_loop_gets_its_own_pool(settings: jobkit.Settings, r: redis.Redis) -> None:
    seen: list[jobkit.AsyncClient] = []

    async def enqueue(n: int) -> None:
        await Report.aperform_async(n)
        seen.append(jobkit.get_async_client())

    # Two loops one after the other, then two at once in two threads.
    arun(lambda: enqueue(1))
    arun(lambda: enqueue(2))
    threads = [threading.Thread(target=arun, args=(lambda n=n: enqueue(n),)) for n in (3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in seen}) == 4
    assert r.llen(Keys(settings.namespace).queue("reports")) == 4


def test_new_settings_get_a_new_client_and_the_old_pool_is_closed(
    real_settings: jobkit.Settings
) -> None:
    async def main() -> tuple[jobkit.AsyncClient, jobkit.AsyncClient]:
        await Report.aperform_async(1)
        old = jobkit.get_async_client()
        jobkit.configure(real_settings.replace(namespace=real_settings.namespace + "-b"))
        await Report.aperform_async(2)
        new = jobkit.get_async_client()
        await asyncio.sleep(0.05)  # the old pool closes in the background
        return old, new

    try:
        old, new = arun(main)
    finally:
        jobkit.configure(real_settings)
    assert old is not new and new.settings.namespace.endswith("-b")
    pool: Any = old.redis.connection_pool
    assert not any(c.is_connected for c in pool._available_connections)
    gc.collect()


def test_enqueued_from_async_code_and_run_by_the_worker(settings: jobkit.Settings) -> None:
    arun(lambda: cj.Fetch.aperform_async("https://x.example", 3))
    worker = jobkit.Worker(settings, jobkit.WorkerOptions(log_jobs=False))
    outcome = worker.process_one()
    assert outcome is not None and outcome.status == "done"
    assert cj.events[-1] == ("fetch", "https://x.example", 3, True)


def test_get_async_client_outside_a_loop_says_why() -> None:
    with pytest.raises(RuntimeError, match="no running event loop"):
        jobkit.get_async_client()


def test_the_pool_closes_with_its_loop_without_aclose(real_settings: jobkit.Settings) -> None:
    # On the real Redis: the embedded fakeredis has no sockets to leak.
    clients: list[jobkit.AsyncClient] = []

    async def main() -> None:
        await Report.aperform_async(1)
        clients.append(jobkit.get_async_client())

    asyncio.run(main())  # no jobkit.aclose(): asyncio.run's shutdown closes it
    gc.collect()
    pool: Any = clients[0].redis.connection_pool
    assert pool._available_connections
    assert not any(c.is_connected for c in pool._available_connections)
