"""Helpers: inner test runs through ``pytester``, on fakeredis and on a real Redis."""

from __future__ import annotations

import importlib
import sys
import textwrap
from dataclasses import dataclass

import pytest

import jobkit
from tests.needs import REAL_REDIS_URL, missing, real_redis_up, same_server

# Imported once here: pytester restores sys.modules after each in-process run, so anything
# first imported inside an inner run is imported (and assertion-rewritten) again every time.
for _module in (
    "fakeredis",
    "freezegun",
    "hypothesis.strategies",
    "jobkit_pytest.harness",
    "jobkit_pytest.idempotency",
    "jobkit_pytest.strategies",
    "time_machine",
):
    importlib.import_module(_module)

# The server of JOBKIT_TEST_REDIS_URL, database 12: the plugin's group of tests has a database
# of its own (the Sidekiq interop tests flush 13, the runtime tests use 0).
REDIS_URL = same_server(REAL_REDIS_URL, 12)

#: Jobs shared by the inner test files (written as ``app_jobs.py`` next to them).
APP_JOBS = '''
import jobkit

CALLS = []


class ProcessPaymentJob(jobkit.Job):
    queue = "critical"
    retry = 3

    def perform(self, payment_id: int) -> None:
        CALLS.append(("pay", payment_id))
        SendReceiptJob.perform_in(300, payment_id)


class SendReceiptJob(jobkit.Job):
    queue = "mailers"

    def perform(self, payment_id: int) -> None:
        CALLS.append(("receipt", payment_id))


class SyncUserJob(jobkit.Job):
    def perform(self, user: dict) -> None:
        CALLS.append(("sync", user))


class BrokenJob(jobkit.Job):
    retry = 2
    retry_jitter = False

    def perform(self, n: int) -> None:
        raise ValueError(f"broken {n}")


class FlakyJob(jobkit.Job):
    retry = 5
    failures = {}

    def perform(self, key: str, fail_times: int) -> None:
        seen = FlakyJob.failures.get(key, 0)
        if seen < fail_times:
            FlakyJob.failures[key] = seen + 1
            raise RuntimeError(f"flaky {key} attempt {seen + 1}")
        CALLS.append(("flaky", key))


class LoopJob(jobkit.Job):
    def perform(self, n: int) -> None:
        LoopJob.perform_async(n + 1)


@jobkit.job(queue="low", retry=False)
def cleanup(days: int) -> None:
    CALLS.append(("cleanup", days))
'''


def redis_answers() -> bool:
    return real_redis_up(REDIS_URL)


@dataclass(frozen=True)
class Backend:
    """How inner runs reach their Redis: the options to pass, and its name."""

    name: str
    args: tuple[str, ...]


def require_real_redis() -> None:
    """Skip when no Redis answers locally, but fail under CI=true, where it must run."""
    if not redis_answers():
        missing(f"no Redis answers at {REDIS_URL} for the real-Redis variant")


@pytest.fixture(params=["fakeredis", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each test using this runs on the embedded fakeredis and on a real Redis."""
    if request.param == "fakeredis":
        return Backend("fakeredis", ())
    require_real_redis()
    return Backend("redis", (f"--jobkit-redis-url={REDIS_URL}",))


class Inner:
    """Writes inner test files and runs pytest on them in-process."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.ini()
        pytester.makepyfile(app_jobs=APP_JOBS)

    def ini(self, extra: str = "") -> None:
        """The inner runs' ini: warnings are errors, as in this repo, except the one that
        in-process runs cause by finding jobkit already imported by the outer session."""
        self.pytester.makeini(
            "[pytest]\n"
            "filterwarnings =\n"
            "    error\n"
            "    ignore:Module already imported so cannot be rewritten:"
            "pytest.PytestAssertRewriteWarning\n" + extra
        )

    def run(
        self, source: str, *args: str, backend: Backend | None = None, name: str = "test_inner"
    ) -> pytest.RunResult:
        self.pytester.makepyfile(**{name: textwrap.dedent(source)})
        extra = backend.args if backend is not None else ()
        return self.runpytest(*extra, *args)

    def runpytest(self, *args: str) -> pytest.RunResult:
        """pytest in-process on the files written so far."""
        # pytest-benchmark, when installed, warns (an error here) inside xdist workers.
        quiet = ("-p", "no:cacheprovider", "-p", "no:benchmark")
        before = set(jobkit.registered())
        try:
            return self.pytester.runpytest_inprocess(*quiet, *args)
        finally:
            # The inner run's job classes must not stay registered in this process.
            for name in set(jobkit.registered()) - before:
                jobkit.registry.unregister(name)


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Inner:
    # Every inner file is test_inner.py: cached bytecode from another run's directory could
    # otherwise carry that directory's path into tracebacks and enqueue locations.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    return Inner(pytester)
