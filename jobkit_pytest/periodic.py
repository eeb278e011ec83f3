"""Periodic jobs under the harness: ticks come due as the test's clock moves, and
``assert_periodic`` checks an entry's definition."""

from __future__ import annotations

import datetime as dt
from typing import Any

import redis

import jobkit
from jobkit import periodic_entries as periodic
from jobkit.ticker import Ticker

from .clock import FakeClock
from .errors import JobOptionsAssertionError, UsageError

FIELDS = ("name", "cron", "tz", "every", "args", "catch_up")


class Ticks:
    """Enqueues every periodic entry's ticks up to the harness clock, each tick once.

    The harness watches from its creation, so every tick after it is owed (no catch-up
    policy applies: a test's clock jumps are not outages). Nothing touches Redis until the
    first poll, and nothing at all when no entry is defined.
    """

    def __init__(self, settings: jobkit.Settings, connection: redis.Redis,
                 clock: FakeClock) -> None:
        self.settings = settings
        self.redis = connection
        self.clock = clock
        self.since = clock()
        self.ticker: Ticker | None = None

    def poll(self) -> int:
        """Enqueue the ticks due by now; returns how many were enqueued."""
        if self.ticker is None:
            if not periodic.entries():
                return 0
            self.ticker = Ticker(self.redis, self.settings, identity="jobkit-pytest:0:harness",
                                 stall=None)
            self.ticker.poll(self.since)
        before = self.ticker.enqueued
        self.ticker.poll(self.clock())
        return self.ticker.enqueued - before


def _actual(entry: periodic.Entry) -> dict[str, Any]:
    return {"name": entry.name, "cron": entry.schedule.cron, "tz": entry.schedule.zone,
            "every": entry.schedule.every, "args": list(entry.args), "catch_up": entry.catch_up}


def assert_periodic(job: type[jobkit.Job], **expected: Any) -> periodic.Entry:
    """Assert ``job`` has a periodic entry with the given fields; returns it."""
    __tracebackhide__ = True
    unknown = sorted(set(expected) - set(FIELDS))
    if unknown:
        raise UsageError(f"assert_periodic(): unknown field {unknown[0]!r}; fields: "
                         f"{', '.join(FIELDS)}")
    if isinstance(expected.get("every"), dt.timedelta):
        expected["every"] = expected["every"].total_seconds()
    if "args" in expected:
        expected["args"] = list(expected["args"])
    mine = [e for e in periodic.entries().values() if e.job is job]
    if not mine:
        raise JobOptionsAssertionError(
            f"{job.name} has no periodic entry (set cron = ... or every = ... on the class, "
            "or call jobkit.periodic(NAME, Job, ...) in a module the test imports)")
    diffs = []
    for entry in mine:
        actual = _actual(entry)
        wrong = {k: v for k, v in expected.items() if actual[k] != v}
        if not wrong:
            return entry
        diffs += [f"  entry {entry.name!r}:"] + [
            f"    {k}: expected {v!r}, got {actual[k]!r}" for k, v in wrong.items()]
    raise JobOptionsAssertionError(
        "\n".join([f"no periodic entry of {job.name} matches what the test expects:", *diffs]))
