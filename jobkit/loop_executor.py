"""The event-loop executor: one thread running an asyncio loop with up to
``--async-concurrency`` coroutine jobs in flight, beside the executor threads.

The exchanger routes each fetched job by its class (:func:`is_coroutine_job`); a job routed
wrongly still runs correctly (``Processor.aprocess`` runs a plain job in a thread, and
``Processor.process`` a coroutine job on the thread's own loop), only slower. Outcomes go back
through the exchanger's inbox exactly as the threads' do, so retries, discards, unique locks,
death handlers and the reliable-fetch acknowledgement are the same code path. At shutdown
the jobs still running when ``--timeout`` is over are cancelled: ``aprocess`` turns that into
a requeue outcome, written like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue as queue_mod
import threading
import time
from typing import Any

import redis

from . import registry
from .errors import PayloadError
from .exchanger import Exchanger
from .processor import Outcome, Processor, invalid_payload
from .settings import Settings
from .threads import thread
from .work import UnitOfWork

log = logging.getLogger("jobkit.worker")

_CLASS = b'"class":"'
_kinds: dict[bytes, bool] = {}


def is_coroutine_job(raw: bytes) -> bool:
    """Whether ``raw`` names a registered coroutine job class, from its ``"class"`` field
    alone (no JSON decode: the processor decodes it anyway). False when in doubt."""
    start = raw.find(_CLASS)
    if start < 0:
        return False
    start += len(_CLASS)
    end = raw.find(b'"', start)
    name = raw[start:end]
    kind = _kinds.get(name)
    if kind is None:
        try:
            job = registry.lookup(name.decode())
        except UnicodeDecodeError:
            job = None
        kind = bool(job is not None and job.is_coroutine())
        if job is not None:  # an unknown name may be registered later
            _kinds[name] = kind
    return kind


def any_coroutine_jobs() -> bool:
    """Whether this process registered any coroutine job class."""
    return any(job.is_coroutine() for job in registry.registered().values())


class LoopExecutor:
    """Runs coroutine jobs on an event loop of its own thread; see the module docstring."""

    def __init__(self, processor: Processor, exchanger: Exchanger, settings: Settings, *,
                 concurrency: int) -> None:
        self.processor = processor
        self.exchanger = exchanger
        self.settings = settings
        self.concurrency = concurrency
        #: Jobs routed here, not yet started (the exchanger puts, the loop takes).
        self.ready: queue_mod.SimpleQueue[UnitOfWork] = queue_mod.SimpleQueue()
        #: Task name → (queue, raw payload, started at), for the heartbeat.
        self.busy: dict[str, tuple[str, bytes, float]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._started = threading.Event()
        self._stopping = False
        self._deadline = 0.0
        self._tasks: dict[asyncio.Task[None], UnitOfWork] = {}
        #: Jobs still running at the shutdown deadline: cancelled, and requeued to the front
        #: of their queues by the worker, as the threads' are.
        self.abandoned: list[UnitOfWork] = []
        self._thread = thread(self._run, "event-loop")

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def submit(self, items: list[UnitOfWork]) -> None:
        """From the exchanger's thread: queue ``items`` and wake the loop once for all."""
        put = self.ready.put
        for item in items:
            put(item)
        self._poke()

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            # RuntimeError: the loop has closed; stop() requeues what is left.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    def stop(self, deadline: float) -> None:
        """Take no more jobs; let running ones finish until ``deadline`` (monotonic), then
        cancel them (each becomes a requeue outcome) and end the loop."""
        self._deadline = deadline
        self._stopping = True
        self._poke()
        self._thread.join(max(0.0, deadline - time.monotonic()) + 10.0)

    def drain(self) -> list[UnitOfWork]:
        """After :meth:`stop`: the jobs routed here that never started."""
        items = []
        while True:
            try:
                items.append(self.ready.get_nowait())
            except queue_mod.Empty:
                return items

    # -- the loop's thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:
            log.exception("the event loop executor failed")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._started.set()
        slots = asyncio.Semaphore(self.concurrency)
        get = self.ready.get_nowait
        while not self._stopping:
            try:
                work = get()
            except queue_mod.Empty:
                self._wake.clear()
                if self.ready.empty() and not self._stopping:
                    await self._wake.wait()
                continue
            await slots.acquire()
            if self._stopping:
                slots.release()
                self.ready.put(work)  # for stop() to requeue
                break
            task = asyncio.create_task(self._one(work, slots))
            self._tasks[task] = work
            task.add_done_callback(self._forget)
        await self._finish()
        await self.processor.aclose()

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)

    async def _finish(self) -> None:
        running = set(self._tasks)
        if not running:
            return
        timeout = max(0.0, self._deadline - time.monotonic())
        _, late = await asyncio.wait(running, timeout=timeout)
        if late:
            log.warning("shutdown timeout: cancelling %d coroutine job(s) to requeue them",
                        len(late))
            # Before cancelling: their cancelled outcomes are dropped, not written.
            self.abandoned = [self._tasks[task] for task in late if task in self._tasks]
            for task in late:
                task.cancel()
            await asyncio.wait(late, timeout=10.0)

    async def _one(self, work: UnitOfWork, slots: asyncio.Semaphore) -> None:
        queue, raw = work
        name = f"loop-{id(work):x}"
        self.busy[name] = (queue, raw, time.time())
        try:
            while True:
                try:
                    outcome = await self.processor.aprocess(raw, queue)
                    break
                except redis.RedisError as e:
                    # A unique-lock call failed before the job ran: try it again later.
                    log.warning("redis error before running a job, will retry it: %s", e)
                    if self._stopping:
                        self.ready.put(work)
                        return
                    await asyncio.sleep(1.0)
                except Exception as e:
                    log.exception("internal error processing a job from %r", queue)
                    error = PayloadError(f"internal error while processing the job: {e!r}")
                    outcome = Outcome(raw, queue, "invalid",
                                      invalid_payload(raw, queue, error, self.settings.clock()),
                                      exc=error)
                    break
            if not (outcome.status == "requeue" and work in self.abandoned):
                self.exchanger.inbox.put(outcome)
        finally:
            self.busy.pop(name, None)
            slots.release()


def busy_of(*executors: Any) -> dict[str, tuple[str, bytes, float]]:
    """Every executor's running jobs, for the heartbeat."""
    busy: dict[str, tuple[str, bytes, float]] = {}
    for executor in executors:
        busy.update(executor.busy)
    return busy
