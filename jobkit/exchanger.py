"""The exchanger: trades finished outcomes for new jobs, one Redis call per cycle, and owns
what this process holds in flight.

Executors hand outcomes back through a lock-free queue (``SimpleQueue.put``) and never wait
for the exchanger; the exchanger collects what is done and writes it together. When the
executors still have jobs buffered it lingers a moment before writing (``LINGER``), so a job
that takes about one round trip does not cost a script call of its own — the convoy mode
where every executor took a lock and woke the exchanger to hand back one outcome is gone.

When every queue was empty, the exchanger arms one blocking ``BLMOVE`` per queue
(:mod:`jobkit.blocking`) instead of polling: the first job pushed is moved into our
in-progress list by Redis itself (reliable: nothing is ever only in flight on the wire), and
the exchanger then fetches the rest in queue order.
"""

from __future__ import annotations

import logging
import queue as queue_mod
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis

from . import ack
from .backoff import next_backoff
from .fetch import Fetcher
from .processor import Outcome
from .settings import Settings
from .work import UnitOfWork
from .worker_options import MAX_PREFETCH, PREFETCH_SECONDS, WorkerOptions

log = logging.getLogger("jobkit.worker")

#: Seconds the exchanger may hold finished outcomes while the executors still have jobs
#: buffered, to write them in one call. Outcomes are durable only once written, but a job
#: whose outcome is unwritten is still in our in-progress list: a crash redelivers it.
LINGER = 0.002
#: Seconds between fetches of an idle worker while one of its queues is paused (the wait
#: blocks on the others only; a resume is seen at the next fetch).
PAUSED_RECHECK = 1.0
#: Write at once when this many outcomes wait, lingering or not.
BATCH = 500
#: Seconds a kind of job (plain, coroutine) counts as arriving after a fetch brought one.
SIDE_RECENT = 1.0


@dataclass(frozen=True)
class Woken:
    """A job a blocking wait moved into our in-progress list."""

    work: UnitOfWork
    #: Already handed to the executors by the waker's thread (the order need not change).
    taken: bool


class Exchanger:
    """Writes outcomes and fetches jobs for one worker process; see the module docstring.

    :meth:`exchange` is the one call that touches Redis for jobs; :meth:`run` is the thread
    that calls it for the executors, :meth:`jobkit.Worker.process_one` calls it directly."""

    def __init__(
        self,
        fetcher: Fetcher,
        acknowledger: ack.Acknowledger,
        settings: Settings,
        options: WorkerOptions,
        *,
        quiet: threading.Event,
    ) -> None:
        self.fetcher = fetcher
        self.acknowledger = acknowledger
        self.settings = settings
        self.options = options
        self._quiet = quiet
        #: Jobs for the executors, in fetch order (None: a wake-up for an executor to end).
        self.ready: queue_mod.SimpleQueue[UnitOfWork | None] = queue_mod.SimpleQueue()
        #: Outcomes from the executors, woken jobs from the blocking waits, None to wake up.
        self.inbox: queue_mod.SimpleQueue[Outcome | Woken | None] = queue_mod.SimpleQueue()
        self._lock = threading.Lock()
        self._inflight = 0
        # Jobs fetched and not yet acknowledged, as a multiset: what our in-progress lists
        # should hold. Anything else found there (a fetch whose reply was lost) is taken up.
        # Keyed by (queue, raw): a UnitOfWork is such a tuple, and a plain one is cheaper to
        # build for every outcome released than the named tuple.
        self._tracked: Counter[tuple[str, bytes]] = Counter()
        #: Jobs requeued at a shutdown timeout while running: their late outcomes are dropped.
        self.abandoned: set[bytes] = set()
        #: Mean job duration (exponentially weighted), for the adaptive prefetch.
        self.mean_elapsed: float | None = None
        self._stop = threading.Event()
        #: Outcomes the loop held when it stopped; the worker writes them.
        self.leftover: list[Outcome] = []
        #: Routes coroutine jobs to the event-loop executor (None: threads run every job).
        self.is_coroutine: Callable[[bytes], bool] | None = None
        self.submit_coroutines: Callable[[list[UnitOfWork]], None] | None = None
        #: Room held for coroutine jobs on top of the threads' (the event loop's slots).
        self.coroutine_slots = 0
        #: Coroutine jobs handed to the event loop that wait for a slot.
        self.coroutines_waiting: Callable[[], int] = lambda: 0
        # When a fetched batch last held plain / coroutine jobs: whose buffer to watch.
        self._plain_at = 0.0
        self._coroutines_at = 0.0
        #: Arms the blocking waits; None polls every ``idle_wait`` (fakeredis).
        #: It returns whether it left a paused queue out.
        self.arm_wakers: Callable[[], bool] | None = None
        #: While a queue is left out for being paused: when to fetch again (to see it resumed).
        self._recheck_at: float | None = None
        #: Disarms them and waits until none has a move in flight; False if one is stuck.
        self.quiesce_wakers: Callable[[], bool] | None = None
        self._armed = False
        #: A call that may have moved jobs into our lists failed (its reply lost): compare
        #: the lists with what we track before going on, idle or not. Set from any thread;
        #: cleared only by a reconciliation that ran.
        self._reconcile_due = threading.Event()
        #: Jobs a blocking wait moved in (the first job after each idle spell).
        self.wakeups = 0
        self.processed = 0
        self.failed = 0
        self.retried = 0
        self.dead = 0

    # -- capacity ------------------------------------------------------------------------

    @property
    def prefetch(self) -> int:
        """Jobs fetched ahead of free threads right now."""
        if self.options.prefetch is not None:
            return self.options.prefetch
        if self.mean_elapsed is None:
            return self.options.concurrency
        wanted = PREFETCH_SECONDS * self.options.concurrency / max(self.mean_elapsed, 1e-6)
        return max(1, min(MAX_PREFETCH, int(wanted)))

    @property
    def capacity(self) -> int:
        """Jobs this process may hold at once: one per thread and coroutine slot, plus the
        prefetch."""
        return self.options.concurrency + self.coroutine_slots + self.prefetch

    @property
    def in_flight(self) -> int:
        """Jobs fetched by this process whose outcome is not yet written."""
        return self._inflight

    def room(self, writing: int = 0) -> int:
        """Jobs to fetch now, counting the ``writing`` outcomes about to leave our lists;
        none once quiet (what is written then frees no room)."""
        return 0 if self._quiet.is_set() else self.capacity - self._inflight + writing

    # -- the one Redis exchange ------------------------------------------------------------

    def exchange(self, outcomes: list[Outcome], room: int) -> list[UnitOfWork]:
        """Write ``outcomes`` and fetch up to ``room`` jobs, in one script call when every
        outcome is a plain success (a MULTI first otherwise); returns the jobs fetched, now
        tracked as in flight.

        ``outcomes`` is emptied as it is written: after a Redis error it holds exactly the
        outcomes still to write (their jobs are still in our in-progress lists)."""
        acks = self.acknowledger.acks(outcomes) if outcomes else None
        if outcomes and acks is None:
            self.acknowledger.write(outcomes)
            self.finish(outcomes)
            outcomes.clear()
        items = self.fetcher.fetch(max(room, 0), acks=acks) if acks or room > 0 else []
        self.take(items)
        if outcomes:
            self.finish(outcomes)
            outcomes.clear()
        return items

    def take(self, items: Sequence[UnitOfWork]) -> None:
        """Track ``items`` as in flight and queue them for the executors."""
        if not items:
            return
        with self._lock:
            self._inflight += len(items)
            self._tracked.update(items)
        is_coroutine = self.is_coroutine
        if is_coroutine is not None and self.submit_coroutines is not None:
            plain: list[UnitOfWork] = []
            coroutines: list[UnitOfWork] = []
            for item in items:
                (coroutines if is_coroutine(item.raw) else plain).append(item)
            if coroutines:
                self._coroutines_at = time.monotonic()
                self.submit_coroutines(coroutines)
                items = plain
            if not items:
                return
        self._plain_at = time.monotonic()
        put = self.ready.put
        for item in items:
            put(item)

    def reconcile(self) -> int:
        """Take up jobs in our in-progress lists that no thread knows about."""
        held = Counter(self.fetcher.held())
        with self._lock:
            missing = [UnitOfWork(*item) for item, n in held.items()
                       for _ in range(n - self._tracked.get(item, 0))]
        if missing:
            log.warning("taking up %d job(s) fetched by a call whose reply was lost",
                        len(missing))
            self.take(missing)
        return len(missing)

    def finish(self, batch: Sequence[Outcome]) -> None:
        """After ``batch`` is written: count it, free its room, call death handlers."""
        if batch:
            self._account(batch)
            ack.notify_deaths(self.settings, batch)

    def release(self, batch: Sequence[Outcome]) -> None:
        """Forget ``batch``'s jobs (written, or left in our lists for reconciliation)."""
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

    def _account(self, batch: Sequence[Outcome]) -> None:
        mean = self.mean_elapsed
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
        self.mean_elapsed = mean
        self.release(batch)

    # -- the thread ------------------------------------------------------------------------

    def stop(self) -> None:
        """End :meth:`run` after its current call; :attr:`leftover` then holds what it had."""
        self._stop.set()
        self.inbox.put(None)

    def deliver_woken(self, work: UnitOfWork, *, paused: bool = False) -> None:
        """From a waker's thread: a job its blocking wait moved into our list. It goes to
        the executors at once — one thread hop fewer before the job starts — unless strict
        order over several queues means it may have to go back (see :meth:`_wake_up`)."""
        if self._quiet.is_set() or paused:
            # Moved just as the worker was quieted (or its queue paused): not ours to run.
            if paused and self._recheck_at is None:
                self._recheck_at = time.monotonic() + PAUSED_RECHECK
                self.inbox.put(None)
            try:
                self.fetcher.requeue([work])
            except redis.RedisError as e:
                log.warning("cannot requeue a job taken while quieting (%s); it stays in "
                            "this process's in-progress list for reconciliation", e)
                self.reconcile_soon()
            return
        if self.options.strict and len(self.options.queues) > 1:
            self.inbox.put(Woken(work, taken=False))
        else:
            self.take([work])
            self.inbox.put(Woken(work, taken=True))

    def wake_polling(self) -> None:
        """A blocking wait failed: poll until it works again. The move it was waiting for
        may have happened with its reply lost: reconcile."""
        self._armed = False
        self.reconcile_soon()

    def reconcile_soon(self) -> None:
        """From any thread: a job may be in our lists that no thread knows of."""
        self._reconcile_due.set()
        self.inbox.put(None)

    def wake(self) -> None:
        """Make :meth:`run` look at its state again (after a quiet, for instance)."""
        self.inbox.put(None)

    def run(self) -> None:
        backoff = 0.0
        reconcile_every = self.settings.recovery_timeout / 2
        next_reconcile = time.monotonic() + reconcile_every
        fetched = False  # since the last reconciliation
        fetch_at = 0.0  # polling only: after an empty fetch, the next waits for idle_wait
        pending: list[Outcome] = []
        woken: list[Woken] = []
        while True:
            self._gather(pending, woken, fetch_at)
            if self._stop.is_set():
                self.leftover = pending
                # In our lists: the worker requeues them with the rest.
                self.take([w.work for w in woken if not w.taken])
                return
            now = time.monotonic()
            try:
                due = self._reconcile_due.is_set()
                if (due or (fetched and now >= next_reconcile)) and self._quiesce(
                        pending, woken):
                    if woken:
                        batch, woken = woken, []
                        self._wake_up(batch, pending)
                    # Cleared first: an error from here on sets it again.
                    self._reconcile_due.clear()
                    self.reconcile()
                    next_reconcile, fetched = now + reconcile_every, False
                if woken:
                    # Cleared first: after an error, reconciliation takes these up.
                    batch, woken = woken, []
                    self._wake_up(batch, pending)
                can_fetch = not self._armed and now >= fetch_at
                # The batch's jobs leave the in-progress lists before the fetch: their room too.
                room = self.room(len(pending)) if can_fetch else 0
                items = self.exchange(pending, room)
                backoff = 0.0
            except redis.RedisError as e:
                # Unwritten outcomes keep their jobs in our in-progress lists: no loss. The
                # fetch may have moved jobs without our knowing: reconcile once Redis is back.
                self._armed = False
                self._reconcile_due.set()
                backoff = next_backoff(backoff, "acknowledge and fetch", e)
                self._stop.wait(backoff)
                continue
            except Exception:
                # Should not happen; if it does, this thread must live on. The jobs stay in
                # our lists and are taken up again by reconciliation.
                log.exception("cannot record %d outcome(s)", len(pending))
                self.release(pending)
                pending = []
                self._reconcile_due.set()
                continue
            fetched = fetched or room > 0
            if not items and room > 0:
                if self.arm_wakers is not None:
                    try:
                        skipped_paused = self.arm_wakers()
                    except redis.RedisError as e:
                        # Not armed: the next cycle fetches (polls) again, after a pause.
                        backoff = next_backoff(backoff, "arming the blocking waits", e)
                        self._stop.wait(backoff)
                        continue
                    self._armed = True
                    if skipped_paused:
                        self._recheck_at = time.monotonic() + PAUSED_RECHECK
                else:
                    fetch_at = time.monotonic() + self.options.idle_wait

    def _quiesce(self, pending: list[Outcome], woken: list[Woken]) -> bool:
        """Before comparing our lists with what we track: no blocking wait may move a job
        in meanwhile, and every job one moved must be counted in (reconciliation would take
        it up a second time)."""
        if self.quiesce_wakers is None:
            return True
        self._armed = False
        if not self.quiesce_wakers():
            return False
        while True:
            try:
                self._sort(self.inbox.get_nowait(), pending, woken)
            except queue_mod.Empty:
                return True

    def _wake_up(self, woken: list[Woken], pending: list[Outcome]) -> None:
        """A blocking wait moved ``woken`` into our lists: fetch the rest now. In strict
        order over several queues they go back first — every wait stopped and what each moved
        collected, so the fetch that follows takes the queues in order: a job pushed onto a
        later queue must not overtake an earlier queue's."""
        self._armed = False
        if not all(w.taken for w in woken):
            self._quiesce(pending, woken)
        self.wakeups += len(woken)
        self.fetcher.requeue([w.work for w in woken if not w.taken])

    def _running_short(self, now: float) -> bool:
        """Whether the threads or the event loop, whichever had jobs of late, are about to run
        out of buffered ones: then outcomes are written (and the room they free fetched into)
        at once instead of after ``LINGER``. Watching only the threads' buffer, a worker of
        coroutine jobs wrote each outcome alone: 0.9 script calls per job."""
        half = self.prefetch // 2
        plain_recent = now - self._plain_at < SIDE_RECENT
        coroutines_recent = now - self._coroutines_at < SIDE_RECENT
        if plain_recent and self.ready.qsize() < max(self.options.concurrency, half):
            return True
        if coroutines_recent and self.coroutines_waiting() < max(1, half):
            return True
        return not (plain_recent or coroutines_recent)

    def _gather(self, pending: list[Outcome], woken: list[Woken], fetch_at: float) -> None:
        """Collect outcomes and woken jobs until there is something to do: outcomes to write
        (at once when the executors run short of jobs, else after ``LINGER``), room to fetch
        into, a wake-up, or a stop."""
        get = self.inbox.get
        abandoned = self.abandoned
        first_at: float | None = None
        while True:
            while True:  # everything already handed back, without waiting
                try:
                    item = get(block=False)
                except queue_mod.Empty:
                    break
                # Inlined for the common case, an outcome (one per job).
                if type(item) is Outcome and item.raw not in abandoned:
                    pending.append(item)
                else:
                    self._sort(item, pending, woken)
            if self._stop.is_set() or woken or self._reconcile_due.is_set():
                return
            now = time.monotonic()
            recheck = self._recheck_at
            if self._armed and recheck is not None and now >= recheck:
                # A queue left out as paused may have been resumed: fetch (which skips the
                # paused ones), then block again.
                self._recheck_at = None
                self._quiesce(pending, woken)
                return
            # Written outcomes free their room: the fetch after them may fill it.
            can_fetch = (not self._armed and now >= fetch_at
                         and self.room(len(pending)) > 0)
            if pending:
                if first_at is None:
                    first_at = now
                short = can_fetch and self._running_short(now)
                waited = now - first_at
                if short or len(pending) >= BATCH or waited >= LINGER:
                    return
                time.sleep(LINGER - waited)  # let more outcomes arrive: one write for all
                continue
            if can_fetch:
                return
            if not self._armed and fetch_at > now and self.room() > 0:
                timeout = fetch_at - now
            elif self._armed and recheck is not None:
                timeout = max(0.001, min(1.0, recheck - now))
            else:
                timeout = 1.0
            try:
                item = get(timeout=timeout)
            except queue_mod.Empty:
                continue
            self._sort(item, pending, woken)

    def _sort(self, item: Outcome | Woken | None, pending: list[Outcome],
              woken: list[Woken]) -> None:
        if item is None:
            return
        if isinstance(item, Woken):
            woken.append(item)
        elif item.raw not in self.abandoned:
            pending.append(item)

    def drain(self) -> tuple[list[Outcome], list[UnitOfWork]]:
        """At shutdown, after every thread stopped: the outcomes not yet written and the jobs
        not started (fetched, woken or buffered)."""
        outcomes = [o for o in self.leftover if o.raw not in self.abandoned]
        self.leftover = []
        unstarted: list[UnitOfWork] = []
        while True:
            try:
                item = self.inbox.get_nowait()
            except queue_mod.Empty:
                break
            if isinstance(item, Woken):
                if not item.taken:  # taken ones are in ``ready``
                    unstarted.append(item.work)
            elif item is not None and item.raw not in self.abandoned:
                outcomes.append(item)
        while True:
            try:
                work = self.ready.get_nowait()
            except queue_mod.Empty:
                return outcomes, unstarted
            if work is not None:
                unstarted.append(work)
