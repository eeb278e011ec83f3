"""``drain``, ``perform_one``, retries and the job's own exceptions, on both backends."""

from __future__ import annotations

from tests.plugin.helpers import Backend, Inner

DRAIN = """
import datetime as dt
import pytest
import jobkit as jk
from jobkit_pytest import DrainLimitError
from app_jobs import (
    CALLS, BrokenJob, FlakyJob, LoopJob, ProcessPaymentJob, SendReceiptJob, SyncUserJob, cleanup
)


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    FlakyJob.failures.clear()


def test_drain_runs_fifo_across_queues_including_jobs_enqueued_by_jobs(jobkit):
    SyncUserJob.perform_async({"id": 1})
    ProcessPaymentJob.perform_async(2)
    cleanup.perform_async(3)
    report = jobkit.drain()
    assert report.performed == 3 and report.failed == 0
    assert CALLS == [("sync", {"id": 1}), ("pay", 2), ("cleanup", 3)]
    assert [r.status for r in report.jobs] == ["done"] * 3
    jobkit.assert_enqueued(SendReceiptJob, 2, in_=300)


def test_advance_makes_scheduled_jobs_due(jobkit):
    ProcessPaymentJob.perform_async(5)
    jobkit.drain()
    assert jobkit.drain().performed == 0
    before = jobkit.now()
    assert jobkit.advance(dt.timedelta(minutes=5)) >= before + dt.timedelta(minutes=5)
    assert jobkit.drain(SendReceiptJob).performed == 1
    assert CALLS == [("pay", 5), ("receipt", 5)]


def test_drain_until_moves_the_clock(jobkit):
    SendReceiptJob.perform_in(60, 1)
    SendReceiptJob.perform_in(600, 2)
    report = jobkit.drain(until=jobkit.now() + dt.timedelta(minutes=2))
    assert [r.args for r in report.jobs] == [[1]]
    jobkit.assert_enqueued(SendReceiptJob, 2)


def test_drain_filters_by_job_and_queue(jobkit):
    ProcessPaymentJob.perform_async(1)
    cleanup.perform_async(2)
    SyncUserJob.perform_async({})
    assert [r.name for r in jobkit.drain(cleanup).jobs] == [cleanup.name]
    assert [r.name for r in jobkit.drain(queue="default").jobs] == [SyncUserJob.name]
    jobkit.assert_enqueued(ProcessPaymentJob, 1)


def test_non_recursive_drain_leaves_new_jobs_queued(jobkit):
    LoopJob.perform_async(0)
    assert jobkit.drain(recursive=False).performed == 1
    jobkit.assert_enqueued(LoopJob, 1)


def test_perform_one_runs_the_next_due_job(jobkit):
    cleanup.perform_async(1)
    cleanup.perform_async(2)
    run = jobkit.perform_one()
    assert (run.args, run.status) == ([1], "done")
    assert jobkit.perform_one(SyncUserJob) is None
    jobkit.assert_enqueued(cleanup, 2)


def test_errors_can_be_collected(jobkit):
    BrokenJob.perform_async(1)
    cleanup.perform_async(2)
    report = jobkit.drain(raise_errors=False)
    assert (report.performed, report.failed, report.retried, report.dead) == (1, 1, 1, 0)
    assert isinstance(report.jobs[0].exc, ValueError)
    [retry] = jobkit.retries
    assert retry.args == [1] and retry.payload["retry_count"] == 0
    assert retry.at > jobkit.now()


def test_retries_exhaust_runs_until_dead_without_sleeping(jobkit):
    BrokenJob.perform_async(1)
    report = jobkit.drain(retries="exhaust", raise_errors=False)
    assert [r.status for r in report.jobs] == ["retry", "retry", "dead"]
    assert [j.args for j in jobkit.dead] == [[1]]
    assert jobkit.retries == []


def test_retries_exhaust_stops_at_success(jobkit):
    FlakyJob.perform_async("a", 2)
    report = jobkit.drain(retries="exhaust")
    assert [r.status for r in report.jobs] == ["retry", "retry", "done"]
    assert CALLS == [("flaky", "a")]


def test_a_retry_budget_limits_retry_runs(jobkit):
    FlakyJob.perform_async("b", 3)
    report = jobkit.drain(retries=1, raise_errors=False)
    assert [r.status for r in report.jobs] == ["retry", "retry"]


def test_max_jobs_names_the_job_that_keeps_coming_back(jobkit):
    LoopJob.perform_async(0)
    with pytest.raises(DrainLimitError, match="app_jobs.LoopJob ran 20 times"):
        jobkit.drain(max_jobs=20)
"""


def test_drain_behaviours_agree_on_both_backends(inner: Inner, backend: Backend) -> None:
    inner.run(DRAIN, backend=backend).assert_outcomes(passed=11)


RAISING = """
from app_jobs import BrokenJob, FlakyJob


def test_the_jobs_own_exception_propagates(jobkit):
    BrokenJob.perform_async(7)
    jobkit.drain()


def test_perform_one_raises_too(jobkit):
    FlakyJob.perform_async("z", 1)
    jobkit.perform_one()
"""


def test_a_failing_job_raises_its_own_exception_with_its_traceback(inner: Inner) -> None:
    result = inner.run(RAISING)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*def perform(self, n: int) -> None:",
            '>       raise ValueError(f"broken {n}")',
            "E       ValueError: broken 7",
            "E       jobkit: raised by app_jobs.BrokenJob(7) jid=* in drain(); "
            "enqueued at test_inner.py:5",
            "app_jobs.py:*: ValueError",
        ]
    )
    result.stdout.fnmatch_lines(["E *RuntimeError: flaky z attempt 1"])
