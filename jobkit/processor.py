"""Running one fetched job: decode, look up, wrap in server middleware, perform, decide.

The processor returns an :class:`Outcome` describing what Redis must record; the worker's
acknowledger writes outcomes in batches. Unique ``while_executing`` locks are the one
Redis call made here, because they must be held while ``perform`` runs.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import redis

from . import payload as pl
from . import periodic_entries, registry, retry, scripts
from .coroutines import (
    Layer,
    PlainLayer,
    cancelling,
    coroutine_layers,
    plain_layers,
    run_sync,
    settle,
    wrap,
)
from .errors import PayloadError, UnknownJobError
from .keys import Keys
from .periodic_entries import TICK_FIELD
from .settings import Settings

if TYPE_CHECKING:
    import redis.asyncio as aredis

    from .aconnection import PerLoop
    from .job import Job
    from .middleware.base import ServerMiddleware

log = logging.getLogger("jobkit.worker")

Status = Literal["done", "retry", "dead", "discarded", "dropped", "invalid", "requeue"]
#: Seconds a ``while_executing`` job waits before trying again when another copy runs.
WHILE_EXECUTING_WAIT = 1.0


@dataclass(slots=True)
class Outcome:
    """The result of running one job, and what to write for it."""

    raw: bytes
    queue: str
    status: Status
    #: The payload to store (retry/dead/requeue); for "done" the decoded payload, if any.
    payload: pl.Payload | None = None
    #: Epoch score for the retry or schedule set.
    score: float | None = None
    exc: BaseException | None = None
    job: type[Job] | None = None
    elapsed: float = 0.0
    #: (lock key, owner jid) to release when this outcome is written.
    unlock: tuple[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status not in ("done", "requeue")


def _valid_time(value: Any) -> bool:
    try:
        pl.epoch(value)
    except PayloadError:
        return False
    return True


#: Fields Sidekiq's API reads with a fixed type; a bad value is moved aside so its UI can
#: still render the dead job.
_FIELD_CHECKS: dict[str, Callable[[Any], bool]] = {
    "class": lambda v: isinstance(v, str) and bool(v),
    "args": lambda v: isinstance(v, list),
    "jid": lambda v: isinstance(v, str) and bool(v),
    "queue": lambda v: isinstance(v, str) and bool(v),
    "retry_count": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "tags": lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v),
    "error_backtrace": lambda v: isinstance(v, str),
    **{name: _valid_time for name in pl.TIME_FIELDS},
}


def invalid_payload(raw: bytes, queue: str, error: PayloadError, now: float) -> pl.Payload:
    """A valid dead-set entry that keeps an unreadable payload's bytes and the reason.

    Fields of the wrong type are kept under ``invalid_fields``, so nothing is lost and
    Sidekiq's Web UI can still show the job.
    """
    try:
        decoded: Any = pl.json_loads(raw)
    except PayloadError:
        decoded = None
    if isinstance(decoded, dict):
        job = dict(decoded)
        moved = {k: job.pop(k) for k, ok in _FIELD_CHECKS.items() if k in job and not ok(job[k])}
        if moved:
            job["invalid_fields"] = moved
        job.setdefault("class", "jobkit.InvalidPayload")
        job.setdefault("args", [moved["args"]] if "args" in moved else [])
        job.setdefault("jid", pl.new_jid())
        job.setdefault("queue", queue)
        job.setdefault("created_at", float(now))
    else:
        try:
            original: Any = raw.decode("utf-8")
        except UnicodeDecodeError:
            original = {"base64": base64.b64encode(raw).decode()}
        job = {"class": "jobkit.InvalidPayload", "args": [original], "jid": pl.new_jid(),
               "queue": queue, "created_at": float(now)}
    job["retry"] = False
    job["error_class"] = retry.error_class_name(error)
    job["error_message"] = str(error)[: retry.MAX_ERROR_MESSAGE]
    job["failed_at"] = float(now)
    return job


class Processor:
    """Runs jobs through the server middleware chain; one instance serves all threads and,
    through :meth:`aprocess`, any number of event loops."""

    def __init__(
        self,
        settings: Settings,
        connection: redis.Redis,
        *,
        middleware: tuple[ServerMiddleware, ...] = (),
    ) -> None:
        self.settings = settings
        self.keys = Keys(settings.namespace)
        self.redis = connection
        self.middleware = middleware
        self._unlock = connection.register_script(scripts.UNLOCK)
        self._async_redis: PerLoop[aredis.Redis] | None = None
        # coroutine_layers / plain_layers of self.middleware, worked out again if the
        # attribute is replaced.
        self._layers: tuple[tuple[ServerMiddleware, ...], tuple[Layer, ...]] = ((), ())
        self._plain: tuple[tuple[ServerMiddleware, ...], tuple[PlainLayer, ...]] = ((), ())

    def release(self, lock: tuple[str, str]) -> None:
        """Release a unique lock if its owner still holds it."""
        self._unlock(keys=[lock[0]], args=[lock[1]])

    def load(self, raw: bytes, queue: str) -> tuple[pl.Payload, type[Job]] | Outcome:
        """The decoded payload and its job class, or the "invalid" outcome of a bad payload."""
        try:
            payload = pl.decode(raw)
            job = registry.lookup(payload["class"])
            if job is None:
                raise UnknownJobError(
                    f"job class {payload['class']!r} is not registered in this worker; "
                    "import the module that defines it with `jobkit worker -r MODULE`"
                )
        except PayloadError as e:
            log.error("bad payload in queue %r moved to the dead set: %s", queue, e)
            now = self.settings.clock()
            return Outcome(raw, queue, "invalid", invalid_payload(raw, queue, e, now), exc=e)
        return payload, job

    def process(self, raw: bytes, queue: str) -> Outcome:
        """Run the job in ``raw`` fetched from ``queue`` and return its outcome.

        A coroutine job runs to completion on this thread's own event loop. Raises
        ``redis.RedisError`` only before the job ran (a unique-lock call failed).
        """
        loaded = self.load(raw, queue)
        if isinstance(loaded, Outcome):
            return loaded
        return self.run(raw, queue, *loaded)

    def run(self, raw: bytes, queue: str, payload: pl.Payload, job: type[Job]) -> Outcome:
        """:meth:`process` after :meth:`load`: an executor that routes by
        ``job.is_coroutine()`` decodes each payload once."""
        mode = payload.get("unique")
        lock = self._lock_of(payload) if mode else None
        if lock and mode == "until_executing":
            self.release(lock)
            lock = None
        if lock and mode == "while_executing" and not self.redis.set(
            lock[0], lock[1], nx=True, px=_lock_ms(job)
        ):
            return self._held_elsewhere(raw, queue, payload, job)
        started = time.perf_counter()
        try:
            self._perform(job, payload)
        except BaseException as e:
            # BaseException too: a job calling sys.exit() would otherwise end the thread
            # silently and leave the job unacknowledged.
            return self._failed(raw, queue, payload, job, e, started, mode, lock)
        return Outcome(raw, queue, "done", payload, job=job, elapsed=time.perf_counter() - started,
                       unlock=lock)

    async def aprocess(self, raw: bytes, queue: str) -> Outcome:
        """:meth:`process` as a coroutine, for an event loop running many jobs at once.

        A coroutine job is awaited on the running loop, a plain one runs in a thread.
        Retries, discards, unique locks (on ``redis.asyncio``) and middleware behave as in
        :meth:`process`. Cancelling the task running it ends in a "requeue" outcome with
        ``extra["cancelled"]``, never in success or death: it returns that outcome rather
        than raising. Raises ``redis.RedisError`` only before the job ran.
        """
        loaded = self.load(raw, queue)
        if isinstance(loaded, Outcome):
            return loaded
        return await self.arun(raw, queue, *loaded)

    async def arun(self, raw: bytes, queue: str, payload: pl.Payload, job: type[Job]) -> Outcome:
        """:meth:`aprocess` after :meth:`load` (see :meth:`run`)."""
        mode = payload.get("unique")
        lock = self._lock_of(payload) if mode else None
        if lock and mode == "until_executing":
            await self._arelease(lock)
            lock = None
        if lock and mode == "while_executing" and not await self._aredis().set(
            lock[0], lock[1], nx=True, px=_lock_ms(job)
        ):
            return self._held_elsewhere(raw, queue, payload, job)
        started = time.perf_counter()
        try:
            if job._coroutine:  # job.is_coroutine(), without the call
                # Awaited here, not through helper coroutines: each frame between the task
                # and the job is crossed again at every resume of the job.
                await self._acall(self._instance(job, payload), payload, payload["args"])
            else:
                await asyncio.to_thread(self._perform, job, payload)
        except asyncio.CancelledError as e:
            if cancelling(unknown=True):
                return self._cancelled(raw, queue, payload, job, started, mode, lock)
            # Raised by the job itself (a future it awaited was cancelled): a failure.
            return self._failed(raw, queue, payload, job, e, started, mode, lock)
        except BaseException as e:
            if cancelling(unknown=False):
                return self._cancelled(raw, queue, payload, job, started, mode, lock)
            return self._failed(raw, queue, payload, job, e, started, mode, lock)
        if cancelling(unknown=False):
            # The job swallowed the cancellation: it may not have finished its work.
            return self._cancelled(raw, queue, payload, job, started, mode, lock)
        return Outcome(raw, queue, "done", payload, job=job, elapsed=time.perf_counter() - started,
                       unlock=lock)

    async def aclose(self) -> None:
        """Close the running loop's asyncio connection (before that loop ends)."""
        if self._async_redis is not None:
            await self._async_redis.aclose()

    def _lock_of(self, payload: pl.Payload) -> tuple[str, str] | None:
        # Only for a payload with a "unique" mode: most have none, and skip this call.
        digest = payload.get("unique_digest")
        return (self.keys.unique(digest), payload["jid"]) if digest else None

    def _held_elsewhere(
        self, raw: bytes, queue: str, payload: pl.Payload, job: type[Job]
    ) -> Outcome:
        return Outcome(raw, queue, "requeue", payload,
                       score=self.settings.clock() + WHILE_EXECUTING_WAIT, job=job)

    def _failed(self, raw: bytes, queue: str, payload: pl.Payload, job: type[Job],
                exc: BaseException, started: float, mode: Any,
                lock: tuple[str, str] | None) -> Outcome:
        elapsed = time.perf_counter() - started
        decision = retry.decide(payload, exc, job, now=self.settings.clock(),
                                settings=self.settings)
        keep_lock = decision.verdict == "retry" and mode == "until_executed"
        return Outcome(raw, queue, decision.verdict, decision.payload, score=decision.retry_at,
                       exc=exc, job=job, elapsed=elapsed, unlock=None if keep_lock else lock)

    def _cancelled(self, raw: bytes, queue: str, payload: pl.Payload, job: type[Job],
                   started: float, mode: Any, lock: tuple[str, str] | None) -> Outcome:
        # The original bytes go back, as a graceful stop requeues them: no attempt counted.
        # An until_executed lock stays with the job; a while_executing one is taken again.
        return Outcome(raw, queue, "requeue", payload, score=self.settings.clock(), job=job,
                       elapsed=time.perf_counter() - started,
                       unlock=lock if mode == "while_executing" else None,
                       extra={"cancelled": True})

    def _instance(self, job: type[Job], payload: pl.Payload) -> Job:
        instance = job()
        instance.jid = payload["jid"]
        instance.retry_count = payload.get("retry_count")
        # The class's tick (None) stands for the jobs that are not periodic runs.
        if TICK_FIELD in payload:
            instance.tick = periodic_entries.tick_of(payload)
        return instance

    def _perform(self, job: type[Job], payload: pl.Payload) -> None:
        instance = self._instance(job, payload)
        args = payload["args"]
        if job._coroutine:
            run_sync(lambda: self._acall(instance, payload, args))
            return
        middleware = self.middleware
        if self._plain[0] is not middleware:
            self._plain = (middleware, plain_layers(middleware))
        layers = self._plain[1]
        if not layers:
            _call(instance, args)
            return
        call: Callable[[], None] = functools.partial(_call, instance, args)
        for layer in layers:
            call = functools.partial(layer, instance, payload, call)
        call()

    def _acall(self, instance: Job, payload: pl.Payload, args: list[Any]) -> Awaitable[None]:
        """The awaitable that runs ``instance`` through the middleware: its own ``perform``
        coroutine when no middleware wraps coroutine jobs."""
        middleware = self.middleware
        if self._layers[0] is not middleware:
            self._layers = (middleware, coroutine_layers(middleware))
        layers = self._layers[1]
        # is_coroutine(): perform is ``async def``, so calling it makes the coroutine to await.
        if not layers:
            return instance.perform(*args)  # type: ignore[no-any-return]
        # A partial, not a lambda: calling it adds no Python frame.
        return wrap(layers, instance, payload, functools.partial(instance.perform, *args))()

    def _aredis(self) -> aredis.Redis:
        if self._async_redis is None:
            from .aconnection import PerLoop, aconnect

            url = self.settings.redis_url
            self._async_redis = PerLoop(lambda: aconnect(url), _aclose)
        return self._async_redis.get()

    async def _arelease(self, lock: tuple[str, str]) -> None:
        # redis-py before 8 types eval() as Awaitable-or-value on the asyncio client too.
        reply: Any = self._aredis().eval(scripts.UNLOCK, 1, lock[0], lock[1])
        await reply


def _call(instance: Job, args: list[Any]) -> None:
    result = instance.perform(*args)
    # None first: the awaitable check goes through an ABC, on every job otherwise.
    if result is not None and inspect.isawaitable(result):
        run_sync(lambda: settle(result))


def _lock_ms(job: type[Job]) -> int:
    return int(job.options().unique_for * 1000)


async def _aclose(connection: aredis.Redis) -> None:
    await connection.aclose()
