"""Shared fixtures: isolated jobkit settings on the embedded fakeredis and on a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

import jobkit
from jobkit.connection import drop_memory_server
from tests.needs import REAL_REDIS_URL, require_real_redis

__all__ = ["REAL_REDIS_URL", "make_settings", "require_real_redis"]


def _cleanup(settings: jobkit.Settings) -> None:
    if settings.redis_url.startswith("memory://"):
        drop_memory_server(settings.redis_url)
        return
    r = redis.Redis.from_url(settings.redis_url)
    keys = list(r.scan_iter(match=f"{settings.namespace}:*", count=1000))
    if keys:
        r.delete(*keys)
    r.close()


def make_settings(kind: str, **overrides: object) -> jobkit.Settings:
    namespace = f"jktest-{uuid.uuid4().hex[:12]}"
    if kind == "redis":
        require_real_redis()
        url = REAL_REDIS_URL
    else:
        url = f"memory://{namespace}"
    return jobkit.Settings(redis_url=url, namespace=namespace, **overrides)  # type: ignore[arg-type]


def _installed(kind: str) -> Iterator[jobkit.Settings]:
    s = make_settings(kind)
    previous = jobkit.get_settings()
    jobkit.configure(s)
    yield s
    jobkit.configure(previous)
    _cleanup(s)


@pytest.fixture(params=["fakeredis", "redis"])
def settings(request: pytest.FixtureRequest) -> Iterator[jobkit.Settings]:
    """Settings for an isolated namespace, on fakeredis and on the real Redis; also made
    the process-wide settings for the test's duration."""
    yield from _installed(request.param)


@pytest.fixture
def real_settings() -> Iterator[jobkit.Settings]:
    """Like ``settings`` but on the real Redis only (for multi-process tests)."""
    yield from _installed("redis")


@pytest.fixture
def r(settings: jobkit.Settings) -> redis.Redis:
    """A raw connection to the test's Redis (the same server as the client's)."""
    return jobkit.get_client().redis
