"""jobkit's worker left to the OS scheduler (``--no-pin``): what the default placement on one
CPU (jobkit/placement.py) changes, in the same run.

Processing and latency only; the enqueue side is jobkit's own row.
"""

from __future__ import annotations

from . import jobkit_peer as _one
from .jobkit_peer import enqueue_probe, fill, remaining, setup

NAME = "jobkit --no-pin"
DB = _one.DB
WORKER = "python -m jobkit worker -c C --no-pin (1 process, threads placed by the OS)"
enqueue_single = None
enqueue_bulk = None
JOBS = {k: v for k, v in _one.JOBS.items() if k in ("noop", "redis-call", "async-redis-call")}
__all__ = ["enqueue_probe", "fill", "remaining", "setup"]


def worker_command(url: str, workload: str = "noop") -> tuple[list[str], dict[str, str]]:
    argv, env = _one.worker_command(url, workload)
    return [*argv, "--no-pin"], env
