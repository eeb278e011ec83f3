"""Jobs for worker subprocesses in tests: each records its side effects in Redis under the
test's namespace, so the test can see what ran, how often, and when."""

from __future__ import annotations

import time

import jobkit


def _redis_key(name: str) -> tuple[object, str]:
    client = jobkit.get_client()
    return client.redis, f"{client.settings.namespace}:test:{name}"


class SlowJob(jobkit.Job):
    """Marks itself started, sleeps, then records completion (and counts runs)."""

    name = "sample.SlowJob"

    def perform(self, token: str, seconds: float) -> None:
        r, started = _redis_key("started")
        r.sadd(started, token)  # type: ignore[attr-defined]
        time.sleep(seconds)
        r, done = _redis_key("done")
        r.sadd(done, token)  # type: ignore[attr-defined]
        r.hincrby(_redis_key("runs")[1], token, 1)  # type: ignore[attr-defined]


class RecordJob(jobkit.Job):
    """Records its argument in a list, in the order jobs ran."""

    name = "sample.RecordJob"

    def perform(self, value: object) -> None:
        r, key = _redis_key("record")
        r.rpush(key, repr(value))  # type: ignore[attr-defined]
