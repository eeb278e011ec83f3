"""The object the ``jobkit`` fixture returns: enqueue assertions, drain, time travel."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import jobkit

from . import assertions
from .backend import Backend
from .clock import FakeClock, epoch_of, seconds_of
from .drain import Drainer, raise_failure, selector, to_run
from .errors import (
    EnqueueAssertionError,
    JobOptionsAssertionError,
    StrictModeError,
    UsageError,
)
from .matching import normalize
from .periodic import Ticks, assert_periodic
from .recorder import Payload, Recorder
from .records import DrainReport, EnqueuedJob, JobRun
from .runner import Runner, Waiting


def _no_jitter(n: int) -> int:
    return 0


def job_class(job: Any, name: str = "job") -> type[jobkit.Job]:
    """The job class behind ``job`` (a Job subclass or a ``@jobkit.job`` function)."""
    try:
        return jobkit.resolve(job)
    except jobkit.JobDefinitionError as e:
        raise UsageError(f"{name}={job!r} is not a jobkit job class or @jobkit.job function") from e


class Harness:
    """Points jobkit at an isolated Redis for one test and inspects and runs its jobs.

    Use it through the ``jobkit`` fixture; it restores the previous settings on close.
    Retries get no jitter unless ``retry_jitter=True``, which draws Sidekiq's jitter from a
    random generator seeded with ``seed`` (the fixture passes the test's node id).
    """

    def __init__(
        self,
        *,
        redis_url: str | None = None,
        inline: bool = False,
        strict: bool = False,
        retry_jitter: bool = False,
        seed: int | str = 0,
    ) -> None:
        __tracebackhide__ = True
        self._previous = jobkit.get_settings()
        self.backend = Backend(redis_url, app_namespace=self._previous.namespace)
        self.clock = FakeClock()
        self.recorder = Recorder()
        self.strict = strict
        self.settings = self._previous.replace(
            redis_url=self.backend.url,
            namespace=self.backend.namespace,
            clock=self.clock,
            # The harness owns time, so retry times too: no jitter unless asked for, and then
            # the same draws every run of the test.
            jitter_random=random.Random(seed).randrange if retry_jitter else _no_jitter,
            client_middleware=(*self._previous.client_middleware, self.recorder),
        )
        self._seen: set[str] = set()
        try:
            # The client shares the backend's connection (see Backend.redis).
            jobkit.use_client(jobkit.Client(self.settings, connection=self.backend.redis))
        except BaseException:
            self.close()
            raise
        self.runner = Runner(
            self.settings, self.backend.redis, self.clock, known_queues=self.recorder.queues
        )
        self.ticks = Ticks(self.settings, self.backend.redis, self.clock)
        self.inline = inline

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def inline(self) -> bool:
        """Whether jobs run at enqueue time (Sidekiq's ``inline!``)."""
        return self.recorder.inline is not None

    @inline.setter
    def inline(self, value: bool) -> None:
        self.recorder.inline = self._run_inline if value else None

    def close(self) -> None:
        """Restore the previous jobkit settings and delete this test's data."""
        try:
            jobkit.configure(self._previous)
        finally:
            self.backend.close()

    def unasserted(self) -> list[EnqueuedJob]:
        """Waiting jobs the test neither asserted, inspected nor drained (for strict mode)."""
        return [j for j in self._waiting() if j.jid not in self._seen]

    def check_strict(self) -> None:
        """Raise :class:`StrictModeError` listing jobs left unasserted."""
        __tracebackhide__ = True
        left = self.unasserted()
        if left:
            lines = [
                f"strict mode: {len(left)} job(s) were enqueued but neither asserted nor "
                "drained; assert them with jobkit.assert_enqueued(...), run them with "
                "jobkit.drain(), or drop strict=True:"
            ]
            lines += [f"  - {j.describe()} (enqueued at {j.location})" for j in left]
            raise StrictModeError("\n".join(lines))

    # -- time ----------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        """jobkit's current time (aware, UTC)."""
        return self.clock.now()

    def advance(self, by: float | dt.timedelta) -> dt.datetime:
        """Move jobkit's clock forward; scheduled and retry jobs due by then run on ``drain``,
        and each periodic tick passed is enqueued once."""
        self.clock.advance(by)
        self.ticks.poll()
        return self.clock.now()

    # -- inspection ----------------------------------------------------------------------

    def _job(self, item: Waiting) -> EnqueuedJob:
        jid = str(item.payload.get("jid"))
        return EnqueuedJob.from_payload(
            item.payload, score=item.score, location=self.recorder.locations.get(jid)
        )

    def _waiting(self) -> list[EnqueuedJob]:
        queued = sorted(self.runner.queued(), key=lambda w: float(w.payload.get("enqueued_at", 0)))
        scheduled = self.runner.zset(self.runner.keys.schedule)
        return [self._job(w) for w in (*queued, *scheduled)]

    def enqueued(self, job: Any = None, *, queue: str | None = None) -> list[EnqueuedJob]:
        """Jobs waiting to run (queued or scheduled), oldest first; optionally of one job
        class and/or one queue. Jobs returned here count as inspected in strict mode."""
        name = None if job is None else job_class(job).name
        found = [
            j
            for j in self._waiting()
            if (name is None or j.name == name) and (queue is None or j.queue == queue)
        ]
        self._seen.update(j.jid for j in found)
        return found

    @property
    def retries(self) -> list[EnqueuedJob]:
        """Jobs in the retry set; ``at`` is when each retry is due."""
        return [self._job(w) for w in self.runner.zset(self.runner.keys.retry)]

    @property
    def dead(self) -> list[EnqueuedJob]:
        """Jobs in the dead set; ``at`` is when each died."""
        return [self._job(w) for w in self.runner.zset(self.runner.keys.dead)]

    def clear(self) -> None:
        """Delete every job (queues, schedule, retries, dead set) and unique lock."""
        self.backend.clear()

    @contextmanager
    def capture(self) -> Iterator[list[EnqueuedJob]]:
        """``with jobkit.capture() as jobs:`` — ``jobs`` lists what the block enqueued
        (filled in when the block ends), including jobs that already ran."""
        jobs: list[EnqueuedJob] = []
        start = len(self.recorder.log)
        yield jobs
        waiting = {j.jid: j for j in self._waiting()}
        done = {j.jid: j for j in (*self.retries, *self.dead)}
        for payload in self.recorder.log[start:]:
            jid = str(payload["jid"])
            found = waiting.get(jid) or done.get(jid)
            if found is None and jid in self.runner.ran:
                found = EnqueuedJob.from_payload(
                    payload, score=None, location=self.recorder.locations.get(jid)
                )
            if found is not None:
                jobs.append(found)
                self._seen.add(jid)

    # -- assertions ----------------------------------------------------------------------

    def assert_enqueued(
        self,
        job: Any,
        *args: Any,
        queue: str | None = None,
        at: dt.datetime | float | None = None,
        in_: dt.timedelta | float | None = None,
        tolerance: dt.timedelta | float = dt.timedelta(seconds=1),
        count: int = 1,
    ) -> EnqueuedJob:
        """Assert exactly ``count`` waiting jobs match, and return the first (oldest).

        No ``args`` matches any arguments; ``ANY`` and ``partial({...})`` match inside them.
        ``at`` (run time) or ``in_`` (delay from the enqueue) select scheduled jobs, within
        ``tolerance``.
        """
        __tracebackhide__ = True
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise UsageError(f"count={count!r} must be an integer >= 1")
        exp = assertions.Expectation(
            name=job_class(job).name,
            args=normalize(list(args)) if args else None,
            queue=queue,
            at=None if at is None else epoch_of(at, "at"),
            in_=None if in_ is None else seconds_of(in_, "in_"),
            tolerance=seconds_of(tolerance, "tolerance"),
        )
        jobs = self._waiting()
        matched = [j for j in jobs if not exp.diff(j)]
        if len(matched) != count:
            raise EnqueueAssertionError(
                assertions.failure_message(exp, jobs, matched, count, self.clock(),
                                           pending=self.pending_after_commit())
            )
        self._seen.update(j.jid for j in matched)
        return matched[0]

    def assert_not_enqueued(self, job: Any = None, *args: Any) -> None:
        """Assert no waiting job matches (any job at all when ``job`` is None)."""
        __tracebackhide__ = True
        if job is None:
            found = self._waiting()
            what = "job"
        else:
            exp = assertions.Expectation(
                job_class(job).name, normalize(list(args)) if args else None
            )
            found = [j for j in self._waiting() if not exp.diff(j)]
            what = exp.describe()
        if found:
            raise EnqueueAssertionError(assertions.unexpected_message(what, found))

    def pending_after_commit(self) -> list[EnqueuedJob]:
        """Jobs enqueued with ``set(after_commit=...)`` whose transaction has not committed:
        not in Redis yet, so neither ``assert_enqueued`` nor ``drain`` sees them."""
        return [
            EnqueuedJob.from_payload(
                p, score=None, location=self.recorder.locations.get(str(p["jid"]))
            )
            for p in jobkit.pending_after_commit()
        ]

    def relay_outbox(self, database_url: str, *, batch_size: int = 1000) -> int:
        """Move every row of the ``jobkit_outbox`` table at ``database_url`` (e.g.
        ``sqlite:///…``) into this test's Redis, as the relay does; the number moved. The
        jobs then wait like any others: assert or ``drain()`` them."""
        from jobkit.outbox.relay import Relay

        client = jobkit.Client(self.settings, connection=self.backend.redis)
        with Relay(database_url, client, batch_size=batch_size) as relay:
            return relay.drain()

    def assert_job_options(self, job: Any, **expected: Any) -> None:
        """Assert a job class's options: ``assert_job_options(Job, queue="critical", retry=3)``.

        Any field of :class:`jobkit.JobOptions` may be named, plus ``discard_on`` and
        ``retry_jitter``.
        """
        __tracebackhide__ = True
        cls = job_class(job)
        actual: dict[str, Any] = dict(vars(cls.options()))
        actual["discard_on"] = cls.discard_on
        actual["retry_jitter"] = cls.retry_jitter
        unknown = sorted(set(expected) - set(actual))
        if unknown:
            raise UsageError(
                f"assert_job_options(): unknown option {unknown[0]!r}; "
                f"known options: {', '.join(sorted(actual))}"
            )
        if "tags" in expected:
            expected["tags"] = tuple(expected["tags"])
        if "discard_on" in expected and isinstance(expected["discard_on"], type):
            expected["discard_on"] = (expected["discard_on"],)
        wrong = {
            k: v
            for k, v in expected.items()
            # retry=True and retry=1 are different options though True == 1.
            if actual[k] != v or isinstance(actual[k], bool) != isinstance(v, bool)
        }
        if wrong:
            lines = [f"{cls.name} options differ from what the test expects:"]
            lines += [f"  {k}: expected {v!r}, got {actual[k]!r}" for k, v in wrong.items()]
            raise JobOptionsAssertionError("\n".join(lines))

    def assert_periodic(self, job: Any, **expected: Any) -> jobkit.periodic_entries.Entry:
        """Assert a periodic entry of ``job``: ``assert_periodic(NightlyReportJob,
        cron="0 3 * * *", tz="Europe/Berlin")``; fields: name, cron, tz, every, args,
        catch_up (only those given are compared)."""
        __tracebackhide__ = True
        return assert_periodic(job_class(job), **expected)

    # -- running -------------------------------------------------------------------------

    def drain(
        self,
        job: Any = None,
        *,
        queue: str | None = None,
        until: dt.datetime | float | None = None,
        recursive: bool = True,
        max_jobs: int = 1000,
        raise_errors: bool = True,
        retries: int | str = 0,
    ) -> DrainReport:
        """Run every due job (of ``job``/``queue`` if given) oldest first across queues,
        including jobs enqueued by the jobs run, through jobkit's real worker code.

        ``until`` first moves the clock to that time. A job's exception propagates with
        its traceback unless ``raise_errors=False``; ``retries=N`` or ``"exhaust"`` runs
        failed jobs' retries (moving the clock, never sleeping) until success or death.
        """
        __tracebackhide__ = True
        name = None if job is None else job_class(job).name
        if until is not None:
            self.clock.advance_to(epoch_of(until, "until"))
        self.ticks.poll()
        drainer = Drainer(
            self.runner,
            self.recorder.locations,
            selector(name, queue),
            recursive=recursive,
            max_jobs=max_jobs,
            raise_errors=raise_errors,
            retries=retries,
        )
        return drainer.run()

    def perform_one(
        self, job: Any = None, *, queue: str | None = None, raise_errors: bool = True
    ) -> JobRun | None:
        """Run the oldest due job (of ``job``/``queue`` if given); None if none is due."""
        __tracebackhide__ = True
        name = None if job is None else job_class(job).name
        item = self.runner.next_due(selector(name, queue))
        if item is None:
            return None
        jid = str(item.payload.get("jid"))
        run = to_run(self.runner.run(item), self.recorder.locations.get(jid))
        if run.failed and raise_errors:
            raise_failure(run, "perform_one()")
        return run

    def _run_inline(self, payload: Payload) -> None:
        __tracebackhide__ = True
        # Pushed by the real client (JSON encode); run through fetch/process/ack (decode).
        jid, queue = str(payload["jid"]), str(payload["queue"])
        outcome = self.runner.run_jid(queue, jid)
        run = to_run(outcome, self.recorder.locations.get(jid))
        if run.failed:
            raise_failure(run, "inline mode")

    # -- idempotency ---------------------------------------------------------------------

    def assert_idempotent(
        self,
        job: Any,
        *,
        observe: Callable[[], Any],
        args: Any = None,
        setup: Callable[..., Any] | None = None,
        reset: Callable[[], Any] | None = None,
        redeliver_after: Iterable[Any] | str = (),
        max_examples: int | None = None,
    ) -> None:
        """Prove with Hypothesis that running ``job`` twice, or again after a crash right
        after any call of a ``redeliver_after`` callable, leaves ``observe()`` as one run.

        See README.md ("Idempotency"); ``args`` is a strategy of argument tuples (default: derived
        from ``perform``'s annotations).
        """
        __tracebackhide__ = True
        from .idempotency import check

        check(
            self,
            job_class(job),
            observe=observe,
            args=args,
            setup=setup,
            reset=reset,
            redeliver_after=redeliver_after,
            max_examples=max_examples,
        )

