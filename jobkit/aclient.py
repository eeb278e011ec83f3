"""The asyncio client: ``await Job.aperform_async(...)`` and friends, on ``redis.asyncio``.

Payloads are built, checked and passed through the client middleware by the sync
:class:`~jobkit.client.Client` (pure code, no I/O), so both clients write the same bytes;
only the round trips differ. The unique-lock push is the same Lua script.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio as aredis

from . import payload as pl
from . import scripts
from .aconnection import PerLoop, aconnect
from .client import Client, Writes
from .config import get_client
from .errors import EnqueueError
from .keys import Keys
from .options import JobOptions

if TYPE_CHECKING:
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
        self, job: type, args: Sequence[Any], options: JobOptions, *, at: float | None = None
    ) -> str | None:
        """Enqueue one job now, or at epoch ``at``; the jid, or None if it was dropped."""
        ready = self.builder.prepare(job, args, options, at=at)
        if ready is None:
            return None
        return await self.push(dict(ready.payload), at=at, unique_ttl_ms=ready.unique_ttl_ms)

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
        replies = await self.send(ready.writes(self.keys.queues))
        if ready.unique is not None and not replies[0]:
            return None
        self.builder._after_push(payload)
        return str(payload["jid"])

    async def send(self, writes: Writes) -> list[Any]:
        """Send ``writes`` in one round trip, as :meth:`Client.send` does."""
        if writes.locks and not writes.commands and len(writes.locks) == 1:
            keys, args = writes.locks[0]
            return [await self._enqueue_unique(keys=keys, args=args)]
        pipe = self.redis.pipeline(transaction=writes.atomic)
        for command in writes.commands:
            pipe.execute_command(*command)
        for keys, args in writes.locks:
            await self._enqueue_unique(keys=keys, args=args, client=pipe)
        replies: list[Any] = await pipe.execute()
        return replies

    async def enqueue_bulk(
        self,
        job: type,
        args_list: Iterable[Sequence[Any]],
        options: JobOptions,
        *,
        batch_size: int = 1000,
    ) -> list[str | None]:
        """Enqueue one job per argument list, as :meth:`Client.enqueue_bulk` does."""
        b = self.builder
        jids: list[str | None] = []
        for batch in b.bulk_batches(args_list, options, batch_size=batch_size):
            try:
                replies = await self.send(batch.writes)
            except redis.RedisError as e:
                raise EnqueueError.part_way(jids, batch.start, len(batch.jids), batch.total,
                                            e) from e
            jids += b.bulk_pushed(batch, replies)
        return jids


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
