"""Paused queues (Sidekiq Pro's ``paused`` set): no worker fetches their jobs until resumed,
and ``jobkit queues`` says which are paused — on fakeredis and on the real Redis."""

from __future__ import annotations

import json

import pytest
import redis

import jobkit
from jobkit.api import Admin
from jobkit.cli import main
from jobkit.errors import JobDefinitionError
from jobkit.keys import Keys

from .test_worker import wait_for

ran: list[int] = []


class Ship(jobkit.Job):
    name = "pause_test.Ship"
    queue = "shipping"

    def perform(self, order_id: int) -> None:
        ran.append(order_id)


class Bill(jobkit.Job):
    name = "pause_test.Bill"
    queue = "billing"

    def perform(self, order_id: int) -> None:
        ran.append(-order_id)


def _worker(settings: jobkit.Settings) -> jobkit.Worker:
    return jobkit.Worker(settings, jobkit.WorkerOptions(
        queues=(("shipping", 1), ("billing", 1)), log_jobs=False, concurrency=2))


def test_a_paused_queue_is_not_fetched_and_resuming_lets_its_jobs_run(
        settings: jobkit.Settings) -> None:
    ran.clear()
    admin = Admin(settings)
    assert admin.pause_queue("shipping") is True
    assert admin.pause_queue("shipping") is False
    Ship.perform_async(1)
    Bill.perform_async(2)
    worker = _worker(settings)
    outcomes = [worker.process_one() for _ in range(3)]
    assert [o.status if o else None for o in outcomes] == ["done", None, None]
    assert ran == [-2]
    shipping = admin.queues()[1]
    assert (shipping["name"], shipping["size"], shipping["paused"]) == ("shipping", 1, True)
    assert admin.paused_queues() == ["shipping"]
    assert admin.resume_queue("shipping") is True
    assert admin.resume_queue("shipping") is False
    outcome = worker.process_one()
    assert outcome is not None and outcome.status == "done"
    assert ran == [-2, 1]


def test_a_running_worker_stops_taking_a_queue_once_it_is_paused(
        settings: jobkit.Settings, r: redis.Redis) -> None:
    ran.clear()
    admin = Admin(settings)
    worker = _worker(settings)
    worker.start()
    try:
        Ship.perform_async(1)
        wait_for(lambda: ran == [1])
        admin.pause_queue("shipping")
        for n in range(2, 6):
            Ship.perform_async(n)
        Bill.perform_async(9)
        wait_for(lambda: -9 in ran)
        # A job the idle worker's blocked BLMOVE took just as the queue was paused goes back
        # to the queue a round trip later: wait for all four to be there, none of them run.
        shipping = Keys(settings.namespace).queue("shipping")
        wait_for(lambda: r.llen(shipping) == 4)
        assert ran == [1, -9]
        admin.resume_queue("shipping")
        wait_for(lambda: len(ran) == 6)
        assert sorted(ran[2:]) == [2, 3, 4, 5]
    finally:
        worker.stop(timeout=5)


def test_jobkit_queues_shows_which_queues_are_paused(
        settings: jobkit.Settings, capsys: pytest.CaptureFixture[str]) -> None:
    Ship.perform_async(1)
    Bill.perform_async(2)
    Admin(settings).pause_queue("billing")
    args = ["--redis-url", settings.redis_url, "--namespace", settings.namespace]
    assert main(["queues", *args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["name"]: row["paused"] for row in rows} == {"billing": True, "shipping": False}
    assert main(["queues", *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["queue", "size", "latency", "state"]
    assert lines[1].split()[::3] == ["billing", "paused"]
    assert lines[2].split()[::3] == ["shipping", "-"]


def test_pausing_a_bad_queue_name_is_refused_naming_it(settings: jobkit.Settings) -> None:
    with pytest.raises(JobDefinitionError, match="queue='has space'"):
        Admin(settings).pause_queue("has space")
