"""Recovering jobs from dead processes: requeue what a killed worker had in progress."""

from __future__ import annotations

import logging

import redis

from . import scripts
from .keys import Keys

log = logging.getLogger("jobkit.recovery")


class Recovery:
    """Finds in-progress lists whose owner stopped refreshing its liveness key and
    requeues their jobs. Any worker may run it; each job moves once (see ``RECOVER``)."""

    def __init__(self, connection: redis.Redis, keys: Keys) -> None:
        self.redis = connection
        self.keys = keys
        self._recover = connection.register_script(scripts.RECOVER)

    def run(self) -> int:
        """Requeue the jobs of every dead process; returns how many jobs moved."""
        members = [m.decode() if isinstance(m, bytes) else m
                   for m in self.redis.smembers(self.keys.inprogress_index)]
        identities = sorted({m.split("|", 1)[0] for m in members})
        if not identities:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for identity in identities:
            pipe.exists(self.keys.alive(identity))
        dead = {i for i, up in zip(identities, pipe.execute(), strict=True) if not up}
        moved = 0
        for member in members:
            identity, _, queue = member.partition("|")
            if identity not in dead:
                continue
            n = int(self._recover(
                keys=[self.keys.inprogress_index, self.keys.inprogress(identity, queue),
                      self.keys.queue(queue), self.keys.alive(identity)],
                args=[member],
            ))
            if n > 0:
                log.warning("requeued %d job(s) of dead process %s from queue %r", n, identity,
                            queue)
                moved += n
        if dead:
            self._forget_processes(dead)
        return moved

    def _forget_processes(self, identities: set[str]) -> None:
        # Sidekiq's ProcessSet.cleanup would drop these too, once their hash expires.
        pipe = self.redis.pipeline(transaction=False)
        ordered = sorted(identities)
        for identity in ordered:
            pipe.exists(self.keys.process(identity))
        gone = [i for i, up in zip(ordered, pipe.execute(), strict=True) if not up]
        if gone:
            self.redis.srem(self.keys.processes, *gone)
