"""``assert_enqueued``, ``assert_not_enqueued``, ``enqueued``, ``capture`` and their messages,
each run on fakeredis and on a real Redis (they must agree)."""

from __future__ import annotations

from tests.plugin.helpers import Backend, Inner

PASSING = """
import datetime as dt
import pytest
from jobkit_pytest import ANY, partial
from app_jobs import ProcessPaymentJob, SendReceiptJob, SyncUserJob, cleanup


def test_assert_enqueued_returns_the_job(jobkit):
    ProcessPaymentJob.perform_async(42)
    job = jobkit.assert_enqueued(ProcessPaymentJob, 42, queue="critical")
    assert (job.job, job.args, job.queue, job.at) == (ProcessPaymentJob, [42], "critical", None)
    assert job.location.endswith("test_inner.py:8")
    assert len(job.jid) == 24 and job.payload["class"] == ProcessPaymentJob.name


def test_args_compare_after_the_json_round_trip(jobkit):
    SyncUserJob.perform_async({"id": 1, "tags": ["a", "b"], "ratio": 1.5})
    jobkit.assert_enqueued(SyncUserJob, {"id": 1, "tags": ("a", "b"), "ratio": 1.5})
    jobkit.assert_not_enqueued(SyncUserJob, {"id": True, "tags": ["a", "b"], "ratio": 1.5})


def test_any_and_partial_match_inside_args(jobkit):
    SyncUserJob.perform_async({"email": "a@b.c", "name": "Ann", "meta": {"x": 1, "y": 2}})
    jobkit.assert_enqueued(SyncUserJob, partial({"email": "a@b.c", "meta": partial({"x": 1})}))
    jobkit.assert_enqueued(SyncUserJob, ANY)


def test_no_args_matches_any_args(jobkit):
    ProcessPaymentJob.perform_async(7)
    jobkit.assert_enqueued(ProcessPaymentJob)


def test_scheduled_jobs_match_in_and_at(jobkit):
    SendReceiptJob.perform_in(dt.timedelta(minutes=5), 1)
    jobkit.assert_enqueued(SendReceiptJob, 1, in_=dt.timedelta(minutes=5))
    jobkit.assert_enqueued(SendReceiptJob, 1, in_=300.4)
    jobkit.assert_enqueued(SendReceiptJob, 1, at=jobkit.now() + dt.timedelta(minutes=5))
    jobkit.assert_not_enqueued(SendReceiptJob, 2)


def test_count_counts_exact_matches(jobkit):
    ProcessPaymentJob.perform_bulk([[1], [1], [2]])
    jobkit.assert_enqueued(ProcessPaymentJob, 1, count=2)
    jobkit.assert_enqueued(ProcessPaymentJob, 2)


def test_enqueued_lists_jobs_oldest_first_and_filters(jobkit):
    ProcessPaymentJob.perform_async(1)
    cleanup.perform_async(30)
    ProcessPaymentJob.perform_async(2)
    assert [j.args for j in jobkit.enqueued(ProcessPaymentJob)] == [[1], [2]]
    assert [j.name for j in jobkit.enqueued(queue="low")] == [cleanup.name]
    assert len(jobkit.enqueued()) == 3


def test_set_overrides_the_queue(jobkit):
    ProcessPaymentJob.set(queue="bulk").perform_async(3)
    jobkit.assert_enqueued(ProcessPaymentJob, 3, queue="bulk")


def test_capture_returns_only_what_the_block_enqueued(jobkit):
    ProcessPaymentJob.perform_async(1)
    with jobkit.capture() as jobs:
        SyncUserJob.perform_async({"id": 2})
        cleanup.perform_in(60, 5)
    assert [(j.name, j.args) for j in jobs] == [
        (SyncUserJob.name, [{"id": 2}]),
        (cleanup.name, [5]),
    ]
    assert jobs[1].at is not None


def test_clear_empties_everything(jobkit):
    ProcessPaymentJob.perform_async(1)
    SendReceiptJob.perform_in(10, 1)
    jobkit.clear()
    jobkit.assert_not_enqueued()


def test_assert_job_options_checks_class_options(jobkit):
    jobkit.assert_job_options(ProcessPaymentJob, queue="critical", retry=3, unique=None)
    jobkit.assert_job_options(cleanup, queue="low", retry=False)
"""


def test_passing_assertions_pass_on_both_backends(inner: Inner, backend: Backend) -> None:
    result = inner.run(PASSING, backend=backend)
    result.assert_outcomes(passed=11)


FAILING = """
import datetime as dt
from app_jobs import ProcessPaymentJob, SendReceiptJob, SyncUserJob


def test_nothing_enqueued(jobkit):
    jobkit.assert_enqueued(ProcessPaymentJob, 1)


def test_wrong_args(jobkit):
    ProcessPaymentJob.perform_async(2)
    SyncUserJob.perform_async({"id": 1})
    jobkit.assert_enqueued(ProcessPaymentJob, 1)


def test_wrong_queue(jobkit):
    ProcessPaymentJob.set(queue="default").perform_async(1)
    jobkit.assert_enqueued(ProcessPaymentJob, 1, queue="critical")


def test_not_scheduled(jobkit):
    SendReceiptJob.perform_async(1)
    SendReceiptJob.perform_in(3600, 9)
    jobkit.assert_enqueued(SendReceiptJob, 1, in_=dt.timedelta(minutes=5))


def test_wrong_time(jobkit):
    SendReceiptJob.perform_in(60, 1)
    jobkit.assert_enqueued(SendReceiptJob, 1, in_=dt.timedelta(minutes=5))


def test_twice(jobkit):
    ProcessPaymentJob.perform_async(1)
    ProcessPaymentJob.perform_async(1)
    jobkit.assert_enqueued(ProcessPaymentJob, 1)


def test_unexpected(jobkit):
    SyncUserJob.perform_async({"id": 1})
    jobkit.assert_not_enqueued(SyncUserJob)


def test_options(jobkit):
    jobkit.assert_job_options(ProcessPaymentJob, queue="default", retry=True)
"""


def test_failure_messages_say_why_first_then_the_candidates(
    inner: Inner, backend: Backend
) -> None:
    result = inner.run(FAILING, backend=backend)
    result.assert_outcomes(failed=8)
    result.stdout.fnmatch_lines(
        [
            "*EnqueueAssertionError: expected app_jobs.ProcessPaymentJob(1) to be enqueued, "
            "but nothing was enqueued",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*expected app_jobs.ProcessPaymentJob(1) to be enqueued, but it was enqueued "
            "with wrong args",
            "*Closest candidates:",
            "*1. app_jobs.ProcessPaymentJob(2) on 'critical' jid=* (enqueued at test_inner.py:10)",
            "*args: expected ?1?, got ?2?",
            "*2. app_jobs.SyncUserJob({\"id\": 1}) on 'default'*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*expected app_jobs.ProcessPaymentJob(1) on 'critical' to be enqueued, but it was "
            "enqueued on the wrong queue",
            "*queue: expected 'critical', got 'default'",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*but it was not scheduled when expected (queued to run now)",
            "*Closest candidates:",
            "*time: expected a scheduled job, got one queued to run now",
            "*Scheduled, not yet due:",
            "*app_jobs.SendReceiptJob(9) on 'mailers' at * (due in 3600 s; enqueued at "
            "test_inner.py:22)",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*but it was scheduled for a different time",
            "*time: expected to run in 300 s, got in 60 s",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*expected app_jobs.ProcessPaymentJob(1) to be enqueued, but it was enqueued twice",
            "*Matching jobs:",
            "*1. app_jobs.ProcessPaymentJob(1)*test_inner.py:32)",
            "*2. app_jobs.ProcessPaymentJob(1)*test_inner.py:33)",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*expected no app_jobs.SyncUserJob(...) to be enqueued, but found 1:",
            "*1. app_jobs.SyncUserJob({\"id\": 1}) on 'default'*test_inner.py:38)",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*JobOptionsAssertionError: app_jobs.ProcessPaymentJob options differ*",
            "*queue: expected 'default', got 'critical'",
            "*retry: expected True, got 3",
        ]
    )


BAD_USAGE = """
import datetime as dt
from app_jobs import ProcessPaymentJob


def test_non_json_expected_arg(jobkit):
    jobkit.assert_enqueued(ProcessPaymentJob, dt.date(2020, 1, 1))


def test_unknown_option(jobkit):
    jobkit.assert_job_options(ProcessPaymentJob, queues="x")


def test_not_a_job(jobkit):
    jobkit.enqueued(object)
"""


def test_bad_arguments_are_reported_by_name(inner: Inner) -> None:
    result = inner.run(BAD_USAGE)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*UsageError: args[[]0[]]=datetime.date(2020, 1, 1) is not JSON-native (date)*",
            "*UsageError: assert_job_options(): unknown option 'queues'*",
            "*UsageError: job=<class 'object'> is not a jobkit job class*",
        ]
    )
