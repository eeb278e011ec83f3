"""Periodic jobs in-process: definitions, ticks and their payload, exactly-once claims across
tickers, daylight-saving changes, catch-up policies, pause and resume, unique options."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

import jobkit
from jobkit import periodic_entries as periodic
from jobkit.keys import Keys
from jobkit.periodic_entries import CATCH_UP_LIMIT, Entry
from jobkit.ticker import Ticker

BERLIN = dt.timezone(dt.timedelta(hours=1))


class Report(jobkit.Job):
    name = "periodic_test.Report"

    def perform(self) -> None:
        Report.ticks.append(self.tick)

    ticks: list[dt.datetime | None] = []


class Sync(jobkit.Job):
    name = "periodic_test.Sync"

    def perform(self, region: str) -> None:
        pass


@pytest.fixture
def define() -> Iterator[Callable[..., Entry]]:
    """``jobkit.periodic(...)`` whose entries are removed after the test."""
    names: list[str] = []

    def make(name: str, job: Any = Report, **kwargs: Any) -> Entry:
        names.append(name)
        return periodic.periodic(name, job, **kwargs)

    yield make
    for name in names:
        periodic.unregister(name)


def _ticker(settings: jobkit.Settings, r: redis.Redis, *entries: Entry,
            identity: str = "host:1:a") -> Ticker:
    return Ticker(r, settings, identity=identity, entries={e.name: e for e in entries})


def _queued(r: redis.Redis, settings: jobkit.Settings, queue: str = "default") -> list[Any]:
    import json

    return [json.loads(raw) for raw in reversed(r.lrange(Keys(settings.namespace).queue(queue),
                                                         0, -1))]


def _utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.timezone.utc).timestamp()  # type: ignore[misc]


# -- definitions ---------------------------------------------------------------------------


@pytest.mark.parametrize(("attrs", "message"), [
    ({"cron": "61 * * * *"}, "cron='61 * * * *' is not a valid cron expression"),
    ({"cron": "0 3 * *"}, "cron='0 3 * *' must have five fields"),
    ({"cron": "@sometimes"}, "cron='@sometimes' is not a known shorthand"),
    ({"cron": "0 3 30 2 *"}, "cron='0 3 30 2 *' is not a valid cron expression"),
    ({"cron": 3}, "cron=3 must be a cron expression string"),
    ({"cron": "0 3 * * *", "cron_tz": "Europe/Berlinn"},
     "cron_tz='Europe/Berlinn' is not a known IANA time zone"),
    ({"every": 0}, "every=0 must be a number of seconds >= 1"),
    ({"every": dt.timedelta(milliseconds=10)}, "every=datetime.timedelta(microseconds=10000)"),
    ({"every": True}, "every=True must be a number"),
    ({"every": 5, "cron": "@daily"}, "give exactly one of cron= and every="),
    ({"every": 5, "cron_tz": "Europe/Berlin"}, "cron_tz='Europe/Berlin' applies to cron= only"),
    ({"every": 5, "catch_up": "some"}, "catch_up='some' must be one of 'latest', 'none', 'all'"),
])
def test_a_bad_schedule_is_an_error_naming_field_and_value(attrs: dict[str, Any],
                                                           message: str) -> None:
    with pytest.raises(jobkit.JobDefinitionError, match=message.replace("*", r"\*")
                       .replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        type("Bad", (jobkit.Job,), {"perform": lambda self: None, **attrs})
    assert not [n for n in periodic.entries() if n.endswith(".Bad")]


def test_cron_on_a_job_that_needs_arguments_says_to_pass_args() -> None:
    with pytest.raises(jobkit.JobDefinitionError,
                       match=r"args=\[\]: .*takes 1 argument.*jobkit.periodic\(NAME, Job"):
        type("NeedsRegion", (jobkit.Job,), {"cron": "@hourly",
                                            "perform": lambda self, region: None})
    with pytest.raises(jobkit.JobDefinitionError, match=r"jobkit.periodic\('sync'\): args=\[\]"):
        periodic.periodic("sync", Sync, cron="@hourly")
    with pytest.raises(jobkit.JobDefinitionError, match=r"args\[0\]=datetime"):
        periodic.periodic("sync", Sync, cron="@hourly", args=[dt.datetime.now()])


def test_a_class_schedule_registers_an_entry_a_subclass_does_not_inherit() -> None:
    class Nightly(jobkit.Job):
        name = "periodic_test.Nightly"
        cron = "0 3 * * *"
        cron_tz = "Europe/Berlin"

        def perform(self) -> None:
            pass

    class Child(Nightly):
        name = "periodic_test.NightlyChild"

    try:
        entry = periodic.entries()["periodic_test.Nightly"]
        assert (entry.schedule.cron, entry.schedule.zone, entry.catch_up) == (
            "0 3 * * *", "Europe/Berlin", "latest")
        assert "periodic_test.NightlyChild" not in periodic.entries()
    finally:
        periodic.unregister("periodic_test.Nightly")


def test_two_entries_of_one_class_and_a_clashing_name(define: Callable[..., Entry]) -> None:
    eu = define("sync-eu", Sync, cron="*/5 * * * *", args=["eu"])
    us = define("sync-us", Sync, every=dt.timedelta(minutes=5), args=["us"])
    assert (eu.args, us.schedule.every) == (("eu",), 300.0)
    define("sync-eu", Sync, cron="*/5 * * * *", args=["eu"])  # the same again: a re-import
    with pytest.raises(jobkit.JobDefinitionError, match="'sync-eu' is already defined"):
        define("sync-eu", Sync, cron="*/10 * * * *", args=["eu"])


def test_a_job_function_can_be_periodic() -> None:
    @jobkit.job(every=dt.timedelta(minutes=1), catch_up="all")
    def sweep() -> None:
        pass

    try:
        entry = periodic.entries()[sweep.name]
        assert (entry.schedule.every, entry.catch_up, entry.job) == (60.0, "all", sweep.job_class)
    finally:
        periodic.unregister(sweep.name)


# -- ticks ---------------------------------------------------------------------------------


def test_each_tick_is_enqueued_once_with_its_time(settings: jobkit.Settings, r: redis.Redis,
                                                  define: Callable[..., Entry]) -> None:
    entry = define("report", every=60)
    ticker = _ticker(settings, r, entry)
    start = _utc(2026, 5, 1, 12, 0, 30)
    ticker.poll(start)
    assert _queued(r, settings) == []  # a new entry runs first at its next tick
    for offset in (20, 40, 60, 90, 100, 150):
        ticker.poll(start + offset)
    jobs = _queued(r, settings)
    assert [j["periodic_at"] for j in jobs] == [_utc(2026, 5, 1, 12, 1), _utc(2026, 5, 1, 12, 2),
                                                _utc(2026, 5, 1, 12, 3)]
    assert {j["periodic"] for j in jobs} == {"report"}
    Report.ticks.clear()
    worker = jobkit.Worker(settings, jobkit.WorkerOptions(log_jobs=False))
    while worker.process_one():
        pass
    assert Report.ticks == [dt.datetime(2026, 5, 1, 12, m, tzinfo=dt.timezone.utc)
                            for m in (1, 2, 3)]


def test_racing_tickers_enqueue_each_tick_exactly_once(settings: jobkit.Settings,
                                                       r: redis.Redis,
                                                       define: Callable[..., Entry]) -> None:
    entry = define("race", every=1)
    tickers = [_ticker(settings, r, entry, identity=f"host:{n}:x") for n in range(3)]
    start = 1_800_000_000.25
    for ticker in tickers:
        ticker.poll(start)
    for step in range(1, 41):
        # Each poll at its own time, some late, in varying order.
        for n, ticker in enumerate(tickers if step % 2 else reversed(tickers)):
            ticker.poll(start + step + 0.1 * n + (1.5 if step % 7 == 0 and n == 1 else 0))
    ticks = [j["periodic_at"] for j in _queued(r, settings)]
    assert sorted(ticks) == [1_800_000_001.0 + k for k in range(len(ticks))]
    assert len(ticks) == len(set(ticks)) >= 40
    assert sum(t.enqueued for t in tickers) == len(ticks)


def _cron_ticks(settings: jobkit.Settings, r: redis.Redis, entry: Entry, start: float,
                end: float, step: float = 600) -> list[str]:
    ticker = _ticker(settings, r, entry)
    now = start
    while now <= end:
        ticker.poll(now)
        now += step
    zone = entry.schedule._tz
    return [dt.datetime.fromtimestamp(j["periodic_at"], zone).isoformat()
            for j in _queued(r, settings)]


def test_a_local_time_that_does_not_exist_runs_once_at_the_next_valid_time(
        settings: jobkit.Settings, r: redis.Redis, define: Callable[..., Entry]) -> None:
    entry = define("berlin-0230", cron="30 2 * * *", tz="Europe/Berlin")
    # 2026-03-29: Berlin's clocks jump from 02:00 to 03:00.
    got = _cron_ticks(settings, r, entry, _utc(2026, 3, 27, 12), _utc(2026, 3, 30, 12))
    assert got == ["2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00",
                   "2026-03-30T02:30:00+02:00"]


def test_a_repeated_local_time_runs_once(settings: jobkit.Settings, r: redis.Redis,
                                         define: Callable[..., Entry]) -> None:
    entry = define("berlin-0230", cron="30 2 * * *", tz="Europe/Berlin")
    # 2026-10-25: Berlin's clocks fall back from 03:00 to 02:00; 02:30 happens twice.
    got = _cron_ticks(settings, r, entry, _utc(2026, 10, 24, 12), _utc(2026, 10, 26, 12))
    assert got == ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]


def test_an_interval_schedule_keeps_real_time_spacing_through_the_change(
        settings: jobkit.Settings, r: redis.Redis, define: Callable[..., Entry]) -> None:
    entry = define("berlin-half-hourly", cron="*/30 * * * *", tz="Europe/Berlin")
    got = _cron_ticks(settings, r, entry, _utc(2026, 10, 24, 23, 10),
                      _utc(2026, 10, 25, 1, 40), step=300)
    assert got == ["2026-10-25T01:30:00+02:00", "2026-10-25T02:00:00+02:00",
                   "2026-10-25T02:30:00+02:00", "2026-10-25T02:00:00+01:00",
                   "2026-10-25T02:30:00+01:00"]


# -- catch-up --------------------------------------------------------------------------------


@pytest.mark.parametrize(("policy", "down_minutes", "expected"), [
    ("latest", 5, [5]),
    ("none", 5, []),
    ("all", 5, [1, 2, 3, 4, 5]),
    ("all", CATCH_UP_LIMIT + 50, list(range(51, CATCH_UP_LIMIT + 51))),
])
def test_ticks_missed_while_no_worker_ran_follow_catch_up(
        settings: jobkit.Settings, r: redis.Redis, define: Callable[..., Entry], policy: str,
        down_minutes: int, expected: list[int]) -> None:
    entry = define("minutely", cron="* * * * *", catch_up=policy)
    base = _utc(2026, 5, 1, 0, 0)
    before = _ticker(settings, r, entry)
    before.poll(base - 30)
    before.poll(base)  # claims 00:00, then every worker stops
    after = _ticker(settings, r, entry, identity="host:2:b")
    after.poll(base + down_minutes * 60 + 30)
    got = [round((j["periodic_at"] - base) / 60) for j in _queued(r, settings)]
    assert got == [0, *expected]


def test_a_stalled_process_treats_the_stall_like_downtime(settings: jobkit.Settings,
                                                          r: redis.Redis,
                                                          define: Callable[..., Entry]) -> None:
    entry = define("minutely", cron="* * * * *", catch_up="latest")
    ticker = _ticker(settings, r, entry)
    base = _utc(2026, 5, 1, 0, 0, 30)
    ticker.poll(base)
    ticker.poll(base + 40)  # 00:01 on time
    ticker.poll(base + 40 + 600)  # suspended for ten minutes: only the latest of them
    got = [round((j["periodic_at"] - base + 30) / 60) for j in _queued(r, settings)]
    assert got == [1, 11]


def test_a_tick_whose_enqueue_failed_is_enqueued_when_redis_is_back(
        settings: jobkit.Settings, define: Callable[..., Entry], tmp_path: Any) -> None:
    from tests.runtime.redis_server import RedisServer

    entry = define("nightly", cron="0 3 * * *", catch_up="none")
    with RedisServer(tmp_path) as server:
        r = redis.Redis.from_url(server.url, socket_timeout=1)
        ticker = _ticker(settings.replace(redis_url=server.url), r, entry)
        ticker.poll(_utc(2026, 5, 1, 2, 59, 30))
        server.stop()
        # 03:00 comes while Redis is away: the claim fails, the tick is kept.
        assert ticker.poll(_utc(2026, 5, 1, 3, 0, 1)) == 1.0
        assert ticker.poll(_utc(2026, 5, 1, 3, 4)) == 1.0
        server.start()
        ticker.poll(_utc(2026, 5, 1, 3, 10))
        ticker.poll(_utc(2026, 5, 1, 3, 11))
        jobs = _queued(r, settings)
        assert [j["periodic_at"] for j in jobs] == [_utc(2026, 5, 1, 3, 0)]
        r.close()


def test_a_tick_whose_job_cannot_be_built_is_logged_and_skipped(
        settings: jobkit.Settings, r: redis.Redis, define: Callable[..., Entry],
        caplog: pytest.LogCaptureFixture) -> None:
    class Broken(jobkit.Job):
        name = "periodic_test.Broken"
        unique = "until_executed"
        unique_args = staticmethod(lambda args: object())  # not JSON: building fails

        def perform(self) -> None:
            pass

    ok = define("fine", every=60)
    bad = define("broken", Broken, every=60)
    ticker = _ticker(settings, r, ok, bad)
    ticker.poll(1_800_000_010.0)
    ticker.poll(1_800_000_070.0)
    assert [j["periodic"] for j in _queued(r, settings)] == ["fine"]
    assert "periodic 'broken': could not build the job" in caplog.text
    assert ticker.pending == {}


# -- pause, resume, unique -------------------------------------------------------------------


def test_pause_and_resume_are_honoured_by_every_ticker(settings: jobkit.Settings,
                                                       r: redis.Redis,
                                                       define: Callable[..., Entry]) -> None:
    entry = define("paused", every=10)
    keys = Keys(settings.namespace)
    tickers = [_ticker(settings, r, entry, identity=f"host:{n}:p") for n in range(3)]
    start = 1_800_000_005.0
    for t in tickers:
        t.poll(start)
    r.sadd(keys.cron_paused, "paused")
    for step in range(1, 4):
        for t in tickers:
            t.poll(start + 10 * step)
    assert _queued(r, settings) == []
    assert r.hget(keys.cron_entry("paused"), "last_result") == b"paused"
    r.srem(keys.cron_paused, "paused")
    for t in tickers:
        t.poll(start + 40)
    assert [j["periodic_at"] for j in _queued(r, settings)] == [1_800_000_040.0]


def test_unique_options_apply_to_periodic_runs(settings: jobkit.Settings, r: redis.Redis,
                                               define: Callable[..., Entry]) -> None:
    class Exclusive(jobkit.Job):
        name = "periodic_test.Exclusive"
        unique = "until_executed"

        def perform(self) -> None:
            pass

    entry = define("exclusive", Exclusive, every=60)
    ticker = _ticker(settings, r, entry)
    ticker.poll(1_800_000_010.0)
    ticker.poll(1_800_000_070.0)
    ticker.poll(1_800_000_130.0)  # the first run has not run yet: its lock is held
    jobs = _queued(r, settings)
    assert [j["periodic_at"] for j in jobs] == [1_800_000_060.0]
    assert jobs[0]["unique"] == "until_executed"
    assert r.hget(Keys(settings.namespace).cron_entry("exclusive"), "last_result") == b"locked"
