"""Dramatiq: ``actor.send``; no bulk API; the worker is ``dramatiq -p 1 -t 10``."""

from __future__ import annotations

import os
import sys

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

NAME = "dramatiq"
DB = 7
WORKER = "dramatiq --processes 1 --threads 10 (1 worker process + its parent)"
enqueue_bulk = None
# The worker imports this module to find the actor, so the broker is set up at import
# (bench/throughput.py sets BENCH_REDIS_URL for the enqueueing process and the worker).
dramatiq.set_broker(RedisBroker(url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")))


@dramatiq.actor(max_retries=0)
def noop(n: int) -> None:
    """The job."""


def setup(url: str) -> None:
    """The broker was set up at import from ``BENCH_REDIS_URL``, which the runner sets."""


def enqueue_single(n: int) -> None:
    for i in range(n):
        noop.send(i)


fill = enqueue_single


def worker_command(url: str) -> tuple[list[str], dict[str, str]]:
    exe = os.path.join(os.path.dirname(sys.executable), "dramatiq")
    return [exe, "bench.peers.dramatiq_peer", "--processes", "1", "--threads", "10"], {
        "BENCH_REDIS_URL": url}


def remaining(r: redis.Redis, n: int) -> int:
    # A message stays in the queue's .msgs hash until it is acknowledged.
    return int(r.hlen("dramatiq:default.msgs"))
