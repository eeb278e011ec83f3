"""``jobkit demo``: a small realistic workload run end to end on the embedded Redis.

Orders and e-mails, an inventory sync that fails twice before it succeeds, a job that dies,
and a scheduled report, processed by a real worker with real fetch, retries and scheduling.
"""

from __future__ import annotations

import random
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from .connection import drop_memory_server
from .job import Job
from .keys import Keys
from .middleware.base import Payload, ServerMiddleware
from .replies import integer, values
from .settings import Settings
from .worker import Worker, WorkerOptions

QUEUES = (("critical", 3), ("default", 2), ("mailers", 1))


class GatewayTimeout(Exception):
    """The (simulated) payment gateway did not answer in time."""


class ProcessOrderJob(Job):
    """Charges an order: a short call to a (simulated) payment gateway."""

    name = "demo.ProcessOrderJob"
    queue = "critical"
    retry = 3

    def perform(self, order_id: int) -> None:
        time.sleep(random.uniform(0.001, 0.004))


class SendReceiptJob(Job):
    """Sends the receipt e-mail for an order."""

    name = "demo.SendReceiptJob"
    queue = "mailers"

    def perform(self, order_id: int, email: str) -> None:
        time.sleep(random.uniform(0.0005, 0.002))


class SyncInventoryJob(Job):
    """Pushes stock levels to a flaky warehouse API: times out twice, then succeeds."""

    name = "demo.SyncInventoryJob"
    retry = 5
    retry_jitter = False

    @classmethod
    def retry_in(cls, count: int, exc: BaseException) -> float:
        return 0.3

    def perform(self, sku: str) -> None:
        if self.retry_count is None or self.retry_count < 1:
            raise GatewayTimeout(f"warehouse API timed out syncing {sku}")


class ImportLegacyOrderJob(Job):
    """Imports an order from a legacy system whose record is corrupt: it always fails."""

    name = "demo.ImportLegacyOrderJob"
    retry = 1
    retry_jitter = False

    @classmethod
    def retry_in(cls, count: int, exc: BaseException) -> float:
        return 0.3

    def perform(self, legacy_id: str) -> None:
        raise ValueError(f"legacy order {legacy_id} has no customer")


class DailyReportJob(Job):
    """Builds the end-of-day report; enqueued to run a second from now."""

    name = "demo.DailyReportJob"

    def perform(self, day: str) -> None:
        time.sleep(0.005)


@dataclass
class _Latency(ServerMiddleware):
    """Records per-queue time from enqueue to start, for the summary."""

    clock: Callable[[], float]
    by_queue: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def perform(self, job: Job, payload: Payload, call_next: Callable[[], None]) -> None:
        waited = self.clock() - float(payload.get("enqueued_at", self.clock()))
        with self.lock:
            self.by_queue[payload["queue"]].append(waited)
        call_next()


def run(*, redis_url: str | None, orders: int = 200,
        out: TextIO | None = None) -> dict[str, Any]:
    """Run the demo; returns the summary it printed (for tests).

    On a real Redis every key lives under ``jobkit-demo:RUN:``, a namespace of this run's
    own, and all of them are deleted at the end: the server is left as it was found, and two
    demos on one server never touch each other's keys."""
    out = out if out is not None else sys.stdout  # read now: tests and callers replace it
    run_id = uuid.uuid4().hex[:12]
    url = redis_url or f"memory://demo-{run_id}"
    deaths: list[str] = []
    settings = Settings(
        redis_url=url,
        namespace=f"jobkit-demo:{run_id}",
        poll_interval=0.1,
        heartbeat_interval=0.5,
        recovery_timeout=5.0,
        death_handlers=(lambda job, exc: deaths.append(f"{job['class']} {job['jid']}: {exc}"),),
    )
    latency = _Latency(settings.clock)
    worker = Worker(settings, WorkerOptions(queues=QUEUES, concurrency=8, log_jobs=False,
                                            extra_middleware=(latency,)))
    keys = Keys(settings.namespace)
    try:
        summary = _run(worker, keys, settings, latency, deaths, orders,
                       where="embedded fakeredis" if not redis_url else url, out=out)
    finally:
        _clean(worker, keys)
        drop_memory_server(url)
    _print_summary(summary, out)
    return summary


def _run(worker: Worker, keys: Keys, settings: Settings, latency: _Latency, deaths: list[str],
         orders: int, *, where: str, out: TextIO) -> dict[str, Any]:
    from .client import Client

    client = Client(settings, connection=worker.redis)
    started = time.monotonic()
    for cls, args in _workload(orders):
        client.enqueue(cls, args, cls.options())
    client.enqueue(DailyReportJob, ["2026-11-29"], DailyReportJob.options(),
                   at=settings.clock() + 1.0)
    total = 2 * orders + 3
    out.write(f"jobkit demo: {total} jobs on {where}, "
              f"queues {', '.join(f'{n}:{w}' for n, w in QUEUES)}\n")

    worker.start()
    tty = out.isatty()
    last_print = 0.0
    try:
        while True:
            state = _state(worker, keys)
            done = not any(state.values()) and worker.in_flight == 0 and worker.processed >= total
            now = time.monotonic()
            if done or now - last_print >= (0.2 if tty else 1.0):
                line = (f"  processed {worker.processed:4d}  failed {worker.failed:2d}  "
                        f"queued {state['queued']:4d}  scheduled {state['scheduled']}  "
                        f"retrying {state['retrying']}  dead {_dead(worker, keys)}")
                out.write(("\r" + line) if tty else (line + "\n"))
                out.flush()
                last_print = now
            if done or now - started > 60:
                break
            time.sleep(0.05)
    finally:
        worker.stop(timeout=5)
    if tty:
        out.write("\n")
    return _summary(worker, keys, latency, deaths, time.monotonic() - started)


def _workload(orders: int) -> list[tuple[type[Job], list[Any]]]:
    jobs: list[tuple[type[Job], list[Any]]] = []
    for order_id in range(1, orders + 1):
        jobs.append((ProcessOrderJob, [order_id]))
        jobs.append((SendReceiptJob, [order_id, f"customer{order_id}@example.com"]))
    jobs.append((SyncInventoryJob, ["SKU-1042"]))
    jobs.append((ImportLegacyOrderJob, ["LEGACY-77"]))
    return jobs


def _clean(worker: Worker, keys: Keys) -> None:
    # Only this run's namespace is touched, so a real Redis keeps its other data.
    for key in worker.redis.scan_iter(match=f"{keys.namespace}:*", count=1000):
        worker.redis.delete(key)


def _state(worker: Worker, keys: Keys) -> dict[str, int]:
    pipe = worker.redis.pipeline(transaction=False)
    for name, _ in QUEUES:
        pipe.llen(keys.queue(name))
    pipe.zcard(keys.schedule)
    pipe.zcard(keys.retry)
    *queued, scheduled, retrying = pipe.execute()
    return {"queued": sum(queued), "scheduled": scheduled, "retrying": retrying}


def _dead(worker: Worker, keys: Keys) -> int:
    return integer(worker.redis.zcard(keys.dead))


def _summary(worker: Worker, keys: Keys, latency: _Latency, deaths: list[str],
             elapsed: float) -> dict[str, Any]:
    stat = values(worker.redis.mget(keys.stat("processed"), keys.stat("failed")))
    queues = {}
    for name, _ in QUEUES:
        waits = sorted(latency.by_queue.get(name, []))
        queues[name] = {
            "jobs": len(waits),
            "latency_ms_p50": round(1000 * waits[len(waits) // 2], 1) if waits else 0.0,
            "latency_ms_max": round(1000 * waits[-1], 1) if waits else 0.0,
        }
    return {
        "processed": integer(stat[0]),
        "failed": integer(stat[1]),
        "dead": _dead(worker, keys),
        "retried": worker.retried,
        "retries_pending": integer(worker.redis.zcard(keys.retry)),
        "deaths": deaths,
        "queues": queues,
        "seconds": round(elapsed, 2),
    }


def _print_summary(summary: dict[str, Any], out: TextIO) -> None:
    out.write(
        f"\ndone in {summary['seconds']:.2f}s: {summary['processed']} performed "
        f"({summary['failed']} failed: {summary['retried']} retried, {summary['dead']} dead)\n"
    )
    out.write(f"  {'queue':<10}{'jobs':>6}{'latency p50':>14}{'latency max':>14}\n")
    for name, q in summary["queues"].items():
        out.write(f"  {name:<10}{q['jobs']:>6}{q['latency_ms_p50']:>11.1f} ms"
                  f"{q['latency_ms_max']:>11.1f} ms\n")
    for death in summary["deaths"]:
        out.write(f"  dead: {death}\n")
