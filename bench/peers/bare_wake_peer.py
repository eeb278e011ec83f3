"""The floor for pickup latency: no job system, one thread blocked in ``BLMOVE`` on the
queue, decoding each payload and running the probe body; probes pushed by a plain ``LPUSH``
(bench/peers/plain_push.py). What is left is Redis, the loopback and the machine waking a
blocked thread — what every worker pays.

Latency only. Run as ``python -m bench.peers.bare_wake_peer`` (the worker)."""

from __future__ import annotations

import json
import os
import sys

import redis

from bench import bodies
from jobkit.keys import Keys

from .plain_push import QUEUE, push

NAME = "bare BLMOVE loop"
DB = 15
NAMESPACE = "wake"
WORKER = "one thread: BLMOVE, json.loads, the probe body (1 process, no job system)"
JOBS: dict[str, int] = {}
enqueue_single = None
enqueue_bulk = None


def setup(url: str) -> None:
    """Nothing: the probe and the body read ``BENCH_REDIS_URL``."""


def enqueue_probe(enqueued_at: float) -> None:
    push(NAMESPACE, enqueued_at)


def worker_command(url: str, workload: str = "noop") -> tuple[list[str], dict[str, str]]:
    return [sys.executable, "-m", "bench.peers.bare_wake_peer"], {}


def main() -> None:
    # Longer than the block: redis-py 8 times reads out after 5 s by default.
    r = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"], socket_timeout=30)
    source, target = Keys(NAMESPACE).queue(QUEUE), f"{NAMESPACE}:taken"
    while True:
        raw = r.blmove(source, target, 25, "RIGHT", "LEFT")
        if raw is not None:
            bodies.probe(*json.loads(raw)["args"])
            r.lrem(target, 1, raw)


if __name__ == "__main__":
    main()
