"""Enqueueing through the real client: Sidekiq's keys and payload fields, on both backends."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import redis

import jobkit
from jobkit.keys import Keys

performed: list[tuple[str, list[object]]] = []


class ProcessOrderJob(jobkit.Job):
    name = "enqueue_test.ProcessOrderJob"
    queue = "critical"
    retry = 3

    def perform(self, order_id: int) -> None:
        performed.append((self.jid, [order_id]))


@jobkit.job(queue="mailers", retry=5)
def send_welcome(user_id: int) -> None:
    performed.append(("fn", [user_id]))


def _worker(settings: jobkit.Settings, *queues: str) -> jobkit.Worker:
    return jobkit.Worker(settings, jobkit.WorkerOptions(
        queues=tuple((q, 1) for q in queues), strict=True, log_jobs=False))


def test_perform_async_pushes_sidekiq_json_onto_the_queue(settings: jobkit.Settings,
                                                          r: redis.Redis) -> None:
    before = time.time()
    jid = ProcessOrderJob.perform_async(42)
    keys = Keys(settings.namespace)
    assert r.smembers(keys.queues) == {b"critical"}
    [raw] = r.lrange(keys.queue("critical"), 0, -1)
    job = json.loads(raw)
    assert job["class"] == "enqueue_test.ProcessOrderJob"
    assert job["args"] == [42]
    assert job["jid"] == jid and len(jid) == 24
    assert job["queue"] == "critical" and job["retry"] == 3
    assert before <= job["created_at"] <= job["enqueued_at"] <= time.time()
    assert b'"created_at":' in raw and isinstance(job["created_at"], float)
    assert "at" not in job


def test_round_trip_runs_both_job_styles(settings: jobkit.Settings) -> None:
    performed.clear()
    jid = ProcessOrderJob.perform_async(7)
    send_welcome.perform_async(9)
    worker = _worker(settings, "critical", "mailers")
    outcomes = [worker.process_one(), worker.process_one(), worker.process_one()]
    assert [o.status for o in outcomes if o] == ["done", "done"]
    assert outcomes[2] is None
    assert performed == [(jid, [7]), ("fn", [9])]


def test_queue_is_fifo(settings: jobkit.Settings) -> None:
    performed.clear()
    for i in range(5):
        ProcessOrderJob.perform_async(i)
    worker = _worker(settings, "critical")
    while worker.process_one():
        pass
    assert [args for _, args in performed] == [[0], [1], [2], [3], [4]]


def test_perform_in_and_at_write_the_schedule_set_without_at(settings: jobkit.Settings,
                                                              r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    before = time.time()
    ProcessOrderJob.perform_in(dt.timedelta(minutes=5), 1)
    ProcessOrderJob.perform_in(60, 2)
    ProcessOrderJob.perform_at(dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc), 3)
    entries = r.zrange(keys.schedule, 0, -1, withscores=True)
    scores = {json.loads(m)["args"][0]: s for m, s in entries}
    assert before + 300 <= scores[1] <= time.time() + 300
    assert before + 60 <= scores[2] <= time.time() + 60
    assert scores[3] == dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    assert all("at" not in json.loads(m) and "enqueued_at" not in json.loads(m)
               for m, _ in entries)
    assert r.llen(keys.queue("critical")) == 0


def test_perform_in_the_past_enqueues_now(settings: jobkit.Settings, r: redis.Redis) -> None:
    ProcessOrderJob.perform_in(-5, 1)
    assert r.llen(Keys(settings.namespace).queue("critical")) == 1


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (dt.datetime(2030, 1, 1), "naive datetime"),
        ("tomorrow", "timezone-aware datetime or epoch seconds"),
        (float("nan"), "timezone-aware datetime"),
    ],
)
def test_bad_run_time_is_rejected(settings: jobkit.Settings, when: object, message: str) -> None:
    with pytest.raises(jobkit.ScheduleError, match=message):
        ProcessOrderJob.perform_at(when, 1)


def test_bad_delay_is_rejected(settings: jobkit.Settings) -> None:
    with pytest.raises(jobkit.ScheduleError, match="interval='5m'"):
        ProcessOrderJob.perform_in("5m", 1)


def test_set_overrides_queue_and_retry_for_one_call(settings: jobkit.Settings,
                                                    r: redis.Redis) -> None:
    ProcessOrderJob.set(queue="low", retry=5).perform_async(42)
    [raw] = r.lrange(Keys(settings.namespace).queue("low"), 0, -1)
    job = json.loads(raw)
    assert (job["queue"], job["retry"]) == ("low", 5)
    assert ProcessOrderJob.options().queue == "critical"


def test_perform_bulk_returns_jids_in_order_and_keeps_fifo(settings: jobkit.Settings,
                                                           r: redis.Redis) -> None:
    jids = ProcessOrderJob.perform_bulk([[i] for i in range(2500)], batch_size=1000)
    assert len(set(jids)) == 2500
    raws = r.lrange(Keys(settings.namespace).queue("critical"), 0, -1)
    oldest_first = [json.loads(x) for x in reversed(raws)]
    assert [j["jid"] for j in oldest_first] == jids
    assert [j["args"] for j in oldest_first[:3]] == [[0], [1], [2]]


def test_perform_bulk_names_the_bad_element(settings: jobkit.Settings) -> None:
    with pytest.raises(jobkit.ArgumentError, match=r"args_list\[1\]: args\[0\]=\{1, 2\}"):
        ProcessOrderJob.perform_bulk([[1], [{1, 2}]])  # noqa: JK102
    with pytest.raises(jobkit.ArgumentError, match=r"args_list\[0\]=5 must be a list"):
        ProcessOrderJob.perform_bulk([5])  # type: ignore[list-item]
    with pytest.raises(jobkit.ArgumentError, match="batch_size=0"):
        ProcessOrderJob.perform_bulk([[1]], batch_size=0)


def test_rejected_arguments_enqueue_nothing(settings: jobkit.Settings, r: redis.Redis) -> None:
    with pytest.raises(jobkit.ArgumentError):
        ProcessOrderJob.perform_async(dt.datetime.now())  # noqa: JK102
    assert r.llen(Keys(settings.namespace).queue("critical")) == 0


def test_namespace_prefixes_every_key(settings: jobkit.Settings, r: redis.Redis) -> None:
    ProcessOrderJob.perform_async(1)
    ProcessOrderJob.perform_in(60, 1)
    keys = sorted(k.decode() for k in r.scan_iter(match=f"{settings.namespace}:*"))
    assert keys == [f"{settings.namespace}:{k}" for k in ("queue:critical", "queues",
                                                         "schedule")]


class Tagger(jobkit.ClientMiddleware):
    def enqueue(self, payload, call_next):  # type: ignore[no-untyped-def]
        if payload["args"] == [13]:
            return None
        payload["tags"] = ["tagged"]
        return call_next(payload)


def test_client_middleware_can_change_or_drop_the_payload(settings: jobkit.Settings,
                                                          r: redis.Redis) -> None:
    jobkit.configure(client_middleware=[Tagger()])
    assert ProcessOrderJob.perform_async(13) is None
    assert ProcessOrderJob.perform_async(12)
    [raw] = r.lrange(Keys(settings.namespace).queue("critical"), 0, -1)
    assert json.loads(raw)["tags"] == ["tagged"]


class PushLog(jobkit.ClientMiddleware):
    def __init__(self) -> None:
        self.pushed: list[str] = []

    def after_push(self, payload):  # type: ignore[no-untyped-def]
        self.pushed.append(payload["jid"])


def test_after_push_sees_every_pushed_job_once(settings: jobkit.Settings) -> None:
    log = PushLog()
    jobkit.configure(client_middleware=[log])
    jids = [ProcessOrderJob.perform_async(1), ProcessOrderJob.perform_in(60, 2),
            *ProcessOrderJob.perform_bulk([[3], [4]])]
    assert log.pushed == jids


def test_use_client_installs_a_client_and_its_settings(settings: jobkit.Settings) -> None:
    client = jobkit.Client(settings.replace(namespace=settings.namespace + "-b"))
    assert jobkit.use_client(client) is client.settings
    assert jobkit.get_client() is client


class TaggedJob(jobkit.Job):
    name = "enqueue_test.TaggedJob"
    tags = ("billing", "vip")

    def perform(self, order_id: int) -> None:
        performed.append(("tagged", [order_id]))


def test_tags_option_travels_in_the_payload_and_the_job_runs(settings: jobkit.Settings,
                                                             r: redis.Redis) -> None:
    performed.clear()
    TaggedJob.perform_async(1)
    TaggedJob.set(tags=["audit"]).perform_in(60, 2)
    ProcessOrderJob.perform_async(3)
    keys = Keys(settings.namespace)
    [queued] = [json.loads(raw) for raw in r.lrange(keys.queue("default"), 0, -1)]
    [scheduled] = [json.loads(raw) for raw in r.zrange(keys.schedule, 0, -1)]
    [untagged] = [json.loads(raw) for raw in r.lrange(keys.queue("critical"), 0, -1)]
    assert (queued["tags"], scheduled["tags"]) == (["billing", "vip"], ["audit"])
    assert "tags" not in untagged
    outcome = _worker(settings, "default").process_one()
    assert outcome is not None and outcome.status == "done"
    assert performed == [("tagged", [1])]
