"""Coroutine jobs under the plugin: ``drain``, ``perform_one``, inline mode and
``assert_idempotent`` run them; ``aperform_async`` and friends are recorded like
``perform_async``, with the caller's location — on both backends."""

from __future__ import annotations

from tests.plugin.helpers import Backend, Inner

ASYNC_JOBS = '''
import asyncio
import jobkit

CALLS = []


class FetchFeedJob(jobkit.Job):
    queue = "io"
    retry = 2
    retry_jitter = False

    @classmethod
    def retry_in(cls, count, exc):
        return 60

    async def perform(self, url: str) -> None:
        await asyncio.sleep(0)
        if url.startswith("bad:"):
            raise ConnectionError(f"cannot reach {url}")
        CALLS.append(("fetch", url))
        await index_feed.aperform_async(url)


@jobkit.job(queue="low")
async def index_feed(url: str) -> None:
    await asyncio.sleep(0)
    CALLS.append(("index", url))


class Ledger:
    """An async ledger double."""

    entries = []
    keys = set()

    @classmethod
    async def add(cls, account: int, key=None):
        await asyncio.sleep(0)
        if key is not None and key in cls.keys:
            return
        cls.keys.add(key)
        cls.entries.append(account)

    @classmethod
    def reset(cls):
        cls.entries.clear()
        cls.keys.clear()
        FlagGuardedCreditJob.done.clear()


class CreditJob(jobkit.Job):
    async def perform(self, account: int) -> None:
        await Ledger.add(account)


class FlagGuardedCreditJob(jobkit.Job):
    """Safe to run twice, not to crash between the credit and the flag."""

    done = set()

    async def perform(self, account: int) -> None:
        if account in FlagGuardedCreditJob.done:
            return
        await Ledger.add(account)
        FlagGuardedCreditJob.done.add(account)


class KeyedCreditJob(jobkit.Job):
    async def perform(self, account: int) -> None:
        await Ledger.add(account, key=f"credit-{self.jid}")
'''

TESTS = '''
import asyncio
import datetime as dt
import pytest
import jobkit as jk
from jobkit_pytest import NotIdempotentError
from async_jobs import (
    CALLS, CreditJob, FetchFeedJob, FlagGuardedCreditJob, KeyedCreditJob, Ledger, index_feed,
)


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    Ledger.reset()


def test_aperform_async_is_recorded_with_its_location(jobkit):
    async def enqueue():
        return await FetchFeedJob.aperform_async("https://a.example/feed")

    jid = asyncio.run(enqueue())
    job = jobkit.assert_enqueued(FetchFeedJob, "https://a.example/feed", queue="io")
    assert job.jid == jid
    assert job.location.endswith("test_inner.py:19")


def test_aperform_in_is_scheduled_on_the_plugins_clock(jobkit):
    asyncio.run(index_feed.aperform_in(dt.timedelta(minutes=5), "u"))
    jobkit.assert_enqueued(index_feed, "u", in_=300)
    assert jobkit.drain().performed == 0
    jobkit.advance(300)
    assert jobkit.drain().performed == 1 and CALLS == [("index", "u")]


def test_drain_runs_coroutine_jobs_and_what_they_enqueue(jobkit):
    FetchFeedJob.perform_async("https://b.example")
    report = jobkit.drain()
    assert [r.name for r in report.jobs] == [FetchFeedJob.name, index_feed.name]
    assert CALLS == [("fetch", "https://b.example"), ("index", "https://b.example")]


def test_failing_coroutine_job_retries_by_the_plugins_clock(jobkit):
    FetchFeedJob.perform_async("bad:host")
    jobkit.advance(dt.timedelta(days=2))  # far from the wall clock: the retry time is the plugin's
    run = jobkit.perform_one(raise_errors=False)
    assert run.status == "retry" and isinstance(run.exc, ConnectionError)
    (retry,) = jobkit.retries
    assert abs((retry.at - jobkit.now()).total_seconds() - 60) < 1
    with pytest.raises(ConnectionError, match="cannot reach bad:host"):
        jobkit.drain(retries="exhaust")
    assert [d.args for d in jobkit.dead] == [["bad:host"]]


@pytest.mark.jobkit(inline=True)
def test_inline_mode_runs_coroutine_jobs_enqueued_from_async_code(jobkit):
    async def enqueue():
        return await index_feed.aperform_async("inline")

    assert asyncio.run(enqueue())
    assert CALLS == [("index", "inline")]


@pytest.mark.jobkit(inline=True)
def test_inline_mode_runs_coroutine_jobs_enqueued_from_sync_code(jobkit):
    assert index_feed.perform_async("sync")
    assert CALLS == [("index", "sync")]


def test_assert_idempotent_catches_a_coroutine_job_crediting_twice(jobkit):
    with pytest.raises(NotIdempotentError):
        jobkit.assert_idempotent(CreditJob, observe=lambda: list(Ledger.entries),
                                 reset=Ledger.reset, max_examples=5)


def test_assert_idempotent_crashes_after_the_awaited_side_effect(jobkit):
    jobkit.assert_idempotent(FlagGuardedCreditJob, observe=lambda: list(Ledger.entries),
                             reset=Ledger.reset, max_examples=5)
    with pytest.raises(NotIdempotentError, match="crashing right after call 1 of"):
        jobkit.assert_idempotent(FlagGuardedCreditJob, observe=lambda: list(Ledger.entries),
                                 reset=Ledger.reset, redeliver_after=["async_jobs.Ledger.add"],
                                 max_examples=5)


def test_assert_idempotent_passes_a_keyed_coroutine_job(jobkit):
    jobkit.assert_idempotent(KeyedCreditJob, observe=lambda: list(Ledger.entries),
                             reset=Ledger.reset, redeliver_after=["async_jobs.Ledger.add"],
                             max_examples=5)
'''


def test_coroutine_jobs_under_the_plugin(inner: Inner, backend: Backend) -> None:
    inner.pytester.makepyfile(async_jobs=ASYNC_JOBS)
    result = inner.run(TESTS, backend=backend)
    result.assert_outcomes(passed=9)
