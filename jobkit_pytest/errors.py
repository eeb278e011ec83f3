"""The whole exception tree of jobkit_pytest, rooted at :class:`JobkitTestError`."""

from __future__ import annotations


class JobkitTestError(Exception):
    """Raised for every error the jobkit pytest plugin reports; catch this to catch them all."""


class UsageError(JobkitTestError, TypeError):
    """Raised when a fixture method or the ``jobkit`` marker is called with a bad argument."""


class BackendError(JobkitTestError, RuntimeError):
    """Raised when the Redis named by ``--jobkit-redis-url`` cannot be used."""


class EnqueueAssertionError(JobkitTestError, AssertionError):
    """Raised when the jobs enqueued differ from what an assertion expected."""


class JobOptionsAssertionError(JobkitTestError, AssertionError):
    """Raised when a job class's options differ from what ``assert_job_options`` expected."""


class StrictModeError(JobkitTestError, AssertionError):
    """Raised at teardown in strict mode when jobs were enqueued but never asserted or drained."""


class DrainLimitError(JobkitTestError, RuntimeError):
    """Raised when ``drain`` ran ``max_jobs`` jobs and jobs were still waiting."""


class NotIdempotentError(JobkitTestError, AssertionError):
    """Raised when running a job again (or after a crash) changed the observed side effects."""


class SimulatedCrash(BaseException):
    """Raised inside a job by the idempotency checker to stop it right after a side effect.

    A ``BaseException`` so that the job's own ``except Exception`` blocks cannot swallow it,
    as they could not swallow a killed process.
    """
