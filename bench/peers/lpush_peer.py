"""The floor for enqueue: a bare redis-py ``LPUSH`` loop of jobkit-sized payloads, and for bulk
enqueue the same bytes ``LPUSH``ed through pipelines of 1,000."""

from __future__ import annotations

import time

import redis

NAME = "redis LPUSH"
DB = 5
WORKER = "-"
KEY = "bench:queue:default"
JOBS: dict[str, int] = {}
fill = None
_url = ""
_client: redis.Redis | None = None
_payload = b""


def setup(url: str) -> None:
    global _url, _client, _payload
    from jobkit import payload as pl

    _url = url
    _client = redis.Redis.from_url(url)
    # A real jobkit payload for NoopJob(123456), so the bytes on the wire match jobkit's.
    built = pl.build("NoopJob", [123456], queue="default", retry=True, now=time.time())
    built["enqueued_at"] = time.time()
    _payload = pl.encode(built)


def enqueue_single(n: int) -> None:
    assert _client is not None
    lpush, payload = _client.lpush, _payload
    for _ in range(n):
        lpush(KEY, payload)


def enqueue_bulk(n: int, batch: int = 1_000) -> None:
    assert _client is not None
    payload = _payload
    for start in range(0, n, batch):
        pipe = _client.pipeline(transaction=False)
        for _ in range(min(batch, n - start)):
            pipe.lpush(KEY, payload)
        pipe.execute()


def paired(n: int, chunk: int = 2_000) -> list[float]:
    """Ratios (jobkit ``perform_async`` rate / bare ``LPUSH`` rate), one per pair of
    ``chunk``-job runs alternating in this one process, ``n`` jobs a side in all: machine
    drift then hits both sides alike. jobkit writes under its namespace in the same database."""
    import jobkit

    from . import jobkit_peer

    jobkit.configure(redis_url=_url, namespace=jobkit_peer.NAMESPACE)
    jobkit_peer.enqueue_single(100)
    enqueue_single(100)
    ratios = []
    for _ in range(max(1, n // chunk)):
        start = time.perf_counter()
        jobkit_peer.enqueue_single(chunk)
        jk = time.perf_counter() - start
        start = time.perf_counter()
        enqueue_single(chunk)
        ratios.append((time.perf_counter() - start) / jk)
    return ratios


def worker_command(url: str, workload: str = "noop") -> None:
    return None


def remaining(r: redis.Redis, n: int, workload: str = "noop") -> int:
    return 0
