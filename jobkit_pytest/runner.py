"""Running jobs through jobkit's real worker code, one chosen job at a time.

The worker fetches from the right end of a queue. To run a chosen job (the oldest across all
queues, or the oldest of one class) the runner first moves it to the right end of its list in
one MULTI, then calls ``Worker.process_one()`` on a worker that listens to that queue only:
fetch, middleware, retry decision and acknowledgement are the production code paths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import redis

import jobkit
from jobkit.keys import Keys

from .clock import FakeClock
from .errors import JobkitTestError

Payload = dict[str, Any]
Select = Callable[[Payload], bool]


@dataclass(frozen=True)
class Waiting:
    """A job sitting in a queue list, a sorted set, or an in-progress list."""

    queue: str
    raw: bytes
    payload: Payload
    #: Sorted-set score (run time, retry time, death time); None in a queue list.
    score: float | None = None
    #: True when the job is at the right end of its list: the next one fetched.
    head: bool = False


def decode(raw: bytes) -> Payload | None:
    try:
        return jobkit.payload.decode(raw)
    except jobkit.PayloadError:
        return None


def _order(item: Waiting) -> tuple[float, float, str]:
    p = item.payload
    return (float(p.get("enqueued_at") or 0.0), float(p.get("created_at") or 0.0), item.queue)


class Runner:
    """Reads the test's Redis and runs jobs from it with per-queue strict workers."""

    def __init__(
        self,
        settings: jobkit.Settings,
        connection: redis.Redis,
        clock: FakeClock,
        *,
        known_queues: set[str] | None = None,
    ) -> None:
        self.settings = settings
        self.redis = connection
        self.clock = clock
        self.keys = Keys(settings.namespace)
        self._workers: dict[str, jobkit.Worker] = {}
        #: jid of every job this runner ran, for capture() and strict mode.
        self.ran: set[str] = set()
        #: Queue names to read in the first round trip (the recorder adds every enqueue's).
        self._known: set[str] = known_queues if known_queues is not None else set()

    def worker(self, queue: str) -> jobkit.Worker:
        found = self._workers.get(queue)
        if found is None:
            options = jobkit.WorkerOptions(queues=((queue, 1),), strict=True, log_jobs=False)
            found = self._workers[queue] = jobkit.Worker(
                self.settings, options, connection=self.redis
            )
        return found

    # -- reading -------------------------------------------------------------------------

    def queued(self) -> list[Waiting]:
        """Jobs in queue lists, oldest first within each queue, queues by name."""
        return self._read(due_check=False)[1]

    def _read(self, *, due_check: bool) -> tuple[bool, list[Waiting]]:
        """(whether scheduled or retry jobs are due, the queued jobs), in as few round trips
        as possible: queue names seen before are read in the same pipeline."""
        pipe = self.redis.pipeline(transaction=False)
        if due_check:
            now = self.clock()
            pipe.zrangebyscore(self.keys.schedule, "-inf", now, 0, 1)
            pipe.zrangebyscore(self.keys.retry, "-inf", now, 0, 1)
        pipe.smembers(self.keys.queues)
        known = sorted(self._known)
        for name in known:
            pipe.lrange(self.keys.queue(name), 0, -1)
        results: list[Any] = pipe.execute()
        due = False
        if due_check:
            due = bool(results[0] or results[1])
            results = results[2:]
        names = sorted(m.decode() for m in results[0])
        lists = dict(zip(known, results[1:], strict=True))
        new = [name for name in names if name not in lists]
        if new:
            self._known.update(new)
            pipe = self.redis.pipeline(transaction=False)
            for name in new:
                pipe.lrange(self.keys.queue(name), 0, -1)
            lists.update(zip(new, pipe.execute(), strict=True))
        out: list[Waiting] = []
        for name in names:
            raws = lists[name]
            for i, raw in enumerate(reversed(raws)):
                payload = decode(raw)
                if payload is not None:
                    out.append(Waiting(name, raw, payload, head=i == 0))
        return due, out

    def zset(self, key: str) -> list[Waiting]:
        """Members of a sorted set (schedule, retry, dead) by score."""
        out: list[Waiting] = []
        members: Any = self.redis.zrange(key, 0, -1, withscores=True)
        for raw, score in members:
            payload = decode(raw)
            if payload is not None:
                out.append(Waiting(str(payload.get("queue")), raw, payload, float(score)))
        return out

    def next_due(self, select: Select) -> Waiting | None:
        """Move due scheduled/retry jobs onto their queues, then return the oldest queued job
        that ``select`` accepts, across all queues (FIFO by enqueue time)."""
        due, queued = self._read(due_check=True)
        if due:
            self.worker("default").scheduler.enqueue_due(self.clock())
            queued = self.queued()
        heads: dict[str, Waiting] = {}
        for item in queued:
            if item.queue not in heads and select(item.payload):
                heads[item.queue] = item
        return min(heads.values(), key=_order) if heads else None

    # -- running -------------------------------------------------------------------------

    def enqueue_due(self) -> int:
        """Move scheduled and retry jobs that are due by the harness clock onto their queues."""
        return self.worker("default").scheduler.enqueue_due(self.clock())

    def run(self, item: Waiting) -> jobkit.Outcome:
        """Run ``item`` (a job in a queue list) through fetch, process and acknowledge."""
        key = self.keys.queue(item.queue)
        if not item.head:
            pipe = self.redis.pipeline(transaction=True)
            pipe.lrem(key, -1, item.raw)  # type: ignore[arg-type]
            pipe.rpush(key, item.raw)
            pipe.execute()
        self.ran.add(str(item.payload.get("jid")))
        outcome = self.worker(item.queue).process_one()
        if outcome is None or outcome.raw != item.raw:
            raise JobkitTestError(
                f"the job {item.payload.get('jid')} vanished from queue {item.queue!r} before "
                "the harness could run it; is another worker consuming this test's Redis?"
            )
        return outcome

    def redeliver(self, item: Waiting) -> Waiting:
        """Put ``item`` back at the head of its queue: out of the in-progress list if a crash
        left it there, else pushed again (a duplicate delivery of an acknowledged job)."""
        if not self.worker(item.queue).fetcher.requeue([(item.queue, item.raw)]):
            pipe = self.redis.pipeline(transaction=True)
            pipe.sadd(self.keys.queues, item.queue)
            pipe.rpush(self.keys.queue(item.queue), item.raw)
            pipe.execute()
        return replace(item, head=True)

    def run_jid(self, queue: str, jid: str) -> jobkit.Outcome:
        """Run the queued job with ``jid``."""
        for item in self.queued():
            if item.queue == queue and item.payload.get("jid") == jid:
                return self.run(item)
        for item in self.zset(self.keys.schedule):
            if item.payload.get("jid") == jid:
                # Inline mode runs scheduled jobs at once, as Sidekiq's inline! does.
                from jobkit.api import Admin, JobRecord

                Admin(self.settings, connection=self.redis).retry_now(
                    JobRecord("schedule", item.raw, item.payload, item.score))
                return self.run_jid(queue, jid)
        raise JobkitTestError(f"job {jid} is not in queue {queue!r}")
