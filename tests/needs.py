"""What a test needs from the machine: skip locally when it is missing, fail in CI.

CI sets ``CI=true`` and installs or starts everything the suite uses, so a missing server,
binary or CPU there is a broken CI setup, not a reason to pass quietly."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

#: The real Redis for runtime tests (database 0 by default; every test uses its own namespace).
REAL_REDIS_URL = os.environ.get("JOBKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def in_ci() -> bool:
    """True when the suite runs in CI (``CI=true``, any case)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def missing(message: str) -> NoReturn:
    """Skip the test because ``message`` names something absent; fail instead in CI."""
    if in_ci():
        pytest.fail(f"{message}, and CI=true requires it", pytrace=False)
    pytest.skip(message)


def same_server(url: str, db: int) -> str:
    """``url`` with its database number replaced by ``db`` (same host, port and password)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def real_redis_up(url: str = REAL_REDIS_URL) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


def require_real_redis(url: str = REAL_REDIS_URL) -> None:
    """A Redis server must answer at ``url``."""
    if not real_redis_up(url):
        missing(f"no Redis server answers at {url}")


def require_binary(name: str, hint: str = "") -> str:
    """The path of executable ``name``, which must be on PATH."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not on PATH{f' ({hint})' if hint else ''}")
    return path


def require_cpus(count: int) -> None:
    """The process must be allowed to run on at least ``count`` CPUs (Linux affinity)."""
    if not hasattr(os, "sched_getaffinity"):
        missing("CPU affinity needs Linux")
    usable = len(os.sched_getaffinity(0))
    if usable < count:
        missing(f"this test needs {count} usable CPUs, this process has {usable}")
