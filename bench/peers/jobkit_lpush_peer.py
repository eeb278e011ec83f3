"""jobkit's worker picking up probes pushed by a plain ``LPUSH`` (bench/peers/plain_push.py),
as Ruby's Sidekiq client pushes them: the worker's share of the pickup latency, without the
cost of jobkit's own client, which the ``jobkit`` row includes.

Latency only."""

from __future__ import annotations

from . import jobkit_peer as _one
from .jobkit_peer import setup, worker_command
from .plain_push import push

NAME = "jobkit, LPUSH probes"
DB = _one.DB
WORKER = _one.WORKER
JOBS: dict[str, int] = {}
enqueue_single = None
enqueue_bulk = None
__all__ = ["setup", "worker_command"]


def enqueue_probe(enqueued_at: float) -> None:
    push(_one.NAMESPACE, enqueued_at)
