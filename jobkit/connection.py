"""Opening Redis connections: real Redis through redis-py, or the embedded fake one.

``memory://NAME`` selects an in-process fakeredis server shared by every connection that
names it, so a client and the worker's threads see one database, as with a real server.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import unquote

import redis

from .errors import ConfigError

_servers: dict[str, Any] = {}
#: Connection options for URL-made clients, sync and asyncio alike.
URL_OPTIONS: dict[str, Any] = {
    "decode_responses": False,
    "socket_connect_timeout": 5,
    "socket_keepalive": True,
    "health_check_interval": 30,
}
_servers_lock = threading.Lock()


def is_memory_url(url: str) -> bool:
    return url.startswith("memory://")


def connect(url: str) -> redis.Redis:
    """A client for ``url``: ``redis://``, ``rediss://`` (TLS), ``unix://`` or ``memory://``."""
    if is_memory_url(url):
        return _memory_client(url[len("memory://") :] or "default")
    if url.startswith("redis+sentinel://"):
        return _sentinel_client(url)
    try:
        # Typed as Any by redis-py 6.0: a local of the declared type keeps mypy --strict quiet.
        client: redis.Redis = redis.Redis.from_url(url, **URL_OPTIONS)
        return client
    except ValueError as e:
        raise ConfigError(f"redis_url={url!r} is not a usable Redis URL: {e}") from e


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str, int, str | None]:
    """``redis+sentinel://[:password@]host:port[,host:port...]/SERVICE[/DB]`` →
    (sentinel addresses, service name, db, password)."""
    rest = url[len("redis+sentinel://") :]
    password = None
    if "@" in rest:
        auth, rest = rest.rsplit("@", 1)
        password = unquote(auth.split(":", 1)[1] if ":" in auth else auth) or None
    hosts, _, path = rest.partition("/")
    parts = [p for p in path.split("/") if p]
    if not hosts or not parts or len(parts) > 2:
        raise ConfigError(
            f"redis_url={url!r} must look like redis+sentinel://host:26379[,host2:26379]/"
            "SERVICE[/DB]"
        )
    addresses = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":")
        try:
            addresses.append((name or host, int(port) if name else 26379))
        except ValueError:
            raise ConfigError(
                f"redis_url={url!r}: sentinel address {host!r} has a bad port"
            ) from None
    try:
        db = int(parts[1]) if len(parts) == 2 else 0
    except ValueError:
        raise ConfigError(f"redis_url={url!r}: database {parts[1]!r} must be a number") from None
    return addresses, parts[0], db, password


def _sentinel_client(url: str) -> redis.Redis:
    from redis.sentinel import Sentinel

    addresses, service, db, password = parse_sentinel_url(url)
    # The password is the master's; sentinels themselves are asked without one.
    sentinel = Sentinel(addresses, socket_timeout=5)  # type: ignore[no-untyped-call]
    # master_for re-resolves the master after a failover on the next connection error.
    client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        service, db=db, password=password, decode_responses=False, socket_keepalive=True
    )
    return client


def send_pipelined(client: redis.Redis, *commands: tuple[Any, ...]) -> list[Any]:
    """Send ``commands`` in one round trip and return their replies, without MULTI.

    redis-py's ``Pipeline`` object costs more Python time than the round trip it saves for
    two or three commands; this is the hot enqueue path, so it packs the commands itself.
    Callers order the commands so that a partial failure is harmless.
    """
    pool = client.connection_pool
    # Typed Any: redis-py's Connection methods carry no annotations.
    conn: Any = pool.get_connection()
    try:
        conn.send_packed_command(conn.pack_commands(commands))
        replies = [conn.read_response() for _ in commands]
    except (redis.ConnectionError, redis.TimeoutError):
        conn.disconnect()
        raise
    finally:
        pool.release(conn)
    for reply in replies:
        if isinstance(reply, redis.ResponseError):
            raise reply
    return replies


def memory_server(name: str) -> Any:
    """The embedded fakeredis server called ``name``, created on first use; sync and async
    connections to it see one database."""
    # fakeredis is imported here so that a production worker never loads it.
    import fakeredis

    with _servers_lock:
        server = _servers.get(name)
        if server is None:
            server = _servers[name] = fakeredis.FakeServer()
    return server


def _memory_client(name: str) -> redis.Redis:
    import fakeredis

    client: redis.Redis = fakeredis.FakeRedis(server=memory_server(name), decode_responses=False)
    return client


def drop_memory_server(url: str) -> None:
    """Forget the embedded server behind ``url`` so its data can be freed."""
    if is_memory_url(url):
        with _servers_lock:
            _servers.pop(url[len("memory://") :] or "default", None)
