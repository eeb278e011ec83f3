"""Writing job outcomes to Redis: acknowledge, retry, kill, count — one MULTI per batch."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence

import redis

from . import payload as pl
from . import scripts
from .errors import PayloadError
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


def count_stats(pipe: redis.client.Pipeline, keys: Keys, processed: int, failed: int,
                now: float) -> None:
    """Increment Sidekiq's total and daily (UTC) processed/failed counters."""
    day = dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y-%m-%d")
    for name, n in (("processed", processed), ("failed", failed)):
        if n:
            daily = keys.stat(name, day)
            pipe.incrby(keys.stat(name), n)
            pipe.incrby(daily, n)
            # Setting the expiry on every batch would be a third command per counter.
            cache_key = (id(pipe.connection_pool), daily)
            last = _expired.get(cache_key)
            tick = time.monotonic()
            if last is None or tick - last > _EXPIRE_EVERY:
                pipe.expire(daily, STATS_TTL)
                _expired[cache_key] = tick


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
