"""Reliability under chaos, at CI size: killed workers, a restarted Redis, garbage payloads
and SIGTERM mid-job. ``python -m tests.chaos`` runs the same scenarios with bigger numbers.

Each test prints its scenario's one-line summary (visible with ``-s``) and puts it in the
assertion message."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

import jobkit
from tests.needs import require_binary

from . import scenarios
from .chaos_jobs import ChaosJob, chaos_key

pytestmark = [pytest.mark.slow, pytest.mark.redis]

def _check(result: scenarios.Result) -> None:
    print(result.summary())
    assert not result.problems, result.report()


def _require_redis_server_binary() -> None:
    require_binary("redis-server")


@pytest.mark.parametrize(("adaptive_prefetch", "jobs", "max_sleep_ms"),
                         [(False, 2000, 60), (True, 8000, 4)], ids=["prefetch=5", "adaptive"])
def test_killed_workers_lose_no_job_and_rerun_only_what_they_held_after_running(
    real_settings: jobkit.Settings, tmp_path: Path, adaptive_prefetch: bool, jobs: int,
    max_sleep_ms: int
) -> None:
    # "adaptive" is what users run (no --prefetch): with jobs this fast each process holds
    # dozens of jobs ahead of its threads, up to MAX_PREFETCH, and a kill strands them all.
    _check(scenarios.kill_workers(real_settings.redis_url, real_settings.namespace, tmp_path,
                                  jobs=jobs, workers=3, kill_interval=0.3,
                                  adaptive_prefetch=adaptive_prefetch,
                                  max_sleep_ms=max_sleep_ms))


def test_workers_survive_a_redis_restart_without_losing_or_rerunning_jobs(tmp_path: Path) -> None:
    _require_redis_server_binary()
    _check(scenarios.restart_redis(tmp_path, jobs=1500, workers=2, down=1.0))


def test_jobs_of_a_fetch_whose_reply_was_lost_still_run(real_settings: jobkit.Settings) -> None:
    settings = real_settings.replace(recovery_timeout=1.0, heartbeat_interval=0.2)
    worker = jobkit.Worker(settings, jobkit.WorkerOptions(queues=(("chaos", 1),),
                                                          concurrency=2, log_jobs=False))
    real_fetch = worker.fetcher._fetch
    lost_once = threading.Event()

    def fetch_then_lose_reply(*args: Any, **kwargs: Any) -> Any:
        reply = real_fetch(*args, **kwargs)
        if reply and not lost_once.is_set():
            lost_once.set()
            raise redis.ConnectionError("Connection closed by server.")
        return reply

    worker.fetcher._fetch = fetch_then_lose_reply  # type: ignore[assignment]
    ChaosJob.perform_async(1, 0)
    r = jobkit.get_client().redis
    worker.start()
    try:
        deadline = time.monotonic() + 4 * settings.recovery_timeout
        while time.monotonic() < deadline and not r.hget(chaos_key("runs"), "1"):
            time.sleep(0.05)
    finally:
        worker.stop(timeout=1)
    assert lost_once.is_set()
    assert r.hget(chaos_key("runs"), "1") == b"1", (
        "the job stayed in the live worker's in-progress list for "
        f"{4 * settings.recovery_timeout:.0f}s (4 x recovery_timeout) and never ran"
    )


def test_garbage_payloads_go_to_the_dead_set_and_never_run(
    real_settings: jobkit.Settings, tmp_path: Path
) -> None:
    _check(scenarios.garbage_payloads(real_settings.redis_url, real_settings.namespace,
                                      tmp_path, garbage_count=500, good=300))


def test_a_payload_with_non_finite_numbers_goes_to_the_dead_set(
    real_settings: jobkit.Settings, tmp_path: Path
) -> None:
    _check(scenarios.garbage_payloads(real_settings.redis_url, real_settings.namespace,
                                      tmp_path, garbage_count=6, good=40,
                                      kinds=("non-finite-number",), timeout=5))


def test_a_deeply_nested_payload_goes_to_the_dead_set(
    real_settings: jobkit.Settings, tmp_path: Path
) -> None:
    _check(scenarios.garbage_payloads(real_settings.redis_url, real_settings.namespace,
                                      tmp_path, garbage_count=6, good=40,
                                      kinds=("deep-nesting",), timeout=5))


def test_sigterm_requeues_running_and_prefetched_jobs_for_the_next_worker(
    real_settings: jobkit.Settings, tmp_path: Path
) -> None:
    _check(scenarios.sigterm_long_job(real_settings.redis_url, real_settings.namespace,
                                      tmp_path, seconds=4.0))
