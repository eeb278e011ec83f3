"""Jobs with Ruby-style names, for the interop tests (and ``-r tests.interop.interop_jobs``).

Each records what it saw in Redis keys under ``interop:`` (the interop database has no
namespace), so a test can check the jid and arguments jobkit ran with."""

from __future__ import annotations

import json
import time
from typing import Any

import jobkit

RAN = "interop:ran"
HEALTHY = "interop:healthy"


def _record(job: jobkit.Job, *args: Any) -> None:
    r: Any = jobkit.get_client().redis
    r.rpush(RAN, json.dumps({"class": job.name, "jid": job.jid, "args": list(args),
                             "retry_count": job.retry_count}))


class ProcessOrderJob(jobkit.Job):
    """The job a Ruby app enqueues by name."""

    name = "ProcessOrderJob"

    def perform(self, order_id: int, *rest: Any) -> None:
        _record(self, order_id, *rest)


class FlakyJob(jobkit.Job):
    """Fails until ``interop:healthy`` is set; keeps a short backtrace for the Web UI."""

    name = "FlakyJob"
    retry = 3
    backtrace = 5

    def perform(self, *args: Any) -> None:
        r: Any = jobkit.get_client().redis
        if not r.exists(HEALTHY):
            raise RuntimeError(f"upstream unavailable for {args!r}")
        _record(self, *args)


class DoomedJob(jobkit.Job):
    """One retry, then the dead set (until ``interop:healthy`` is set)."""

    name = "DoomedJob"
    retry = 1

    def perform(self, *args: Any) -> None:
        r: Any = jobkit.get_client().redis
        if not r.exists(HEALTHY):
            raise ValueError(f"record {args!r} is corrupt")
        _record(self, *args)


class SlowJob(jobkit.Job):
    """Marks itself started, then sleeps: keeps a worker thread busy for a while."""

    name = "SlowJob"

    def perform(self, token: str, seconds: float) -> None:
        r: Any = jobkit.get_client().redis
        r.sadd("interop:started", token)
        time.sleep(seconds)
        _record(self, token, seconds)
