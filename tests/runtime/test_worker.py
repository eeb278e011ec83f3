"""The threaded worker in-process: queue weighting, scheduling, bad payloads, middleware,
graceful stop — on fakeredis and on the real Redis."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pytest
import redis

import jobkit
from jobkit.fetch import Acks, Fetcher, fetch_order, parse_queue
from jobkit.keys import Keys
from jobkit.scheduler import Scheduler
from jobkit.work import UnitOfWork

from .helpers import Clock, wait_for

ran: list[object] = []


class Noted(jobkit.Job):
    name = "worker_test.Noted"

    def perform(self, value: object) -> None:
        ran.append(value)


class Blocking(jobkit.Job):
    name = "worker_test.Blocking"
    release = threading.Event()
    started = threading.Event()

    def perform(self) -> None:
        Blocking.started.set()
        Blocking.release.wait(10)


def test_weighted_order_puts_each_queue_first_in_proportion_to_its_weight() -> None:
    rng = random.Random(1)
    queues = [("critical", 3), ("default", 2), ("low", 1)]
    firsts = Counter(fetch_order(queues, strict=False, rng=rng)[0] for _ in range(12000))
    assert firsts["critical"] / 12000 == pytest.approx(3 / 6, abs=0.02)
    assert firsts["default"] / 12000 == pytest.approx(2 / 6, abs=0.02)
    assert firsts["low"] / 12000 == pytest.approx(1 / 6, abs=0.02)


def test_strict_order_keeps_declared_priority() -> None:
    order = fetch_order([("a", 1), ("b", 5)], strict=True, rng=random.Random())
    assert order == ["a", "b"]


@pytest.mark.parametrize(("spec", "message"), [("", "non-empty name"), ("a,0", "weight '0'"),
                                                ("a,x", "weight 'x'")])
def test_bad_queue_spec_is_rejected(spec: str, message: str) -> None:
    with pytest.raises(jobkit.ConfigError, match=message):
        parse_queue(spec)


def test_fetch_distribution_follows_weights(settings: jobkit.Settings, r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    for q in ("critical", "default", "low"):
        Noted.set(queue=q).perform_bulk([[i] for i in range(600)])
    fetcher = Fetcher(r, keys, "host:1:abc", [("critical", 3), ("default", 2), ("low", 1)],
                      rng=random.Random(7))
    got = Counter(fetcher.fetch(1)[0][0] for _ in range(600))
    assert got["critical"] == pytest.approx(300, abs=45)
    assert got["default"] == pytest.approx(200, abs=45)
    assert got["low"] == pytest.approx(100, abs=40)
    assert r.llen(keys.inprogress("host:1:abc", "critical")) == got["critical"]


def test_strict_fetch_drains_the_first_queue_first(settings: jobkit.Settings,
                                                   r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    Noted.set(queue="low").perform_bulk([[1], [2]])
    Noted.set(queue="high").perform_bulk([[3], [4]])
    fetcher = Fetcher(r, keys, "h:1:x", [("high", 1), ("low", 1)], strict=True)
    assert [q for q, _ in fetcher.fetch(3)] == ["high", "high", "low"]


def test_two_schedulers_never_move_a_job_twice(settings: jobkit.Settings,
                                               r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    clock = Clock()
    s = jobkit.configure(settings.replace(clock=clock))
    for i in range(600):
        Noted.perform_in(10, i)
    assert r.zcard(keys.schedule) == 600
    clock.now += 11
    barrier = threading.Barrier(3)
    moved: list[int] = []

    def poll() -> None:
        scheduler = Scheduler(jobkit.connection.connect(s.redis_url), s)
        barrier.wait()
        moved.append(scheduler.enqueue_due())

    threads = [threading.Thread(target=poll) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(moved) == 600
    queued = [json.loads(x) for x in r.lrange(keys.queue("default"), 0, -1)]
    assert len(queued) == 600 and len({j["jid"] for j in queued}) == 600
    assert r.zcard(keys.schedule) == 0


def test_scheduled_job_runs_when_due_and_not_before(settings: jobkit.Settings) -> None:
    s = jobkit.configure(settings.replace(poll_interval=0.05))
    ran.clear()
    Noted.perform_in(0.6, "later")
    Noted.perform_async("now")
    worker = jobkit.Worker(s, jobkit.WorkerOptions(log_jobs=False))
    started = time.monotonic()
    worker.start()
    try:
        wait_for(lambda: ran == ["now"])
        assert "later" not in ran
        wait_for(lambda: "later" in ran)
        assert time.monotonic() - started >= 0.55
    finally:
        worker.stop(timeout=1)


GARBAGE: list[bytes] = [
    b"\x00\xff\xfe random bytes",
    b'{"class":"worker_test.Noted","args":[1',
    b"[]",
    b'{"class":5,"args":[],"jid":"a","queue":"default"}',
    b'{"class":"worker_test.Noted","args":"x","jid":"a","queue":"default"}',
    b'{"class":"worker_test.Unknown","args":[],"jid":"b","queue":"default"}',
    b'{"class":"os.system","args":["touch MARKER"],"jid":"c","queue":"default"}',
]


def test_bad_payloads_go_to_dead_and_the_worker_keeps_going(
    settings: jobkit.Settings, r: redis.Redis, tmp_path: Path
) -> None:
    keys = Keys(settings.namespace)
    marker = tmp_path / "MARKER"
    garbage = [g.replace(b"MARKER", str(marker).encode()) for g in GARBAGE]
    r.lpush(keys.queue("default"), *garbage)
    ran.clear()
    Noted.perform_async("good")
    deaths: list[str] = []
    s = jobkit.configure(settings.replace(death_handlers=[lambda j, e: deaths.append(str(e))]))
    worker = jobkit.Worker(s, jobkit.WorkerOptions(log_jobs=False, concurrency=2))
    worker.start()
    try:
        wait_for(lambda: ran == ["good"] and r.zcard(keys.dead) == len(garbage))
    finally:
        worker.stop(timeout=1)
    dead = [json.loads(m) for m in r.zrange(keys.dead, 0, -1)]
    assert all(d["error_message"] and d["error_class"].startswith("jobkit.") for d in dead)
    messages = {d["jid"]: d["error_message"] for d in dead}
    assert "'os.system' is not registered" in messages["c"]
    assert "'worker_test.Unknown' is not registered" in messages["b"]
    assert not marker.exists()
    assert len(deaths) == len(garbage)
    binary = [d for d in dead if d["class"] == "jobkit.InvalidPayload" and d["args"] and
              isinstance(d["args"][0], dict)]
    assert binary and "base64" in binary[0]["args"][0]


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, Mapping[str, str]]] = []

    def timing(self, name: str, ms: float, tags: Mapping[str, str]) -> None:
        assert ms >= 0
        self.events.append(("timing", name, dict(tags)))

    def increment(self, name: str, tags: Mapping[str, str]) -> None:
        self.events.append(("increment", name, dict(tags)))


class Failing(jobkit.Job):
    name = "worker_test.Failing"
    retry = False

    def perform(self) -> None:
        raise KeyError("boom")


def test_metrics_middleware_reports_timing_success_and_failure(settings: jobkit.Settings) -> None:
    sink = Sink()
    s = jobkit.configure(settings.replace(server_middleware=[jobkit.MetricsMiddleware(sink)]))
    Noted.perform_async(1)
    Failing.perform_async()
    worker = jobkit.Worker(s, jobkit.WorkerOptions(log_jobs=False))
    worker.process_one()
    worker.process_one()
    assert sink.events == [
        ("timing", "jobkit.perform", {"job": "worker_test.Noted", "queue": "default"}),
        ("increment", "jobkit.success", {"job": "worker_test.Noted", "queue": "default"}),
        ("increment", "jobkit.failure", {"job": "worker_test.Failing", "queue": "default",
                                         "error": "KeyError"}),
        ("timing", "jobkit.perform", {"job": "worker_test.Failing", "queue": "default"}),
    ]


def test_job_logger_logs_start_and_done_with_the_jid(settings: jobkit.Settings,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    jid = Noted.perform_async(1)
    worker = jobkit.Worker(settings, jobkit.WorkerOptions(log_jobs=True))
    with caplog.at_level("INFO", logger="jobkit.job"):
        worker.process_one()
    assert [m.split(":")[0] for m in caplog.messages] == [
        f"worker_test.Noted JID-{jid} start", f"worker_test.Noted JID-{jid} done"]


def test_graceful_stop_requeues_a_job_still_running(settings: jobkit.Settings,
                                                    r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    Blocking.release.clear()
    Blocking.started.clear()
    Blocking.perform_async()
    worker = jobkit.Worker(settings, jobkit.WorkerOptions(log_jobs=False))
    worker.start()
    try:
        assert Blocking.started.wait(10)
        worker.stop(timeout=0.1)
    finally:
        Blocking.release.set()
    assert r.llen(keys.queue("default")) == 1
    assert r.scard(keys.inprogress_index) == 0
    assert r.scard(keys.processes) == 0


def test_stop_requeues_prefetched_jobs_in_their_order(settings: jobkit.Settings,
                                                      r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    Blocking.release.clear()
    Blocking.started.clear()
    Blocking.perform_async()
    Noted.perform_bulk([[i] for i in range(5)])
    ran.clear()
    worker = jobkit.Worker(settings, jobkit.WorkerOptions(log_jobs=False, concurrency=1))
    worker.start()
    try:
        assert Blocking.started.wait(10)
        wait_for(lambda: r.llen(keys.queue("default")) == 5 - 1 or worker.in_flight >= 2)
        worker.stop(timeout=0.1)
    finally:
        Blocking.release.set()
    queued = [json.loads(x) for x in reversed(r.lrange(keys.queue("default"), 0, -1))]
    assert queued[0]["class"] == "worker_test.Blocking"
    assert [j["args"] for j in queued[1:]] == [[i] for i in range(5)]
    assert ran == []


class Sleepy(jobkit.Job):
    name = "worker_test.Sleepy"

    def perform(self, seconds: float) -> None:
        time.sleep(seconds)


def test_adaptive_prefetch_is_deep_for_fast_jobs_and_shallow_for_slow_ones(
    settings: jobkit.Settings,
) -> None:
    fast = jobkit.Worker(settings, jobkit.WorkerOptions(concurrency=4, log_jobs=False))
    assert fast.prefetch == 4  # no measurement yet: one job per thread
    Noted.perform_bulk([[i] for i in range(300)])
    fast.start()
    try:
        wait_for(lambda: fast.processed >= 300)
    finally:
        fast.stop(timeout=1)
    assert fast.prefetch > 4 * 4
    Sleepy.perform_bulk([[0.15]] * 4)
    slow = jobkit.Worker(settings, jobkit.WorkerOptions(concurrency=2, log_jobs=False))
    slow.start()
    try:
        wait_for(lambda: slow.processed >= 4)
    finally:
        slow.stop(timeout=1)
    assert slow.prefetch == 1


def test_fixed_prefetch_is_kept(settings: jobkit.Settings) -> None:
    worker = jobkit.Worker(settings, jobkit.WorkerOptions(concurrency=3, prefetch=7))
    assert (worker.prefetch, worker.capacity) == (7, 10)


def test_stop_under_load_leaves_nothing_for_recovery(settings: jobkit.Settings,
                                                     r: redis.Redis) -> None:
    # A fetch still in flight when stop() begins must be requeued by stop() itself, not
    # left for recovery (which would count it towards the poison-pill limit).
    keys = Keys(settings.namespace)
    Noted.perform_bulk([[i] for i in range(20_000)])
    ran.clear()
    worker = jobkit.Worker(settings, jobkit.WorkerOptions(log_jobs=False))
    worker.start()
    wait_for(lambda: worker.processed >= 2_000)
    worker.stop(timeout=1)
    assert not r.exists(keys.recovered)
    assert r.scard(keys.inprogress_index) == 0
    assert r.llen(keys.queue("default")) + len(ran) == 20_000
    assert len(set(ran)) == len(ran) == worker.processed


def _fetcher(r: redis.Redis, keys: Keys, *queues: str) -> Fetcher:
    return Fetcher(r, keys, "h:1:x", [(q, 1) for q in queues], strict=True)


def _acks(keys: Keys, jobs: list[tuple[str, bytes]]) -> Acks:
    return Acks(jobs, keys.stat("processed"), keys.stat("processed", "2026-11-29"))


def test_one_call_acknowledges_a_batch_and_fetches_the_next(settings: jobkit.Settings,
                                                           r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    fetcher = _fetcher(r, keys, "default")
    Noted.perform_bulk([[i] for i in range(10)])
    first = fetcher.fetch(4)
    assert [json.loads(raw)["args"] for _, raw in first] == [[0], [1], [2], [3]]
    second = fetcher.fetch(4, acks=_acks(keys, first))
    assert [json.loads(raw)["args"] for _, raw in second] == [[4], [5], [6], [7]]
    assert r.lrange(keys.inprogress("h:1:x", "default"), 0, -1) == [raw for _, raw in second]
    assert r.get(keys.stat("processed")) == b"4"
    assert r.get(keys.stat("processed", "2026-11-29")) == b"4"
    assert r.llen(keys.queue("default")) == 2


def test_acknowledging_jobs_out_of_fetch_order_removes_exactly_them(
    settings: jobkit.Settings, r: redis.Redis
) -> None:
    # The fast path trims the head of the in-progress list only when the acknowledged jobs
    # are exactly its first entries; here they are not, so each is removed on its own.
    keys = Keys(settings.namespace)
    fetcher = _fetcher(r, keys, "default")
    Noted.perform_bulk([[i] for i in range(6)])
    jobs = fetcher.fetch(6)
    done = [jobs[1], jobs[4], jobs[5]]
    assert fetcher.fetch(0, acks=_acks(keys, done)) == []
    assert r.lrange(keys.inprogress("h:1:x", "default"), 0, -1) == [
        jobs[0][1], jobs[2][1], jobs[3][1]]
    # Identical payloads are a multiset: acknowledging one copy leaves the other.
    r.rpush(keys.inprogress("h:1:x", "default"), jobs[0][1])
    fetcher.fetch(0, acks=_acks(keys, [jobs[0]]))
    assert r.lrange(keys.inprogress("h:1:x", "default"), 0, -1) == [
        jobs[2][1], jobs[3][1], jobs[0][1]]
    assert r.get(keys.stat("processed")) == b"4"


def test_a_fetch_takes_queues_in_order_and_moves_more_than_a_thousand(
    settings: jobkit.Settings, r: redis.Redis
) -> None:
    keys = Keys(settings.namespace)
    fetcher = _fetcher(r, keys, "high", "low")
    Noted.set(queue="high").perform_bulk([[i] for i in range(1_500)])
    Noted.set(queue="low").perform_bulk([[f"low{i}"] for i in range(10)])
    got = fetcher.fetch(1_505)
    assert [json.loads(raw)["args"] for q, raw in got if q == "high"] == [
        [i] for i in range(1_500)]
    assert [json.loads(raw)["args"] for q, raw in got if q == "low"] == [
        [f"low{i}"] for i in range(5)]
    assert r.llen(keys.inprogress("h:1:x", "high")) == 1_500
    assert r.llen(keys.queue("low")) == 5
    assert {m.decode() for m in r.smembers(keys.inprogress_index)} == {"h:1:x|high",
                                                                       "h:1:x|low"}


def test_the_exchanger_lingers_only_while_the_executors_with_jobs_have_enough_buffered(
        settings: jobkit.Settings) -> None:
    # Outcomes are written at once when an executor is about to run dry, else batched for
    # up to LINGER. A worker of coroutine jobs used to count only the threads' buffer —
    # always empty there — and wrote nearly every outcome on its own.
    exchanger = jobkit.Worker(settings, jobkit.WorkerOptions(
        concurrency=10, prefetch=40, log_jobs=False)).exchanger
    waiting: list[UnitOfWork] = []
    exchanger.is_coroutine = lambda raw: raw.startswith(b"c")
    exchanger.submit_coroutines = waiting.extend
    exchanger.coroutines_waiting = lambda: len(waiting)
    assert exchanger._running_short(time.monotonic()), "nothing fetched yet: write at once"
    exchanger.take([UnitOfWork("default", b"c%d" % i) for i in range(30)])
    assert not exchanger._running_short(time.monotonic()), "30 coroutine jobs wait for slots"
    del waiting[12:]
    assert exchanger._running_short(time.monotonic()), "12 left, under half the prefetch"
    waiting.extend(UnitOfWork("default", b"c") for _ in range(30))
    exchanger.take([UnitOfWork("default", b"p%d" % i) for i in range(5)])
    assert exchanger._running_short(time.monotonic()), "the threads have 5 plain jobs left"
    exchanger.take([UnitOfWork("default", b"p") for _ in range(20)])
    assert not exchanger._running_short(time.monotonic())


def test_a_reconciliation_put_off_by_a_busy_waker_still_happens(
        settings: jobkit.Settings) -> None:
    # A job in our in-progress list that no thread knows of (a reply lost), and a blocking
    # wait that cannot be stopped at the first try: the reconciliation is put off, not
    # dropped (it used to be dropped once the next call to Redis succeeded).
    worker = jobkit.Worker(settings, jobkit.WorkerOptions(concurrency=2, log_jobs=False))
    exchanger = worker.exchanger
    asked: list[bool] = []

    def quiesce() -> bool:
        asked.append(len(asked) > 0)  # stuck the first time only
        return asked[-1]

    exchanger.quiesce_wakers = quiesce
    raw = json.dumps({"class": "Nothing", "args": [], "jid": "a" * 24,
                      "queue": "default"}).encode()
    jobkit.get_client().redis.lpush(worker.fetcher.inprogress("default"), raw)
    exchanger.reconcile_soon()
    loop = threading.Thread(target=exchanger.run, daemon=True)
    loop.start()
    try:
        work = exchanger.ready.get(timeout=10)
    finally:
        exchanger.stop()
        loop.join(10)
    assert work == UnitOfWork("default", raw)
    assert asked[:2] == [False, True]
