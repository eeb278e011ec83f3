"""Jobs run by the chaos scenarios' worker subprocesses (``-r tests.chaos.chaos_jobs``).

Each records its side effect in Redis under the worker's namespace, so a scenario can tell
which jobs ran and how many times."""

from __future__ import annotations

import time
from typing import Any

import jobkit


def chaos_key(name: str) -> str:
    """``NS:chaos:NAME`` for the namespace of the process-wide settings."""
    namespace = jobkit.get_settings().namespace
    return f"{namespace}:chaos:{name}" if namespace else f"chaos:{name}"


class ChaosJob(jobkit.Job):
    """Sleeps a little (so kills land mid-job), then counts one run of ``job_id``.

    A failure (Redis gone while it runs) is retried soon, not after Sidekiq's 15 s backoff.
    """

    name = "chaos.ChaosJob"
    queue = "chaos"
    retry = 25
    retry_jitter = False

    @classmethod
    def retry_in(cls, count: int, exc: BaseException) -> float | None:
        return 0.3

    def perform(self, job_id: int, sleep_ms: int) -> None:
        time.sleep(sleep_ms / 1000)
        r: Any = jobkit.get_client().redis
        r.hincrby(chaos_key("runs"), str(job_id), 1)


class LongJob(jobkit.Job):
    """Marks itself started, sleeps ``seconds``, then counts one completed run of ``token``."""

    name = "chaos.LongJob"
    queue = "chaos"

    def perform(self, token: str, seconds: float) -> None:
        r: Any = jobkit.get_client().redis
        r.hincrby(chaos_key("started"), token, 1)
        time.sleep(seconds)
        r.hincrby(chaos_key("done"), token, 1)
