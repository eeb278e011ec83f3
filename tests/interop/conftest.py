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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import jobkit
from tests.needs import REAL_REDIS_URL, missing, require_real_redis, same_server

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
