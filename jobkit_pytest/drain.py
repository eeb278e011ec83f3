"""``drain()`` and ``perform_one()``: run due jobs in FIFO order until none is left."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

import jobkit

from .errors import DrainLimitError, UsageError
from .matching import show
from .records import DrainReport, JobRun
from .runner import Payload, Runner, Select

Retries = int | Literal["exhaust"]


def retry_limit(retries: object) -> float:
    """Retry runs allowed per job: an integer >= 0, or ``"exhaust"`` for as many as it takes."""
    if retries == "exhaust":
        return float("inf")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise UsageError(f"retries={retries!r} must be an integer >= 0 or 'exhaust'")
    return float(retries)


def to_run(outcome: jobkit.Outcome, location: str | None) -> JobRun:
    payload: Payload = outcome.payload or {}
    return JobRun(
        name=str(payload.get("class")),
        job=outcome.job,
        args=list(payload.get("args") or []),
        queue=outcome.queue,
        jid=str(payload.get("jid")),
        status=outcome.status,
        exc=outcome.exc,
        elapsed=outcome.elapsed,
        location=location,
    )


def raise_failure(run: JobRun, where: str) -> None:
    """Re-raise the job's own exception, with a note saying which job it was."""
    __tracebackhide__ = True
    exc = run.exc
    if exc is None:
        return
    note = f"jobkit: raised by {run.name}({show(run.args)[1:-1]}) jid={run.jid} in {where}"
    if run.location:
        note += f"; enqueued at {run.location}"
    add_note: Callable[[str], None] | None = getattr(exc, "add_note", None)
    if add_note is not None and note not in getattr(exc, "__notes__", ()):
        add_note(note)
    raise exc


class Drainer:
    """One drain: the loop, the retry budget and the report."""

    def __init__(
        self,
        runner: Runner,
        locations: dict[str, str | None],
        select: Select,
        *,
        recursive: bool,
        max_jobs: int,
        raise_errors: bool,
        retries: object,
    ) -> None:
        if isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or max_jobs < 1:
            raise UsageError(f"max_jobs={max_jobs!r} must be an integer >= 1")
        self.runner = runner
        self.locations = locations
        self.limit = retry_limit(retries)
        self.max_jobs = max_jobs
        self.raise_errors = raise_errors
        self.runs: Counter[str] = Counter()
        self.report = DrainReport()
        self.select = select
        if not recursive:
            runner.enqueue_due()
            # Only the jobs waiting now; jobs they enqueue stay queued.
            eligible = {str(w.payload.get("jid")) for w in runner.queued() if select(w.payload)}
            self.select = lambda p: p.get("jid") in eligible

    def retries_left(self, jid: str) -> bool:
        return self.limit > 0 and self.runs[jid] <= self.limit

    def step(self) -> JobRun | None:
        """Run the next due job; None when nothing selected is due."""
        __tracebackhide__ = True
        item = self.runner.next_due(self.select)
        if item is None:
            return None
        if len(self.report.jobs) >= self.max_jobs:
            name, count = self.report.most_frequent()
            raise DrainLimitError(
                f"drain() ran max_jobs={self.max_jobs} jobs and jobs are still due; {name} ran "
                f"{count} times: it probably re-enqueues itself (pass recursive=False, or a "
                "larger max_jobs if the work is really that long)"
            )
        jid = str(item.payload.get("jid"))
        outcome = self.runner.run(item)
        self.runs[jid] += 1
        run = to_run(outcome, self.locations.get(jid))
        self.report.jobs.append(run)
        if run.failed and self.raise_errors and not (
            run.status == "retry" and self.retries_left(jid)
        ):
            raise_failure(run, "drain()")
        return run

    def next_retry(self) -> bool:
        """Advance the clock to the earliest retry this drain may still run; False if none."""
        if self.limit <= 0:
            return False
        due = [
            w.score
            for w in self.runner.zset(self.runner.keys.retry)
            if w.score is not None
            and self.select(w.payload)
            and self.retries_left(str(w.payload.get("jid")))
        ]
        if not due:
            return False
        # A millisecond past the score, so float rounding cannot leave it just short of due.
        self.runner.clock.advance_to(min(due) + 0.001)
        return True

    def run(self) -> DrainReport:
        __tracebackhide__ = True
        while self.step() is not None or self.next_retry():
            pass
        return self.report


def selector(name: str | None, queue: str | None) -> Select:
    def select(payload: dict[str, Any]) -> bool:
        return (name is None or payload.get("class") == name) and (
            queue is None or payload.get("queue") == queue
        )

    return select
