"""Retrying Redis calls with exponential backoff, so a lost connection is a pause, not a
crash."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

log = logging.getLogger("jobkit.worker")
MAX_BACKOFF = 5.0


def next_backoff(previous: float, what: str, error: Exception, *,
                 limit: float = MAX_BACKOFF) -> float:
    """The delay after ``previous``: doubling from 0.1 s up to ``limit``; logs why."""
    delay = min(limit, max(0.1, previous * 2))
    log.warning("redis unavailable during %s (%s); retrying in %.1fs", what, error, delay)
    return delay


def retry_redis(
    what: str,
    call: Callable[[], object],
    *,
    attempts: int | None = None,
    stop: threading.Event | None = None,
) -> bool:
    """Call ``call`` until it succeeds (True), or until ``attempts`` Redis errors were logged
    or ``stop`` is set (False). ``stop`` is looked at while waiting, so a signal during an
    outage ends the wait at once."""
    backoff = 0.0
    tries = 0
    while True:
        if stop is not None and stop.is_set():
            return False
        try:
            call()
            return True
        except redis.RedisError as e:
            tries += 1
            if attempts is not None and tries >= attempts:
                log.error("%s failed after %d attempts: %s", what, tries, e)
                return False
            backoff = next_backoff(backoff, what, e)
            if stop is not None:
                stop.wait(backoff)
            else:
                time.sleep(backoff)
