"""Enqueueing periodic jobs: every worker process ticks every entry; one enqueue per tick.

Each process computes the ticks itself (from the schedule, no Redis needed) and claims each
due tick with ``CLAIM_TICKS``, which records the claim and pushes the job in one atomic step:
whichever processes race for a tick, or die, it is enqueued exactly once.

Which ticks a process claims:
- every tick that came due while it was watching (since its first poll) — even late, when
  Redis was away and the claim failed: it keeps the tick and claims it once Redis is back;
- ticks that came due while no process ran (between the entry's last claimed tick and this
  process's first poll), or while this one was stalled for over ``STALL`` seconds, follow the
  entry's ``catch_up``: the latest one, none, or all of them.
Either way at most ``CATCH_UP_LIMIT`` ticks per entry, the newest.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections.abc import Mapping

import redis

from . import periodic_entries, scripts
from .client import Client
from .keys import Keys
from .payload import Payload, encode
from .periodic_entries import CATCH_UP_LIMIT, Entry
from .settings import Settings

log = logging.getLogger("jobkit.periodic")
#: A poll this many seconds after the previous one means the process was stalled
#: (suspended, swapped out): the ticks in between count as missed, not as watched.
STALL = 60.0
#: Claims per script call.
BATCH = 500
#: Claimed ticks remembered per entry; a pending tick older than all of them is settled.
KEEP = CATCH_UP_LIMIT + 28
#: Seconds between claim attempts while Redis fails.
RETRY_WAIT = 1.0
#: Seconds between two publications of the definitions; ``jobkit cron`` calls an entry stale
#: when none was seen for ``STALE_AFTER``.
PUBLISH_EVERY = 3600.0
STALE_AFTER = 2 * PUBLISH_EVERY + 600
#: Longest sleep between polls, so entries defined later and clock jumps are noticed.
MAX_WAIT = 30.0


def ms(tick: float) -> int:
    """A tick as integer milliseconds: the one spelling every process uses for it."""
    return round(tick * 1000)


class Ticker:
    """Claims and enqueues the due ticks of ``entries`` (default: every defined entry)."""

    def __init__(
        self,
        connection: redis.Redis,
        settings: Settings,
        *,
        identity: str,
        entries: Mapping[str, Entry] | None = None,
        stall: float | None = STALL,
    ) -> None:
        self.redis = connection
        self.settings = settings
        self.keys = Keys(settings.namespace)
        self.identity = identity
        self.entries = dict(periodic_entries.entries() if entries is None else entries)
        #: None: never treat a gap between polls as a stall (a test's fake clock jumps).
        self.stall = stall
        self.client = Client(settings, connection=connection)
        self._claim = connection.register_script(scripts.CLAIM_TICKS)
        #: Ticks (epoch seconds) owed a claim, per entry, oldest first.
        self.pending: dict[str, list[float]] = {}
        self._heap: list[tuple[float, str]] = []
        self._last_poll: float | None = None
        self._synced = False
        self._published = 0.0
        self.enqueued = 0

    def poll(self, now: float | None = None) -> float:
        """Claim every due tick; returns the seconds until the next one is due."""
        now = self.settings.clock() if now is None else now
        if not self.entries:
            return MAX_WAIT
        if self._last_poll is None:
            self._heap = [(e.schedule.next_after(now), name) for name, e in self.entries.items()]
            heapq.heapify(self._heap)
            self._watch_start = now
        stalled = (self.stall is not None and self._last_poll is not None
                   and now - self._last_poll > self.stall)
        self._last_poll = now
        self._collect(now, stalled=stalled)
        try:
            if not self._synced:
                self._sync(now)
            elif now - self._published >= PUBLISH_EVERY:
                self._publish(now)
            self._claim_pending(now)
        except redis.RedisError as e:
            owed = sum(map(len, self.pending.values()))
            log.warning("periodic: could not enqueue %d due tick(s), retrying: %s", owed, e)
            return RETRY_WAIT
        except Exception:
            # The worker's housekeeping thread runs this: a bug here must not stop its
            # heartbeat (other workers would take this process for dead).
            log.exception("periodic: internal error, retrying in %.0f s", 10 * RETRY_WAIT)
            return 10 * RETRY_WAIT
        return max(0.0, min(MAX_WAIT, self._heap[0][0] - now))

    def _collect(self, now: float, *, stalled: bool) -> None:
        """Move ticks that came due by ``now`` from the schedule to ``pending``."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, name = heapq.heappop(heap)
            entry = self.entries[name]
            # ``due`` itself is the first tick in (due - 1 ms, now].
            ticks = entry.schedule.ticks(due - 0.001, now, limit=CATCH_UP_LIMIT)
            if stalled:
                ticks = _policy(entry, ticks)
            self._owe(name, ticks)
            heapq.heappush(heap, (entry.schedule.next_after(now), name))

    def _owe(self, name: str, ticks: list[float]) -> None:
        if not ticks:
            return
        owed = self.pending.setdefault(name, [])
        owed.extend(t for t in ticks if t not in owed)
        owed.sort()
        if len(owed) > CATCH_UP_LIMIT:
            log.warning("periodic %r: dropping %d tick(s) older than the newest %d", name,
                        len(owed) - CATCH_UP_LIMIT, CATCH_UP_LIMIT)
            del owed[:-CATCH_UP_LIMIT]

    def _sync(self, now: float) -> None:
        """Publish the definitions and owe the ticks missed while no process ran."""
        names = sorted(self.entries)
        pipe = self.redis.pipeline(transaction=False)
        self._publish(now, pipe)
        for name in names:
            pipe.hget(self.keys.cron_entry(name), "last_tick")
        replies = pipe.execute()[1:]
        for name, last in zip(names, replies, strict=True):
            if last is None:
                continue  # a new entry: nothing was missed, its first run is its next tick
            entry = self.entries[name]
            missed = entry.schedule.ticks(int(last) / 1000, self._watch_start,
                                          limit=CATCH_UP_LIMIT)
            if missed:
                log.info("periodic %r: %d tick(s) missed while no worker ran; catch_up=%r",
                         name, len(missed), entry.catch_up)
            self._owe(name, _policy(entry, missed))
        self._synced = True
        shown = ", ".join(names[:10]) + (f", … ({len(names)} in all)" if len(names) > 10 else "")
        log.info("periodic: ticking %s", shown)

    def _publish(self, now: float, pipe: redis.client.Pipeline | None = None) -> None:
        """Write the definitions with the time, for ``jobkit cron`` (which marks an entry no
        worker has published for ``STALE_AFTER`` seconds: removed from the code, or no
        worker runs)."""
        target: redis.Redis | redis.client.Pipeline = self.redis if pipe is None else pipe
        target.hset(self.keys.cron_entries, mapping={
            name: json.dumps({**entry.describe(), "published_at": now})
            for name, entry in self.entries.items()})
        self._published = now

    def _claim_pending(self, now: float) -> None:
        claims = [(name, tick) for name, ticks in self.pending.items() for tick in ticks]
        for start in range(0, len(claims), BATCH):
            batch = claims[start:start + BATCH]
            keys = [self.keys.queues, self.keys.cron_paused, self.keys.unique_rejected]
            args: list[str | int | bytes] = [KEEP, self.identity, repr(now)]
            built = []
            for name, tick in batch:
                try:
                    payload, lock, ttl = self._build(self.entries[name], tick, now)
                except Exception:
                    # A middleware or unique_args bug: log it and settle the tick, or it
                    # would fail again at every poll and hold up the entries after it.
                    log.exception("periodic %r: could not build the job for tick %s", name, tick)
                    payload, lock, ttl = None, None, 0
                built.append(payload)
                if payload is None:
                    continue  # a client middleware dropped it, as it may drop any enqueue
                keys += [self.keys.cron_entry(name), self.keys.cron_ticks(name),
                         self.keys.queue(payload["queue"]), lock or self.keys.cron_entry(name)]
                args += [name, ms(tick), encode(payload), payload["queue"], ttl,
                         payload["jid"]]
            codes = iter(self._claim(keys=keys, args=args) if len(keys) > 3 else ())
            for (name, tick), payload in zip(batch, built, strict=True):
                code = 0 if payload is None else int(next(codes))
                self.pending[name].remove(tick)
                if code == 1:
                    assert payload is not None
                    self.enqueued += 1
                    self.client._after_push(payload)
                elif code == 3:
                    log.info("periodic %r: tick %s not enqueued, its unique lock is held",
                             name, tick)
        self.pending = {name: ticks for name, ticks in self.pending.items() if ticks}

    def _build(self, entry: Entry, tick: float,
               now: float) -> tuple[Payload | None, str | None, int]:
        job, options = entry.job, entry.job.options()
        built = self.client.build(job, list(entry.args), options, now=now)
        built[periodic_entries.NAME_FIELD] = entry.name
        built[periodic_entries.TICK_FIELD] = tick
        payload = self.client._through_middleware(built)
        if payload is None:
            return None, None, 0
        payload["enqueued_at"] = float(now)
        ttl = self.client._lock_ttl(options, None, now) if options.unique else None
        if ttl is None:
            return payload, None, 0
        return payload, self.keys.unique(payload["unique_digest"]), ttl


def _policy(entry: Entry, missed: list[float]) -> list[float]:
    """The missed ticks to enqueue under the entry's ``catch_up``."""
    if entry.catch_up == "all":
        return missed
    if entry.catch_up == "latest":
        return missed[-1:]
    return []
