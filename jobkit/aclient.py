"""The asyncio client: ``await Job.aperform_async(...)`` and friends, on ``redis.asyncio``.

Payloads are built, checked and passed through the client middleware by the sync
:class:`~jobkit.client.Client` (pure code, no I/O), so both clients write the same bytes;
only the round trips differ. The unique-lock push is the same Lua script.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import redis.asyncio as aredis

from . import payload as pl
from . import scripts
from .aconnection import PerLoop, aconnect
from .client import Client, bulk_batches
from .config import get_client
from .keys import Keys
from .options import JobOptions

if TYPE_CHECKING:
    from .job import Job
    from .settings import Settings


class AsyncClient:
    """Pushes jobs from async code; bound to the event loop that first uses it.

    ``builder`` is the sync client whose settings, checks and middleware it shares (by
    default one made from ``settings``, which opens no connection until used).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        connection: aredis.Redis | None = None,
        builder: Client | None = None,
    ) -> None:
        self.settings = settings
        self.keys = Keys(settings.namespace)
        self.redis: aredis.Redis = (
            connection if connection is not None else aconnect(settings.redis_url)
        )
        self.builder = builder if builder is not None else Client(settings)
        self._enqueue_unique = self.redis.register_script(scripts.ENQUEUE_UNIQUE)

    async def aclose(self) -> None:
        """Close the connection pool (before its event loop ends)."""
        await self.redis.aclose()

    async def enqueue(
        self, job: type[Job], args: Sequence[Any], options: JobOptions, *, at: float | None = None
    ) -> str | None:
        """Enqueue one job now, or at epoch ``at``; the jid, or None if it was dropped."""
        b = self.builder
        now = self.settings.clock()
        payload = b._through_middleware(b.build(job, args, options, now=now))
        if payload is None:
            return None
        ttl = b._lock_ttl(options, at, now) if options.unique else None
        return await self.push(payload, at=at, unique_ttl_ms=ttl, now=now)

    async def push(
        self,
        payload: pl.Payload,
        *,
        at: float | None = None,
        unique_ttl_ms: int | None = None,
        now: float | None = None,
    ) -> str | None:
        """Push a ready payload (already through middleware) now or at ``at``."""
        ready = self.builder.prepare_push(payload, at=at, unique_ttl_ms=unique_ttl_ms, now=now)
        if ready.unique is not None:
            if not await self._enqueue_unique(keys=ready.unique[0], args=ready.unique[1]):
                return None
        elif ready.scheduled:
            await self.redis.zadd(self.keys.schedule, {ready.raw: ready.score})
        else:
            # One round trip, no MULTI, SADD first: as the sync client's send_pipelined.
            pipe = self.redis.pipeline(transaction=False)
            pipe.sadd(self.keys.queues, ready.queue)
            pipe.lpush(ready.target, ready.raw)
            await pipe.execute()
        self.builder._after_push(payload)
        return str(payload["jid"])

    async def enqueue_bulk(
        self,
        job: type[Job],
        args_list: Iterable[Sequence[Any]],
        options: JobOptions,
        *,
        batch_size: int = 1000,
    ) -> list[str | None]:
        """Enqueue one job per argument list, ``batch_size`` jobs per round trip."""
        b = self.builder
        payloads, now = b.build_bulk(job, args_list, options, batch_size=batch_size)
        if options.unique in ("until_executed", "until_executing"):
            ttl = b._lock_ttl(options, None, now)
            return [await self.push(p, unique_ttl_ms=ttl) if p else None for p in payloads]
        for by_queue, pushed in bulk_batches(payloads, now, batch_size):
            # One MULTI per batch, as the sync client: a batch lands whole or not at all.
            pipe = self.redis.pipeline(transaction=True)
            for queue, raws in by_queue.items():
                pipe.sadd(self.keys.queues, queue)
                pipe.lpush(self.keys.queue(queue), *raws)
            await pipe.execute()
            for p in pushed:
                b._after_push(p)
        return [p["jid"] if p else None for p in payloads]


async def _close(client: AsyncClient) -> None:
    await client.aclose()


def _new() -> AsyncClient:
    sync = get_client()
    return AsyncClient(sync.settings, builder=sync)


_clients: PerLoop[AsyncClient] = PerLoop(_new, _close)
# Replaced clients whose pools are closing; held so their tasks are not collected midway.
_closing: set[asyncio.Task[None]] = set()


def get_async_client() -> AsyncClient:
    """The running event loop's client for the current settings, created on first use.

    One per loop: an asyncio connection pool cannot serve two loops.
    """
    client = _clients.get()
    sync = get_client()
    if client.builder is sync:
        return client
    # The settings changed (configure / use_client): close the old pool in the background.
    task = asyncio.get_running_loop().create_task(client.aclose())
    _closing.add(task)
    task.add_done_callback(_closing.discard)
    fresh = AsyncClient(sync.settings, builder=sync)
    _clients.replace(fresh)
    return fresh


async def aclose() -> None:
    """Close the running loop's async client, if one was made (e.g. in an ASGI app's
    shutdown); the next ``aperform_*`` call on this loop opens a new one."""
    await _clients.aclose()
