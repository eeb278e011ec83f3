"""Periodic jobs under the plugin: ``advance`` makes ticks due, ``drain`` runs each tick once,
``assert_periodic`` checks an entry; on both backends."""

from __future__ import annotations

from tests.plugin.helpers import Backend, Inner

PERIODIC = """
import datetime as dt
import zoneinfo
import pytest
import jobkit as jk
from jobkit import periodic_entries
from jobkit_pytest import JobOptionsAssertionError

RUNS = []


class NightlyReportJob(jk.Job):
    cron = "0 3 * * *"
    cron_tz = "Europe/Berlin"

    def perform(self):
        RUNS.append(("report", self.tick))


class SyncRegionJob(jk.Job):
    def perform(self, region):
        RUNS.append((region, self.tick))


class PlainJob(jk.Job):
    def perform(self):
        pass


jk.periodic("sync-eu", SyncRegionJob, every=dt.timedelta(minutes=5), args=["eu"])


@pytest.fixture(autouse=True, scope="module")
def _forget_entries():
    yield
    # These entries must not tick in the outer session's workers.
    for name in ("sync-eu", NightlyReportJob.name):
        periodic_entries.unregister(name)


@pytest.fixture(autouse=True)
def _reset():
    RUNS.clear()


def test_advance_makes_each_tick_due_and_drain_runs_it_once(jobkit):
    start = jobkit.now()
    jobkit.advance(dt.timedelta(minutes=16))
    report = jobkit.drain(SyncRegionJob)
    # Five-minute ticks in (start, start + 16 min]: 3, or 4 when start is within a minute
    # before a boundary.
    s = start.timestamp()
    assert report.performed == int((s + 960) // 300) - int(s // 300)
    ticks = [tick for _, tick in RUNS]
    assert all(t.minute % 5 == 0 and t.second == 0 for t in ticks)
    assert ticks == sorted(ticks) and ticks[0] > start
    assert jobkit.drain(SyncRegionJob).performed == 0


def test_a_day_brings_one_nightly_report_at_three_berlin_time(jobkit):
    jobkit.advance(dt.timedelta(days=1))
    jobkit.drain(NightlyReportJob)
    [(name, tick)] = RUNS
    local = tick.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (3, 0)
    jobkit.drain()


def test_no_tick_is_due_before_the_clock_moves(jobkit):
    assert jobkit.drain().performed == 0


def test_assert_periodic_checks_the_definition(jobkit):
    jobkit.assert_periodic(NightlyReportJob, cron="0 3 * * *", tz="Europe/Berlin")
    jobkit.assert_periodic(SyncRegionJob, every=dt.timedelta(minutes=5), args=["eu"])
    with pytest.raises(JobOptionsAssertionError) as info:
        jobkit.assert_periodic(NightlyReportJob, cron="0 4 * * *")
    assert "cron: expected '0 4 * * *', got '0 3 * * *'" in str(info.value)
    with pytest.raises(JobOptionsAssertionError, match="has no periodic entry"):
        jobkit.assert_periodic(PlainJob)
"""


def test_periodic_jobs_under_the_harness(inner: Inner, backend: Backend) -> None:
    inner.run(PERIODIC, backend=backend).assert_outcomes(passed=4)
