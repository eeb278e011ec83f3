"""Writing job outcomes to Redis: retry, kill, count, acknowledge — one MULTI per batch.

A batch that all succeeded skips the MULTI: :meth:`Acknowledger.acks` turns it into
acknowledgements that ride on the next fetch's script call (:class:`jobkit.fetch.Acks`)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence

import redis

from . import payload as pl
from . import scripts
from .errors import PayloadError
from .fetch import Acks
from .keys import Keys
from .processor import Outcome, invalid_payload
from .settings import Settings

log = logging.getLogger("jobkit.worker")
#: Sidekiq keeps daily stat counters for five years.
STATS_TTL = 5 * 365 * 24 * 3600


def add_dead(pipe: redis.client.Pipeline, keys: Keys, settings: Settings, raw: bytes,
             now: float) -> None:
    """Add a job to the dead set and trim it by age and size, as Sidekiq's DeadSet#kill."""
    pipe.zadd(keys.dead, {raw: now})
    pipe.zremrangebyscore(keys.dead, "-inf", now - settings.dead_timeout)
    pipe.zremrangebyrank(keys.dead, 0, -(settings.dead_max_jobs + 1))


#: (connection pool, daily key) → when this process last set the key's expiry.
_expired: dict[tuple[int, str], float] = {}
#: Re-set a daily key's expiry at most this often per process (it is days long anyway).
_EXPIRE_EVERY = 3600.0


_day_cache: tuple[int, str] = (-1, "")


def _day(now: float) -> str:
    """The UTC date of ``now`` (cached per minute: it is asked for every batch)."""
    global _day_cache
    minute = int(now // 60)
    if _day_cache[0] != minute:
        _day_cache = (minute, dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y-%m-%d"))
    return _day_cache[1]


def _expire_due(connection: redis.Redis | redis.client.Pipeline, daily: str) -> bool:
    """Whether this process should (re)set ``daily``'s expiry now; setting it on every batch
    would be a third command per counter."""
    cache_key = (id(connection.connection_pool), daily)
    last = _expired.get(cache_key)
    tick = time.monotonic()
    if last is None or tick - last > _EXPIRE_EVERY:
        _expired[cache_key] = tick
        return True
    return False


def count_stats(pipe: redis.client.Pipeline, keys: Keys, processed: int, failed: int,
                now: float) -> None:
    """Increment Sidekiq's total and daily (UTC) processed/failed counters."""
    day = _day(now)
    for name, n in (("processed", processed), ("failed", failed)):
        if n:
            daily = keys.stat(name, day)
            pipe.incrby(keys.stat(name), n)
            pipe.incrby(daily, n)
            if _expire_due(pipe, daily):
                pipe.expire(daily, STATS_TTL)


class Acknowledger:
    """Writes the outcomes of one process's jobs."""

    def __init__(self, connection: redis.Redis, keys: Keys, settings: Settings,
                 identity: str) -> None:
        self.redis = connection
        self.keys = keys
        self.settings = settings
        self.identity = identity

    def acks(self, outcomes: Sequence[Outcome]) -> Acks | None:
        """The batch as plain acknowledgements for :meth:`Fetcher.fetch`, if every job in it
        succeeded and holds no unique lock; None if it needs :meth:`write`."""
        if not all(o.status == "done" and o.unlock is None for o in outcomes):
            return None
        # The common case, folded into the next fetch's script call: a MULTI pipeline costs
        # a round trip, and a command (and its Python-side packing) per job.
        today = self.keys.stat("processed", _day(self.settings.clock()))
        return Acks([(o.queue, o.raw) for o in outcomes], self.keys.stat("processed"), today,
                    STATS_TTL if _expire_due(self.redis, today) else 0)

    def write(self, outcomes: Sequence[Outcome]) -> None:
        """Record ``outcomes`` atomically (see :func:`write`)."""
        write(self.redis, self.keys, self.settings, self.identity, outcomes)


def write(
    connection: redis.Redis,
    keys: Keys,
    settings: Settings,
    identity: str,
    outcomes: Sequence[Outcome],
) -> None:
    """Record ``outcomes`` atomically; each job leaves its in-progress list in the same MULTI
    that stores its retry or dead entry, so a crash can only lead to a redelivery."""
    now = settings.clock()
    pipe = connection.pipeline(transaction=True)
    processed = failed = 0

    def stored(out: Outcome) -> bytes:
        assert out.payload is not None
        try:
            return pl.encode(out.payload)
        except PayloadError as e:
            # Never lose the job to an encoding problem: keep its original bytes instead.
            return pl.encode(invalid_payload(out.raw, out.queue, e, now))

    for out in outcomes:
        pipe.lrem(keys.inprogress(identity, out.queue), 1, out.raw)  # type: ignore[arg-type]
        if out.status == "requeue":
            pipe.zadd(keys.schedule, {out.raw: out.score or now})
            if out.unlock is not None:
                # A cancelled while_executing job lets go of its lock until it runs again.
                pipe.eval(scripts.UNLOCK, 1, out.unlock[0], out.unlock[1])
            continue
        processed += 1
        if out.failed:
            failed += 1
        if out.status == "retry" and out.payload is not None:
            pipe.zadd(keys.retry, {stored(out): out.score or now})
        elif out.status in ("dead", "invalid") and out.payload is not None:
            add_dead(pipe, keys, settings, stored(out), now)
        if out.unlock is not None:
            # EVAL, not EVALSHA: a NOSCRIPT error inside MULTI would not undo the other writes.
            pipe.eval(scripts.UNLOCK, 1, out.unlock[0], out.unlock[1])
    count_stats(pipe, keys, processed, failed, now)
    pipe.execute()


def call_death_handlers(settings: Settings, job: pl.Payload, exc: BaseException) -> None:
    """Call every death handler with a dead job; a failing handler is logged, not raised."""
    for handler in settings.death_handlers:
        try:
            handler(job, exc)
        except Exception:
            log.exception("death handler %r failed for jid %s", handler, job.get("jid"))


def notify_deaths(settings: Settings, outcomes: Sequence[Outcome]) -> None:
    """Call the death handlers for each outcome that is a death."""
    for out in outcomes:
        if out.status in ("dead", "invalid") and out.payload is not None and out.exc is not None:
            call_death_handlers(settings, out.payload, out.exc)
