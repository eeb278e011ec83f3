"""Opening Redis connections: real Redis through redis-py, or the embedded fake one.

``memory://NAME`` selects an in-process fakeredis server shared by every connection that
names it, so a client and the worker's threads see one database, as with a real server.
"""

from __future__ import annotations

import threading
from typing import Any

import redis

from .errors import ConfigError

_servers: dict[str, Any] = {}
_servers_lock = threading.Lock()


def is_memory_url(url: str) -> bool:
    return url.startswith("memory://")


def connect(url: str) -> redis.Redis:
    """A client for ``url``: ``redis://``, ``rediss://`` (TLS), ``unix://`` or ``memory://``."""
    if is_memory_url(url):
        return _memory_client(url[len("memory://") :] or "default")
    try:
        return redis.Redis.from_url(
            url,
            decode_responses=False,
            socket_connect_timeout=5,
            socket_keepalive=True,
            health_check_interval=30,
        )
    except ValueError as e:
        raise ConfigError(f"redis_url={url!r} is not a usable Redis URL: {e}") from e


def _memory_client(name: str) -> redis.Redis:
    # fakeredis is imported here so that a production worker never loads it.
    import fakeredis

    with _servers_lock:
        server = _servers.get(name)
        if server is None:
            server = _servers[name] = fakeredis.FakeServer()
    client: redis.Redis = fakeredis.FakeRedis(server=server, decode_responses=False)
    return client


def drop_memory_server(url: str) -> None:
    """Forget the embedded server behind ``url`` so its data can be freed."""
    if is_memory_url(url):
        with _servers_lock:
            _servers.pop(url[len("memory://") :] or "default", None)
