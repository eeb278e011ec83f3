"""Moving due jobs from the ``schedule`` and ``retry`` sets onto their queues."""

from __future__ import annotations

import logging
import random

import redis

from . import payload as pl
from . import scripts
from .ack import add_dead
from .errors import PayloadError
from .keys import Keys
from .processor import invalid_payload
from .replies import integer
from .settings import Settings

log = logging.getLogger("jobkit.scheduler")
BATCH = 100


class Scheduler:
    """Enqueues due jobs; safe to run in every worker at once (see ``MOVE_DUE``)."""

    def __init__(self, connection: redis.Redis, settings: Settings) -> None:
        self.redis = connection
        self.settings = settings
        self.keys = Keys(settings.namespace)
        self._move = connection.register_script(scripts.MOVE_DUE)

    def enqueue_due(self, now: float | None = None) -> int:
        """Move every job due by ``now`` to its queue; returns how many this call moved."""
        now = self.settings.clock() if now is None else now
        moved = 0
        sets = (self.keys.schedule, self.keys.retry)
        # One command for the common idle case of two empty sets, instead of one per set.
        if not integer(self.redis.exists(*sets)):
            return 0
        for zset in sets:
            while True:
                members: list[bytes] = self.redis.zrangebyscore(  # type: ignore[assignment]
                    zset, "-inf", now, 0, BATCH)
                if not members:
                    break
                moved += self._move_batch(zset, members, now)
                if len(members) < BATCH:
                    break
        return moved

    def _move_batch(self, zset: str, members: list[bytes], now: float) -> int:
        keys = [zset, self.keys.queues]
        args: list[bytes | str] = []
        for raw in members:
            try:
                job = pl.decode(raw)
            except PayloadError as e:
                self._bury(zset, raw, e, now)
                continue
            job.pop("at", None)
            job["enqueued_at"] = float(now)
            keys.append(self.keys.queue(job["queue"]))
            args += [raw, pl.encode(job), job["queue"]]
        if not args:
            return 0
        return int(self._move(keys=keys, args=args))

    def _bury(self, zset: str, raw: bytes, error: PayloadError, now: float) -> None:
        log.error("unreadable job in %r moved to the dead set: %s", zset, error)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(zset, raw)
        add_dead(pipe, self.keys, self.settings, pl.encode(invalid_payload(raw, "default", error,
                                                                              now)), now)
        pipe.execute()

    def next_wait(self, process_count: int, rng: random.Random) -> float:
        """Sidekiq's randomised poll interval: the average scales with the number of live
        processes, so the cluster as a whole polls about once per ``poll_interval``."""
        average = self.settings.poll_interval * max(1, process_count)
        return average * rng.random() + average / 2
