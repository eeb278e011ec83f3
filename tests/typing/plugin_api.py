"""Type-checked only (by tests/runtime/test_packaging.py): jobkit_pytest as users write it."""

from __future__ import annotations

import datetime as dt

import jobkit
from jobkit_pytest import ANY, DrainReport, EnqueuedJob, Harness, JobRun, partial


class ChargeJob(jobkit.Job):
    queue = "critical"

    def perform(self, payment_id: int, meta: dict[str, str]) -> None: ...


def a_test(jobkit: Harness) -> None:
    ChargeJob.perform_async(1, {"email": "a@b.c"})
    job: EnqueuedJob = jobkit.assert_enqueued(ChargeJob, 1, partial({"email": "a@b.c"}),
                                              queue="critical")
    jobkit.assert_enqueued(ChargeJob, ANY, ANY, tolerance=dt.timedelta(seconds=2))
    jobkit.assert_not_enqueued(ChargeJob, 2)
    args: list[list[object]] = [j.args for j in jobkit.enqueued(ChargeJob)]
    with jobkit.capture() as captured:
        ChargeJob.perform_in(60, 3, {})
    moved: dt.datetime = jobkit.advance(dt.timedelta(minutes=1))
    report: DrainReport = jobkit.drain(raise_errors=False, retries="exhaust")
    performed: int = report.performed
    run: JobRun | None = jobkit.perform_one()
    jobkit.assert_job_options(ChargeJob, queue="critical")
    jobkit.assert_periodic(ChargeJob, cron="0 3 * * *", tz="Europe/Berlin")
    print(job, args, captured, moved, performed, run)
