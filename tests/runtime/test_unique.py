"""Unique jobs: atomic locks at enqueue, released on success, death and discard, expiring
by TTL, race-free across threads and processes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

import jobkit
from jobkit.keys import Keys

from .helpers import Clock

ROOT = Path(__file__).resolve().parents[2]



class SyncAccount(jobkit.Job):
    name = "unique_test.SyncAccount"
    unique = "until_executed"
    unique_for = 60
    retry = 1
    retry_jitter = False
    fail = False

    @classmethod
    def retry_in(cls, count: int, exc: BaseException) -> float:
        return 5.0

    def perform(self, account_id: int, note: str = "") -> None:
        if SyncAccount.fail:
            raise RuntimeError("sync failed")


class ByFirstArg(jobkit.Job):
    name = "unique_test.ByFirstArg"
    unique = "until_executing"
    unique_args = staticmethod(lambda args: args[:1])

    def perform(self, account_id: int, note: str) -> None: ...


class Gone(Exception):
    pass


class Discarded(jobkit.Job):
    name = "unique_test.Discarded"
    unique = "until_executed"
    discard_on = (Gone,)

    def perform(self, x: int) -> None:
        raise Gone()


class Exclusive(jobkit.Job):
    name = "unique_test.Exclusive"
    unique = "while_executing"

    def perform(self, x: int) -> None: ...


def _worker(s: jobkit.Settings) -> jobkit.Worker:
    return jobkit.Worker(s, jobkit.WorkerOptions(log_jobs=False))


def test_duplicate_enqueue_returns_none_and_is_counted(settings: jobkit.Settings,
                                                       r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    assert SyncAccount.perform_async(1)
    assert SyncAccount.perform_async(1) is None
    assert SyncAccount.perform_async(2)
    assert r.llen(keys.queue("default")) == 2
    assert r.get(keys.unique_rejected) == b"1"


def test_lock_is_released_on_success(settings: jobkit.Settings) -> None:
    SyncAccount.fail = False
    SyncAccount.perform_async(1)
    _worker(settings).process_one()
    assert SyncAccount.perform_async(1)


def test_lock_is_kept_while_retrying_and_released_on_death(settings: jobkit.Settings) -> None:
    clock = Clock()
    s = jobkit.configure(settings.replace(clock=clock))
    SyncAccount.fail = True
    try:
        SyncAccount.perform_async(1)
        worker = _worker(s)
        assert worker.process_one().status == "retry"  # type: ignore[union-attr]
        assert SyncAccount.perform_async(1) is None
        clock.now += 10
        worker.scheduler.enqueue_due()
        assert worker.process_one().status == "dead"  # type: ignore[union-attr]
        assert SyncAccount.perform_async(1)
    finally:
        SyncAccount.fail = False


def test_lock_is_released_on_discard(settings: jobkit.Settings) -> None:
    Discarded.perform_async(1)
    assert Discarded.perform_async(1) is None
    assert _worker(settings).process_one().status == "discarded"  # type: ignore[union-attr]
    assert Discarded.perform_async(1)


def test_unique_args_picks_the_lock_key(settings: jobkit.Settings) -> None:
    assert ByFirstArg.perform_async(1, "a")
    assert ByFirstArg.perform_async(1, "b") is None
    assert ByFirstArg.perform_async(2, "a")
    _worker(settings).process_one()
    assert ByFirstArg.perform_async(1, "c")


def _self_enqueuing(mode: str) -> type[jobkit.Job]:
    """A job that, from inside ``perform``, enqueues its own duplicate and records whether
    the lock let it: the lock's state while the job runs."""

    def perform(self: jobkit.Job, account_id: int) -> None:
        type(self).inside.append(type(self).perform_async(account_id))  # type: ignore[attr-defined]

    return type(f"SelfEnqueuing_{mode}", (jobkit.Job,), {
        "name": f"unique_test.SelfEnqueuing_{mode}", "unique": mode, "inside": [],
        "perform": perform,
    })


@pytest.mark.parametrize(("mode", "free_while_running"),
                         [("until_executing", True), ("until_executed", False)])
def test_until_executing_frees_the_lock_before_perform_runs(
    settings: jobkit.Settings, r: redis.Redis, mode: str, free_while_running: bool
) -> None:
    job = _self_enqueuing(mode)
    assert job.perform_async(7)
    assert job.perform_async(7) is None
    outcome = _worker(settings).process_one()
    assert outcome is not None and outcome.status == "done"
    [inside] = job.inside  # type: ignore[attr-defined]
    assert (inside is not None) is free_while_running, (
        f"{mode}: enqueueing a duplicate from inside perform returned {inside!r}")
    # The copy enqueued from inside is the one now waiting (until_executed: none).
    assert r.llen(Keys(settings.namespace).queue("default")) == int(free_while_running)


class Brief(jobkit.Job):
    name = "unique_test.Brief"
    unique = "until_executed"
    unique_for = 0.5

    def perform(self, x: int) -> None: ...


def test_lock_expires_after_unique_for_seconds(settings: jobkit.Settings, r: redis.Redis) -> None:
    assert Brief.perform_async(1)
    [lock] = list(r.scan_iter(match=f"{settings.namespace}:jobkit:unique:*"))
    assert 0 < r.pttl(lock) <= 500
    assert Brief.perform_async(1) is None
    started = time.monotonic()
    # The first job never runs, so nothing releases its lock: only the TTL can.
    while r.exists(lock) and time.monotonic() - started < 5:
        time.sleep(0.02)
    waited = time.monotonic() - started
    assert not r.exists(lock), "the lock outlived unique_for=0.5 by seconds"
    assert waited > 0.3, f"the lock went after {waited:.2f}s, before unique_for=0.5"
    assert Brief.perform_async(1)
    assert r.llen(Keys(settings.namespace).queue("default")) == 2


def test_scheduled_unique_job_holds_the_lock_until_run_time_plus_ttl(
    settings: jobkit.Settings, r: redis.Redis
) -> None:
    SyncAccount.perform_in(600, 1)
    assert SyncAccount.perform_in(600, 1) is None
    [lock] = list(r.scan_iter(match=f"{settings.namespace}:jobkit:unique:*"))
    assert 600_000 < r.pttl(lock) <= 660_000
    assert r.zcard(Keys(settings.namespace).schedule) == 1


def test_while_executing_defers_a_second_copy_while_the_first_runs(
    settings: jobkit.Settings, r: redis.Redis
) -> None:
    keys = Keys(settings.namespace)
    Exclusive.perform_async(1)
    Exclusive.perform_async(1)
    [first, _] = r.lrange(keys.queue("default"), 0, -1)
    lock_key = keys.unique(json.loads(first)["unique_digest"])
    r.set(lock_key, "someone-else", px=5000)
    outcome = _worker(settings).process_one()
    assert outcome is not None and outcome.status == "requeue"
    assert r.zcard(keys.schedule) == 1
    r.delete(lock_key)
    assert _worker(settings).process_one().status == "done"  # type: ignore[union-attr]
    assert r.get(lock_key) is None


def test_concurrent_enqueues_from_threads_take_the_lock_once(settings: jobkit.Settings,
                                                             r: redis.Redis) -> None:
    barrier = threading.Barrier(8)
    results: list[str | None] = []

    def enqueue() -> None:
        barrier.wait()
        results.extend(SyncAccount.perform_async(77) for _ in range(25))

    threads = [threading.Thread(target=enqueue) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([j for j in results if j]) == 1
    assert r.llen(Keys(settings.namespace).queue("default")) == 1


def test_concurrent_enqueues_from_processes_take_the_lock_once(
    real_settings: jobkit.Settings,
) -> None:
    code = (
        "import sys, jobkit, tests.runtime.test_unique as t\n"
        "jobkit.configure(redis_url=sys.argv[1], namespace=sys.argv[2])\n"
        "print(sum(1 for _ in range(50) if t.SyncAccount.perform_async(5)))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, real_settings.redis_url,
                               real_settings.namespace], cwd=ROOT, stdout=subprocess.PIPE)
             for _ in range(4)]
    counts = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        counts.append(int(out))
    assert sum(counts) == 1
    r = jobkit.get_client().redis
    assert r.llen(Keys(real_settings.namespace).queue("default")) == 1
    assert int(r.get(Keys(real_settings.namespace).unique_rejected) or 0) == 199


@pytest.mark.parametrize("mode", ["until_executed", "until_executing", "while_executing"])
def test_assert_unique_mode_is_carried_in_the_payload(settings: jobkit.Settings,
                                                      r: redis.Redis, mode: str) -> None:
    job = type(f"U{mode}", (jobkit.Job,), {"name": f"unique_test.{mode}", "unique": mode,
                                           "perform": lambda self: None})
    job.perform_async()
    payload = json.loads(r.lindex(Keys(settings.namespace).queue("default"), 0))  # type: ignore[arg-type]
    assert payload["unique"] == mode and len(payload["unique_digest"]) == 40
