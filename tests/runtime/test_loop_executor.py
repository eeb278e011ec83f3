"""The worker's event-loop executor: coroutine jobs run on one loop beside the threads, up
to ``async_concurrency`` at once; plain jobs still go to the threads; the class routing."""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
import time
from collections.abc import Callable
from typing import cast

import pytest

import jobkit
from jobkit.cli import build_parser
from jobkit.errors import ConfigError
from jobkit.exchanger import Exchanger
from jobkit.fetch import Fetcher
from jobkit.keys import Keys
from jobkit.loop_executor import LoopExecutor, busy_of, is_coroutine_job
from jobkit.processor import Outcome, Processor
from jobkit.work import UnitOfWork

state = {"in_flight": 0, "most": 0, "all_at_once": 0}
threads: set[str] = set()
_lock = threading.Lock()


class Gathering(jobkit.Job):
    """Waits (on the loop) until ``expected`` copies are in flight at once."""

    name = "loop_test.Gathering"

    async def perform(self, expected: int, patience: float = 10.0) -> None:
        state["in_flight"] += 1
        state["most"] = max(state["most"], state["in_flight"])
        threads.add(threading.current_thread().name)
        deadline = time.monotonic() + patience
        while state["in_flight"] < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        if state["in_flight"] >= expected:
            state["all_at_once"] += 1
        await asyncio.sleep(0.01)
        state["in_flight"] -= 1


class PlainJob(jobkit.Job):
    name = "loop_test.Plain"

    def perform(self) -> None:
        with _lock:
            threads.add(threading.current_thread().name)


gate = threading.Event()


class Gated(jobkit.Job):
    """Runs on the loop until the test opens ``gate``."""

    name = "loop_test.Gated"

    async def perform(self, n: int) -> None:
        state["in_flight"] += 1
        state["most"] = max(state["most"], state["in_flight"])
        try:
            while not gate.is_set():
                await asyncio.sleep(0.002)
        finally:
            state["in_flight"] -= 1


tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="none")
seen_tenants: list[str] = []


class SetsTenant(jobkit.Job):
    """Records the context variable it finds, then sets it (and never resets it)."""

    name = "loop_test.SetsTenant"

    async def perform(self, n: int) -> None:
        seen_tenants.append(tenant.get())
        tenant.set(f"tenant-{n}")
        await asyncio.sleep(0)


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def _reset() -> None:
    state.update(in_flight=0, most=0, all_at_once=0)
    threads.clear()
    gate.clear()
    seen_tenants.clear()


def test_coroutine_jobs_run_at_once_far_beyond_the_thread_count(
    real_settings: jobkit.Settings,
) -> None:
    Gathering.perform_bulk([[60]] * 60)
    worker = jobkit.Worker(real_settings, jobkit.WorkerOptions(
        concurrency=1, async_concurrency=60, log_jobs=False))
    worker.start()
    try:
        wait_for(lambda: worker.processed == 60)
    finally:
        worker.stop(timeout=1)
    assert state["all_at_once"] == 60, state
    assert threads == {"jobkit-event-loop"}


def test_async_concurrency_bounds_the_coroutine_jobs_in_flight(
    real_settings: jobkit.Settings,
) -> None:
    # Each waits for 8 at once, which a bound of 4 never allows: they give up after 1 s.
    Gathering.perform_bulk([[8, 1.0]] * 8)
    worker = jobkit.Worker(real_settings, jobkit.WorkerOptions(
        concurrency=2, async_concurrency=4, log_jobs=False))
    worker.start()
    try:
        wait_for(lambda: worker.processed == 8, 40)
    finally:
        worker.stop(timeout=1)
    assert state["most"] == 4, state
    assert state["all_at_once"] == 0


def test_plain_jobs_beside_coroutine_jobs_stay_on_the_threads(
    real_settings: jobkit.Settings,
) -> None:
    Gathering.perform_bulk([[1]] * 5)
    PlainJob.perform_bulk([[]] * 5)
    worker = jobkit.Worker(real_settings, jobkit.WorkerOptions(concurrency=2, log_jobs=False))
    worker.start()
    try:
        wait_for(lambda: worker.processed == 10)
    finally:
        worker.stop(timeout=1)
    assert "jobkit-event-loop" in threads
    assert {t for t in threads if t.startswith("jobkit-executor-")}


def test_jobs_are_routed_by_their_class_field() -> None:
    assert is_coroutine_job(b'{"class":"loop_test.Gathering","args":[1]}')
    assert not is_coroutine_job(b'{"class":"loop_test.Plain","args":[]}')
    assert not is_coroutine_job(b'{"class":"no.such.Job","args":[]}')
    assert not is_coroutine_job(b"not json at all")


@pytest.mark.parametrize("value", [0, -1, True, 1.5])
def test_async_concurrency_must_be_a_positive_integer(value: object) -> None:
    with pytest.raises(ConfigError, match=rf"async_concurrency={value!r} must be an integer"):
        jobkit.WorkerOptions(async_concurrency=value)  # type: ignore[arg-type]


def test_the_worker_command_takes_async_concurrency() -> None:
    args = build_parser().parse_args(["worker", "--async-concurrency", "1000"])
    assert args.async_concurrency == 1000
    assert build_parser().parse_args(["worker"]).async_concurrency == 100


class Inbox:
    """Where the loop executor hands outcomes: the one part of the exchanger it uses."""

    def __init__(self) -> None:
        self.inbox: queue.SimpleQueue[Outcome] = queue.SimpleQueue()

    def take(self, n: int) -> list[Outcome]:
        return [self.inbox.get(timeout=20) for _ in range(n)]


def gated_executor(settings: jobkit.Settings, n: int, *, concurrency: int
                   ) -> tuple[LoopExecutor, Inbox, list[UnitOfWork]]:
    Gated.perform_bulk([[i] for i in range(n)])
    client = jobkit.get_client().redis
    items = Fetcher(client, Keys(settings.namespace), "testhost:1:loop",
                    [("default", 1)]).fetch(n)
    assert len(items) == n
    inbox = Inbox()
    executor = LoopExecutor(Processor(settings, client), cast(Exchanger, inbox), settings,
                            concurrency=concurrency)
    executor.start()
    return executor, inbox, items


def test_jobs_handed_over_one_by_one_into_a_full_loop_all_run_within_the_bound(
    settings: jobkit.Settings,
) -> None:
    executor, inbox, items = gated_executor(settings, 30, concurrency=3)
    try:
        for item in items:
            executor.submit([item])
        wait_for(lambda: state["in_flight"] == 3)
        # The heartbeat sees the three running jobs; the rest wait their turn.
        busy = busy_of(executor)
        assert sorted(raw for _, raw, _ in busy.values()) == sorted(raw for _, raw in items[:3])
        assert {queue_name for queue_name, _, _ in busy.values()} == {"default"}
        assert len(executor.ready) == 27
        gate.set()
        outcomes = inbox.take(30)
    finally:
        executor.stop(time.monotonic() + 5)
    assert sorted(o.raw for o in outcomes) == sorted(raw for _, raw in items)
    assert {o.status for o in outcomes} == {"done"}
    assert state["most"] == 3
    assert busy_of(executor) == {} and executor.drain() == []


def test_stop_cancels_the_running_jobs_at_the_deadline_and_leaves_the_rest_unstarted(
    settings: jobkit.Settings,
) -> None:
    executor, inbox, items = gated_executor(settings, 5, concurrency=2)
    executor.submit(items)
    wait_for(lambda: state["in_flight"] == 2)
    executor.stop(time.monotonic() + 0.2)
    # The two running ones are abandoned for the worker to requeue (their cancelled
    # outcomes are not handed back); the three others never started.
    assert sorted(executor.abandoned) == sorted(items[:2])
    assert sorted(executor.drain()) == sorted(items[2:])
    assert inbox.inbox.empty() and state["in_flight"] == 0


def test_each_coroutine_job_starts_with_a_clean_context_as_in_a_task_of_its_own(
    settings: jobkit.Settings,
) -> None:
    SetsTenant.perform_bulk([[i] for i in range(6)])
    client = jobkit.get_client().redis
    items = Fetcher(client, Keys(settings.namespace), "testhost:1:loop",
                    [("default", 1)]).fetch(6)
    inbox = Inbox()
    # One slot: each job starts where the one before it ended.
    executor = LoopExecutor(Processor(settings, client), cast(Exchanger, inbox), settings,
                            concurrency=1)
    executor.start()
    try:
        executor.submit(items)
        outcomes = inbox.take(6)
    finally:
        executor.stop(time.monotonic() + 5)
    assert {o.status for o in outcomes} == {"done"}
    assert seen_tenants == ["none"] * 6
