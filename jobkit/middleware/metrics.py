"""Timing and counting of jobs into any metrics client (StatsD, Prometheus, ...)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from .base import Payload, ServerMiddleware

if TYPE_CHECKING:
    from ..job import Job


class MetricsSink(Protocol):
    """What the middleware reports to; adapt a StatsD or Prometheus client to these two calls."""

    def timing(self, name: str, ms: float, tags: Mapping[str, str]) -> None: ...

    def increment(self, name: str, tags: Mapping[str, str]) -> None: ...


class MetricsMiddleware(ServerMiddleware):
    """Reports ``<prefix>.perform`` timing and ``<prefix>.success``/``.failure`` counts.

    Tags carry ``job`` and ``queue`` (and ``error`` on failure). A coroutine job is timed
    from the start to the end of its awaiting.
    """

    def __init__(
        self,
        sink: MetricsSink,
        *,
        prefix: str = "jobkit",
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.sink = sink
        self.prefix = prefix
        self.clock = clock

    def perform(self, job: Job, payload: Payload, call_next: Callable[[], None]) -> None:
        with self._measured(payload):
            call_next()

    async def aperform(
        self, job: Job, payload: Payload, call_next: Callable[[], Awaitable[None]]
    ) -> None:
        with self._measured(payload):
            await call_next()

    @contextmanager
    def _measured(self, payload: Payload) -> Iterator[None]:
        tags = {"job": str(payload["class"]), "queue": str(payload["queue"])}
        started = self.clock()
        try:
            yield
        except BaseException as e:
            self.sink.increment(f"{self.prefix}.failure", {**tags, "error": type(e).__name__})
            raise
        finally:
            self.sink.timing(f"{self.prefix}.perform", (self.clock() - started) * 1000.0, tags)
        self.sink.increment(f"{self.prefix}.success", tags)
