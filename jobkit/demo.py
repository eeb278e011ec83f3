"""``jobkit demo``: a small realistic workload run end to end on the embedded Redis.

Orders and receipts, an inventory sync that fails twice before it succeeds, an import that
dies (and the death handler that hears of it), a scheduled report, a periodic job and two
orders enqueued through an SQLite outbox (one committed, one rolled back), run by a real
worker and relay with real fetch, retries, scheduling and periodic ticks (``demo_jobs``). It
prints a progress line while it runs, then the story of what happened (``demo_story``) and
what to try next.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import time
import uuid
from typing import Any, TextIO

from . import demo_jobs as dj
from .connection import drop_memory_server
from .demo_outbox import MISSING, OutboxStep
from .demo_outbox import available as outbox_available
from .demo_story import Recorder, render, tell
from .errors import ConfigError
from .job import Job
from .keys import Keys
from .replies import integer, values
from .settings import Settings
from .ticker import Ticker
from .worker import Worker, WorkerOptions

#: Give up waiting for the workload after this many seconds (it takes a few).
TIMEOUT = 60.0
#: Seconds between two progress lines when stdout is not a terminal (a log, a pipe).
PLAIN_EVERY = 1.0
README = ("Defining and enqueueing jobs", "The worker", "Periodic jobs", "Operations CLI")


def run(*, redis_url: str | None, orders: int = 200, ticks: int = 3, keep: bool = False,
        out: TextIO | None = None) -> dict[str, Any]:
    """Run the demo; returns the facts it printed: ``jobs``, ``attempts``,
    ``succeeded_first_time``, ``succeeded_after_retries``, ``died``, jobkit's own ``stats``
    and whether they agree (``counts_agree``); the ``sync`` and ``import`` attempts (the
    latter with what the ``death_handler`` received), the ``report``'s times, the ``ticks``,
    per-queue ``queues`` waits, ``complete`` and ``seconds``; ``outbox``: the committed and
    the rolled-back outbox orders (jids, commit, relay and run times; whether the rolled-back
    one ran), rows relayed and left, or None without SQLAlchemy.

    ``ticks``: run until the periodic job has ticked this often. On a real Redis every key
    lives under ``jobkit-demo:RUN:``, a namespace of this run's own, and all of them are
    deleted at the end (``keep=True`` leaves them, for the commands the demo suggests): the
    server is otherwise left as it was found, and two demos never touch each other's keys."""
    if isinstance(orders, bool) or not isinstance(orders, int) or orders < 1:
        raise ConfigError(f"orders={orders!r} must be a whole number of at least 1")
    if isinstance(ticks, bool) or not isinstance(ticks, int) or not 1 <= ticks <= 10:
        raise ConfigError(f"ticks={ticks!r} must be a whole number from 1 to 10")
    if keep and not redis_url:
        raise ConfigError("keep=True needs a redis_url (--redis-url): the embedded Redis "
                          "ends with the demo")
    out = out if out is not None else sys.stdout  # read now: tests and callers replace it
    run_id = uuid.uuid4().hex[:12]
    url = redis_url or f"memory://demo-{run_id}"
    base = Settings(redis_url=url, namespace=f"jobkit-demo:{run_id}")
    recorder = Recorder(base.clock)
    settings = base.replace(poll_interval=0.1, heartbeat_interval=0.5, recovery_timeout=5.0,
                            death_handlers=(recorder.death_handler,))
    worker = Worker(settings, WorkerOptions(queues=dj.QUEUES, concurrency=8, log_jobs=False,
                                            extra_middleware=(recorder,)))
    entry = dj.rates_entry()
    # The demo's own ticker, with only its own entry: the global registry may hold the
    # entries of whatever else this process imported.
    worker.ticker = Ticker(worker.redis, settings, identity=worker.identity,
                           entries={entry.name: entry})
    keys = Keys(settings.namespace)
    where = "the embedded fakeredis" if not redis_url else _redacted(url)
    title = where if not redis_url else (
        f"{where}, keys under {settings.namespace}: ({'kept' if keep else 'deleted at the end'})")
    try:
        summary = _run(worker, keys, settings, recorder, orders, ticks, where=title, out=out)
    finally:
        if not keep:
            _clean(worker, keys)
        worker.redis.close()
        drop_memory_server(url)
    summary.update(where=where, namespace=settings.namespace, kept=keep)
    out.write("\n".join(render(summary)) + "\n\n")
    out.write("\n".join(next_steps(summary, redis_url)) + "\n")
    out.flush()
    return summary


def _run(worker: Worker, keys: Keys, settings: Settings, recorder: Recorder, orders: int,
         ticks: int, *, where: str, out: TextIO) -> dict[str, Any]:
    from .client import Client

    client = Client(settings, connection=worker.redis)
    started = time.monotonic()
    # Set up first (SQLAlchemy's import, the database): the jobs below then wait only for
    # the worker's start, as their queue waits say.
    step = OutboxStep(client, orders + 1) if outbox_available() else None
    try:
        expected: set[str] = set()
        batches: list[tuple[type[Job], list[list[Any]]]] = [
            (dj.ProcessOrderJob, [[i] for i in range(1, orders + 1)]),
            (dj.SendReceiptJob, [[i, f"customer{i}@example.com"] for i in range(1, orders + 1)])]
        for cls, args_list in batches:
            expected.update(j for j in client.enqueue_bulk(cls, args_list, cls.options()) if j)
        jids = {"sync": client.enqueue(dj.SyncInventoryJob, [dj.SKU],
                                       dj.SyncInventoryJob.options()),
                "import": client.enqueue(dj.ImportLegacyOrderJob, [dj.LEGACY_ID],
                                         dj.ImportLegacyOrderJob.options())}
        report_at = settings.clock() + 1.0
        jids["report"] = client.enqueue(dj.DailyReportJob, [dj.REPORT_DAY],
                                        dj.DailyReportJob.options(), at=report_at)
        demo_jids = {k: str(v) for k, v in jids.items()}
        expected.update(demo_jids.values())
        if step is not None:
            expected.add(step.enqueue())
        _intro(out, where, len(expected), orders, ticks, outbox=step is not None)
        try:
            complete = _watch(worker, keys, recorder, expected, ticks, started, out)
        finally:
            # Also on Ctrl-C or a closed pipe: a worker (or relay) left running would write
            # keys again after the clean-up.
            worker.stop(timeout=5)
            if step is not None:
                step.relay.stop()
        outbox = None if step is None else step.facts(recorder.snapshot()[0])
    finally:
        if step is not None:
            step.close()
    # What the stop left on the queues: a tick enqueued just as the demo stopped.
    left = sum(_state(worker, keys).values())
    st = values(worker.redis.mget(keys.stat("processed"), keys.stat("failed")))
    stats = {"processed": integer(st[0]), "failed": integer(st[1]),
             "dead": integer(worker.redis.zcard(keys.dead))}
    summary = tell(recorder, jids=demo_jids, report_at=report_at, stats=stats,
                   enqueued=len(expected) + worker.ticker.enqueued, left=left)
    summary.update(seconds=round(time.monotonic() - started, 2), complete=complete,
                   outbox=outbox)
    if not complete:
        out.write(f"  gave up waiting after {TIMEOUT:.0f} s: {left} job(s) left unrun\n")
    return summary


def _intro(out: TextIO, where: str, jobs: int, orders: int, ticks: int, *,
           outbox: bool) -> None:
    queues = ", ".join(f"{n}:{w}" for n, w in dj.QUEUES)
    step = ("  And in an SQLite database, two more orders with their charge job enqueued\n"
            "  through the outbox, set(outbox=session): one committed (a relay moves it to "
            "Redis),\n  one rolled back.\n" if outbox
            else f"  (The transactional-outbox step needs SQLAlchemy: {MISSING}.)\n")
    out.write(
        f"jobkit demo on {where}:\n  one worker, 8 threads, queues {queues}.\n"
        f"  Enqueued now, {jobs} jobs: {orders} orders and their receipts, an "
        "inventory sync that\n  fails twice, a legacy import that dies, a report scheduled "
        "1 s ahead. And a periodic\n  entry: demo.RefreshRatesJob every "
        f"{dj.TICK_EVERY} s, until it has ticked {ticks} times.\n{step}"
        f"  Retries wait the demo jobs' own retry_in = {dj.RETRY_IN} s: Sidekiq's default "
        "backoff would\n  wait 15 s and more before the first.\n\n")
    out.flush()


def _watch(worker: Worker, keys: Keys, recorder: Recorder, expected: set[str], ticks: int,
           started: float, out: TextIO) -> bool:
    """Show progress until every demo job is settled and the periodic job ticked ``ticks``
    times; False on timeout. On a terminal one line updates in place; elsewhere (a pipe, a
    log) a plain line about every ``PLAIN_EVERY`` seconds, with no control characters."""
    worker.start()
    tty = out.isatty()
    last_print = -PLAIN_EVERY
    width = 0
    while True:
        state = _state(worker, keys)
        with recorder.lock:
            settled = len(expected & recorder.settled)
            attempts = len(recorder.attempts)
            failed = sum(a.error is not None for a in recorder.attempts)
        ticked = recorder.ticks_run()
        done = (settled == len(expected) and ticked >= ticks and worker.in_flight == 0
                and not any(state.values()))
        now = time.monotonic()
        timed_out = now - started > TIMEOUT
        if done or timed_out or now - last_print >= (0.1 if tty else PLAIN_EVERY):
            line = (f"  {now - started:4.1f}s  settled {settled}/{len(expected)}  attempts "
                    f"{attempts}  failed {failed}  ticks {ticked}  queued {state['queued']}  "
                    f"scheduled {state['scheduled']}  retrying {state['retrying']}  dead "
                    f"{integer(worker.redis.zcard(keys.dead))}")
            if tty:
                # A line longer than the terminal wraps, and "\r" would rewrite only its
                # last row: cut it to fit.
                line = line[:shutil.get_terminal_size((100, 24)).columns - 1]
                out.write("\r" + line.ljust(width))
                width = len(line)
            else:
                out.write(line + "\n")
            out.flush()
            last_print = now
        if done or timed_out:
            out.write("\n\n" if tty else "\n")
            return done
        time.sleep(0.05)


def _clean(worker: Worker, keys: Keys) -> None:
    # Only this run's namespace is touched, so a real Redis keeps its other data.
    for key in worker.redis.scan_iter(match=f"{keys.namespace}:*", count=1000):
        worker.redis.delete(key)


def _state(worker: Worker, keys: Keys) -> dict[str, int]:
    pipe = worker.redis.pipeline(transaction=False)
    for name, _ in dj.QUEUES:
        pipe.llen(keys.queue(name))
    pipe.zcard(keys.schedule)
    pipe.zcard(keys.retry)
    *queued, scheduled, retrying = pipe.execute()
    return {"queued": sum(queued), "scheduled": scheduled, "retrying": retrying}


def _redacted(url: str) -> str:
    from .cli_errors import redacted

    return redacted(url)


def next_steps(summary: dict[str, Any], redis_url: str | None) -> list[str]:
    """What to try next: the operations commands, ready to paste when the keys were kept."""
    ns, url = summary["namespace"], summary["where"]
    if summary["kept"]:
        lines = [f"What to try next, on this run's keys (kept under {ns}:):",
                 f"  export JOBKIT_REDIS_URL={url} JOBKIT_NAMESPACE={ns}"]
        if "***@" in url:
            lines.append("      (with your password in place of ***)")
    else:
        gone = ("the embedded Redis ended with the demo" if redis_url is None
                else "the demo deleted its keys")
        lines = ["What to try next:",
                 "  jobkit demo --redis-url redis://localhost:6379/0 --keep",
                 f"      this demo on a real Redis, keeping its keys ({gone}):",
                 "      it ends with these commands, ready to paste"]
    jid = summary["import"]["jid"]
    lines += ["  jobkit stats                  totals, queues, retry/dead/schedule sets",
              "  jobkit dead                   the dead set: the legacy import, its error",
              f"  jobkit status {jid}",
              "                                where a job is now: "
              + ("the dead import" if summary["kept"] else "this run's dead import"),
              "  jobkit cron                   the periodic entry, its next and last run"]
    if importlib.util.find_spec("jobkit.web_cli") is not None:
        lines.append("  jobkit web                    the dashboard at http://127.0.0.1:7777/ "
                     '(pip install "jobkit[web]")')
    if summary["kept"]:
        lines.append(f"  redis-cli -u {url} --scan --pattern '{ns}:*' | xargs redis-cli "
                     f"-u {url} del")
        lines.append("                                removes the kept keys")
    lines += ["  jobkit demo --help, jobkit COMMAND --help",
              "  README: " + ", ".join(f'"{s}"' for s in README)]
    return lines
