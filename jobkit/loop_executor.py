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
import collections
import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable
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


class _Running:
    """A job running on the loop: what the heartbeat shows and shutdown requeues."""

    __slots__ = ("started", "task", "work")

    def __init__(self, work: UnitOfWork, started: float) -> None:
        self.work = work
        #: Epoch seconds, for the heartbeat.
        self.started = started
        self.task: asyncio.Task[None] | None = None


class LoopExecutor:
    """Runs coroutine jobs on an event loop of its own thread; see the module docstring."""

    def __init__(self, processor: Processor, exchanger: Exchanger, settings: Settings, *,
                 concurrency: int) -> None:
        self.processor = processor
        self.exchanger = exchanger
        self.settings = settings
        self.concurrency = concurrency
        #: Jobs routed here, not yet started: the exchanger appends, the loop pops (a deque's
        #: ``extend`` and ``popleft`` are atomic, so neither side takes a lock).
        self.ready: collections.deque[UnitOfWork] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        #: The loop's context as it started: every job's task is created in a copy of it.
        self._context = contextvars.Context()
        self._stopped: asyncio.Event | None = None
        self._started = threading.Event()
        self._stopping = False
        # A _fill is scheduled on the loop: later submits need not wake it again.
        self._poked = False
        self._deadline = 0.0
        #: The running jobs by task; their number is the slots in use.
        self._tasks: dict[asyncio.Task[None], _Running] = {}
        #: Jobs still running at the shutdown deadline: cancelled, and requeued to the front
        #: of their queues by the worker, as the threads' are.
        self.abandoned: list[UnitOfWork] = []
        self._thread = thread(self._run, "event-loop")

    @property
    def busy(self) -> dict[str, tuple[str, bytes, float]]:
        """Task name → (queue, raw payload, started at) of each running job, for the
        heartbeat (built when read, a few times a minute, not per job)."""
        return {f"loop-{id(task):x}": (run.work.queue, run.work.raw, run.started)
                for task, run in list(self._tasks.items())}

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def submit(self, items: list[UnitOfWork]) -> None:
        """From the exchanger's thread: queue ``items`` and wake the loop once for all (and
        not at all while a wake-up is still pending)."""
        self.ready.extend(items)
        if not self._poked:
            self._poked = True
            self._call(self._fill)

    def _call(self, callback: Callable[[], None]) -> None:
        loop = self._loop
        if loop is not None:
            # RuntimeError: the loop has closed; stop() requeues what is left.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(callback)

    def stop(self, deadline: float) -> None:
        """Take no more jobs; let running ones finish until ``deadline`` (monotonic), then
        cancel them (each becomes a requeue outcome) and end the loop."""
        self._deadline = deadline
        self._stopping = True
        stopped = self._stopped
        if stopped is not None:
            self._call(stopped.set)
        self._thread.join(max(0.0, deadline - time.monotonic()) + 10.0)

    def drain(self) -> list[UnitOfWork]:
        """After :meth:`stop`: the jobs routed here that never started."""
        items = []
        while True:
            try:
                items.append(self.ready.popleft())
            except IndexError:
                return items

    # -- the loop's thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:
            log.exception("the event loop executor failed")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._context = contextvars.copy_context()
        self._stopped = asyncio.Event()
        self._started.set()
        if self._stopping:  # stop() came before the event existed
            self._stopped.set()
        self._fill()
        await self._stopped.wait()
        await self._finish()
        await self.processor.aclose()

    def _fill(self) -> None:
        """Start jobs from :attr:`ready` while slots are free; a finishing job starts the
        next itself, so this runs only when the exchanger submits."""
        self._poked = False  # first: a submit from now on schedules another fill
        ready = self.ready
        free = self.concurrency - len(self._tasks)
        while free > 0 and ready and not self._stopping:
            self._start(ready.popleft())
            free -= 1

    def _start(self, work: UnitOfWork) -> None:
        run = _Running(work, time.time())
        # In the loop's own context, not in that of the job whose finish starts this one: a
        # task copies the context it is created in, and each job's must be as clean as if it
        # ran first.
        task = self._context.run(self._loop.create_task,  # type: ignore[union-attr]
                                 self._one(run))
        run.task = task
        self._tasks[task] = run

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
            self.abandoned = [self._tasks[task].work for task in late if task in self._tasks]
            for task in late:
                task.cancel()
            await asyncio.wait(late, timeout=10.0)

    async def _one(self, run: _Running) -> None:
        work = run.work
        queue, raw = work
        processor = self.processor
        try:
            while True:
                try:
                    # aprocess inlined: one coroutine frame less on every resume of the job.
                    loaded = processor.load(raw, queue)
                    outcome = loaded if isinstance(loaded, Outcome) else await processor.arun(
                        raw, queue, *loaded)
                    break
                except redis.RedisError as e:
                    # A unique-lock call failed before the job ran: try it again later.
                    log.warning("redis error before running a job, will retry it: %s", e)
                    if self._stopping:
                        self.ready.append(work)
                        return
                    await asyncio.sleep(1.0)
                except Exception as e:
                    log.exception("internal error processing a job from %r", queue)
                    error = PayloadError(f"internal error while processing the job: {e!r}")
                    outcome = Outcome(raw, queue, "invalid",
                                      invalid_payload(raw, queue, error, self.settings.clock()),
                                      exc=error)
                    break
            if not (self.abandoned and outcome.status == "requeue" and work in self.abandoned):
                self.exchanger.inbox.put(outcome)
        finally:
            self._tasks.pop(run.task, None)  # type: ignore[arg-type]
            if self.ready and not self._stopping:
                # This job's slot goes to the next at once, without a round through _fill (in
                # the loop's context: see _start).
                self._start(self.ready.popleft())


def busy_of(*executors: Any) -> dict[str, tuple[str, bytes, float]]:
    """Every executor's running jobs, for the heartbeat."""
    busy: dict[str, tuple[str, bytes, float]] = {}
    for executor in executors:
        busy.update(executor.busy)
    return busy
