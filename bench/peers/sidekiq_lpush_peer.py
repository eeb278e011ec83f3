"""Sidekiq's worker picking up probes pushed by a plain ``LPUSH`` (bench/peers/plain_push.py):
its share of the pickup latency, beside ``jobkit-lpush``. The ``sidekiq`` row's probes go
through jobkit's client, whose time is in that row.

Latency only."""

from __future__ import annotations

from . import sidekiq_peer as _one
from .plain_push import push
from .sidekiq_peer import available, setup, version, worker_command

NAME = "Sidekiq, LPUSH probes"
DB = _one.DB
WORKER = _one.WORKER
JOBS: dict[str, int] = {}
enqueue_single = None
enqueue_bulk = None
__all__ = ["available", "setup", "version", "worker_command"]


def enqueue_probe(enqueued_at: float) -> None:
    push("", enqueued_at)
