"""The isolated Redis behind one test: a namespace of its own, on the embedded fakeredis
server of this process or on a real Redis, removed after the test."""

from __future__ import annotations

import os
import uuid

from redis import Redis, RedisError

from jobkit.connection import connect, is_memory_url

from .errors import BackendError

_memory_connections: dict[str, Redis] = {}


class Backend:
    """One test's Redis: ``url``, ``namespace`` and a connection for the harness's own reads.

    Every test gets its own key namespace, so tests never see each other's jobs, even under
    xdist or with a worker thread a test left running. The embedded server is shared by the
    tests of one process: a fresh one per test would rebuild its Lua runtime and reload the
    scripts each time.
    """

    def __init__(self, redis_url: str | None, *, app_namespace: str = "") -> None:
        self.memory = redis_url is None or is_memory_url(redis_url)
        self.url = f"memory://jobkit-test-{os.getpid()}" if self.memory else str(redis_url)
        token = f"jobkit-test-{uuid.uuid4().hex[:16]}"
        # Under the app's own namespace, so key names still look like the app's.
        self.namespace = f"{app_namespace}:{token}" if app_namespace else token
        self.requested = redis_url
        self._redis: Redis | None = None

    @property
    def redis(self) -> Redis:
        """The connection for the client, the harness's own reads and its workers."""
        __tracebackhide__ = True
        if self._redis is None:
            if self.memory:
                # One connection per process as well as one server: opening a FakeRedis
                # connection costs about 0.3 ms, a third of a simple test's overhead.
                connection = _memory_connections.get(self.url)
                if connection is None:
                    connection = _memory_connections[self.url] = connect(self.url)
                self.attach(connection)
            else:
                self.attach(connect(self.url))
        assert self._redis is not None
        return self._redis

    def attach(self, connection: Redis) -> None:
        """Use ``connection`` (the jobkit client's, to save a connection per test)."""
        __tracebackhide__ = True
        if not self.memory:
            try:
                connection.ping()
            except RedisError as e:
                connection.close()
                # Kept only once it answers: clean-up after this error must not try it again
                # and raise a second, less helpful error over this one.
                raise BackendError(
                    f"--jobkit-redis-url={self.requested} does not answer ({e}); start that "
                    "Redis, or drop the option to use the embedded fakeredis backend"
                ) from None
        self._redis = connection

    def clear(self) -> None:
        """Delete every key this test created."""
        batch: list[bytes] = []
        for key in self.redis.scan_iter(match=f"{self.namespace}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                self.redis.delete(*batch)
                batch.clear()
        if batch:
            self.redis.delete(*batch)

    def close(self) -> None:
        """Delete this test's keys and release the connection (the embedded one stays open
        for the next test)."""
        try:
            if self._redis is not None:
                self.clear()
        finally:
            if self._redis is not None and not self.memory:
                self._redis.close()
