"""The client: validates, builds and pushes jobs (the enqueue side of the runtime).

What a push writes is decided here as data (:class:`Writes`), purely; the sync client sends
it with redis-py and :class:`~jobkit.aclient.AsyncClient` with ``redis.asyncio``, so the two
differ only in the round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import redis

from . import bulk, scripts, unique
from . import payload as pl
from .connection import connect, send_pipelined
from .errors import EnqueueError
from .keys import Keys
from .options import JobOptions
from .settings import Settings

#: ``until_*`` unique modes take a lock when the job is pushed (the others only when it runs).
LOCK_ON_PUSH = ("until_executed", "until_executing")


@dataclass(frozen=True)
class Ready:
    """A job checked and through the client middleware, waiting to be pushed."""

    payload: pl.Payload
    at: float | None = None
    unique_ttl_ms: int | None = None


class Writes(NamedTuple):
    """The Redis writes of one round trip, as data: ``commands`` as (name, *args) tuples,
    then ``locks``, one unique-lock script call (keys, args) per job; in one MULTI when
    ``atomic``."""

    commands: list[tuple[Any, ...]]
    locks: list[tuple[list[Any], list[Any]]]
    atomic: bool


class ReadyPush(NamedTuple):
    """One encoded payload and its destination; ``unique`` holds the lock script's
    (keys, args) when the push takes a unique lock."""

    raw: bytes
    queue: str
    target: str
    scheduled: bool
    score: float
    unique: tuple[list[Any], list[Any]] | None

    def writes(self, queues_key: str) -> Writes:
        """What pushing it writes."""
        if self.unique is not None:
            return Writes([], [self.unique], False)
        if self.scheduled:
            return Writes([("ZADD", self.target, self.score, self.raw)], [], False)
        # SADD first: if the LPUSH lands, the queue is registered; a failure between the
        # two leaves at most a registered, empty queue.
        return Writes([("SADD", queues_key, self.queue), ("LPUSH", self.target, self.raw)],
                      [], False)


@dataclass
class Batch:
    """One round trip of a bulk enqueue: jobs ``start`` to ``start + len(jids)`` of the
    call's ``total``."""

    start: int
    total: int
    #: Per job of the batch; None for one a middleware dropped.
    jids: list[str | None]
    writes: Writes
    #: The payloads pushed, for the middleware's ``after_push`` (empty without middleware).
    payloads: list[pl.Payload]


class Client:
    """Pushes jobs into Redis in Sidekiq's layout, through the client middleware chain."""

    def __init__(self, settings: Settings, *, connection: redis.Redis | None = None) -> None:
        self.settings = settings
        self.keys = Keys(settings.namespace)
        self.redis: redis.Redis = connection if connection is not None else connect(
            settings.redis_url
        )
        self._enqueue_unique = self.redis.register_script(scripts.ENQUEUE_UNIQUE)

    def build(
        self, job: type, args: Sequence[Any], options: JobOptions, *, now: float
    ) -> pl.Payload:
        """A validated payload for ``job(*args)``; raises :class:`ArgumentError` on bad args.

        ``job`` is the job class; what the client needs of it (its arity, its ``dead``)
        travels in ``options``, so this module never imports the job model.
        """
        checked = pl.check_args(args)
        options.check_arity(checked)
        return pl.build(options.name, checked, queue=options.queue, retry=options.retry,
                        now=now, extra=bulk.extra_fields(options, checked))

    def _through_middleware(self, payload: pl.Payload) -> pl.Payload | None:
        if not self.settings.client_middleware:
            return payload
        call: Callable[[pl.Payload], pl.Payload | None] = _accept
        for mw in reversed(self.settings.client_middleware):
            call = _bind(mw, call)
        return call(payload)

    def enqueue(
        self, job: type, args: Sequence[Any], options: JobOptions, *, at: float | None = None
    ) -> str | None:
        """Enqueue one job now, or at epoch ``at``; the jid, or None if it was dropped."""
        ready = self.prepare(job, args, options, at=at)
        return None if ready is None else self.push_ready(ready)

    def prepare(
        self, job: type, args: Sequence[Any], options: JobOptions, *, at: float | None = None
    ) -> Ready | None:
        """Check, build and pass one job through the middleware without pushing it (for
        pushes deferred to a commit); None if a middleware dropped it."""
        now = self.settings.clock()
        payload = self._through_middleware(self.build(job, args, options, now=now))
        if payload is None:
            return None
        ttl = self._lock_ttl(options, at, now) if options.unique else None
        return Ready(payload, at, ttl)

    def push_ready(self, ready: Ready) -> str | None:
        """Push a prepared job; the jid, or None if its unique lock was taken."""
        return self.push(dict(ready.payload), at=ready.at, unique_ttl_ms=ready.unique_ttl_ms)

    def _lock_ttl(self, options: JobOptions, at: float | None, now: float) -> int | None:
        if options.unique not in LOCK_ON_PUSH:
            return None
        return unique.lock_ttl_ms(options, delay=(at - now) if at is not None else 0.0)

    def push(
        self,
        payload: pl.Payload,
        *,
        at: float | None = None,
        unique_ttl_ms: int | None = None,
        now: float | None = None,
    ) -> str | None:
        """Push a ready payload (already through middleware) now or at ``at``."""
        ready = self.prepare_push(payload, at=at, unique_ttl_ms=unique_ttl_ms, now=now)
        replies = self.send(ready.writes(self.keys.queues))
        if ready.unique is not None and not replies[0]:
            return None
        self._after_push(payload)
        return str(payload["jid"])

    def send(self, writes: Writes) -> list[Any]:
        """Send ``writes`` in one round trip; their replies (the locks' last)."""
        if not writes.atomic and not writes.locks:
            return send_pipelined(self.redis, *writes.commands)
        if writes.locks and not writes.commands and len(writes.locks) == 1:
            # Alone, the script call is one EVALSHA; in a pipeline redis-py would first
            # check that the script is loaded, a second round trip.
            keys, args = writes.locks[0]
            return [self._enqueue_unique(keys=keys, args=args)]
        pipe = self.redis.pipeline(transaction=writes.atomic)
        for command in writes.commands:
            pipe.execute_command(*command)  # type: ignore[no-untyped-call]
        for keys, args in writes.locks:
            self._enqueue_unique(keys=keys, args=args, client=pipe)
        return pipe.execute()

    def prepare_push(
        self,
        payload: pl.Payload,
        *,
        at: float | None = None,
        unique_ttl_ms: int | None = None,
        now: float | None = None,
    ) -> ReadyPush:
        """The bytes of ``payload`` and where they go (shared by the sync and async clients)."""
        if now is None:
            now = self.settings.clock()
        payload.pop("at", None)
        scheduled = at is not None and at > now
        if not scheduled:
            payload["enqueued_at"] = float(now)
        raw = pl.encode(payload)
        queue = payload["queue"]
        target = self.keys.schedule if scheduled else self.keys.queue(queue)
        unique_call = None
        if unique_ttl_ms is not None:
            unique_call = (
                [self.keys.queues, self.keys.unique(payload["unique_digest"]),
                 self.keys.unique_rejected, target],
                [queue, raw, payload["jid"], unique_ttl_ms, repr(at) if scheduled else ""],
            )
        return ReadyPush(raw, queue, target, scheduled, float(at or now), unique_call)

    def _after_push(self, payload: pl.Payload) -> None:
        for mw in self.settings.client_middleware:
            mw.after_push(payload)

    def enqueue_bulk(
        self,
        job: type,
        args_list: Iterable[Sequence[Any]],
        options: JobOptions,
        *,
        batch_size: int = 1000,
    ) -> list[str | None]:
        """Enqueue one job per argument list, ``batch_size`` jobs per round trip; the jids
        (None for a job a middleware dropped or a unique lock refused).

        Every list is checked before anything is pushed. Each batch lands whole or not at
        all (one MULTI); if Redis fails part way, :class:`EnqueueError` says which jobs are in.
        """
        jids: list[str | None] = []
        for batch in self.bulk_batches(args_list, options, batch_size=batch_size):
            try:
                replies = self.send(batch.writes)
            except redis.RedisError as e:
                raise EnqueueError.part_way(jids, batch.start, len(batch.jids), batch.total,
                                            e) from e
            jids += self.bulk_pushed(batch, replies)
        return jids

    def bulk_batches(
        self, args_list: Iterable[Sequence[Any]], options: JobOptions, *, batch_size: int
    ) -> Iterator[Batch]:
        """The round trips of a bulk enqueue, as data (shared by the sync and async clients).

        Everything that can fail (the checks, ``unique_args``, the client middleware) runs
        for every job before the first batch is made, so such a failure pushes nothing.
        """
        bulk.check_batch_size(batch_size)
        checked = bulk.check_all(args_list, options)
        now = self.settings.clock()
        jids = bulk.new_jids(len(checked))
        ttl = self._lock_ttl(options, None, now) if options.unique in LOCK_ON_PUSH else None
        # Without client middleware every payload of the call has the same shape: encode it
        # from one template instead of building and encoding a dict per job.
        template = None if self.settings.client_middleware else bulk.Template(options, now)
        payloads = [] if template else [self._through_middleware(pl.build(
            options.name, args, queue=options.queue, retry=options.retry, now=now,
            extra=bulk.extra_fields(options, args), jid=jid)) for args, jid in zip(
                checked, jids, strict=True)]
        digests = bulk.digests(checked, options) if template and options.unique else None
        keys = self.keys
        for start in range(0, len(checked), batch_size):
            batch = Batch(start, len(checked), [], Writes([], [], True), [])
            by_queue: dict[str, list[bytes]] = {}
            for i in range(start, min(start + batch_size, len(checked))):
                if template is not None:
                    jid, queue, digest = jids[i], options.queue, digests[i] if digests else ""
                    raw = template.encode(checked[i], jid, digest)
                else:
                    payload = payloads[i]
                    if payload is None:
                        batch.jids.append(None)
                        continue
                    payload["enqueued_at"] = float(now)
                    raw, queue, jid = pl.encode(payload), payload["queue"], payload["jid"]
                    digest = payload.get("unique_digest", "")
                    batch.payloads.append(payload)
                batch.jids.append(jid)
                if ttl is None:
                    by_queue.setdefault(queue, []).append(raw)
                else:
                    batch.writes.locks.append((
                        [keys.queues, keys.unique(digest), keys.unique_rejected,
                         keys.queue(queue)],
                        [queue, raw, jid, ttl, ""]))
            for queue, raws in by_queue.items():
                # LPUSH a b c leaves a at the right, so the list order is the call order.
                batch.writes.commands.extend(
                    [("SADD", keys.queues, queue), ("LPUSH", keys.queue(queue), *raws)])
            yield batch

    def bulk_pushed(self, batch: Batch, replies: list[Any]) -> list[str | None]:
        """The jids of a sent batch (None where a unique lock was taken), after calling the
        middleware's ``after_push`` for each job pushed."""
        if not batch.writes.locks and not batch.payloads:
            return batch.jids
        # One lock reply per job kept, in order, after the plain commands' replies.
        taken = iter(replies[len(batch.writes.commands):] if batch.writes.locks else ())
        payloads = iter(batch.payloads)
        jids: list[str | None] = []
        for jid in batch.jids:
            if jid is not None and batch.writes.locks and not next(taken):
                jid = None
                next(payloads, None)
            elif jid is not None and batch.payloads:
                self._after_push(next(payloads))
            jids.append(jid)
        return jids


def _accept(payload: pl.Payload) -> pl.Payload | None:
    return payload


def _bind(mw: Any, call_next: Callable[[pl.Payload], pl.Payload | None]) -> Callable[
    [pl.Payload], pl.Payload | None
]:
    return lambda payload: mw.enqueue(payload, call_next)
