"""Coroutine jobs (``async def perform``): run by the threaded worker on its threads' own
loops, and by ``Processor.aprocess`` on one loop many at a time — retries, discards, unique
locks, death handlers, middleware and cancellation as for plain jobs, on fakeredis and on
the real Redis."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import redis

import jobkit
from jobkit import ack
from jobkit.fetch import Fetcher
from jobkit.keys import Keys
from jobkit.processor import Outcome, Processor
from jobkit.unique import digest

from . import coroutine_jobs as cj
from .helpers import Clock, wait_for

IDENTITY = "testhost:1:coro"


@pytest.fixture(autouse=True)
def _clear_events() -> None:
    cj.events.clear()
    cj.started.clear()


def lock_key(settings: jobkit.Settings, job: type[jobkit.Job], *args: Any) -> str:
    return Keys(settings.namespace).unique(digest(job.options(), list(args)))


# -- the threaded worker (process) -------------------------------------------------------


def test_threaded_worker_runs_coroutine_and_plain_jobs_side_by_side(
    settings: jobkit.Settings, r: redis.Redis
) -> None:
    cj.Fetch.perform_async("https://a.example", 2)
    cj.PlainNote.perform_async("p")
    cj.notify.perform_async(5)
    cj.Enqueues.perform_async(1)
    worker = jobkit.Worker(settings, jobkit.WorkerOptions(log_jobs=False, concurrency=3,
                                                          queues=(("default", 1), ("io", 1))))
    worker.start()
    try:
        wait_for(lambda: len(cj.events) == 4)
    finally:
        worker.stop(timeout=2)
    assert sorted(map(repr, cj.events)) == sorted(map(repr, [
        ("fetch", "https://a.example", 2, True), ("plain", "p"), ("notify", 5),
        ("fetch", "child-1", 1, True)]))
    assert worker.processed == 5 and worker.failed == 0
    keys = Keys(settings.namespace)
    assert r.llen(keys.queue("default")) == 0 and r.llen(keys.queue("io")) == 0
    # The worker threads' loops closed their async pools on the way out: no warning.
    gc.collect()


def test_graceful_stop_requeues_a_coroutine_job_still_running(
    settings: jobkit.Settings, r: redis.Redis
) -> None:
    cj.Sleeper.perform_async(1.5)
    worker = jobkit.Worker(settings, jobkit.WorkerOptions(log_jobs=False))
    worker.start()
    assert cj.started.wait(10)
    worker.stop(timeout=0.1)
    keys = Keys(settings.namespace)
    assert [json.loads(m)["class"] for m in r.lrange(keys.queue("default"), 0, -1)] == [
        "coro_test.Sleeper"]
    assert cj.events == []


def process_next(settings: jobkit.Settings, **options: Any) -> Outcome:
    options.setdefault("log_jobs", False)
    worker = jobkit.Worker(settings, jobkit.WorkerOptions(queues=(("default", 1), ("io", 1)),
                                                          **options))
    outcome = worker.process_one()
    assert outcome is not None
    return outcome


def test_failing_coroutine_job_is_retried_with_its_retry_in(settings: jobkit.Settings,
                                                            r: redis.Redis) -> None:
    clock = Clock()
    s = jobkit.configure(settings.replace(clock=clock))
    cj.notify.perform_async(-4)
    outcome = process_next(s)
    assert outcome.status == "retry" and isinstance(outcome.exc, ValueError)
    (member, score), = r.zrange(Keys(s.namespace).retry, 0, -1, withscores=True)
    stored = json.loads(member)
    assert stored["retry_count"] == 0 and stored["error_message"] == "no user -4"
    assert score == clock.now + 7.0


def test_coroutine_job_out_of_retries_dies_and_calls_the_death_handlers(
    settings: jobkit.Settings, r: redis.Redis
) -> None:
    deaths: list[tuple[str, str]] = []
    s = jobkit.configure(settings.replace(
        death_handlers=[lambda job, exc: deaths.append((job["class"], type(exc).__name__))]))
    cj.InnerCancel.perform_async()
    outcome = process_next(s)
    assert outcome.status == "dead"
    assert deaths == [("coro_test.InnerCancel", "CancelledError")]
    assert r.zcard(Keys(s.namespace).dead) == 1


def test_discarded_coroutine_job_releases_its_unique_lock(settings: jobkit.Settings,
                                                          r: redis.Redis) -> None:
    cj.Discarded.perform_async(3)
    assert r.exists(lock_key(settings, cj.Discarded, 3))
    assert process_next(settings).status == "discarded"
    assert not r.exists(lock_key(settings, cj.Discarded, 3))
    assert r.zcard(Keys(settings.namespace).retry) == r.zcard(Keys(settings.namespace).dead) == 0


def test_unique_coroutine_jobs_lock_at_enqueue_and_release_after_running(
    settings: jobkit.Settings, r: redis.Redis
) -> None:
    assert cj.Once.perform_async(1) and cj.Once.perform_async(1) is None
    assert cj.Executing.perform_async(2) and cj.Executing.perform_async(2) is None
    assert process_next(settings).status == "done"
    assert process_next(settings).status == "done"
    assert cj.events == [("once", 1), ("executing", 2)]
    assert not r.exists(lock_key(settings, cj.Once, 1))
    assert not r.exists(lock_key(settings, cj.Executing, 2))


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, float | None]] = []

    def timing(self, name: str, ms: float, tags: Mapping[str, str]) -> None:
        self.events.append(("timing", tags["job"], ms))

    def increment(self, name: str, tags: Mapping[str, str]) -> None:
        self.events.append((name, tags["job"], None))


class SyncOnly(jobkit.ServerMiddleware):
    """A plain middleware written before coroutine jobs existed."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def perform(self, job: jobkit.Job, payload: dict[str, Any],
                call_next: Callable[[], None]) -> None:
        self.seen.append(("before", payload["class"]))
        try:
            call_next()
        finally:
            self.seen.append(("after", payload["class"]))


class AsyncOnly(jobkit.ServerMiddleware):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def aperform(self, job: jobkit.Job, payload: dict[str, Any],
                       call_next: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(0)
        self.seen.append(("before", payload["class"]))
        await call_next()
        self.seen.append(("after", payload["class"]))


class Slow(jobkit.Job):
    name = "coro_test.Slow"

    async def perform(self) -> None:
        await asyncio.sleep(0.05)
        cj.events.append("slow")


def test_sync_and_async_middleware_wrap_both_kinds_of_job(
    settings: jobkit.Settings, caplog: pytest.LogCaptureFixture
) -> None:
    sink, sync_only, async_only = Sink(), SyncOnly(), AsyncOnly()
    s = jobkit.configure(settings.replace(server_middleware=[
        jobkit.MetricsMiddleware(sink), sync_only, async_only]))
    jid = Slow.perform_async()
    cj.PlainNote.perform_async("x")
    with caplog.at_level(logging.INFO, logger="jobkit.job"):
        assert process_next(s, log_jobs=True).status == "done"
        assert process_next(s, log_jobs=True).status == "done"
    assert cj.events == ["slow", ("plain", "x")]
    (timing, name, ms), success, _, success2 = sink.events
    assert (timing, name, success) == ("timing", "coro_test.Slow",
                                       ("jobkit.success", "coro_test.Slow", None))
    assert ms is not None and ms >= 50.0  # the awaited job, not the creation of a coroutine
    assert success2 == ("jobkit.success", "coro_test.PlainNote", None)
    order = [("before", "coro_test.Slow"), ("after", "coro_test.Slow"),
             ("before", "coro_test.PlainNote"), ("after", "coro_test.PlainNote")]
    assert sync_only.seen == order and async_only.seen == order
    assert caplog.messages[0] == f"coro_test.Slow JID-{jid} start"
    assert caplog.messages[1].startswith(f"coro_test.Slow JID-{jid} done: ")
    assert float(caplog.messages[1].split(": ")[1].split()[0]) >= 0.05


def test_a_failing_coroutine_job_is_seen_failing_by_every_middleware(
    settings: jobkit.Settings
) -> None:
    sink, sync_only = Sink(), SyncOnly()
    s = jobkit.configure(settings.replace(server_middleware=[
        jobkit.MetricsMiddleware(sink), sync_only]))
    cj.Flaky.perform_async(1)
    assert process_next(s).status == "retry"
    assert [e[0] for e in sink.events] == ["jobkit.failure", "timing"]
    assert sync_only.seen == [("before", "coro_test.Flaky"), ("after", "coro_test.Flaky")]


def test_process_from_a_thread_already_running_a_loop_uses_a_helper_thread(
    settings: jobkit.Settings
) -> None:
    cj.Fetch.perform_async("u")

    async def inside() -> Outcome:
        return process_next(settings)

    assert asyncio.run(inside()).status == "done"
    assert cj.events == [("fetch", "u", 1, True)]


# -- one event loop, many jobs (aprocess) ------------------------------------------------


class LoopRunner:
    """What an event-loop executor does: fetch, ``aprocess``, acknowledge, notify deaths."""

    def __init__(self, settings: jobkit.Settings, r: redis.Redis,
                 middleware: tuple[jobkit.ServerMiddleware, ...] = ()) -> None:
        self.settings, self.r = settings, r
        self.keys = Keys(settings.namespace)
        self.fetcher = Fetcher(r, self.keys, IDENTITY, [("default", 1), ("io", 1)])
        self.processor = Processor(settings, r, middleware=middleware)

    def fetch(self, n: int) -> list[tuple[str, bytes]]:
        items = self.fetcher.fetch(n)
        assert len(items) == n
        return items

    def write(self, outcomes: list[Outcome]) -> None:
        ack.write(self.r, self.keys, self.settings, IDENTITY, outcomes)
        ack.notify_deaths(self.settings, outcomes)

    async def run_all(self, n: int) -> list[Outcome]:
        items = self.fetch(n)
        try:
            outcomes = list(await asyncio.gather(
                *(self.processor.aprocess(raw, queue) for queue, raw in items)))
        finally:
            await self.processor.aclose()
        self.write(outcomes)
        return outcomes

    def held(self) -> int:
        return len(self.fetcher.held())


def test_aprocess_runs_many_coroutine_jobs_at_once_on_one_loop(
    settings: jobkit.Settings, r: redis.Redis
) -> None:
    in_flight, peak = 0, 0

    class Overlap(jobkit.Job):
        name = "coro_test.Overlap"

        async def perform(self, i: int) -> None:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.02)
            in_flight -= 1

    Overlap.perform_bulk([[i] for i in range(50)])
    cj.PlainNote.perform_async("beside")
    runner = LoopRunner(settings, r)
    outcomes = asyncio.run(runner.run_all(51))
    assert [o.status for o in outcomes] == ["done"] * 51
    assert peak == 50
    assert ("plain", "beside") in cj.events
    assert runner.held() == 0 and r.llen(runner.keys.queue("default")) == 0


def test_aprocess_retries_discards_and_kills_as_process_does(
    settings: jobkit.Settings, r: redis.Redis
) -> None:
    clock = Clock()
    deaths: list[str] = []
    s = jobkit.configure(settings.replace(
        clock=clock, death_handlers=[lambda job, exc: deaths.append(job["class"])]))
    cj.Flaky.perform_async(1)
    cj.Discarded.perform_async(2)
    cj.InnerCancel.perform_async()
    cj.PlainNote.perform_async("p")
    outcomes = asyncio.run(LoopRunner(s, r).run_all(4))
    assert [o.status for o in outcomes] == ["retry", "discarded", "dead", "done"]
    keys = Keys(s.namespace)
    (member, score), = r.zrange(keys.retry, 0, -1, withscores=True)
    assert json.loads(member)["error_message"] == "flaky 1 try None" and score == clock.now + 30
    assert deaths == ["coro_test.InnerCancel"]
    assert not r.exists(lock_key(s, cj.Discarded, 2))


def test_aprocess_unique_locks_behave_as_in_process(settings: jobkit.Settings,
                                                    r: redis.Redis) -> None:
    cj.Once.perform_async(1)
    cj.Executing.perform_async(2)
    cj.Sleeper.perform_async(0.0)
    held = lock_key(settings, cj.Sleeper, 0.0)
    r.set(held, "another-jid")  # a copy already running elsewhere
    outcomes = asyncio.run(LoopRunner(settings, r).run_all(3))
    assert [o.status for o in outcomes] == ["done", "done", "requeue"]
    assert not r.exists(lock_key(settings, cj.Once, 1))
    assert not r.exists(lock_key(settings, cj.Executing, 2))
    assert r.get(held) == b"another-jid"
    assert r.zcard(Keys(settings.namespace).schedule) == 1


def test_aprocess_wraps_coroutine_jobs_in_sync_and_async_middleware(
    settings: jobkit.Settings
) -> None:
    sink, sync_only, async_only = Sink(), SyncOnly(), AsyncOnly()
    r = jobkit.get_client().redis
    Slow.perform_async()
    runner = LoopRunner(settings, r, (jobkit.MetricsMiddleware(sink), sync_only, async_only))
    assert [o.status for o in asyncio.run(runner.run_all(1))] == ["done"]
    assert sync_only.seen == async_only.seen == [("before", "coro_test.Slow"),
                                                 ("after", "coro_test.Slow")]
    (_, _, ms), _ = sink.events
    assert ms is not None and ms >= 50.0


def cancel_after_start(runner: LoopRunner, job: type[jobkit.Job], *args: Any,
                       middleware_thread: bool = False) -> Outcome:
    job.perform_async(*args)
    (queue, raw), = runner.fetch(1)

    async def main() -> Outcome:
        task = asyncio.create_task(runner.processor.aprocess(raw, queue))
        while not cj.started.is_set():
            await asyncio.sleep(0.005)
        task.cancel()
        try:
            return await task
        finally:
            await runner.processor.aclose()

    outcome = asyncio.run(main())
    runner.write([outcome])
    return outcome


@pytest.mark.parametrize("middleware", ["none", "sync-only", "async-only"])
def test_cancelled_coroutine_job_is_requeued_with_its_lock_released(
    settings: jobkit.Settings, r: redis.Redis, middleware: str
) -> None:
    chosen: tuple[jobkit.ServerMiddleware, ...] = {
        "none": (), "sync-only": (SyncOnly(),), "async-only": (AsyncOnly(),)}[middleware]
    deaths: list[object] = []
    s = jobkit.configure(settings.replace(death_handlers=[lambda j, e: deaths.append(j)]))
    runner = LoopRunner(s, r, chosen)
    outcome = cancel_after_start(runner, cj.Sleeper, 30.0)
    assert outcome.status == "requeue" and outcome.extra == {"cancelled": True}
    assert not r.exists(lock_key(s, cj.Sleeper, 30.0))
    (member,) = r.zrange(runner.keys.schedule, 0, -1)
    assert json.loads(member) == json.loads(outcome.raw)  # as fetched: no attempt counted
    assert runner.held() == 0 and deaths == [] and cj.events == []
    assert r.zcard(runner.keys.retry) == r.zcard(runner.keys.dead) == 0


def test_cancelled_until_executed_job_keeps_its_lock(settings: jobkit.Settings,
                                                     r: redis.Redis) -> None:
    class Held(jobkit.Job):
        name = "coro_test.Held"
        unique = "until_executed"

        async def perform(self) -> None:
            cj.started.set()
            await asyncio.sleep(30)

    outcome = cancel_after_start(LoopRunner(settings, r), Held)
    assert outcome.status == "requeue"
    assert r.exists(lock_key(settings, Held))


def test_a_job_swallowing_its_cancellation_is_still_requeued(settings: jobkit.Settings,
                                                             r: redis.Redis) -> None:
    outcome = cancel_after_start(LoopRunner(settings, r), cj.Stubborn)
    assert cj.events == ["swallowed"]
    assert outcome.status == "requeue" and outcome.extra == {"cancelled": True}


def test_aprocess_of_a_bad_payload_is_the_same_invalid_outcome(settings: jobkit.Settings,
                                                               r: redis.Redis) -> None:
    proc = Processor(settings, r)
    raw = b'{"class":"coro_test.Unknown","args":[],"jid":"j1","queue":"default"}'
    outcome = asyncio.run(proc.aprocess(raw, "default"))
    same = proc.process(raw, "default")
    assert outcome.status == same.status == "invalid"
    assert outcome.payload is not None and same.payload is not None
    timeless = {"created_at", "failed_at"}
    assert ({k: v for k, v in outcome.payload.items() if k not in timeless}
            == {k: v for k, v in same.payload.items() if k not in timeless})
    assert "is not registered" in str(outcome.exc)


def test_aprocess_raises_redis_errors_only_before_the_job_ran() -> None:
    s = jobkit.Settings(redis_url="redis://127.0.0.1:1/0", namespace="jkcoro-down")
    down = redis.Redis.from_url(s.redis_url, socket_connect_timeout=0.2)
    proc = Processor(s, down)
    raw = json.dumps({"class": "coro_test.Sleeper", "args": [0.0], "jid": "j2",
                      "queue": "default", "unique": "while_executing",
                      "unique_digest": "d"}).encode()

    async def main() -> None:
        try:
            await proc.aprocess(raw, "default")
        finally:
            await proc.aclose()

    with pytest.raises(redis.ConnectionError):
        asyncio.run(main())
    assert cj.events == [] and not cj.started.is_set()


def test_run_sync_keeps_one_loop_per_thread() -> None:
    from jobkit.coroutines import close_thread_loop, run_sync

    async def loop_id() -> int:
        return id(asyncio.get_running_loop())

    seen: list[int] = []

    def in_thread() -> None:
        seen.extend([run_sync(loop_id), run_sync(loop_id)])
        close_thread_loop()

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    first, second = seen
    assert first == second


# Registered before jobkit is imported, so it runs after jobkit's own exit handler: by then
# the main thread's loop must be closed and its async generators finalized. Time travel first
# patches the clock in C; time-machine before 2.18 crashed when a loop ran during teardown.
EXIT_SCRIPT = """
import atexit, sys
closed = []
atexit.register(lambda: print("finalized at exit" if closed else "still open at exit"))
import time_machine
from jobkit.coroutines import run_sync

async def ticks():
    try:
        yield 1
        yield 2
    finally:
        closed.append(True)

async def first():
    gen = ticks()
    sys.modules["__main__"].gen = gen  # kept alive, suspended, until the loop's shutdown
    return await gen.__anext__()

with time_machine.travel(0):
    pass
print(run_sync(first))
"""


def test_the_main_threads_loop_is_closed_at_exit_before_teardown(tmp_path: Path) -> None:
    script = tmp_path / "exit_script.py"
    script.write_text(EXIT_SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout.split()) == (0, ["1", "finalized", "at", "exit"]), (
        done.stderr)


def test_a_worker_threads_loop_closes_its_async_pool_when_the_thread_ends(
    real_settings: jobkit.Settings
) -> None:
    # On the real Redis: the embedded fakeredis has no sockets to leak.
    from jobkit.coroutines import run_sync

    clients: list[jobkit.AsyncClient] = []

    async def enqueue() -> None:
        await cj.Fetch.aperform_async("from-thread")
        clients.append(jobkit.get_async_client())

    t = threading.Thread(target=run_sync, args=(enqueue,))
    t.start()
    t.join()
    gc.collect()
    pool: Any = clients[0].redis.connection_pool
    assert pool._available_connections and not pool._in_use_connections
    assert not any(c.is_connected for c in pool._available_connections)


def test_an_executor_can_decode_once_and_route_by_job_kind(settings: jobkit.Settings,
                                                           r: redis.Redis) -> None:
    cj.Fetch.perform_async("routed")
    cj.PlainNote.perform_async("threaded")
    runner = LoopRunner(settings, r)
    items = runner.fetch(2)

    async def main() -> list[Outcome]:
        outcomes = []
        for queue, raw in items:
            loaded = runner.processor.load(raw, queue)
            assert not isinstance(loaded, Outcome)
            payload, job = loaded
            if job.is_coroutine():
                outcomes.append(await runner.processor.arun(raw, queue, payload, job))
            else:
                outcomes.append(await asyncio.to_thread(runner.processor.run, raw, queue,
                                                        payload, job))
        await runner.processor.aclose()
        return outcomes

    outcomes = asyncio.run(main())
    runner.write(outcomes)
    assert [o.status for o in outcomes] == ["done", "done"]
    assert cj.events == [("fetch", "routed", 1, True), ("plain", "threaded")]
    assert runner.held() == 0


class Returning(jobkit.ServerMiddleware):
    """An ``aperform`` that is a plain function handing back ``call_next()``'s awaitable."""

    def __init__(self) -> None:
        self.classes: list[str] = []

    def aperform(self, job: jobkit.Job, payload: dict[str, Any],
                 call_next: Callable[[], Awaitable[None]]) -> Awaitable[None]:
        self.classes.append(payload["class"])
        return call_next()


def test_a_plain_aperform_returning_call_next_wraps_coroutine_jobs(
    settings: jobkit.Settings, r: redis.Redis
) -> None:
    returning, async_only = Returning(), AsyncOnly()
    Slow.perform_async()
    cj.Flaky.perform_async(1)
    runner = LoopRunner(settings, r, (returning, async_only))
    outcomes = asyncio.run(runner.run_all(2))
    assert sorted(o.status for o in outcomes) == ["done", "retry"]
    assert sorted(returning.classes) == ["coro_test.Flaky", "coro_test.Slow"]
    # The layer inside still ran around both (its "after" only where the job succeeded).
    assert cj.events == ["slow"]
    assert sorted(async_only.seen) == [("after", "coro_test.Slow"), ("before", "coro_test.Flaky"),
                                       ("before", "coro_test.Slow")]


def test_the_job_logger_logs_coroutine_jobs_on_the_loop_at_info_only(
    settings: jobkit.Settings, r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    jids = [Slow.perform_async(), Slow.perform_async()]
    runner = LoopRunner(settings, r, (jobkit.JobLogger(),))
    with caplog.at_level(logging.WARNING, logger="jobkit.job"):
        assert [o.status for o in asyncio.run(runner.run_all(1))] == ["done"]
    assert caplog.messages == [] and cj.events == ["slow"]
    with caplog.at_level(logging.INFO, logger="jobkit.job"):
        assert [o.status for o in asyncio.run(runner.run_all(1))] == ["done"]
    assert caplog.messages[0] == f"coro_test.Slow JID-{jids[1]} start"
    assert caplog.messages[1].startswith(f"coro_test.Slow JID-{jids[1]} done: ")
