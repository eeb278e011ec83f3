"""What the demo saw, and the story it tells from it.

A server middleware records every attempt the worker makes (its times, its number, its
error) and the death handler records what it was called with; every figure the demo prints
is derived from those records and checked against jobkit's own counters in Redis.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from . import demo_jobs as dj
from .job import Job
from .middleware.base import Payload, ServerMiddleware


@dataclass(frozen=True)
class Attempt:
    """One run of one job, as the worker performed it."""

    jid: str
    job: str
    args: list[Any]
    queue: str
    #: 1 for the first run, 2 for the first retry, ...
    number: int
    #: When it was last pushed onto its queue: by the client, the scheduler or the ticker.
    enqueued_at: float
    started: float
    finished: float
    #: ``"GatewayTimeout: ..."``, or None when it succeeded.
    error: str | None
    #: When the previous attempt failed, as jobkit recorded it (``failed_at``/``retried_at``).
    last_failure: float | None
    #: The periodic tick this run is for.
    tick: float | None


@dataclass
class Recorder(ServerMiddleware):
    """Records each attempt, and which jobs are settled (succeeded, or died)."""

    clock: Callable[[], float]
    attempts: list[Attempt] = field(default_factory=list)
    settled: set[str] = field(default_factory=set)
    deaths: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def perform(self, job: Job, payload: Payload, call_next: Callable[[], None]) -> None:
        started = self.clock()
        error: str | None = None
        try:
            call_next()
        except BaseException as e:
            error = f"{type(e).__name__}: {e}"
            raise
        finally:
            count = payload.get("retry_count")
            # record_error sets failed_at on the first failure, retried_at on later ones.
            last = payload.get("retried_at" if isinstance(count, int) and count >= 1
                               else "failed_at") if count is not None else None
            attempt = Attempt(
                payload["jid"], payload["class"], list(payload["args"]), payload["queue"],
                1 if count is None else int(count) + 2,
                float(payload.get("enqueued_at", started)), started, self.clock(), error,
                None if last is None else float(last), job.tick.timestamp() if job.tick else None)
            with self.lock:
                self.attempts.append(attempt)
                if error is None:
                    self.settled.add(attempt.jid)

    def death_handler(self, job: Payload, exc: BaseException) -> None:
        """The demo's death handler: keeps what it was given."""
        with self.lock:
            self.deaths.append({"job": dict(job), "exc": repr(exc)})
            self.settled.add(str(job.get("jid")))

    def snapshot(self) -> tuple[list[Attempt], list[dict[str, Any]]]:
        with self.lock:
            return list(self.attempts), list(self.deaths)

    def ticks_run(self) -> int:
        with self.lock:
            return sum(a.tick is not None and a.error is None for a in self.attempts)


def tell(recorder: Recorder, *, jids: dict[str, str], report_at: float, stats: dict[str, int],
         enqueued: int, left: int) -> dict[str, Any]:
    """The story's facts: each job's attempts and outcome, the counts, the timelines.

    ``jids`` names the demo's special jobs (``sync``, ``import``, ``report``); ``stats`` is
    jobkit's own ``processed``/``failed``/``dead`` counters, checked against the derived
    counts; ``enqueued`` the jobs the demo and the ticker pushed, ``left`` those still queued
    when the worker stopped."""
    attempts, deaths = recorder.snapshot()
    by_jid: dict[str, list[Attempt]] = defaultdict(list)
    for a in sorted(attempts, key=lambda a: (a.number, a.started)):
        by_jid[a.jid].append(a)
    died = {str(d["job"].get("jid")) for d in deaths}
    first_time = later = 0
    outcomes: list[dict[str, Any]] = []
    for jid, runs in by_jid.items():
        if runs[-1].error is None and len(runs) == 1:
            first_time += 1
            continue
        outcome = ("succeeded" if runs[-1].error is None
                   else "died" if jid in died else "unfinished")
        later += outcome == "succeeded"
        outcomes.append({"jid": jid, "job": runs[0].job, "outcome": outcome,
                         "attempts": len(runs)})
    report = by_jid.get(jids["report"], [])
    dead_job = next((d for d in deaths if d["job"].get("jid") == jids["import"]), None)
    failed = sum(a.error is not None for a in attempts)
    dead = sum(o["outcome"] == "died" for o in outcomes)
    return {
        "counts_agree": (stats["processed"] == len(attempts) and stats["failed"] == failed
                         and stats["dead"] == dead == len(deaths)
                         and enqueued == len(by_jid) + left),
        "enqueued": enqueued,
        "left_on_queues": left,
        "jobs": len(by_jid),
        "attempts": len(attempts),
        "failed_attempts": failed,
        "succeeded_first_time": first_time,
        "succeeded_after_retries": later,
        "died": dead,
        "unfinished": sum(o["outcome"] == "unfinished" for o in outcomes),
        "outcomes": outcomes,
        "stats": stats,
        "retry_in": dj.RETRY_IN,
        "sync": _timeline(by_jid.get(jids["sync"], []), jids["sync"]),
        "import": {**_timeline(by_jid.get(jids["import"], []), jids["import"]),
                   "death_handler": dead_job},
        "report": {"jid": jids["report"], "scheduled_for": report_at,
                   "enqueued_at": report[0].enqueued_at if report else None,
                   "ran_at": report[0].started if report else None},
        "ticks": [{"jid": a.jid, "tick": a.tick, "enqueued_at": a.enqueued_at,
                   "ran_at": a.started}
                  for a in sorted(attempts, key=lambda a: a.tick or 0) if a.tick is not None],
        "deaths": [f"{d['job'].get('class')} {d['job'].get('jid')}: {d['exc']}" for d in deaths],
        "queues": _latency(attempts),
    }


def _timeline(runs: list[Attempt], jid: str) -> dict[str, Any]:
    """A job's attempts; each retry with the time it was due: the previous failure, as jobkit
    recorded it, plus the ``retry_in`` the job asked for (jitter is off for the demo's jobs)."""
    steps = []
    for a in runs:
        due = a.last_failure + dj.RETRY_IN if a.last_failure is not None else None
        steps.append({**asdict(a), "retry_due": due})
    return {"jid": jid, "attempts": steps}


def _latency(attempts: list[Attempt]) -> dict[str, dict[str, float | int]]:
    """Per queue: first runs, and the time from enqueue to start (p50 and max)."""
    waits: dict[str, list[float]] = {name: [] for name, _ in dj.QUEUES}
    for a in attempts:
        if a.number == 1 and a.tick is None:
            waits.setdefault(a.queue, []).append(a.started - a.enqueued_at)
    out: dict[str, dict[str, float | int]] = {}
    for name, w in waits.items():
        w.sort()
        out[name] = {"jobs": len(w),
                     "latency_ms_p50": round(1000 * w[len(w) // 2], 1) if w else 0.0,
                     "latency_ms_max": round(1000 * w[-1], 1) if w else 0.0}
    return out


def hms(epoch: float | None) -> str:
    """``14:40:01.312``: a time of day in UTC, to the millisecond."""
    if epoch is None:
        return "--:--:--.---"
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def render(s: dict[str, Any]) -> list[str]:
    """The story as lines of text (times of day in UTC)."""
    lines = [f"done in {s['seconds']:.2f}s. What happened (times of day in UTC):", ""]
    lines += _render_attempts("inventory sync", s["sync"], died=False)
    lines += _render_attempts("legacy import", s["import"], died=s["import"]["death_handler"]
                              is not None)
    handler = s["import"]["death_handler"]
    if handler is None:
        lines.append("    the death handler was NOT called")
    else:
        job = handler["job"]
        lines += ["    the death handler was called as handler(job, exc) with",
                  f"      job: the dead job's payload, a dict of {len(job)} fields, among them",
                  f"           class {job.get('class')!r}, jid {job.get('jid')!r}, "
                  f"args {job.get('args')!r},",
                  f"           queue {job.get('queue')!r}, retry_count {job.get('retry_count')}, "
                  f"error_class {job.get('error_class')!r},",
                  f"           error_message {job.get('error_message')!r},",
                  f"           failed_at {job.get('failed_at')} ({hms(job.get('failed_at'))}), "
                  f"retried_at {job.get('retried_at')} ({hms(job.get('retried_at'))})",
                  f"      exc: {handler['exc']}"]
    r = s["report"]
    late = "" if r["ran_at"] is None else f" ({r['ran_at'] - r['scheduled_for']:+.3f} s)"
    lines += ["", f"  daily report: demo.DailyReportJob({dj.REPORT_DAY!r})  jid {r['jid']}",
              f"    scheduled for {hms(r['scheduled_for'])}, moved to its queue "
              f"{hms(r['enqueued_at'])}, ran {hms(r['ran_at'])}{late}", "",
              f"  periodic: demo.RefreshRatesJob every {dj.TICK_EVERY} s, "
              f"{len(s['ticks'])} ticks"]
    for t in s["ticks"]:
        lines.append(f"    tick {hms(t['tick'])}: enqueued {hms(t['enqueued_at'])}, "
                     f"ran {hms(t['ran_at'])}")
    lines += _render_outbox(s.get("outbox"))
    lines += ["", *_render_counts(s), "", *_render_queues(s["queues"])]
    return lines


def _render_outbox(o: dict[str, Any] | None) -> list[str]:
    if o is None:
        return []
    c, r = o["committed"], o["rolled_back"]
    relayed = ("" if c["relayed_at"] is None
               else f" ({c['relayed_at'] - c['at']:+.3f} s after the commit)")
    return [
        "", f"  outbox: orders written to {o['database']} with their job, "
        "ProcessOrderJob.set(outbox=session)",
        f"    order {c['order_id']} committed {hms(c['at'])}  jid {c['jid']}",
        f"      relayed to Redis {hms(c['relayed_at'])}{relayed}, ran {hms(c['ran_at'])}",
        f"    order {r['order_id']} rolled back {hms(r['at'])}  jid {r['jid']}",
        "      its row went with the transaction: "
        + ("it RAN anyway" if r["ran"] else "never relayed, never ran"),
        f"    {o['orders_in_database']} order(s) in the database, {o['relayed']} job(s) "
        f"relayed, {o['rows_left']} row(s) left in jobkit_outbox",
    ]


def _render_attempts(title: str, story: dict[str, Any], *, died: bool) -> list[str]:
    steps = story["attempts"]
    if not steps:
        return [f"  {title}: jid {story['jid']} never ran"]
    args = ", ".join(map(repr, steps[0]["args"]))
    lines = [f"  {title}: {steps[0]['job']}({args})  jid {story['jid']}"]
    for a, after in zip(steps, [*steps[1:], None], strict=True):
        lines.append(f"    attempt {a['number']} ran {hms(a['started'])}: "
                     f"{a['error'] or 'succeeded'}")
        if after is not None and after["retry_due"] is not None:
            lines.append(
                f"      failed at {hms(after['last_failure'])}: retry {a['number']} scheduled "
                f"for {hms(after['retry_due'])}, ran {hms(after['started'])} "
                f"({after['started'] - after['retry_due']:+.3f} s)")
        elif after is None and a["error"]:
            lines.append("      no retries left: moved to the dead set" if died
                         else "      not settled when the demo ended")
    return lines


def _render_counts(s: dict[str, Any]) -> list[str]:
    tally = Counter((o["outcome"], o["attempts"]) for o in s["outcomes"])
    parts = [f"{s['succeeded_first_time']} succeeded first time"]
    parts += [f"{n} succeeded on attempt {k}" if outcome == "succeeded"
              else f"{n} {outcome} after {k} attempts"
              for (outcome, k), n in sorted(tally.items(), key=lambda i: i[0][0] != "succeeded")]
    st = s["stats"]
    lines = [f"  {s['jobs']} jobs, {s['attempts']} attempts: {', '.join(parts)}",
             f"  jobkit's own counters {'agree' if s['counts_agree'] else 'DO NOT AGREE'}: "
             f"{s['enqueued']} enqueued, processed {st['processed']} (attempts), failed "
             f"{st['failed']}, dead {st['dead']}"]
    if s["left_on_queues"]:
        lines.append(f"  {s['left_on_queues']} job(s) enqueued as the demo stopped, not run")
    return lines


def _render_queues(queues: dict[str, dict[str, Any]]) -> list[str]:
    lines = [f"  {'queue':<10}{'first runs':>11}{'wait p50':>12}{'wait max':>12}"]
    for name, q in queues.items():
        lines.append(f"  {name:<10}{q['jobs']:>11}{q['latency_ms_p50']:>9.1f} ms"
                     f"{q['latency_ms_max']:>9.1f} ms")
    return lines
