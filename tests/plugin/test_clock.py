"""The fake clock, alone and under freezegun and time-machine, and the retry jitter it owns."""

from __future__ import annotations

import json

from tests.plugin.helpers import Inner

CLOCK = """
import datetime as dt
import time
import pytest
import freezegun
import time_machine
from app_jobs import CALLS, SendReceiptJob

UTC = dt.timezone.utc


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()


def test_now_is_aware_and_advance_moves_it_forward(jobkit):
    start = jobkit.now()
    assert start.tzinfo is not None
    jobkit.advance(90)
    assert jobkit.now() - start >= dt.timedelta(seconds=90)
    with pytest.raises(TypeError, match="negative"):
        jobkit.advance(-1)


def test_the_clock_follows_freezegun(jobkit):
    with freezegun.freeze_time("2030-01-01 12:00:00", tz_offset=0) as frozen:
        assert jobkit.now() == dt.datetime(2030, 1, 1, 12, tzinfo=UTC)
        SendReceiptJob.perform_at(dt.datetime(2030, 1, 1, 12, 5, tzinfo=UTC), 1)
        jobkit.assert_enqueued(SendReceiptJob, 1, in_=dt.timedelta(minutes=5))
        assert jobkit.drain().performed == 0
        frozen.tick(dt.timedelta(minutes=5))
        assert jobkit.drain().performed == 1
        SendReceiptJob.perform_in(60, 2)
        jobkit.advance(60)
        assert jobkit.drain().performed == 1
        assert jobkit.now() == dt.datetime(2030, 1, 1, 12, 6, tzinfo=UTC)
    assert CALLS == [("receipt", 1), ("receipt", 2)]


def test_the_clock_follows_time_machine(jobkit):
    with time_machine.travel(dt.datetime(2031, 6, 1, tzinfo=UTC), tick=False) as traveller:
        SendReceiptJob.perform_in(dt.timedelta(hours=1), 3)
        job = jobkit.assert_enqueued(SendReceiptJob, 3)
        assert job.at == dt.datetime(2031, 6, 1, 1, tzinfo=UTC)
        traveller.shift(dt.timedelta(minutes=59))
        assert jobkit.drain().performed == 0
        jobkit.advance(dt.timedelta(minutes=1))
        assert jobkit.drain().performed == 1


def test_retry_times_come_from_the_fake_clock(jobkit):
    with freezegun.freeze_time("2030-01-01", tz_offset=0):
        from app_jobs import BrokenJob

        BrokenJob.perform_async(1)
        jobkit.drain(raise_errors=False)
        [retry] = jobkit.retries
        assert retry.payload["failed_at"] == dt.datetime(2030, 1, 1, tzinfo=UTC).timestamp()
"""


def test_the_fake_clock_works_alone_and_with_freezegun_and_time_machine(inner: Inner) -> None:
    inner.run(CLOCK).assert_outcomes(passed=4)


JITTER = """
import json
import pathlib
import pytest
import jobkit as jk


class EveryTwoSeconds(jk.Job):
    retry = 5

    @classmethod
    def retry_in(cls, count, exc):
        return 2

    def perform(self):
        raise RuntimeError("down")


def _retry_gaps(jobkit):
    '''Seconds from each failure to its retry, over five failures.'''
    EveryTwoSeconds.perform_async()
    gaps = []
    for _ in range(5):
        jobkit.perform_one(raise_errors=False)
        [retry] = jobkit.retries
        # Sidekiq keeps the first failure's failed_at; later ones set retried_at.
        failed = retry.payload.get("retried_at", retry.payload["failed_at"])
        gaps.append(round(retry.at.timestamp() - failed, 3))
        jobkit.advance(retry.at.timestamp() - jobkit.now().timestamp())
    return gaps


def test_retries_get_no_jitter_by_default(jobkit):
    assert EveryTwoSeconds.retry_jitter  # the class asks for Sidekiq's jitter
    assert _retry_gaps(jobkit) == [2, 2, 2, 2, 2]


@pytest.mark.jobkit(retry_jitter=True)
def test_jitter_on_request_is_seeded_per_test(jobkit):
    gaps = _retry_gaps(jobkit)
    # Sidekiq's jitter: rand(10) * (count + 1) on top of retry_in.
    extra = [g - 2 for g in gaps]
    assert all(e % (n + 1) == 0 and 0 <= e <= 9 * (n + 1) for n, e in enumerate(extra)), gaps
    assert any(extra), gaps
    out = pathlib.Path("gaps.json")
    runs = json.loads(out.read_text()) if out.exists() else []
    out.write_text(json.dumps([*runs, gaps]))
"""


def test_the_fixture_makes_retry_jitter_deterministic(inner: Inner) -> None:
    inner.run(JITTER).assert_outcomes(passed=2)
    inner.runpytest().assert_outcomes(passed=2)
    first, second = json.loads((inner.pytester.path / "gaps.json").read_text())
    assert first == second, "the same test drew different jitter on its second run"
