"""Fixtures for driving real Sidekiq (Ruby) against jobkit's data in a dedicated Redis db.

Sidekiq 6 has no namespace support (without redis-namespace), so these tests use jobkit with
``namespace=""`` in Redis database 13 (``JOBKIT_INTEROP_REDIS_URL`` to change it), flushed
before and after each test; a file lock serialises them across pytest-xdist workers."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import jobkit
from tests.needs import REAL_REDIS_URL, missing, require_real_redis, same_server

from .interop_jobs import RAN, DoomedJob, FlakyJob

# Database 13 of the test server is this group's alone: it is flushed around every test.
INTEROP_REDIS_URL = os.environ.get("JOBKIT_INTEROP_REDIS_URL", same_server(REAL_REDIS_URL, 13))
SCRIPT = Path(__file__).with_name("sidekiq_api.rb")


def _fail_or_skip(message: str) -> None:
    missing(f"{message} (apt-get install ruby ruby-sidekiq)")


def sidekiq_version() -> str:
    """Sidekiq::VERSION of the Ruby gem, or a skip (a failure in CI) without it."""
    ruby = shutil.which("ruby")
    if ruby is None:
        _fail_or_skip("ruby is not installed")
    probe = subprocess.run(
        [str(ruby), "-e", 'require "sidekiq"; require "sidekiq/api"; print Sidekiq::VERSION'],
        capture_output=True, text=True, timeout=60,
    )
    if probe.returncode != 0:
        _fail_or_skip(f"the sidekiq gem cannot be loaded: {probe.stderr.strip()[-300:]}")
    return probe.stdout.strip()


class Sidekiq:
    """Runs ``sidekiq_api.rb`` commands against the interop database; returns their JSON."""

    def __init__(self, url: str, version: str) -> None:
        self.url = url
        self.version = version

    def run(self, *args: str) -> Any:
        env = {**os.environ, "SIDEKIQ_REDIS_URL": self.url}
        done = subprocess.run(["ruby", str(SCRIPT), *args], capture_output=True, text=True,
                              env=env, timeout=60)
        if done.returncode != 0:
            raise AssertionError(f"ruby sidekiq_api.rb {' '.join(args)} failed "
                                 f"({done.returncode}):\n{done.stderr[-4000:]}")
        return json.loads(done.stdout)

    def push(self, klass: str, args: list[Any], queue: str | None = None) -> str:
        jid: str = self.run("push", klass, json.dumps(args), *([queue] if queue else []))["jid"]
        return jid

    def snapshot(self) -> dict[str, Any]:
        snap: dict[str, Any] = self.run("snapshot")
        return snap


@pytest.fixture
def sidekiq() -> Iterator[Sidekiq]:
    """Real Sidekiq pointed at a flushed interop database that jobkit also uses (made the
    process-wide jobkit settings, namespace ``""``, for the test)."""
    require_real_redis(INTEROP_REDIS_URL)
    version = sidekiq_version()
    lock_path = Path(tempfile.gettempdir()) / "jobkit-interop-db.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = redis.Redis.from_url(INTEROP_REDIS_URL)
        r.flushdb()
        previous = jobkit.get_settings()
        jobkit.configure(jobkit.Settings(redis_url=INTEROP_REDIS_URL, namespace=""))
        try:
            yield Sidekiq(INTEROP_REDIS_URL, version)
        finally:
            jobkit.configure(previous)
            r.flushdb()
            r.close()


@pytest.fixture
def worker(sidekiq: Sidekiq) -> Iterator[Callable[..., jobkit.Worker]]:
    """In-process jobkit workers for ``process_one()`` on the interop database."""
    made: list[jobkit.Worker] = []

    def make(*queues: str) -> jobkit.Worker:
        options = jobkit.WorkerOptions(queues=tuple((q, 1) for q in queues or ("default",)),
                                       log_jobs=False)
        made.append(jobkit.Worker(jobkit.get_settings(), options))
        return made[-1]

    yield make
    for w in made:
        w.redis.close()


def ran() -> list[dict[str, Any]]:
    raw: list[bytes] = jobkit.get_client().redis.lrange(RAN, 0, -1)  # type: ignore[assignment]
    return [json.loads(item) for item in raw]


def stored(key: str) -> list[dict[str, Any]]:
    """The payloads in a sorted set or list, as jobkit wrote them."""
    r = jobkit.get_client().redis
    raw = r.zrange(key, 0, -1) if r.type(key) == b"zset" else r.lrange(key, 0, -1)
    return [json.loads(item) for item in raw]  # type: ignore[union-attr]


def make_healthy() -> None:
    jobkit.get_client().redis.set("interop:healthy", 1)


def fail_into_retry_set(worker: Callable[..., jobkit.Worker], *args: Any) -> str:
    jid = FlakyJob.perform_async(*args)
    outcome = worker().process_one()
    assert outcome is not None and outcome.status == "retry", outcome
    assert jid is not None
    return jid


def kill_into_dead_set(worker: Callable[..., jobkit.Worker], *args: Any) -> str:
    """Fail a DoomedJob (retry = 1) twice: once into ``retry``, once into ``dead``."""
    jid = DoomedJob.perform_async(*args)
    w = worker()
    first = w.process_one()
    assert first is not None and first.status == "retry", first
    # Make the retry due now, as if its backoff had passed.
    assert w.scheduler.enqueue_due(now=time.time() + 3600) == 1
    second = w.process_one()
    assert second is not None and second.status == "dead", second
    assert jid is not None
    return jid
