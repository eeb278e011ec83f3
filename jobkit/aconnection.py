"""Opening asyncio Redis connections (``redis.asyncio``) from the same URLs as the sync ones.

``memory://NAME`` gives a ``fakeredis.FakeAsyncRedis`` on the same embedded server as the
sync connections to that name, so async and sync code share one database there too.

An asyncio connection pool belongs to the event loop that first used it: its sockets are
that loop's. :class:`PerLoop` keeps one client per loop, so code that runs on several loops
(a thread-per-loop worker, ``asyncio.run`` called twice, the pytest plugin) never shares one.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Generic, TypeVar

import redis.asyncio as aredis

from .connection import URL_OPTIONS, is_memory_url, memory_server, parse_sentinel_url
from .errors import ConfigError

T = TypeVar("T")


def aconnect(url: str) -> aredis.Redis:
    """An asyncio client for ``url``: ``redis://``, ``rediss://``, ``unix://``,
    ``redis+sentinel://`` or ``memory://``; bound to the event loop that first uses it."""
    if is_memory_url(url):
        import fakeredis

        client: aredis.Redis = fakeredis.FakeAsyncRedis(
            server=memory_server(url[len("memory://") :] or "default"), decode_responses=False
        )
        return client
    if url.startswith("redis+sentinel://"):
        from redis.asyncio.sentinel import Sentinel

        addresses, service, db, password = parse_sentinel_url(url)
        sentinel = Sentinel(addresses, socket_timeout=5)  # type: ignore[no-untyped-call]
        master: aredis.Redis = sentinel.master_for(
            service, db=db, password=password, decode_responses=False, socket_keepalive=True
        )
        return master
    try:
        plain: aredis.Redis = aredis.Redis.from_url(url, **URL_OPTIONS)
        return plain
    except ValueError as e:
        raise ConfigError(f"redis_url={url!r} is not a usable Redis URL: {e}") from e


class PerLoop(Generic[T]):
    """One ``T`` per running event loop, made by ``factory`` on first use in that loop.

    Each is closed with ``close`` by :meth:`aclose`, or when its loop shuts down: it is
    tied to an async generator of that loop, which ``asyncio.run`` (and every runner that
    calls ``loop.shutdown_asyncgens()``) finalizes before closing the loop, so pools do not
    outlive their loop unclosed. Entries of a loop that is gone are dropped (weak keys).
    """

    def __init__(self, factory: Callable[[], T], close: Callable[[T], Awaitable[Any]]) -> None:
        self._factory = factory
        self._close = close
        self._items: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[T, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self) -> T:
        """The current loop's ``T``; raises RuntimeError outside a running loop."""
        loop = asyncio.get_running_loop()
        entry = self._items.get(loop)
        if entry is None:
            with self._lock:
                entry = self._items.get(loop)
                if entry is None:
                    entry = self._items[loop] = self._tie(self._factory())
        return entry[0]

    def replace(self, item: T) -> None:
        """Make ``item`` the current loop's ``T`` (the caller closes the one it replaces)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._items[loop] = self._tie(item)

    async def aclose(self) -> None:
        """Close and forget the current loop's ``T``."""
        with self._lock:
            entry = self._items.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[1].aclose()

    def _tie(self, item: T) -> tuple[T, AsyncGenerator[None, None]]:
        guard = _until_shutdown(self._close, item)
        # Calling __anext__ registers the generator with the running loop (its firstiter
        # hook); one send() runs it to its yield, so that aclose() runs its finally block.
        step: Any = guard.__anext__()
        with contextlib.suppress(StopIteration):
            step.send(None)
        return item, guard


async def _until_shutdown(
    close: Callable[[T], Awaitable[Any]], item: T
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await close(item)
