"""What the harness reports: enqueued jobs, jobs it ran, and drain summaries."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import jobkit

from .matching import show


@dataclass(frozen=True)
class EnqueuedJob:
    """A job waiting in Redis (a queue, the schedule, the retry or the dead set)."""

    #: The registered payload name (``class`` in the payload).
    name: str
    #: The job class, or None if no class is registered under ``name``.
    job: type[jobkit.Job] | None
    #: The arguments as the job will receive them (after JSON).
    args: list[Any]
    queue: str
    jid: str
    #: When a scheduled job runs (or a retry is due, or a dead job died); None if queued now.
    at: dt.datetime | None
    #: The decoded payload, exactly as stored.
    payload: dict[str, Any] = field(repr=False)
    #: ``file:line`` of the code that enqueued it, when the harness saw the enqueue.
    location: str | None = None

    @classmethod
    def from_payload(
        cls, payload: dict[str, Any], *, score: float | None, location: str | None
    ) -> EnqueuedJob:
        name = str(payload.get("class"))
        return cls(
            name=name,
            job=jobkit.lookup(name),
            args=list(payload.get("args") or []),
            queue=str(payload.get("queue")),
            jid=str(payload.get("jid")),
            at=None if score is None else dt.datetime.fromtimestamp(score, dt.timezone.utc),
            payload=payload,
            location=location,
        )

    @property
    def created_at(self) -> float:
        """Epoch seconds at which the job was enqueued (jobkit's clock)."""
        value = self.payload.get("created_at")
        return jobkit.payload.epoch(value) if value is not None else 0.0

    def describe(self) -> str:
        """``Name(args) on 'queue'`` plus the run time when scheduled."""
        text = f"{self.name}({show(self.args)[1:-1]}) on {self.queue!r}"
        if self.at is not None:
            text += f" at {self.at.isoformat(timespec='seconds')}"
        return text


@dataclass(frozen=True)
class JobRun:
    """One job the harness ran through the worker, and how it ended."""

    name: str
    job: type[jobkit.Job] | None
    args: list[Any]
    queue: str
    jid: str
    #: The worker's verdict: done, retry, dead, discarded, dropped, invalid or requeue.
    status: str
    #: The job's own exception (with its traceback) if it failed.
    exc: BaseException | None
    elapsed: float
    location: str | None = None

    @property
    def failed(self) -> bool:
        return self.status not in ("done", "requeue")


@dataclass
class DrainReport:
    """What a ``drain()`` ran: ``jobs`` in order, and counts by outcome."""

    jobs: list[JobRun] = field(default_factory=list)

    def _count(self, *statuses: str) -> int:
        return sum(1 for run in self.jobs if run.status in statuses)

    @property
    def performed(self) -> int:
        """Runs that succeeded."""
        return self._count("done")

    @property
    def failed(self) -> int:
        """Runs that raised (retried, dead, discarded or dropped)."""
        return sum(1 for run in self.jobs if run.failed)

    @property
    def retried(self) -> int:
        """Failed runs that went to the retry set."""
        return self._count("retry")

    @property
    def dead(self) -> int:
        """Failed runs that went to the dead set."""
        return self._count("dead", "invalid")

    def most_frequent(self) -> tuple[str, int]:
        """The job name run most often in this drain, and how often."""
        name, count = Counter(run.name for run in self.jobs).most_common(1)[0]
        return name, count

    def __repr__(self) -> str:
        return (
            f"DrainReport(performed={self.performed}, failed={self.failed}, "
            f"retried={self.retried}, dead={self.dead}, jobs={len(self.jobs)})"
        )
