"""Recovering jobs from dead processes: requeue what a killed worker had in progress, and
kill the rare job that keeps killing the workers that run it."""

from __future__ import annotations

import logging
from typing import Any

import redis

from . import payload as pl
from . import scripts
from .ack import add_dead, call_death_handlers
from .errors import PayloadError, WorkerCrashed
from .keys import Keys
from .processor import invalid_payload
from .replies import texts
from .retry import record_error
from .settings import Settings

log = logging.getLogger("jobkit.recovery")
#: Recovery counts are forgotten a day after the last recovery.
COUNTS_TTL = 24 * 3600
#: A worker's periodic recovery reads the poison list on one run in this many.
POISON_EVERY = 4


class Recovery:
    """Finds in-progress lists whose owner stopped refreshing its liveness key and
    requeues their jobs. Any worker may run it; each job moves once (see ``RECOVER``)."""

    def __init__(self, connection: redis.Redis, settings: Settings) -> None:
        self.redis = connection
        self.settings = settings
        self.keys = Keys(settings.namespace)
        self._recover = connection.register_script(scripts.RECOVER)
        self._bury = connection.register_script(scripts.BURY_POISON)
        self._runs = 0

    def run(self, *, alive: str | None = None) -> int:
        """Requeue the jobs of every dead process; returns how many jobs moved.

        ``alive`` names the calling process, known to be alive: its liveness is not asked.
        The poison list is read when this call found a dead process and on every
        ``POISON_EVERY``-th call otherwise (it fills only in a recovery, which buries what it
        finds at once; the periodic look catches a process killed in between)."""
        members = texts(self.redis.smembers(self.keys.inprogress_index))
        identities = sorted({m.split("|", 1)[0] for m in members} - {alive})
        moved = 0
        dead: set[str] = set()
        if identities:
            pipe = self.redis.pipeline(transaction=False)
            for identity in identities:
                pipe.exists(self.keys.alive(identity))
            dead = {i for i, up in zip(identities, pipe.execute(), strict=True) if not up}
            for member in members:
                identity, _, queue = member.partition("|")
                if identity in dead:
                    moved += self._recover_list(identity, queue, member)
        self._runs += 1
        if dead or alive is None or self._runs % POISON_EVERY == 1:
            self.bury_poison()
        return moved

    def _recover_list(self, identity: str, queue: str, member: str) -> int:
        n = int(self._recover(
            keys=[self.keys.inprogress_index, self.keys.inprogress(identity, queue),
                  self.keys.queue(queue), self.keys.alive(identity), self.keys.recovered,
                  self.keys.poison],
            args=[member, self.settings.max_recoveries, COUNTS_TTL],
        ))
        if n > 0:
            log.warning("requeued %d job(s) of dead process %s from queue %r", n, identity, queue)
        return max(n, 0)

    def bury_poison(self) -> list[dict[str, Any]]:
        """Move jobs recovered too often to the dead set; returns their dead payloads."""
        buried = []
        raws: list[bytes] = self.redis.lrange(self.keys.poison, 0, -1)  # type: ignore[assignment]
        for raw in raws:
            now = self.settings.clock()
            error = WorkerCrashed(
                f"the job was in progress in {self.settings.max_recoveries + 1} worker "
                "processes that died (killed, out of memory, crashed); killed as a poison pill"
            )
            try:
                job = record_error(pl.decode(raw), error, now)
            except PayloadError as e:
                job = invalid_payload(raw, "default", e, now)
            if self._bury(keys=[self.keys.poison, self.keys.dead],
                          args=[raw, pl.encode(job), now]):
                log.error("job %s (%s) killed: %s", job.get("jid"), job.get("class"), error)
                call_death_handlers(self.settings, job, error)
                buried.append(job)
        if buried:
            pipe = self.redis.pipeline(transaction=True)
            # Trim the dead set as every other kill does.
            add_dead(pipe, self.keys, self.settings, pl.encode(buried[-1]), self.settings.clock())
            pipe.execute()
        return buried
