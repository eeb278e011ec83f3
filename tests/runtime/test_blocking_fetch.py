"""An idle worker blocks on its queues (BLMOVE) instead of polling them: a plain LPUSH, as
Ruby's Sidekiq client does, is picked up by the blocked command; strict and weighted queue
order hold for jobs that arrive while it waits; and an idle worker sends at most one Redis
command per second, heartbeat and housekeeping included (counted from INFO commandstats of
a private redis-server)."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import jobkit
from jobkit import blocking
from jobkit.keys import Keys
from tests.needs import require_binary

order: list[str] = []


class Recorded(jobkit.Job):
    name = "blocking_test.Recorded"

    def perform(self, label: str) -> None:
        order.append(label)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def sidekiq_payload(queue: str, label: str) -> bytes:
    """A job as Sidekiq's Ruby client pushes it (``Sidekiq::Client.push``)."""
    now = time.time()
    return json.dumps({"class": Recorded.name, "args": [label], "queue": queue, "retry": True,
                       "jid": uuid.uuid4().hex[:24], "created_at": now,
                       "enqueued_at": now}).encode()


def blocked(worker: jobkit.Worker) -> bool:
    """Whether every queue's waker has its BLMOVE in flight."""
    return bool(worker._wakers) and all(w.armed and not w._idle.is_set()
                                        for w in worker._wakers)


@pytest.fixture
def make_worker(real_settings: jobkit.Settings) -> Iterator[Callable[..., jobkit.Worker]]:
    started: list[jobkit.Worker] = []
    order.clear()

    def make(**options: Any) -> jobkit.Worker:
        worker = jobkit.Worker(real_settings, jobkit.WorkerOptions(log_jobs=False, **options))
        started.append(worker)
        return worker

    yield make
    for worker in started:
        worker.stop(timeout=1)


def test_a_plain_lpush_wakes_an_idle_worker_without_polling(
    real_settings: jobkit.Settings, make_worker: Callable[..., jobkit.Worker]
) -> None:
    worker = make_worker(concurrency=2)
    fetches = 0
    real_fetch = worker.fetcher._fetch

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal fetches
        fetches += 1
        return real_fetch(*args, **kwargs)

    worker.fetcher._fetch = counted  # type: ignore[assignment]
    worker.start()
    wait_for(lambda: blocked(worker))
    before = fetches
    time.sleep(0.5)  # ten polling periods of the old 50 ms idle_wait
    assert fetches == before, f"an idle worker called the fetch script {fetches - before}x"
    r = jobkit.get_client().redis
    keys = Keys(real_settings.namespace)
    pipe = r.pipeline(transaction=True)
    pipe.sadd(keys.queues, "default")
    pipe.lpush(keys.queue("default"), sidekiq_payload("default", "ruby"))
    pipe.execute()
    wait_for(lambda: worker.processed == 1)
    assert order == ["ruby"]
    assert worker.exchanger.wakeups == 1
    wait_for(lambda: blocked(worker))  # and it waits again
    assert r.llen(keys.queue("default")) == 0


def _push_both(real_settings: jobkit.Settings, queues: dict[str, int]) -> None:
    """Push ``count`` jobs per queue in one MULTI, so every blocked queue wakes at once."""
    r = jobkit.get_client().redis
    keys = Keys(real_settings.namespace)
    pipe = r.pipeline(transaction=True)
    for queue, count in queues.items():
        pipe.sadd(keys.queues, queue)
        pipe.lpush(keys.queue(queue), *[sidekiq_payload(queue, queue) for _ in range(count)])
    pipe.execute()


def test_strict_order_holds_for_jobs_pushed_onto_an_idle_worker(
    real_settings: jobkit.Settings, make_worker: Callable[..., jobkit.Worker]
) -> None:
    worker = make_worker(queues=(("high", 1), ("low", 1)), strict=True, concurrency=1)
    worker.start()
    wait_for(lambda: blocked(worker))
    # "low" first: its waker may move a low job before the high ones exist.
    _push_both(real_settings, {"low": 10, "high": 10})
    wait_for(lambda: worker.processed == 20)
    assert order == ["high"] * 10 + ["low"] * 10
    assert worker.exchanger.wakeups >= 1


def test_weighted_order_holds_for_jobs_pushed_onto_an_idle_worker(
    real_settings: jobkit.Settings, make_worker: Callable[..., jobkit.Worker]
) -> None:
    worker = make_worker(queues=(("heavy", 3), ("light", 1)), concurrency=1, prefetch=0)
    worker.fetcher.rng = random.Random(7)
    worker.start()
    wait_for(lambda: blocked(worker))
    _push_both(real_settings, {"heavy": 100, "light": 100})
    wait_for(lambda: worker.processed == 200, 60)
    first = order[:80]
    # 3:1 expects 60 of the first 80 from "heavy" (sigma 3.9); 1:1 would give 40.
    assert first.count("heavy") >= 45, first
    assert first.count("light") >= 1, first


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _commands(r: redis.Redis) -> dict[str, int]:
    stats = r.info("commandstats")
    return {name: int(v["calls"]) for name, v in stats.items()
            if name not in ("cmdstat_info", "cmdstat_config|resetstat")}


def test_an_idle_worker_sends_at_most_one_command_per_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every period runs ten times faster here (heartbeat 0.5 s, due-job polls 0.5 s on
    average, recovery 1.5 s, blocking commands 2.5 s), so the budget is ten commands per
    second of the window: the same count per period as one per second at the defaults."""
    binary = require_binary("redis-server", "apt-get install redis-server")
    port = _free_port()
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        r = redis.Redis(port=port)
        wait_for(lambda: _ping(r))
        monkeypatch.setattr(blocking, "BLOCK_SECONDS", 2.5)
        settings = jobkit.Settings(redis_url=f"redis://127.0.0.1:{port}/0", namespace="idle",
                                   heartbeat_interval=0.5, poll_interval=0.5,
                                   recovery_timeout=3.0)
        worker = jobkit.Worker(settings, jobkit.WorkerOptions(log_jobs=False))
        worker.start()
        try:
            wait_for(lambda: blocked(worker))
            time.sleep(1.0)  # past start-up's one-off commands
            r.config_resetstat()
            window = 6.0  # one minute at the default periods
            time.sleep(window)
            counts = _commands(r)
        finally:
            worker.stop(timeout=1)
        total = sum(counts.values())
        assert counts.get("cmdstat_blmove", 0) >= 1, counts
        assert "cmdstat_evalsha" not in counts, f"the idle worker polled its queues: {counts}"
        assert total <= 10 * window, f"{total} commands in {window}s scaled x10: {counts}"
    finally:
        server.kill()
        server.wait(10)


def _ping(r: redis.Redis) -> bool:
    try:
        return bool(r.ping())
    except redis.ConnectionError:
        return False


def _blocked_ids(r: redis.Redis) -> set[int]:
    """Clients blocked in BLMOVE now (``cmd`` alone names the last command, done or not)."""
    return {int(c["id"]) for c in r.client_list()
            if c.get("cmd") == "blmove" and "b" in c.get("flags", "")}


def test_quiesce_stops_a_wait_on_a_connection_that_redis_py_reopened(
    real_settings: jobkit.Settings,
) -> None:
    """redis-py reopens a dropped connection on its next command, with a new client id;
    CLIENT UNBLOCK on the old id does nothing, and a quiesce waited out the whole block
    (25 s), so the exchanger could not reconcile."""
    r = jobkit.get_client().redis
    source = f"{real_settings.namespace}:blocker-source"
    blocker = blocking.Blocker(
        blocking.blocking_client(r), r,
        lambda c, t: c.blmove(source, f"{source}:to", t),  # type: ignore[arg-type, unused-ignore]
        lambda reply: None, name="test-waker")
    blocker.start(armed=True)
    try:
        wait_for(lambda: blocker._client_id in _blocked_ids(r))
        assert blocker.quiesce()
        # Dropped while idle, as a pool's disconnect() drops it: nothing tells the Blocker.
        blocker.client.connection.disconnect()  # type: ignore[union-attr]
        before = set(_blocked_ids(r))
        blocker.arm()
        wait_for(lambda: bool(_blocked_ids(r) - before))
        started = time.monotonic()
        assert blocker.quiesce(timeout=2.0), "the reopened connection's wait was not stopped"
        assert time.monotonic() - started < 1.0
        assert not _blocked_ids(r) - before
    finally:
        blocker.stop(timeout=1)


def test_a_job_left_in_an_idle_workers_list_by_a_lost_reply_runs(
    real_settings: jobkit.Settings, make_worker: Callable[..., jobkit.Worker]
) -> None:
    """A blocking move whose reply is lost leaves the job in the worker's in-progress list
    while the worker goes on living (no other process recovers it): the waker's error must
    make the exchanger reconcile, even while it waits idle."""
    worker = make_worker(concurrency=2)
    worker.start()
    wait_for(lambda: blocked(worker))
    r = jobkit.get_client().redis
    (waker,) = worker._wakers
    # In flight is not yet connected: wait for its BLMOVE to be blocked in Redis.
    wait_for(lambda: waker._client_id in _blocked_ids(r))
    # What the move did before the connection broke: the job is in our list, unannounced.
    r.lpush(worker.fetcher.inprogress("default"), sidekiq_payload("default", "stranded"))
    r.client_kill_filter(_id=waker._client_id)
    wait_for(lambda: order == ["stranded"], timeout=10)
    wait_for(lambda: r.llen(worker.fetcher.inprogress("default")) == 0)
