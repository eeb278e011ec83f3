"""Connection URLs: Sentinel (against a real redis-server in sentinel mode), bad URLs."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobkit
from jobkit.connection import connect, parse_sentinel_url
from tests.needs import require_binary

from ..conftest import REAL_REDIS_URL, require_real_redis


def test_sentinel_url_is_parsed_into_addresses_service_db_and_password() -> None:
    assert parse_sentinel_url("redis+sentinel://:pw@h1:26379,h2:26380/mymaster/2") == (
        [("h1", 26379), ("h2", 26380)], "mymaster", 2, "pw")
    assert parse_sentinel_url("redis+sentinel://h1/mymaster") == ([("h1", 26379)],
                                                                 "mymaster", 0, None)


@pytest.mark.parametrize(("url", "message"), [
    ("redis+sentinel://h1:26379", "must look like"),
    ("redis+sentinel://h1:xx/m", "bad port"),
    ("redis+sentinel://h1/m/zero", "must be a number"),
])
def test_bad_sentinel_url_is_rejected(url: str, message: str) -> None:
    with pytest.raises(jobkit.ConfigError, match=message):
        parse_sentinel_url(url)


def test_url_without_scheme_is_rejected() -> None:
    with pytest.raises(jobkit.ConfigError, match="must be a URL"):
        jobkit.Settings(redis_url="localhost:6379")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sentinel_port(tmp_path: Path) -> Iterator[int]:
    require_real_redis()
    require_binary("redis-server")
    port = _free_port()
    host, _, rest = REAL_REDIS_URL.removeprefix("redis://").partition(":")
    master_port = rest.split("/")[0] or "6379"
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
                    f"sentinel monitor jobkitmaster {host} {master_port} 1\n")
    proc = subprocess.Popen(["redis-server", str(conf), "--sentinel"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_jobs_flow_through_a_sentinel_url(sentinel_port: int,
                                          real_settings: jobkit.Settings) -> None:
    url = f"redis+sentinel://127.0.0.1:{sentinel_port}/jobkitmaster/0"
    s = jobkit.configure(real_settings.replace(redis_url=url))
    ran: list[int] = []

    class ViaSentinel(jobkit.Job):
        name = "connection_test.ViaSentinel"

        def perform(self, x: int) -> None:
            ran.append(x)

    ViaSentinel.perform_async(5)
    outcome = jobkit.Worker(s, jobkit.WorkerOptions(log_jobs=False)).process_one()
    assert outcome is not None and outcome.status == "done" and ran == [5]
    assert connect(url).ping()
