"""The worker process's launcher: starts the parts, runs housekeeping, reacts to signals
sent through Redis, and shuts down gracefully.

Threads and what they own (as Sidekiq splits launcher / manager / processor / fetch):
  exchanger    (:mod:`jobkit.exchanger`) the in-flight jobs: writes finished outcomes and
               fetches the next jobs, one script call per cycle when the batch all
               succeeded, and arms blocking waits when every queue is empty
  executor xC  (:mod:`jobkit.executor`) runs one job at a time through the processor
  wakers       (:mod:`jobkit.blocking`) one blocking BLMOVE per queue while idle, and a
               blocking pop of this process's signal list (Sidekiq's Quiet and Stop)
  housekeeper  heartbeat, due-job scheduler, periodic ticks and dead-process recovery
"""

from __future__ import annotations

import gc
import logging
import random
import threading
import time
from typing import Any

import redis

from . import ack, threads
from .backoff import MAX_BACKOFF, next_backoff, retry_redis
from .blocking import Blocker, blocking_client, can_block
from .connection import connect
from .exchanger import Exchanger
from .executor import ThreadExecutors
from .fetch import Fetcher
from .heartbeat import Heartbeat, cleanup, new_identity
from .keys import Keys
from .loop_executor import LoopExecutor, any_coroutine_jobs, busy_of, is_coroutine_job
from .middleware.logging import JobLogger
from .processor import Outcome, Processor
from .recovery import Recovery
from .replies import texts
from .scheduler import Scheduler
from .settings import Settings
from .ticker import Ticker
from .work import UnitOfWork
from .worker_options import WorkerOptions

__all__ = ["Worker", "WorkerOptions"]

log = logging.getLogger("jobkit.worker")


class Worker:
    """One worker process's job engine. ``start()``/``stop()``, or ``run()`` to block."""

    def __init__(
        self,
        settings: Settings,
        options: WorkerOptions | None = None,
        *,
        connection: redis.Redis | None = None,
    ) -> None:
        self.settings = settings
        self.options = options or WorkerOptions()
        self.keys = Keys(settings.namespace)
        self.redis = connection if connection is not None else connect(settings.redis_url)
        self.identity = new_identity()
        self.started_at = time.time()
        middleware = (JobLogger(),) if self.options.log_jobs else ()
        self.processor = Processor(
            settings,
            self.redis,
            middleware=middleware + settings.server_middleware + self.options.extra_middleware,
        )
        self.fetcher = Fetcher(self.redis, self.keys, self.identity, self.options.queues,
                               strict=self.options.strict)
        self.scheduler = Scheduler(self.redis, settings)
        self.ticker = Ticker(self.redis, settings, identity=self.identity)
        self.acknowledger = ack.Acknowledger(self.redis, self.keys, settings, self.identity)
        self.recovery = Recovery(self.redis, settings)
        self.heartbeat = Heartbeat(
            self.redis, self.keys, self.identity, queues=self.options.queues,
            concurrency=self.options.concurrency, tag=self.options.tag,
            liveness_ttl=settings.recovery_timeout, started_at=self.started_at,
            heartbeat_interval=settings.heartbeat_interval,
        )
        self._quiet = threading.Event()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._housekeeping_stop = threading.Event()
        self.exchanger = Exchanger(self.fetcher, self.acknowledger, settings, self.options,
                                   quiet=self._quiet)
        self.executors = ThreadExecutors(self.processor, self.exchanger, settings,
                                         concurrency=self.options.concurrency,
                                         stopping=self._stopping)
        #: The event loop for coroutine jobs, when this process registered any (at start).
        self.loop_executor: LoopExecutor | None = None
        self._wakers: list[Blocker] = []
        self._signals: Blocker | None = None
        self._threads: list[threading.Thread] = []
        self._rng = random.Random()
        self._alive_at = -float("inf")

    @property
    def stopping(self) -> bool:
        """Whether a stop was requested (by :meth:`request_stop`, or a TERM through Redis)."""
        return self._stopping.is_set()

    @property
    def prefetch(self) -> int:
        """Jobs fetched ahead of free threads right now."""
        return self.exchanger.prefetch

    @property
    def capacity(self) -> int:
        """Jobs this process may hold at once: one per thread plus the prefetch."""
        return self.exchanger.capacity

    @property
    def in_flight(self) -> int:
        """Jobs fetched by this process whose outcome is not yet written."""
        return self.exchanger.in_flight

    @property
    def processed(self) -> int:
        """Jobs run to an outcome (not requeued) since the worker was made."""
        return self.exchanger.processed

    @property
    def failed(self) -> int:
        return self.exchanger.failed

    @property
    def retried(self) -> int:
        return self.exchanger.retried

    @property
    def dead(self) -> int:
        return self.exchanger.dead

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> bool:
        """Announce the process and start all threads; returns at once. While Redis is
        unreachable it retries, until :meth:`request_stop` — then it returns False, having
        started nothing."""
        stop = self._stopping
        if not (retry_redis("start", self.heartbeat.alive, stop=stop)
                and retry_redis("heartbeat", lambda: self.heartbeat.beat(
                    {}, quiet=False, signals=False), stop=stop)):
            log.info("worker %s stopped before it started", self.identity)
            self._stopped.set()
            return False
        self._start_loop()
        self._start_wakers()
        self._threads = [self._spawn(self.exchanger.run, "exchanger"),
                         self._spawn(self._housekeeping_loop, "housekeeper")]
        self.executors.start()
        log.info("worker %s started: queues=%s concurrency=%d", self.identity,
                 ",".join(f"{n}:{w}" for n, w in self.options.queues), self.options.concurrency)
        return True

    def _start_loop(self) -> None:
        if not any_coroutine_jobs():
            return
        self.loop_executor = LoopExecutor(self.processor, self.exchanger, self.settings,
                                          concurrency=self.options.async_concurrency)
        self.loop_executor.start()
        self.exchanger.is_coroutine = is_coroutine_job
        self.exchanger.submit_coroutines = self.loop_executor.submit
        self.exchanger.coroutine_slots = self.options.async_concurrency
        ready = self.loop_executor.ready
        self.exchanger.coroutines_waiting = lambda: len(ready)

    def _start_wakers(self) -> None:
        """Blocking waits for jobs (one per queue) and for signals; none on fakeredis, where
        the exchanger polls and the heartbeat reads the signals."""
        if not can_block(self.redis):
            return
        signals = self.keys.signals(self.identity)
        try:
            wakers = [self._queue_waker(name) for name, _ in self.options.queues]
            self._signals = Blocker(
                blocking_client(self.redis), self.redis,
                # redis-py before 6 types the timeout as int; Redis takes seconds as a float.
                lambda c, t: c.blpop([signals], t),  # type: ignore[arg-type, unused-ignore]
                self._on_signal_reply,
                name="signal-waker")
        except redis.RedisError as e:
            # Redis went away since the first heartbeat: poll, as on fakeredis.
            log.warning("cannot open blocking connections (%s); polling the queues", e)
            return
        self._wakers = wakers
        for waker in wakers:
            waker.start()
        self._signals.start(armed=True)

        names = [name for name, _ in self.options.queues]
        paused_key = self.keys.paused

        def arm() -> bool:
            # A paused queue's jobs must stay in Redis: block only on the others. The
            # exchanger looks again now and then while one is paused (it may be resumed).
            paused = set(texts(self.redis.smembers(paused_key)))
            for name, waker in zip(names, wakers, strict=True):
                if name not in paused:
                    waker.arm()
            return bool(paused & set(names))

        def quiesce() -> bool:
            return all([waker.quiesce() for waker in wakers])

        self.exchanger.arm_wakers = arm
        self.exchanger.quiesce_wakers = quiesce

    def _queue_waker(self, queue: str) -> Blocker:
        source, target = self.keys.queue(queue), self.fetcher.inprogress(queue)
        index, member = self.keys.inprogress_index, self.fetcher.member(queue)
        paused_key = self.keys.paused
        exchanger = self.exchanger

        def command(client: redis.Redis, timeout: float) -> tuple[bytes, bool] | None:
            # The move and whether the queue was paused meanwhile, in one round trip on the
            # blocking connection: asking after the move cost a round trip (0.2 ms here,
            # 2 ms at times on a loaded machine) before each wake-up's job could start.
            conn: Any = client.connection
            try:
                conn.send_packed_command(conn.pack_commands([
                    ("BLMOVE", source, target, "RIGHT", "RIGHT", timeout),
                    ("SISMEMBER", paused_key, queue)]))
                raw = conn.read_response()
                paused = conn.read_response()
            except BaseException:
                # A reply may be left unread: out of step, so the connection starts afresh.
                # A job moved meanwhile is in our list, where reconciliation finds it.
                conn.disconnect()
                raise
            return (raw, bool(paused)) if raw is not None else None

        def prepare(conn: Any) -> None:
            # Before the first move into the list: recovery finds lists through the index.
            # On the raw connection: it runs while redis-py connects it.
            conn.send_command("SADD", index, member)
            conn.read_response()

        def deliver(reply: tuple[bytes, bool]) -> None:
            raw, paused = reply
            # Paused while we were blocked on it: the job goes back untouched.
            exchanger.deliver_woken(UnitOfWork(queue, raw), paused=paused)

        return Blocker(blocking_client(self.redis), self.redis,
                       command, deliver, name=f"waker-{queue}", one_shot=True,
                       prepare=prepare, on_error=lambda e: self.exchanger.wake_polling())

    def _on_signal_reply(self, reply: Any) -> None:
        _, value = reply
        self._signal(value.decode() if isinstance(value, bytes) else str(value))

    def _spawn(self, target: object, name: str) -> threading.Thread:
        thread = threads.thread(target, name)  # type: ignore[arg-type]
        thread.start()
        return thread

    def quiet(self) -> None:
        """Stop fetching new jobs; running and buffered ones still finish (Sidekiq's TSTP)."""
        self._quiet.set()
        for waker in self._wakers:
            # Until no BLMOVE is in flight: one sent just before the disarm would otherwise
            # block on (and take) the next job pushed.
            waker.quiesce()
        self.exchanger.wake()

    def request_stop(self) -> None:
        """Ask :meth:`run` to shut down gracefully (safe from a signal handler)."""
        self._stopping.set()

    def run(self) -> None:
        """Start, block until :meth:`request_stop` (or a TERM signal via Redis), then stop."""
        if not self.start():
            return
        # This process is the worker's from here on: what it imported and built so far stays
        # for its lifetime, so the collector need not scan it. A full collection of that heap
        # took 16 ms (measured, loaded machine), and every job waiting on the GIL waits too.
        gc.freeze()
        try:
            while not self._stopping.wait(0.5):
                pass
        finally:
            self.stop()

    def stop(self, timeout: float | None = None) -> None:
        """Graceful shutdown: stop fetching, wait up to ``timeout`` for running jobs, push
        every unfinished job back to the front of its queue, flush outcomes, clear the
        heartbeat."""
        if self._stopped.is_set():
            return
        wait = self.options.timeout if timeout is None else timeout
        self.quiet()
        self._stopping.set()
        deadline = time.monotonic() + wait
        self.executors.join(deadline)
        if self.loop_executor is not None:
            # Running coroutine jobs finish until the deadline, then are cancelled: each
            # becomes a requeue outcome, written with the others below.
            self.loop_executor.stop(deadline)
        running = [UnitOfWork(q, raw) for q, raw, _ in list(self.executors.busy.values())]
        if self.loop_executor is not None:
            running += self.loop_executor.abandoned
        self.exchanger.abandoned.update(raw for _, raw in running)
        if running:
            log.warning("shutdown timeout: requeueing %d running job(s)", len(running))
        # A job a waker moved just before it was unblocked is delivered, then requeued.
        for blocker in [*self._wakers, *([self._signals] if self._signals else [])]:
            blocker.stop()
        self.exchanger.stop()
        self._housekeeping_stop.set()
        for thread in self._threads:
            thread.join(10.0)
        # After the exchanger stopped: a fetch it had in flight may have added jobs.
        outcomes, unstarted = self.exchanger.drain()
        if self.loop_executor is not None:
            unstarted += self.loop_executor.drain()
        self._flush_outcomes(outcomes)
        retry_redis("requeue", lambda: self.fetcher.requeue(running + unstarted),
                    attempts=20)
        retry_redis("clear heartbeat", self._clear, attempts=5)
        self._stopped.set()
        log.info("worker %s stopped: %d processed, %d failed, %d requeued", self.identity,
                 self.processed, self.failed, len(unstarted) + len(running))

    def _clear(self) -> None:
        self.heartbeat.clear()
        # Our liveness key is gone now, so recovery takes anything left in our lists.
        self.recovery.run()

    def _flush_outcomes(self, batch: list[Outcome]) -> None:
        """At shutdown: write every outcome left, retrying Redis errors for a while."""
        backoff = 0.0
        while batch:
            try:
                self.exchanger.exchange(batch, 0)
            except redis.RedisError as e:
                # The jobs stay in our in-progress lists: recovery redelivers them.
                backoff = next_backoff(backoff, "acknowledge", e)
                if backoff >= MAX_BACKOFF:
                    log.error("giving up writing %d outcome(s); they will be redelivered",
                              len(batch))
                    return
                time.sleep(backoff)

    # -- housekeeping --------------------------------------------------------------------

    def _housekeeping_loop(self) -> None:
        next_beat = next_poll = next_recover = time.monotonic()
        next_poll += self.scheduler.next_wait(1, self._rng) / 2
        backoff = 0.0
        next_tick = next_beat
        live = 1
        while not self._housekeeping_stop.is_set():
            now = time.monotonic()
            try:
                if now >= next_beat:
                    self._beat()
                    next_beat = now + self.settings.heartbeat_interval
                if now >= next_recover:
                    self.recovery.run(alive=self.identity)
                    # Only live processes share the polling: counting dead ones (kill -9)
                    # would stretch every poll interval.
                    live = cleanup(self.redis, self.keys, now=time.time(),
                                   stale_after=self.settings.recovery_timeout,
                                   alive=self.identity)
                    next_recover = now + self.settings.recovery_timeout / 2
                if now >= next_poll and not self._quiet.is_set():
                    self.scheduler.enqueue_due()
                    next_poll = now + self.scheduler.next_wait(live, self._rng)
                if now >= next_tick and not self._quiet.is_set():
                    # The ticker keeps the ticks it could not enqueue (Redis away) itself.
                    next_tick = now + self.ticker.poll()
                backoff = 0.0
            except redis.RedisError as e:
                # The step that failed is still due: without a pause it would be retried (and
                # logged) every few milliseconds for as long as Redis is away. The pause stays
                # under one heartbeat interval, so the heartbeat resumes as soon as it is back.
                backoff = next_backoff(backoff, "housekeeping", e,
                                       limit=min(MAX_BACKOFF, self.settings.heartbeat_interval))
                retry_at = now + backoff
                next_beat, next_poll, next_recover = (max(t, retry_at) for t in (
                    next_beat, next_poll, next_recover))
            wake = min(next_beat, next_poll, next_recover, next_tick)
            self._housekeeping_stop.wait(max(0.01, wake - time.monotonic()))

    def _beat(self) -> None:
        busy = busy_of(self.executors, *([self.loop_executor] if self.loop_executor else []))
        signals = self.heartbeat.beat(busy, quiet=self._quiet.is_set(),
                                      signals=self._signals is None)
        for signal in signals:
            self._signal(signal)

    def _signal(self, signal: str) -> None:
        if signal == "TSTP":
            log.info("quiet signal received through Redis")
            self.quiet()
        elif signal == "TERM":
            log.info("stop signal received through Redis")
            self.request_stop()

    # -- synchronous use (tests and the pytest plugin) ---------------------------------

    def process_one(self) -> Outcome | None:
        """Fetch, run and acknowledge the next job in this thread; None if queues are empty.

        Uses the same exchange (fetch and acknowledgement) and processor as the threads.
        """
        tick = time.monotonic()
        if tick - self._alive_at > self.settings.heartbeat_interval:
            self.heartbeat.alive()
            self._alive_at = tick
        items = self.exchanger.exchange([], 1)
        if not items:
            return None
        work = self.exchanger.ready.get_nowait()
        assert work is not None  # exchange() just put it there
        outcome = self.processor.process(work.raw, work.queue)
        self.exchanger.exchange([outcome], 0)
        return outcome
