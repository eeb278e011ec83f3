"""jobkit_pytest: the pytest plugin for jobkit — enqueue assertions, drain, a fake clock,
inline and strict modes, and Hypothesis-driven idempotency proofs.

The ``jobkit`` fixture does the work; import ``ANY`` and ``partial`` from here for argument
matching. Importing this package stays cheap: the harness classes load on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    BackendError,
    DrainLimitError,
    EnqueueAssertionError,
    JobkitTestError,
    JobOptionsAssertionError,
    NotIdempotentError,
    SimulatedCrash,
    StrictModeError,
    UsageError,
)
from .matching import ANY, Matcher, partial

if TYPE_CHECKING:
    from .harness import Harness
    from .records import DrainReport, EnqueuedJob, JobRun

__all__ = [
    "ANY",
    "BackendError",
    "DrainLimitError",
    "DrainReport",
    "EnqueueAssertionError",
    "EnqueuedJob",
    "Harness",
    "JobOptionsAssertionError",
    "JobRun",
    "JobkitTestError",
    "Matcher",
    "NotIdempotentError",
    "SimulatedCrash",
    "StrictModeError",
    "UsageError",
    "partial",
]

_LAZY = {
    "Harness": "harness",
    "DrainReport": "records",
    "EnqueuedJob": "records",
    "JobRun": "records",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jobkit_pytest' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{module}", __name__), name)
