"""The client: validates, builds and pushes jobs (the enqueue side of the runtime)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import redis

from . import payload as pl
from . import scripts, unique
from .connection import connect, send_pipelined
from .errors import ArgumentError
from .keys import Keys
from .options import JobOptions
from .settings import Settings

if TYPE_CHECKING:
    from .job import Job


@dataclass(frozen=True)
class Ready:
    """A job checked and through the client middleware, waiting to be pushed."""

    payload: pl.Payload
    at: float | None = None
    unique_ttl_ms: int | None = None


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
        self, job: type[Job], args: Sequence[Any], options: JobOptions, *, now: float
    ) -> pl.Payload:
        """A validated payload for ``job(*args)``; raises :class:`ArgumentError` on bad args."""
        checked = pl.check_args(args)
        job.check_arity(checked)
        extra: dict[str, Any] = {}
        if not options.dead or not job.dead:
            # Written whenever it differs from Sidekiq's default or overrides the class's.
            extra["dead"] = options.dead
        if options.backtrace:
            extra["backtrace"] = options.backtrace
        if options.tags:
            extra["tags"] = list(options.tags)
        if options.unique:
            extra["unique_digest"] = unique.digest(options, checked)
            extra["unique"] = options.unique
        return pl.build(
            options.name, checked, queue=options.queue, retry=options.retry, now=now, extra=extra
        )

    def _through_middleware(self, payload: pl.Payload) -> pl.Payload | None:
        if not self.settings.client_middleware:
            return payload
        call: Callable[[pl.Payload], pl.Payload | None] = _accept
        for mw in reversed(self.settings.client_middleware):
            call = _bind(mw, call)
        return call(payload)

    def enqueue(
        self, job: type[Job], args: Sequence[Any], options: JobOptions, *, at: float | None = None
    ) -> str | None:
        """Enqueue one job now, or at epoch ``at``; the jid, or None if it was dropped."""
        ready = self.prepare(job, args, options, at=at)
        return None if ready is None else self.push_ready(ready)

    def prepare(
        self, job: type[Job], args: Sequence[Any], options: JobOptions, *, at: float | None = None
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
        if options.unique not in ("until_executed", "until_executing"):
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
        if ready.unique is not None:
            if not self._enqueue_unique(keys=ready.unique[0], args=ready.unique[1]):
                return None
        elif ready.scheduled:
            self.redis.zadd(self.keys.schedule, {ready.raw: ready.score})
        else:
            # SADD first: if the LPUSH lands, the queue is registered; a failure between
            # the two leaves at most a registered, empty queue.
            send_pipelined(self.redis, ("SADD", self.keys.queues, ready.queue),
                           ("LPUSH", ready.target, ready.raw))
        self._after_push(payload)
        return str(payload["jid"])

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
        job: type[Job],
        args_list: Iterable[Sequence[Any]],
        options: JobOptions,
        *,
        batch_size: int = 1000,
    ) -> list[str | None]:
        """Enqueue one job per argument list, ``batch_size`` jobs per round trip."""
        payloads, now = self.build_bulk(job, args_list, options, batch_size=batch_size)
        if options.unique in ("until_executed", "until_executing"):
            ttl = self._lock_ttl(options, None, now)
            return [self.push(p, unique_ttl_ms=ttl) if p else None for p in payloads]
        # One MULTI per batch: the SADDs and LPUSHes of a batch land together or not at all.
        pipe = self.redis.pipeline(transaction=True)
        for by_queue, pushed in bulk_batches(payloads, now, batch_size):
            for queue, raws in by_queue.items():
                pipe.sadd(self.keys.queues, queue)
                # LPUSH a b c leaves a at the right, so the list order is the call order.
                pipe.lpush(self.keys.queue(queue), *raws)
            pipe.execute()
            for p in pushed:
                self._after_push(p)
        return [p["jid"] if p else None for p in payloads]

    def build_bulk(
        self,
        job: type[Job],
        args_list: Iterable[Sequence[Any]],
        options: JobOptions,
        *,
        batch_size: int,
    ) -> tuple[list[pl.Payload | None], float]:
        """Checked payloads for ``perform_bulk``, through the middleware (None = dropped),
        and the time they were built at."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ArgumentError(f"batch_size={batch_size!r} must be a positive integer")
        if isinstance(args_list, str | bytes) or not isinstance(args_list, Iterable):
            raise ArgumentError(f"args_list={args_list!r} must be a list of argument lists")
        now = self.settings.clock()
        payloads: list[pl.Payload | None] = []
        for i, args in enumerate(args_list):
            if isinstance(args, str | bytes) or not isinstance(args, Sequence):
                raise ArgumentError(
                    f"args_list[{i}]={args!r} must be a list of arguments, e.g. [[1], [2]]"
                )
            try:
                built = self.build(job, args, options, now=now)
            except ArgumentError as e:
                raise ArgumentError(f"args_list[{i}]: {e}") from e
            payloads.append(self._through_middleware(built))
        return payloads, now


class ReadyPush(NamedTuple):
    """One encoded payload and its destination; ``unique`` holds the lock script's
    (keys, args) when the push takes a unique lock."""

    raw: bytes
    queue: str
    target: str
    scheduled: bool
    score: float
    unique: tuple[list[Any], list[Any]] | None


def bulk_batches(
    payloads: list[pl.Payload | None], now: float, batch_size: int
) -> Iterator[tuple[dict[str, list[bytes]], list[pl.Payload]]]:
    """Per batch of ``batch_size`` jobs: the encoded payloads by queue, and the payloads."""
    pushed: list[pl.Payload] = []
    by_queue: dict[str, list[bytes]] = {}
    for count, p in enumerate(payloads, 1):
        if p is not None:
            p["enqueued_at"] = float(now)
            by_queue.setdefault(p["queue"], []).append(pl.encode(p))
            pushed.append(p)
        if (count % batch_size == 0 or count == len(payloads)) and pushed:
            yield by_queue, pushed
            by_queue, pushed = {}, []


def _accept(payload: pl.Payload) -> pl.Payload | None:
    return payload


def _bind(mw: Any, call_next: Callable[[pl.Payload], pl.Payload | None]) -> Callable[
    [pl.Payload], pl.Payload | None
]:
    return lambda payload: mw.enqueue(payload, call_next)
