"""The bare loop on one CPU, as ``jobkit worker`` runs by default (jobkit/placement.py): the
ceiling for a pinned worker, beside the unpinned loop a program would run."""

from __future__ import annotations

import os

from . import bare_peer as _bare
from .bare_peer import setup

NAME = "bare loop, 1 CPU"
DB = _bare.DB
WORKER = "the bare loop pinned to the last usable CPU (os.sched_setaffinity)"
JOBS = {k: v for k, v in _bare.JOBS.items() if k in ("redis-call", "async-redis-call")}
__all__ = ["setup"]


def run(workload: str, n: int) -> None:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    _bare.run(workload, n)
