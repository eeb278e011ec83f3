"""Coroutine jobs in a real ``python -m jobkit worker`` process on the real Redis: run beside
plain jobs on the worker's threads, none lost, and a SIGTERM mid-job requeues it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import jobkit
from jobkit.keys import Keys

from .coroutine_sample_jobs import AsyncRecordJob, AsyncSlowJob, plain_record
from .helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def spawn(real_settings: jobkit.Settings,
          tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    log = tmp_path / "worker.log"

    def start(*extra: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "JOBKIT_REDIS_URL": real_settings.redis_url,
               "JOBKIT_NAMESPACE": real_settings.namespace, "JOBKIT_POLL_INTERVAL": "0.5"}
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-W", "error::ResourceWarning", "-m", "jobkit", "--log-level",
                 "WARNING", "worker", "-r", "tests.runtime.coroutine_sample_jobs", "-c", "3",
                 *extra], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    print(log.read_text(errors="replace"))


def test_worker_process_runs_coroutine_and_plain_jobs_and_loses_none(
    real_settings: jobkit.Settings, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    r = jobkit.get_client().redis
    keys = Keys(real_settings.namespace)

    async def enqueue() -> None:
        await AsyncRecordJob.aperform_bulk([[f"a{i}"] for i in range(30)])
        await plain_record.aperform_async("p-async")
        await jobkit.aclose()

    asyncio.run(enqueue())
    AsyncRecordJob.perform_bulk([[f"s{i}"] for i in range(30)])
    plain_record.perform_async("p-sync")
    worker = spawn()
    record = f"{real_settings.namespace}:test:record"
    wait_for(lambda: r.llen(record) == 62, timeout=30)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    got = sorted(v.decode() for v in r.lrange(record, 0, -1))
    assert got == sorted([f"a{i}" for i in range(30)] + [f"s{i}" for i in range(30)]
                         + ["p-async", "p-sync"])
    assert r.llen(keys.queue("default")) == 0
    assert not list(r.scan_iter(match=f"{real_settings.namespace}:jobkit:inprogress:*"))
    assert r.zcard(keys.retry) == r.zcard(keys.dead) == 0


def test_sigterm_requeues_a_running_coroutine_job(
    real_settings: jobkit.Settings, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    r = jobkit.get_client().redis
    ns = real_settings.namespace
    keys = Keys(ns)
    AsyncSlowJob.perform_async("long", 4.0)
    worker = spawn("--timeout", "0.5")
    wait_for(lambda: r.sismember(f"{ns}:test:started", "long"), timeout=20)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    assert r.llen(keys.queue("default")) == 1
    assert not r.sismember(f"{ns}:test:done", "long")
    successor = spawn()
    wait_for(lambda: r.sismember(f"{ns}:test:done", "long"), timeout=20)
    successor.send_signal(signal.SIGTERM)
    assert successor.wait(15) == 0
