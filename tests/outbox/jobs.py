"""Jobs and helpers shared by the after-commit and outbox tests."""

from __future__ import annotations

import json
import time
from typing import Any

import redis

import jobkit
from jobkit.keys import Keys


class ChargeOrderJob(jobkit.Job):
    name = "tests.outbox.ChargeOrderJob"

    def perform(self, order_id: int) -> None:
        pass


class UniqueChargeJob(jobkit.Job):
    name = "tests.outbox.UniqueChargeJob"
    unique = "until_executed"

    def perform(self, order_id: int) -> None:
        pass


def queued(settings: jobkit.Settings, queue: str = "default") -> list[dict[str, Any]]:
    """Payloads on ``queue``, oldest first."""
    r = redis.Redis.from_url(settings.redis_url)
    try:
        raws = r.lrange(Keys(settings.namespace).queue(queue), 0, -1)
    finally:
        r.close()
    return [json.loads(raw) for raw in reversed(raws)]


def queued_args(settings: jobkit.Settings, queue: str = "default") -> list[Any]:
    """The first argument of each job on ``queue``, oldest first."""
    return [p["args"][0] for p in queued(settings, queue)]


def scheduled(settings: jobkit.Settings) -> list[tuple[dict[str, Any], float]]:
    r = redis.Redis.from_url(settings.redis_url)
    try:
        items = r.zrange(Keys(settings.namespace).schedule, 0, -1, withscores=True)
    finally:
        r.close()
    return [(json.loads(raw), score) for raw, score in items]


def wait_for(condition: Any, timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds (an AssertionError after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
