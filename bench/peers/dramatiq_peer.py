"""Dramatiq: ``actor.send``; no bulk API; the worker is ``dramatiq -p 1 -t C``."""

from __future__ import annotations

import os
import sys

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from bench import bodies

NAME = "dramatiq"
DB = 7
WORKER = "dramatiq --processes 1 --threads C (1 worker process + its parent)"
JOBS = {"noop": 10_000, "redis-call": 5_000, "io-10ms": 10_000}
enqueue_bulk = None
# The worker imports this module to find the actors, so the broker is set up at import
# (bench/throughput.py sets BENCH_REDIS_URL for the enqueueing process and the worker).
dramatiq.set_broker(RedisBroker(url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")))


@dramatiq.actor(max_retries=0)
def noop(n: int) -> None:
    """The job."""


@dramatiq.actor(max_retries=0)
def redis_call(n: int) -> None:
    bodies.redis_call()


@dramatiq.actor(max_retries=0)
def io_10ms(n: int) -> None:
    bodies.io_10ms()


@dramatiq.actor(max_retries=0)
def probe(enqueued_at: float) -> None:
    bodies.probe(enqueued_at)


ACTORS = {"noop": noop, "redis-call": redis_call, "io-10ms": io_10ms}


def setup(url: str) -> None:
    """The broker was set up at import from ``BENCH_REDIS_URL``, which the runner sets."""


def enqueue_single(n: int) -> None:
    for i in range(n):
        noop.send(i)


def fill(workload: str, n: int) -> None:
    send = ACTORS[workload].send
    for i in range(n):
        send(i)


def enqueue_probe(enqueued_at: float) -> None:
    probe.send(enqueued_at)


def worker_command(url: str, workload: str = "noop") -> tuple[list[str], dict[str, str]]:
    from bench.workloads import WORKLOADS

    exe = os.path.join(os.path.dirname(sys.executable), "dramatiq")
    return [exe, "bench.peers.dramatiq_peer", "--processes", "1", "--threads",
            str(WORKLOADS[workload].concurrency)], {"BENCH_REDIS_URL": url}


def remaining(r: redis.Redis, n: int, workload: str = "noop") -> int:
    # A message stays in the queue's .msgs hash until it is acknowledged.
    return int(r.hlen("dramatiq:default.msgs"))
