"""The fake clock, alone and under freezegun and time-machine."""

from __future__ import annotations

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
