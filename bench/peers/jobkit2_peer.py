"""jobkit with two worker processes: ``jobkit worker --processes 2`` (its supervisor).

Processing only; the enqueue side is jobkit's own row.
"""

from __future__ import annotations

from . import jobkit_peer as _one
from .jobkit_peer import fill, remaining, setup

NAME = "jobkit-2p"
DB = _one.DB
WORKER = "python -m jobkit worker -c 10 --processes 2 (supervisor + 2 processes x 10 threads)"
enqueue_single = None
enqueue_bulk = None
JOBS = {"noop": 400_000}
__all__ = ["fill", "remaining", "setup"]


def worker_command(url: str, workload: str = "noop") -> tuple[list[str], dict[str, str]]:
    argv, env = _one.worker_command(url, workload)
    return [*argv, "--processes", "2"], env
