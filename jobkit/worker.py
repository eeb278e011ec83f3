"""The worker: fetch, run and acknowledge jobs on threads; heartbeat, schedule, recover.

Threads and what they own:
  exchanger    writes finished outcomes in batches and fetches the next jobs into this
               process's in-progress lists: one script call per cycle when the batch all
               succeeded (a MULTI and then the fetch otherwise), and hands jobs to executors
  executor xC  runs one job at a time through the processor
  housekeeper  heartbeat, due-job scheduler, periodic ticks and dead-process recovery
"""

from __future__ import annotations

import logging
import queue as queue_mod
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence

import redis

from . import ack
from .backoff import MAX_BACKOFF, next_backoff, retry_redis
from .connection import connect
from .errors import PayloadError
from .fetch import Fetcher
from .heartbeat import Heartbeat, cleanup, new_identity
from .keys import Keys
from .middleware.logging import JobLogger
from .processor import Outcome, Processor, invalid_payload
from .recovery import Recovery
from .scheduler import Scheduler
from .settings import Settings
from .ticker import Ticker
from .worker_options import MAX_PREFETCH, PREFETCH_SECONDS, WorkerOptions

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
        )
        # Mean job duration (exponentially weighted), for the adaptive prefetch.
        self._mean_elapsed: float | None = None
        self._ready: queue_mod.SimpleQueue[tuple[str, bytes]] = queue_mod.SimpleQueue()
        self._lock = threading.Lock()
        self._inflight = 0
        # Jobs fetched and not yet acknowledged, as a multiset: what our in-progress lists
        # should hold. Anything else found there (a fetch whose reply was lost) is taken up.
        self._tracked: Counter[tuple[str, bytes]] = Counter()
        self._done: list[Outcome] = []
        self._done_cond = threading.Condition()
        self._busy: dict[str, tuple[str, bytes, float]] = {}
        self._abandoned: set[bytes] = set()
        self._quiet = threading.Event()
        self._stopping = threading.Event()
        self._ack_stop = threading.Event()
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._executors: list[threading.Thread] = []
        self._rng = random.Random()
        self._alive_at = -float("inf")
        self.processed = 0
        self.failed = 0
        self.retried = 0
        self.dead = 0

    @property
    def prefetch(self) -> int:
        """Jobs fetched ahead of free threads right now."""
        if self.options.prefetch is not None:
            return self.options.prefetch
        if self._mean_elapsed is None:
            return self.options.concurrency
        wanted = PREFETCH_SECONDS * self.options.concurrency / max(self._mean_elapsed, 1e-6)
        return max(1, min(MAX_PREFETCH, int(wanted)))

    @property
    def capacity(self) -> int:
        """Jobs this process may hold at once: one per thread plus the prefetch."""
        return self.options.concurrency + self.prefetch

    @property
    def in_flight(self) -> int:
        """Jobs fetched by this process whose outcome is not yet written."""
        return self._inflight

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> bool:
        """Announce the process and start all threads; returns at once. While Redis is
        unreachable it retries, until :meth:`request_stop` — then it returns False, having
        started nothing."""
        stop = self._stopping
        if not (retry_redis("start", self.heartbeat.alive, stop=stop)
                and retry_redis("heartbeat", lambda: self.heartbeat.beat({}, quiet=False),
                                stop=stop)):
            log.info("worker %s stopped before it started", self.identity)
            self._stopped.set()
            return False
        spawn = self._spawn
        self._threads = [spawn(self._exchange_loop, "exchanger"),
                         spawn(self._housekeeping_loop, "housekeeper")]
        self._executors = [spawn(self._execute_loop, f"executor-{i}")
                           for i in range(self.options.concurrency)]
        log.info("worker %s started: queues=%s concurrency=%d", self.identity,
                 ",".join(f"{n}:{w}" for n, w in self.options.queues), self.options.concurrency)
        return True

    def _spawn(self, target: object, name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=f"jobkit-{name}", daemon=True)  # type: ignore[arg-type]
        thread.start()
        return thread

    def quiet(self) -> None:
        """Stop fetching new jobs; running and buffered ones still finish (Sidekiq's TSTP)."""
        self._quiet.set()

    def request_stop(self) -> None:
        """Ask :meth:`run` to shut down gracefully (safe from a signal handler)."""
        self._stopping.set()

    def run(self) -> None:
        """Start, block until :meth:`request_stop` (or a TERM signal via Redis), then stop."""
        if not self.start():
            return
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
        self._quiet.set()
        self._stopping.set()
        with self._done_cond:
            self._done_cond.notify_all()
        deadline = time.monotonic() + wait
        for thread in self._executors:
            thread.join(max(0.0, deadline - time.monotonic()))
        running = [(q, raw) for q, raw, _ in list(self._busy.values())]
        self._abandoned.update(raw for _, raw in running)
        if running:
            log.warning("shutdown timeout: requeueing %d running job(s)", len(running))
        self._ack_stop.set()
        with self._done_cond:
            self._done_cond.notify_all()
        for thread in self._threads:
            thread.join(10.0)
        # After the exchanger stopped: a fetch it had in flight may have added jobs.
        unstarted = self._drain_ready()
        self._flush_outcomes()
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

    def _drain_ready(self) -> list[tuple[str, bytes]]:
        items = []
        while True:
            try:
                items.append(self._ready.get_nowait())
            except queue_mod.Empty:
                return items

    # -- threads -------------------------------------------------------------------------

    def _take(self, items: Sequence[tuple[str, bytes]]) -> None:
        with self._lock:
            self._inflight += len(items)
            self._tracked.update(items)
        for item in items:
            self._ready.put(item)

    def _reconcile(self) -> int:
        """Take up jobs in our in-progress lists that no thread knows about."""
        held = Counter(self.fetcher.held())
        with self._lock:
            missing = [item for item, n in held.items()
                       for _ in range(n - self._tracked.get(item, 0))]
        if missing:
            log.warning("taking up %d job(s) fetched by a call whose reply was lost",
                        len(missing))
            self._take(missing)
        return len(missing)

    def _execute_loop(self) -> None:
        tid = threading.current_thread().name
        while not self._stopping.is_set():
            try:
                queue, raw = self._ready.get(timeout=0.2)
            except queue_mod.Empty:
                continue
            if self._stopping.is_set():
                # Shutdown began while we waited: leave the job for stop() to requeue.
                self._ready.put((queue, raw))
                return
            self._busy[tid] = (queue, raw, time.time())
            try:
                outcome = self.processor.process(raw, queue)
            except redis.RedisError as e:
                # A unique-lock call failed before the job ran: try the job again later.
                log.warning("redis error before running a job, will retry it: %s", e)
                self._busy.pop(tid, None)
                self._ready.put((queue, raw))
                self._stopping.wait(1.0)
                continue
            except Exception as e:
                # A bug outside the job itself: keep the thread, keep the job (in the dead set).
                log.exception("internal error processing a job from %r", queue)
                error = PayloadError(f"internal error while processing the job: {e!r}")
                outcome = Outcome(raw, queue, "invalid",
                                  invalid_payload(raw, queue, error, self.settings.clock()),
                                  exc=error)
            self._busy.pop(tid, None)
            with self._done_cond:
                self._done.append(outcome)
                self._done_cond.notify()

    def _wait_for_work(self, pending: list[Outcome], fetch_at: float) -> list[Outcome]:
        """``pending`` plus the outcomes written since, once there is something to do:
        outcomes to write, room to fetch into (at ``fetch_at`` or later) or a stop."""
        with self._done_cond:
            while not (pending or self._done or self._ack_stop.is_set()):
                wait = fetch_at - time.monotonic() if self._room() > 0 else 0.5
                if wait <= 0:
                    break
                self._done_cond.wait(min(wait, 0.5))
            batch, self._done = pending + self._done, []
        return [o for o in batch if o.raw not in self._abandoned]

    def _room(self) -> int:
        return 0 if self._quiet.is_set() else self.capacity - self._inflight

    def _exchange_loop(self) -> None:
        backoff = 0.0
        reconcile_every = self.settings.recovery_timeout / 2
        next_reconcile = time.monotonic() + reconcile_every
        fetch_at = 0.0  # after an empty fetch, the next waits for idle_wait
        batch: list[Outcome] = []
        while True:
            batch = self._wait_for_work(batch, fetch_at)
            if self._ack_stop.is_set():
                with self._done_cond:
                    self._done[:0] = batch  # stop() writes them
                return
            # The batch's jobs leave the in-progress lists before the fetch: their room too.
            room = self._room() + len(batch) if time.monotonic() >= fetch_at else 0
            try:
                if backoff or time.monotonic() >= next_reconcile:
                    # After an error the fetch may have moved jobs without our knowing.
                    self._reconcile()
                    next_reconcile = time.monotonic() + reconcile_every
                acks = self.acknowledger.acks(batch) if batch else None
                if batch and acks is None:
                    self.acknowledger.write(batch)
                    self._finish(batch)
                    batch = []
                items = self.fetcher.fetch(max(room, 0), acks=acks) if acks or room > 0 else []
                backoff = 0.0
            except redis.RedisError as e:
                # Unwritten outcomes keep their jobs in our in-progress lists: no loss.
                backoff = next_backoff(backoff, "acknowledge and fetch", e)
                self._ack_stop.wait(backoff)
                continue
            except Exception:
                # Should not happen; if it does, this thread must live on. The jobs stay in
                # our lists and are taken up again by reconciliation.
                log.exception("cannot record %d outcome(s)", len(batch))
                self._release(batch)
                batch = []
                continue
            if items:
                self._take(items)  # first: the executors may be waiting for work
            elif room > 0:
                fetch_at = time.monotonic() + self.options.idle_wait
            self._finish(batch)
            batch = []

    def _record(self, batch: Sequence[Outcome]) -> None:
        """Write outcomes without fetching."""
        acks = self.acknowledger.acks(batch)
        if acks is None:
            self.acknowledger.write(batch)
        else:
            self.fetcher.fetch(0, acks=acks)

    def _flush_outcomes(self) -> None:
        """At shutdown: write every outcome left, retrying Redis errors for a while."""
        backoff = 0.0
        while True:
            with self._done_cond:
                batch, self._done = self._done, []
            batch = [o for o in batch if o.raw not in self._abandoned]
            if not batch:
                return
            while True:
                try:
                    self._record(batch)
                    break
                except redis.RedisError as e:
                    # The jobs stay in our in-progress lists: recovery redelivers them.
                    backoff = next_backoff(backoff, "acknowledge", e)
                    if backoff >= MAX_BACKOFF:
                        log.error("giving up writing %d outcome(s); they will be redelivered",
                                  len(batch))
                        return
                    time.sleep(backoff)
            self._finish(batch)

    def _finish(self, batch: Sequence[Outcome]) -> None:
        """After ``batch`` is written: count it, free its room, call death handlers."""
        if batch:
            self._account(batch)
            ack.notify_deaths(self.settings, batch)

    def _account(self, batch: Sequence[Outcome]) -> None:
        mean = self._mean_elapsed
        for out in batch:
            mean = out.elapsed if mean is None else 0.9 * mean + 0.1 * out.elapsed
            if out.status == "done":
                self.processed += 1
            elif out.status != "requeue":
                self.processed += 1
                if out.failed:
                    self.failed += 1
                self.retried += out.status == "retry"
                self.dead += out.status in ("dead", "invalid")
            if out.status == "discarded":
                log.info("job %s discarded on %s", out.raw[:80], type(out.exc).__name__)
            elif out.exc is not None and out.status != "invalid":
                log.warning("job %s failed (%s): %s: %s", out.payload and out.payload.get("jid"),
                            out.status, type(out.exc).__name__, out.exc)
        self._mean_elapsed = mean
        self._release(batch)

    def _release(self, batch: Sequence[Outcome]) -> None:
        with self._lock:
            self._inflight -= len(batch)
            tracked = self._tracked
            for out in batch:
                key = (out.queue, out.raw)
                left = tracked[key] - 1
                if left > 0:
                    tracked[key] = left
                else:
                    tracked.pop(key, None)

    def _housekeeping_loop(self) -> None:
        next_beat = next_poll = next_recover = time.monotonic()
        next_poll += self.scheduler.next_wait(1, self._rng) / 2
        backoff = 0.0
        next_tick = next_beat
        live = 1
        while not self._ack_stop.is_set():
            now = time.monotonic()
            try:
                if now >= next_beat:
                    self._beat()
                    next_beat = now + self.settings.heartbeat_interval
                if now >= next_recover:
                    self.recovery.run()
                    # Only live processes share the polling: counting dead ones (kill -9)
                    # would stretch every poll interval.
                    live = cleanup(self.redis, self.keys, now=time.time(),
                                   stale_after=self.settings.recovery_timeout)
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
            self._ack_stop.wait(max(0.01, wake - time.monotonic()))

    def _beat(self) -> None:
        for signal in self.heartbeat.beat(dict(self._busy), quiet=self._quiet.is_set()):
            if signal == "TSTP":
                log.info("quiet signal received through Redis")
                self.quiet()
            elif signal == "TERM":
                log.info("stop signal received through Redis")
                self.request_stop()

    # -- synchronous use (tests and the pytest plugin) ---------------------------------

    def process_one(self) -> Outcome | None:
        """Fetch, run and acknowledge the next job in this thread; None if queues are empty.

        Uses the same fetch, processor and acknowledgement as the threaded worker.
        """
        tick = time.monotonic()
        if tick - self._alive_at > self.settings.heartbeat_interval:
            self.heartbeat.alive()
            self._alive_at = tick
        items = self.fetcher.fetch(1)
        if not items:
            return None
        queue, raw = items[0]
        outcome = self.processor.process(raw, queue)
        self._record([outcome])
        ack.notify_deaths(self.settings, [outcome])
        return outcome
