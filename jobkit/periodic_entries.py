"""Periodic job entries: ``cron``/``every`` on a job class, or :func:`periodic` for several
entries of one class. Every worker process with the module imported ticks them (``ticker``).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import payload as pl
from . import registry
from .cron import Schedule, build_schedule
from .errors import ArgumentError, JobDefinitionError

if TYPE_CHECKING:
    from .job import Job

CATCH_UP = ("latest", "none", "all")
#: At most this many ticks of one entry are enqueued at once (``catch_up="all"`` after a long
#: outage, or the ticks a running worker could not enqueue while Redis was away); older
#: ones are dropped with a warning.
CATCH_UP_LIMIT = 100
#: Payload fields of a periodic run: the entry's name and its tick (epoch seconds).
NAME_FIELD = "periodic"
TICK_FIELD = "periodic_at"


@dataclass(frozen=True)
class Entry:
    """One periodic schedule: enqueue ``job(*args)`` at each tick of ``schedule``."""

    name: str
    job: type[Job]
    schedule: Schedule
    args: tuple[Any, ...] = ()
    catch_up: str = "latest"

    def describe(self) -> dict[str, Any]:
        """The definition as JSON data, as workers publish it for ``jobkit cron``."""
        return {"name": self.name, "class": self.job.name, "queue": self.job.options().queue,
                "args": list(self.args), "catch_up": self.catch_up,
                **self.schedule.as_dict()}


_entries: dict[str, Entry] = {}
_lock = threading.Lock()


def check_catch_up(value: Any, owner: str) -> str:
    if value not in CATCH_UP:
        raise JobDefinitionError(
            f"{owner}: catch_up={value!r} must be one of {', '.join(map(repr, CATCH_UP))}")
    return str(value)


def _check_args(job: type[Job], args: Any, owner: str, hint: str) -> tuple[Any, ...]:
    if isinstance(args, str | bytes) or not isinstance(args, list | tuple):
        raise JobDefinitionError(f"{owner}: args={args!r} must be a list of arguments")
    try:
        checked = pl.check_args(list(args))
        job.check_arity(checked)
    except ArgumentError as e:
        raise JobDefinitionError(f"{owner}: args={list(args)!r}: {e}{hint}") from None
    return tuple(checked)


def register(entry: Entry) -> Entry:
    """Add ``entry``; the same name again is an error unless it is the same definition
    (a module imported twice)."""
    with _lock:
        existing = _entries.get(entry.name)
        if existing is not None and existing.describe() != entry.describe():
            raise JobDefinitionError(
                f"periodic entry {entry.name!r} is already defined ({existing.schedule.describe()}"
                f" for {existing.job.name}); give the new one another name")
        _entries[entry.name] = entry
    return entry


def from_class(cls: type[Job], owner: str) -> Entry | None:
    """The entry a job class declares with ``cron``/``every`` (in its own body: a subclass
    does not inherit its parent's schedule), or None."""
    own = cls.__dict__
    if own.get("cron") is None and own.get("every") is None:
        if "cron_tz" in own:
            raise JobDefinitionError(f"{owner}: cron_tz={own['cron_tz']!r} without cron = ...")
        return None
    sched = build_schedule(cron=own.get("cron"), tz=own.get("cron_tz", "UTC"),
                          every=own.get("every"), owner=owner)
    args = _check_args(cls, (), owner, "; a schedule on the class runs perform() without "
                       "arguments: declare it with jobkit.periodic(NAME, Job, cron=..., "
                       "args=[...]) instead")
    catch_up = check_catch_up(getattr(cls, "catch_up", "latest"), owner)
    return register(Entry(cls.name, cls, sched, args, catch_up))


def periodic(
    name: str,
    job: Any,
    *,
    cron: str | None = None,
    every: float | dt.timedelta | None = None,
    tz: str = "UTC",
    args: list[Any] | tuple[Any, ...] = (),
    catch_up: str = "latest",
) -> Entry:
    """Enqueue ``job(*args)`` at each tick: ``periodic("sync-eu", SyncJob, cron="*/5 * * * *",
    args=["eu"])``. ``tz`` is the IANA zone of ``cron``; ``every`` is seconds or a timedelta."""
    owner = f"jobkit.periodic({name!r})"
    if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
        raise JobDefinitionError(f"jobkit.periodic(): name={name!r} must be a non-empty string "
                                 "without whitespace")
    cls = _registered_class(job)
    sched = build_schedule(cron=cron, tz=tz, every=every, owner=owner,
                           fields=("cron", "tz", "every"))
    return register(Entry(name, cls, sched, _check_args(cls, args, owner, ""),
                          check_catch_up(catch_up, owner)))


def _registered_class(job: Any) -> type[Job]:
    # A @jobkit.job function carries its class. Looked up in the registry rather than
    # checked against jobkit.job (which imports this module): a class the worker would not
    # find there could never run anyway.
    cls = getattr(job, "job_class", job)
    name = getattr(cls, "name", None)
    found = registry.lookup(name) if isinstance(name, str) else None
    if found is None or found is not cls:
        raise JobDefinitionError(f"{job!r} is not a jobkit job class or @jobkit.job function")
    return found


def entries() -> dict[str, Entry]:
    """A snapshot of every periodic entry defined in this process, by name."""
    with _lock:
        return dict(_entries)


def unregister(name: str) -> None:
    """Remove an entry (for tests that define throwaway ones)."""
    with _lock:
        _entries.pop(name, None)


def tick_of(payload: dict[str, Any]) -> dt.datetime | None:
    """The tick a periodic run is for, as an aware UTC datetime; None for other jobs."""
    value = payload.get(TICK_FIELD)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return dt.datetime.fromtimestamp(value, dt.timezone.utc)
