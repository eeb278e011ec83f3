"""Opening asyncio Redis connections (``redis.asyncio``) from the same URLs as the sync ones.

``memory://NAME`` gives a ``fakeredis.FakeAsyncRedis`` on the same embedded server as the
sync connections to that name, so async and sync code share one database there too.

An asyncio connection pool belongs to the event loop that first used it: its sockets are
that loop's. :class:`PerLoop` keeps one client per loop, so code that runs on several loops
(a thread-per-loop worker, ``asyncio.run`` called twice, the pytest plugin) never shares one.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import redis.asyncio as aredis

from .connection import URL_OPTIONS, is_memory_url, memory_server, parse_sentinel_url
from .errors import ConfigError

T = TypeVar("T")
#: Every PerLoop, so that a loop being closed can close what each holds for it.
_all: weakref.WeakSet[PerLoop[Any]] = weakref.WeakSet()


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
        return aredis.Redis.from_url(url, **URL_OPTIONS)
    except ValueError as e:
        raise ConfigError(f"redis_url={url!r} is not a usable Redis URL: {e}") from e


class PerLoop(Generic[T]):
    """One ``T`` per running event loop, made by ``factory`` on first use in that loop.

    Entries go with their loop (weak keys); :meth:`aclose` closes the current loop's.
    """

    def __init__(self, factory: Callable[[], T], close: Callable[[T], Any]) -> None:
        self._factory = factory
        self._close = close
        self._items: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        _all.add(self)

    def get(self) -> T:
        """The current loop's ``T``; raises RuntimeError outside a running loop."""
        loop = asyncio.get_running_loop()
        item = self._items.get(loop)
        if item is None:
            with self._lock:
                item = self._items.get(loop)
                if item is None:
                    item = self._items[loop] = self._factory()
        return item

    def replace(self, item: T) -> None:
        """Make ``item`` the current loop's ``T`` (the caller closes the one it replaces)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._items[loop] = item

    def peek(self) -> T | None:
        """The current loop's ``T`` if one was made, else None."""
        try:
            return self._items.get(asyncio.get_running_loop())
        except RuntimeError:
            return None

    async def aclose(self) -> None:
        """Close and forget the current loop's ``T`` (call before the loop ends)."""
        with self._lock:
            item = self._items.pop(asyncio.get_running_loop(), None)
        if item is not None:
            await self._close(item)


async def aclose_loop() -> None:
    """Close everything every :class:`PerLoop` holds for the running loop."""
    for per_loop in list(_all):
        await per_loop.aclose()
