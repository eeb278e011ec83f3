"""``assert_enqueued`` and ``assert_not_enqueued``: matching and the failure messages.

A failure message says why in its first line, then lists the closest candidates with a
field-by-field diff and where each was enqueued, then the scheduled jobs not yet due.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .matching import matches, show
from .records import EnqueuedJob

MAX_CANDIDATES = 5
PENDING = "enqueued after commit — the transaction has not committed"


@dataclass(frozen=True)
class Expectation:
    """What one ``assert_enqueued`` call looks for."""

    name: str
    #: Normalized expected args; None means any args.
    args: list[Any] | None
    queue: str | None = None
    #: Expected run time (epoch) from ``at=``.
    at: float | None = None
    #: Expected delay (seconds) from ``in_=``, measured from the enqueue time.
    in_: float | None = None
    tolerance: float = 1.0

    def describe(self) -> str:
        text = self.name + ("(...)" if self.args is None else f"({show(self.args)[1:-1]})")
        if self.queue is not None:
            text += f" on {self.queue!r}"
        if self.at is not None:
            text += f" at {_iso(self.at)}"
        if self.in_ is not None:
            text += f" in {self.in_:g} s"
        return text

    def diff(self, job: EnqueuedJob) -> dict[str, str]:
        """Mismatched fields of ``job``: field name → "expected …, got …"."""
        out: dict[str, str] = {}
        if job.name != self.name:
            out["class"] = f"expected {self.name}, got {job.name}"
        if self.args is not None and not matches(self.args, job.args):
            out["args"] = f"expected {show(self.args)}, got {show(job.args)}"
        if self.queue is not None and job.queue != self.queue:
            out["queue"] = f"expected {self.queue!r}, got {job.queue!r}"
        timing = self._timing(job)
        if timing:
            out["time"] = timing
        return out

    def _timing(self, job: EnqueuedJob) -> str | None:
        if self.at is None and self.in_ is None:
            return None
        if job.at is None:
            return "expected a scheduled job, got one queued to run now"
        actual = job.at.timestamp()
        if self.at is not None and abs(actual - self.at) > self.tolerance:
            return f"expected to run at {_iso(self.at)}, got {_iso(actual)}"
        if self.in_ is not None:
            delay = actual - job.created_at
            if abs(delay - self.in_) > self.tolerance:
                return f"expected to run in {self.in_:g} s, got in {delay:g} s"
        return None


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="seconds")


def _where(job: EnqueuedJob) -> str:
    return f"enqueued at {job.location}" if job.location else "enqueued outside the harness"


def _reason(exp: Expectation, jobs: Sequence[EnqueuedJob], found: int, count: int) -> str:
    if found > count:
        times = "twice" if found == 2 else f"{found} times"
        return f"enqueued {times}, expected {count}" if count != 1 else f"enqueued {times}"
    if found:
        return f"enqueued {found} time(s), expected {count}"
    if not jobs:
        return "nothing was enqueued"
    same = [j for j in jobs if j.name == exp.name]
    if not same:
        return f"no {exp.name} was enqueued"
    fields = min((exp.diff(j) for j in same), key=len)
    if "args" in fields:
        return "enqueued with wrong args"
    if "queue" in fields:
        return "enqueued on the wrong queue"
    if "time" in fields and "queued to run now" in fields["time"]:
        return "not scheduled when expected (queued to run now)"
    return "scheduled for a different time"


def _job_lines(index: int, job: EnqueuedJob, diff: dict[str, str] | None) -> list[str]:
    lines = [f"  {index}. {job.describe()} jid={job.jid} ({_where(job)})"]
    for field_name, text in (diff or {}).items():
        lines.append(f"       {field_name}: {text}")
    return lines


def failure_message(
    exp: Expectation,
    jobs: Sequence[EnqueuedJob],
    matched: Sequence[EnqueuedJob],
    count: int,
    now: float,
    *,
    pending: Sequence[EnqueuedJob] = (),
) -> str:
    """The full message for an ``assert_enqueued`` that found ``len(matched) != count``;
    ``pending`` are after-commit jobs whose transaction has not committed."""
    reason = _reason(exp, jobs, len(matched), count)
    lines = [f"expected {exp.describe()} to be enqueued, but it was {reason}"]
    if reason == "nothing was enqueued":
        lines[0] = f"expected {exp.describe()} to be enqueued, but nothing was enqueued"
    waiting = [j for j in pending if not exp.diff(j)]
    if waiting and len(matched) < count:
        lines[0] = (f"expected {exp.describe()} to be enqueued, but it was {PENDING}"
                    if not matched else f"{lines[0]}; {len(waiting)} more {PENDING}")
        lines.append("Waiting for their commit:")
        for i, job in enumerate(waiting, 1):
            lines += _job_lines(i, job, None)
    if matched:
        lines.append("Matching jobs:")
        for i, job in enumerate(matched, 1):
            lines += _job_lines(i, job, None)
    else:
        ranked = sorted(jobs, key=lambda j: (j.name != exp.name, len(exp.diff(j))))
        if ranked:
            lines.append("Closest candidates:")
            for i, job in enumerate(ranked[:MAX_CANDIDATES], 1):
                lines += _job_lines(i, job, exp.diff(job))
            if len(ranked) > MAX_CANDIDATES:
                lines.append(f"  … and {len(ranked) - MAX_CANDIDATES} more")
    scheduled = [j for j in jobs if j.at is not None and j.at.timestamp() > now]
    if scheduled:
        lines.append("Scheduled, not yet due:")
        for job in scheduled:
            assert job.at is not None
            lines.append(
                f"  - {job.describe()} (due in {job.at.timestamp() - now:.0f} s; {_where(job)})"
            )
    return "\n".join(lines)


def unexpected_message(what: str, found: Sequence[EnqueuedJob]) -> str:
    """The message for ``assert_not_enqueued`` that found jobs."""
    lines = [f"expected no {what} to be enqueued, but found {len(found)}:"]
    for i, job in enumerate(found, 1):
        lines += _job_lines(i, job, None)
    return "\n".join(lines)
