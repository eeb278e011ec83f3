"""Reliable fetch: jobs move atomically from their queue into this process's in-progress
lists, and leave those lists only when their outcome is written (or they are requeued)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from . import scripts
from .errors import ConfigError
from .keys import Keys
from .work import UnitOfWork, units

QueueWeights = Sequence[tuple[str, int]]


def parse_queue(spec: str) -> tuple[str, int]:
    """``"critical,3"`` → ``("critical", 3)``; ``"default"`` → ``("default", 1)``."""
    name, sep, weight = spec.partition(",")
    name = name.strip()
    if not name or any(c.isspace() for c in name):
        raise ConfigError(f"queue {spec!r} must be NAME or NAME,WEIGHT with a non-empty name")
    if not sep:
        return name, 1
    try:
        value = int(weight)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"queue {spec!r}: weight {weight!r} must be a whole number >= 1")
    return name, value


def check_queues(queues: QueueWeights) -> tuple[tuple[str, int], ...]:
    if not queues:
        raise ConfigError("queues=() must name at least one queue")
    seen: set[str] = set()
    for name, weight in queues:
        if name in seen:
            raise ConfigError(f"queue {name!r} is listed twice")
        seen.add(name)
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
            raise ConfigError(f"queue {name!r}: weight={weight!r} must be an integer >= 1")
    return tuple(queues)


def fetch_order(queues: QueueWeights, *, strict: bool, rng: random.Random) -> list[str]:
    """Queues in the order to try them for one fetch.

    Sidekiq's weighting: each queue appears ``weight`` times, the list is shuffled, then
    de-duplicated, so a queue of weight 3 comes first three times as often as one of weight 1.
    Strict mode keeps the declared order.
    """
    if strict:
        return [name for name, _ in queues]
    expanded = [name for name, weight in queues for _ in range(weight)]
    rng.shuffle(expanded)
    return list(dict.fromkeys(expanded))


@dataclass(frozen=True)
class Acks:
    """Jobs that all succeeded, acknowledged in the same script call as the next fetch."""

    #: (queue, raw payload) of each job, as fetched.
    jobs: Sequence[tuple[str, bytes]]
    #: Sidekiq's processed counters to increment: the total and today's.
    processed_key: str
    today_key: str
    #: Seconds to (re)set today's counter to expire in; 0 leaves its expiry alone.
    expire: int = 0


class Fetcher:
    """Moves jobs into ``identity``'s in-progress lists and puts unfinished ones back."""

    def __init__(
        self,
        connection: redis.Redis,
        keys: Keys,
        identity: str,
        queues: QueueWeights,
        *,
        strict: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.redis = connection
        self.keys = keys
        self.identity = identity
        self.queues = check_queues(queues)
        self.strict = strict
        self.rng = rng or random.Random()
        self._fetch = connection.register_script(scripts.ACK_AND_FETCH)
        self._requeue = connection.register_script(scripts.REQUEUE)

    def inprogress(self, queue: str) -> str:
        return self.keys.inprogress(self.identity, queue)

    def member(self, queue: str) -> str:
        return f"{self.identity}|{queue}"

    def fetch(self, limit: int, *, acks: Acks | None = None) -> list[UnitOfWork]:
        """Up to ``limit`` jobs, oldest first, by queue priority; paused queues (the
        ``paused`` set) are skipped.

        With ``acks``, those jobs leave the in-progress lists (and are counted as processed)
        in the same atomic call, before the fetch: one round trip per worker cycle.
        """
        order = fetch_order(self.queues, strict=self.strict, rng=self.rng) if limit > 0 else []
        pairs = {name: number for number, name in enumerate(order, 1)}
        ack_args: list[bytes | str | int] = []
        for queue, raw in acks.jobs if acks else ():
            ack_args += [pairs.setdefault(queue, len(pairs) + 1), raw]
        keys: list[str] = [acks.processed_key, acks.today_key] if acks else ["", ""]
        keys += [self.keys.inprogress_index, self.keys.paused]
        for name in pairs:
            keys += [self.keys.queue(name), self.inprogress(name)]
        args: list[bytes | str | int] = [acks.expire if acks else 0, limit, len(order)]
        args += [self.member(name) for name in order]
        args += order
        flat = self._fetch(keys=keys, args=args + ack_args)
        return [work for i in range(0, len(flat), 2)
                for work in units(order[int(flat[i]) - 1], reversed(flat[i + 1]))]

    def requeue(self, items: Sequence[tuple[str, bytes]]) -> int:
        """Put fetched but unfinished jobs back at the front of their queues, atomically;
        safe to repeat. Returns how many moved."""
        if not items:
            return 0
        keys: list[str] = []
        # Reversed, so the oldest job ends up rightmost: the next one fetched.
        ordered = list(reversed(items))
        for queue, _ in ordered:
            keys += [self.inprogress(queue), self.keys.queue(queue)]
        return int(self._requeue(keys=keys, args=[raw for _, raw in ordered]))

    def held(self) -> list[tuple[str, bytes]]:
        """Every job in this process's in-progress lists, as (queue, raw payload)."""
        pipe = self.redis.pipeline(transaction=False)
        for name, _ in self.queues:
            pipe.lrange(self.inprogress(name), 0, -1)
        return [(name, raw) for (name, _), raws in zip(self.queues, pipe.execute(), strict=True)
                for raw in raws]
