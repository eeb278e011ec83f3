"""Harness behaviours the README documents, each checked so that it fails when the behaviour
breaks: ``clear()`` on every kind of data, ``assert_enqueued(tolerance=)``,
``perform_one(queue=, raise_errors=False)``, ``JobRun.elapsed`` and ``capture()`` listing
jobs that already ran. Run on fakeredis and on a real Redis."""

from __future__ import annotations

from tests.plugin.helpers import Backend, Inner

DOCUMENTED = """
import time
import pytest
import jobkit as jk
from jobkit_pytest import EnqueueAssertionError
from app_jobs import (
    CALLS, BrokenJob, ProcessPaymentJob, SendReceiptJob, SyncUserJob, cleanup
)


class OnceJob(jk.Job):
    unique = "until_executed"

    def perform(self, n: int) -> None: ...


class NapJob(jk.Job):
    def perform(self, seconds: float) -> None:
        time.sleep(seconds)


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()


def _keys(jobkit, pattern):
    return list(jobkit.backend.redis.scan_iter(match=f"{jobkit.settings.namespace}:{pattern}"))


def test_clear_deletes_retries_dead_jobs_and_unique_locks_too(jobkit):
    BrokenJob.perform_async(1)
    jobkit.drain(raise_errors=False, retries="exhaust")
    BrokenJob.perform_async(2)
    jobkit.drain(raise_errors=False)
    assert OnceJob.perform_async(1) and OnceJob.perform_async(1) is None
    ProcessPaymentJob.perform_async(3)
    SendReceiptJob.perform_in(60, 3)
    assert ([j.args for j in jobkit.dead], [j.args for j in jobkit.retries]) == ([[1]], [[2]])
    assert len(jobkit.enqueued()) == 3 and len(_keys(jobkit, "jobkit:unique:*")) == 1

    jobkit.clear()

    assert (jobkit.retries, jobkit.dead, jobkit.enqueued()) == ([], [], [])
    assert _keys(jobkit, "jobkit:unique:*") == []
    assert _keys(jobkit, "*") == []
    # The lock is really gone: the same unique job can be enqueued again.
    assert OnceJob.perform_async(1)


def test_tolerance_widens_the_time_match(jobkit):
    SendReceiptJob.perform_in(300, 1)
    with pytest.raises(EnqueueAssertionError, match="scheduled for a different time"):
        jobkit.assert_enqueued(SendReceiptJob, 1, in_=303)
    jobkit.assert_enqueued(SendReceiptJob, 1, in_=303, tolerance=5)
    jobkit.assert_enqueued(SendReceiptJob, 1, at=jobkit.now().timestamp() + 296, tolerance=5)
    with pytest.raises(EnqueueAssertionError):
        jobkit.assert_enqueued(SendReceiptJob, 1, in_=310, tolerance=5)


def test_perform_one_takes_a_queue_and_can_collect_errors(jobkit):
    ProcessPaymentJob.perform_async(1)  # older, on 'critical'
    cleanup.perform_async(2)  # on 'low'
    run = jobkit.perform_one(queue="low")
    assert (run.name, run.args, run.queue, run.status) == (cleanup.name, [2], "low", "done")
    assert CALLS == [("cleanup", 2)]
    assert jobkit.perform_one(queue="low") is None
    jobkit.assert_enqueued(ProcessPaymentJob, 1)

    BrokenJob.perform_async(9)
    run = jobkit.perform_one(BrokenJob, raise_errors=False)
    assert run.status == "retry" and run.failed
    assert isinstance(run.exc, ValueError) and str(run.exc) == "broken 9"
    assert [j.args for j in jobkit.retries] == [[9]]


def test_perform_one_raises_the_jobs_error_by_default(jobkit):
    BrokenJob.perform_async(4)
    with pytest.raises(ValueError, match="broken 4"):
        jobkit.perform_one()


def test_job_runs_report_how_long_perform_took(jobkit):
    NapJob.perform_async(0.05)
    NapJob.perform_async(0)
    slow, quick = jobkit.drain().jobs
    # Seconds, not milliseconds, and measured around the job's own work.
    assert 0.05 <= slow.elapsed < 30
    # No upper bound against the slow job: on a loaded machine a no-op job can be preempted.
    assert 0 <= quick.elapsed < 30
    NapJob.perform_async(0.05)
    assert jobkit.perform_one().elapsed >= 0.05


def test_capture_lists_jobs_that_already_ran(jobkit):
    with jobkit.capture() as jobs:
        ProcessPaymentJob.perform_async(7)
        jobkit.drain(ProcessPaymentJob)
        SyncUserJob.perform_async({"id": 8})
    assert [(j.name, j.args) for j in jobs] == [
        (ProcessPaymentJob.name, [7]),
        (SendReceiptJob.name, [7]),  # enqueued by the job the block ran
        (SyncUserJob.name, [{"id": 8}]),
    ]
    assert CALLS == [("pay", 7)]
    jobkit.assert_not_enqueued(ProcessPaymentJob)


@pytest.mark.jobkit(inline=True)
def test_capture_lists_jobs_run_inline(jobkit):
    with jobkit.capture() as jobs:
        SyncUserJob.perform_async({"id": 1})
    assert [(j.name, j.args) for j in jobs] == [(SyncUserJob.name, [{"id": 1}])]
    assert CALLS == [("sync", {"id": 1})]
"""


def test_documented_harness_behaviours_hold_on_both_backends(
    inner: Inner, backend: Backend
) -> None:
    result = inner.run(DOCUMENTED, backend=backend)
    result.assert_outcomes(passed=7)
