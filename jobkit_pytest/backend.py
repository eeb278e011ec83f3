"""The isolated Redis behind one test: an embedded fakeredis server, or a namespace on a
real Redis, created for the test and removed after it."""

from __future__ import annotations

import os
import uuid

from redis import Redis, RedisError

from jobkit.connection import connect, drop_memory_server, is_memory_url

from .errors import BackendError


class Backend:
    """One test's Redis: ``url``, ``namespace`` and a connection for the harness's own reads."""

    def __init__(
        self, redis_url: str | None, *, namespace: str = "", reuse_server: bool = False
    ) -> None:
        token = uuid.uuid4().hex[:16]
        self.reuse_server = reuse_server
        if redis_url is None or is_memory_url(redis_url):
            # A fresh embedded server per test: nothing to share, and a worker thread a test
            # leaves running cannot touch the next test's jobs. Reusing one server per
            # process (flushed between tests) saves its Lua runtime and script loads.
            name = f"shared-{os.getpid()}" if reuse_server else token
            self.url = f"memory://jobkit-test-{name}"
            self.namespace = namespace
            self.memory = True
        else:
            # A real Redis is shared (with other tests, other xdist workers): own a namespace.
            self.url = redis_url
            self.namespace = f"jobkit-test-{token}"
            self.memory = False
        self.requested = redis_url
        self._redis: Redis | None = None

    @property
    def redis(self) -> Redis:
        """The connection for the harness's own reads and its workers."""
        if self._redis is None:
            self.attach(connect(self.url))
        assert self._redis is not None
        return self._redis

    def attach(self, connection: Redis) -> None:
        """Use ``connection`` (the jobkit client's, to save a connection per test)."""
        self._redis = connection
        if self.memory and self.reuse_server:
            connection.flushall()
        if not self.memory:
            try:
                connection.ping()
            except RedisError as e:
                raise BackendError(
                    f"--jobkit-redis-url={self.requested} does not answer ({e}); start that "
                    "Redis, or drop the option to use the embedded fakeredis backend"
                ) from e

    def clear(self) -> None:
        """Delete every key this test created."""
        if self.memory:
            self.redis.flushall()
            return
        batch: list[bytes] = []
        for key in self.redis.scan_iter(match=f"{self.namespace}:*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                self.redis.delete(*batch)
                batch.clear()
        if batch:
            self.redis.delete(*batch)

    def close(self) -> None:
        """Clean up and release the connection (and the embedded server)."""
        try:
            if self._redis is not None and (self.reuse_server or not self.memory):
                self.clear()
        finally:
            if self._redis is not None:
                self._redis.close()
            if self.memory and not self.reuse_server:
                drop_memory_server(self.url)
