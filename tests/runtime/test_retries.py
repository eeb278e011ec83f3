"""Failures: retry with backoff, retry_in, exhaustion to the dead set, death handlers,
discard_on and dead=False — through the real processor and acknowledgement."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

import jobkit
from jobkit import retry as retry_mod
from jobkit.keys import Keys

from .helpers import Clock


class GatewayDown(Exception):
    pass


class NotFound(Exception):
    pass


class FlakyJob(jobkit.Job):
    name = "retry_test.FlakyJob"
    retry = 2

    def perform(self, order_id: int) -> None:
        raise GatewayDown(f"gateway down for {order_id}")


class CustomBackoffJob(jobkit.Job):
    name = "retry_test.CustomBackoffJob"
    retry_jitter = False

    @classmethod
    def retry_in(cls, count: int, exc: BaseException) -> float:
        return 7.0 * (count + 1)

    def perform(self) -> None:
        raise GatewayDown("down")


class DiscardingJob(jobkit.Job):
    name = "retry_test.DiscardingJob"
    discard_on = (NotFound,)

    def perform(self) -> None:
        raise NotFound("order 5 was deleted")


class NoDeadJob(jobkit.Job):
    name = "retry_test.NoDeadJob"
    retry = 0
    dead = False

    def perform(self) -> None:
        raise GatewayDown("down")


class RetryTrueJob(jobkit.Job):
    name = "retry_test.RetryTrueJob"
    retry = True
    retry_jitter = False

    @classmethod
    def retry_in(cls, count: int, exc: BaseException) -> float:
        return 1.0

    def perform(self) -> None:
        raise GatewayDown("down")


def _setup(settings: jobkit.Settings, **changes: Any) -> tuple[jobkit.Worker, Clock, Keys]:
    clock = Clock()
    s = jobkit.configure(settings.replace(clock=clock, **changes))
    worker = jobkit.Worker(s, jobkit.WorkerOptions(log_jobs=False))
    return worker, clock, Keys(s.namespace)


def _retry_set(r: redis.Redis, keys: Keys) -> list[tuple[dict[str, Any], float]]:
    return [(json.loads(m), s) for m, s in r.zrange(keys.retry, 0, -1, withscores=True)]


def test_failure_writes_sidekiq_retry_fields_and_backoff(settings: jobkit.Settings,
                                                         r: redis.Redis) -> None:
    worker, clock, keys = _setup(settings)
    jid = FlakyJob.perform_async(5)
    outcome = worker.process_one()
    assert outcome is not None and outcome.status == "retry"
    [(job, score)] = _retry_set(r, keys)
    assert job["jid"] == jid and job["retry_count"] == 0
    assert job["error_class"] == "tests.runtime.test_retries.GatewayDown"
    assert job["error_message"] == "gateway down for 5"
    assert job["failed_at"] == clock.now and "retried_at" not in job
    # count 0: 0**4 + 15 + rand(10) * 1
    assert clock.now + 15 <= score <= clock.now + 24
    assert r.llen(keys.queue("default")) == 0
    assert r.get(keys.stat("failed")) == b"1" and r.get(keys.stat("processed")) == b"1"


def test_retries_run_when_due_then_exhaust_into_dead_with_death_handler(
    settings: jobkit.Settings, r: redis.Redis
) -> None:
    deaths: list[tuple[dict[str, Any], BaseException]] = []
    worker, clock, keys = _setup(settings, death_handlers=[lambda j, e: deaths.append((j, e))])
    FlakyJob.perform_async(5)
    statuses = []
    for _ in range(3):
        statuses.append(worker.process_one().status)  # type: ignore[union-attr]
        clock.now += 10_000
        worker.scheduler.enqueue_due()
    assert statuses == ["retry", "retry", "dead"]
    assert r.zcard(keys.retry) == 0
    [raw] = r.zrange(keys.dead, 0, -1)
    dead = json.loads(raw)
    assert dead["retry_count"] == 2 and "retried_at" in dead and "failed_at" in dead
    assert len(deaths) == 1 and deaths[0][0]["jid"] == dead["jid"]
    assert isinstance(deaths[0][1], GatewayDown)


def test_retry_is_not_run_before_it_is_due(settings: jobkit.Settings, r: redis.Redis) -> None:
    worker, clock, keys = _setup(settings)
    FlakyJob.perform_async(5)
    worker.process_one()
    clock.now += 14
    assert worker.scheduler.enqueue_due() == 0
    assert worker.process_one() is None
    clock.now += 11
    assert worker.scheduler.enqueue_due() == 1
    requeued = json.loads(r.lindex(keys.queue("default"), 0))  # type: ignore[arg-type]
    assert requeued["enqueued_at"] == clock.now and requeued["retry_count"] == 0


def test_retry_in_sets_the_delay(settings: jobkit.Settings, r: redis.Redis) -> None:
    worker, clock, keys = _setup(settings)
    CustomBackoffJob.perform_async()
    worker.process_one()
    [(_, score)] = _retry_set(r, keys)
    assert score == clock.now + 7.0


def test_default_backoff_matches_sidekiq_formula() -> None:
    for count in (0, 1, 5, 20):
        delays = {retry_mod.retry_delay(None, count, Exception()) for _ in range(200)}
        base = count**4 + 15
        assert min(delays) >= base and max(delays) <= base + 9 * (count + 1)
        assert len(delays) > 1


def test_discard_on_drops_the_job_without_retry(settings: jobkit.Settings,
                                                r: redis.Redis) -> None:
    worker, _, keys = _setup(settings)
    DiscardingJob.perform_async()
    outcome = worker.process_one()
    assert outcome is not None and outcome.status == "discarded"
    assert r.zcard(keys.retry) == 0 and r.zcard(keys.dead) == 0


def test_dead_false_drops_the_job_when_retries_run_out(settings: jobkit.Settings,
                                                       r: redis.Redis) -> None:
    deaths: list[object] = []
    worker, _, keys = _setup(settings, death_handlers=[lambda j, e: deaths.append(j)])
    NoDeadJob.perform_async()
    assert worker.process_one().status == "dropped"  # type: ignore[union-attr]
    assert r.zcard(keys.dead) == 0 and deaths == []


def test_dead_set_is_trimmed_by_size_and_age(settings: jobkit.Settings, r: redis.Redis) -> None:
    worker, clock, keys = _setup(settings, dead_max_jobs=3, dead_timeout=100.0)
    r.zadd(keys.dead, {b'{"old":1}': clock.now - 500})
    for _ in range(5):
        NoDeadJob.set(dead=True).perform_async()
        worker.process_one()
        clock.now += 1
    assert r.zcard(keys.dead) == 3
    assert r.zscore(keys.dead, b'{"old":1}') is None


def test_failing_death_handler_does_not_stop_the_others(settings: jobkit.Settings) -> None:
    seen: list[str] = []

    def broken(job: dict[str, Any], exc: BaseException) -> None:
        raise RuntimeError("handler bug")

    worker, _, _ = _setup(settings, death_handlers=[broken, lambda j, e: seen.append(j["jid"])])
    jid = NoDeadJob.set(dead=True).perform_async()
    worker.process_one()
    assert seen == [jid]


@pytest.mark.parametrize("retry", [True, 25])
def test_retry_true_means_25_attempts(retry: object) -> None:
    settings = jobkit.Settings(redis_url="memory://x")
    payload = {"class": "X", "args": [], "jid": "a", "queue": "q", "retry": retry,
               "retry_count": 24}
    assert retry_mod.decide(payload, Exception(), None, now=0, settings=settings).verdict == "dead"
    payload["retry_count"] = 23
    assert retry_mod.decide(payload, Exception(), None, now=0, settings=settings).verdict == "retry"


class BrokenBackoff(jobkit.Job):
    name = "retry_test.BrokenBackoff"

    @classmethod
    def retry_in(cls, count: int, exc: BaseException) -> float:
        raise ZeroDivisionError("bug in retry_in")

    def perform(self) -> None:
        raise GatewayDown("down")


class Exits(jobkit.Job):
    name = "retry_test.Exits"

    def perform(self) -> None:
        raise SystemExit(3)


def test_broken_retry_in_falls_back_to_the_default_backoff(settings: jobkit.Settings,
                                                           r: redis.Redis) -> None:
    worker, clock, keys = _setup(settings)
    BrokenBackoff.perform_async()
    assert worker.process_one().status == "retry"  # type: ignore[union-attr]
    [(_, score)] = _retry_set(r, keys)
    assert clock.now + 15 <= score <= clock.now + 24


def test_job_calling_sys_exit_is_a_failure_not_a_dead_thread(settings: jobkit.Settings,
                                                             r: redis.Redis) -> None:
    worker, _, keys = _setup(settings)
    Exits.perform_async()
    assert worker.process_one().status == "retry"  # type: ignore[union-attr]
    [(job, _)] = _retry_set(r, keys)
    assert job["error_class"] == "SystemExit"


def test_retry_true_means_default_max_retries_attempts(settings: jobkit.Settings,
                                                       r: redis.Redis) -> None:
    assert jobkit.Settings.from_env({"JOBKIT_DEFAULT_MAX_RETRIES": "2"}).default_max_retries == 2
    worker, clock, keys = _setup(settings, default_max_retries=2)
    jid = RetryTrueJob.perform_async()
    statuses = []
    for _ in range(3):
        outcome = worker.process_one()
        assert outcome is not None
        statuses.append(outcome.status)
        clock.now += 5
        worker.scheduler.enqueue_due(now=clock.now)
    assert statuses == ["retry", "retry", "dead"]
    [dead] = [json.loads(raw) for raw in r.zrange(keys.dead, 0, -1)]
    assert (dead["jid"], dead["retry"], dead["retry_count"]) == (jid, True, 2)
