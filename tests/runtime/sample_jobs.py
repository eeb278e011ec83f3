"""Jobs for worker subprocesses in tests: each records its side effects in Redis under the
test's namespace, so the test can see what ran, how often, and when."""

from __future__ import annotations

import os
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


class AppendJob(jobkit.Job):
    """Sleeps, then appends its token to the file named by ``$JOBKIT_TEST_RECORD_FILE``: a
    record of what ran that survives whatever happens to the Redis under test."""

    name = "sample.AppendJob"

    def perform(self, token: str, seconds: float) -> None:
        time.sleep(seconds)
        fd = os.open(os.environ["JOBKIT_TEST_RECORD_FILE"],
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{token}\n".encode())  # one write: lines never interleave
        finally:
            os.close(fd)


class GcFreezeJob(jobkit.Job):
    """Records how many objects the worker process froze out of the garbage collector."""

    name = "sample.GcFreezeJob"

    def perform(self) -> None:
        import gc

        r, key = _redis_key("frozen")
        r.set(key, gc.get_freeze_count())  # type: ignore[attr-defined]
