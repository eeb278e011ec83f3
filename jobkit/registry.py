"""The registry of job classes the worker may run, by their payload name.

The worker looks names up here and nowhere else: a payload can only run code that the
application registered, never import or call something it names.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .errors import JobDefinitionError

if TYPE_CHECKING:
    from .job import Job

_jobs: dict[str, type[Job]] = {}
_lock = threading.Lock()


def register(cls: type[Job]) -> None:
    """Register ``cls`` under ``cls.name``; re-importing the same module replaces it."""
    with _lock:
        existing = _jobs.get(cls.name)
        if existing is not None and existing is not cls and (
            existing.__module__,
            existing.__qualname__,
        ) != (cls.__module__, cls.__qualname__):
            raise JobDefinitionError(
                f"job name {cls.name!r} of {cls.__module__}.{cls.__qualname__} is already "
                f"registered by {existing.__module__}.{existing.__qualname__}; set a distinct "
                "`name = ...` on one of them"
            )
        _jobs[cls.name] = cls


def unregister(name: str) -> None:
    """Remove a registration (for tests that define throwaway jobs)."""
    with _lock:
        _jobs.pop(name, None)


def lookup(name: str) -> type[Job] | None:
    """The job class registered under ``name``, or None."""
    return _jobs.get(name)


def registered() -> dict[str, type[Job]]:
    """A snapshot of every registered job by name."""
    with _lock:
        return dict(_jobs)
