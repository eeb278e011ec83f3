"""Per-job log lines carrying the jid, as Sidekiq's job logger."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .base import Payload, ServerMiddleware

if TYPE_CHECKING:
    from ..job import Job

logger = logging.getLogger("jobkit.job")


class JobLogger(ServerMiddleware):
    """Logs ``start``/``done``/``fail`` with class, jid and elapsed time at INFO; for a
    coroutine job the time is that of the awaited job."""

    def __init__(self, log: logging.Logger = logger) -> None:
        self.log = log

    def perform(self, job: Job, payload: Payload, call_next: Callable[[], None]) -> None:
        # Checked once so a worker at WARNING pays nothing for formatting.
        if not self.log.isEnabledFor(logging.INFO):
            call_next()
            return
        with self._logged(payload):
            call_next()

    def aperform(
        self, job: Job, payload: Payload, call_next: Callable[[], Awaitable[None]]
    ) -> Awaitable[None]:
        # A plain function: at WARNING the job's own awaitable is returned, so this layer
        # adds no coroutine frame for the loop to cross at every resume of the job.
        if not self.log.isEnabledFor(logging.INFO):
            return call_next()
        return self._alogged(payload, call_next)

    async def _alogged(self, payload: Payload, call_next: Callable[[], Awaitable[None]]) -> None:
        with self._logged(payload):
            await call_next()

    @contextmanager
    def _logged(self, payload: Payload) -> Iterator[None]:
        tag = f"{payload['class']} JID-{payload['jid']}"
        self.log.info("%s start", tag)
        started = time.perf_counter()
        try:
            yield
        except BaseException:
            self.log.info("%s fail: %.3f sec", tag, time.perf_counter() - started)
            raise
        self.log.info("%s done: %.3f sec", tag, time.perf_counter() - started)
