"""Jobs run by the chaos scenarios' worker subprocesses (``-r tests.chaos.chaos_jobs``).

Each records its side effect in Redis under the worker's namespace, so a scenario can tell
which jobs ran and how many times."""

from __future__ import annotations

import functools
import os
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import jobkit


def chaos_key(name: str) -> str:
    """``NS:chaos:NAME`` for the namespace of the process-wide settings."""
    namespace = jobkit.get_settings().namespace
    return f"{namespace}:chaos:{name}" if namespace else f"chaos:{name}"


@functools.cache
def _once_client(url: str) -> redis.Redis:
    """A client that never resends a command: redis-py's default retry would apply a write
    twice when the server died after applying it and before replying, a duplicate the
    runtime did not cause and a scenario could not tell apart from one it did."""
    return redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=2)


def _note_uncertain(job_id: int) -> None:
    """Record, in the scenario's directory, that ``job_id``'s count may or may not have been
    written (the connection failed mid-command), so one extra run of it is the job's own."""
    directory = os.environ.get("JOBKIT_CHAOS_DIR")
    if directory:
        with open(os.path.join(directory, f"uncertain-{os.getpid()}.txt"), "a") as f:
            f.write(f"{job_id}\n")


def uncertain_writes(directory: str) -> dict[int, int]:
    """How many times each job id's count write failed mid-command, over every worker."""
    counts: dict[int, int] = {}
    for name in os.listdir(directory):
        if name.startswith("uncertain-"):
            with open(os.path.join(directory, name)) as f:
                for line in f:
                    counts[int(line)] = counts.get(int(line), 0) + 1
    return counts


class ChaosJob(jobkit.Job):
    """Sleeps a little (so kills land mid-job), then counts one run of ``job_id`` (and which
    process ran it).

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
        r: Any = _once_client(jobkit.get_settings().redis_url)
        # Which process ran it, too (in the same transaction), so a scenario can tell after
        # the fact whether a killed worker had run a job it still held.
        pipe = r.pipeline(transaction=True)
        pipe.hincrby(chaos_key("runs"), str(job_id), 1)
        pipe.hincrby(chaos_key("ran-by"), f"{job_id}:{os.getpid()}", 1)
        try:
            pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError):
            _note_uncertain(job_id)
            raise


class LongJob(jobkit.Job):
    """Marks itself started, sleeps ``seconds``, then counts one completed run of ``token``."""

    name = "chaos.LongJob"
    queue = "chaos"

    def perform(self, token: str, seconds: float) -> None:
        r: Any = jobkit.get_client().redis
        r.hincrby(chaos_key("started"), token, 1)
        time.sleep(seconds)
        r.hincrby(chaos_key("done"), token, 1)
