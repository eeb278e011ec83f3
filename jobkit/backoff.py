"""Retrying Redis calls with exponential backoff, so a lost connection is a pause, not a
crash."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

log = logging.getLogger("jobkit.worker")
MAX_BACKOFF = 5.0


def next_backoff(previous: float, what: str, error: Exception) -> float:
    """The delay after ``previous``: doubling from 0.1 s up to ``MAX_BACKOFF``; logs why."""
    delay = min(MAX_BACKOFF, max(0.1, previous * 2))
    log.warning("redis unavailable during %s (%s); retrying in %.1fs", what, error, delay)
    return delay


def retry_redis(what: str, call: Callable[[], object], *, attempts: int | None = None) -> None:
    """Call ``call`` until it succeeds (or ``attempts`` Redis errors were logged)."""
    backoff = 0.0
    tries = 0
    while True:
        try:
            call()
            return
        except redis.RedisError as e:
            tries += 1
            if attempts is not None and tries >= attempts:
                log.error("%s failed after %d attempts: %s", what, tries, e)
                return
            backoff = next_backoff(backoff, what, e)
            time.sleep(backoff)
