"""Real Sidekiq 6.4 (Ruby) and jobkit on one Redis: Ruby enqueues and jobkit runs; Sidekiq's
API reads jobkit's queues, sets, processes and stats; Sidekiq's retry moves jobkit's jobs back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import jobkit
from jobkit.keys import Keys

from .conftest import Sidekiq, fail_into_retry_set, kill_into_dead_set, make_healthy, ran, stored
from .interop_jobs import DoomedJob, FlakyJob, ProcessOrderJob, SlowJob

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]
KEYS = Keys("")


def test_sidekiq_version_is_the_one_debian_packages(sidekiq: Sidekiq) -> None:
    assert sidekiq.version.startswith("6."), sidekiq.version


# -- Ruby enqueues, jobkit runs --------------------------------------------------------


def test_job_pushed_by_ruby_client_is_run_by_jobkit(
    sidekiq: Sidekiq, worker: Callable[..., jobkit.Worker]
) -> None:
    jid = sidekiq.push("ProcessOrderJob", [42])
    [payload] = stored(KEYS.queue("default"))
    assert payload["jid"] == jid and isinstance(payload["created_at"], float)
    outcome = worker().process_one()
    assert outcome is not None and outcome.status == "done", outcome
    assert ran() == [{"class": "ProcessOrderJob", "jid": jid, "args": [42],
                      "retry_count": None}]
    snap = sidekiq.snapshot()
    assert snap["stats"]["processed"] == 1 and snap["stats"]["failed"] == 0
    assert snap["queues"]["default"]["size"] == 0


def test_job_pushed_by_ruby_to_a_named_queue_is_run_by_a_jobkit_worker_of_that_queue(
    sidekiq: Sidekiq, worker: Callable[..., jobkit.Worker]
) -> None:
    jid = sidekiq.push("ProcessOrderJob", [7, {"rush": True}, ["gift"]], "critical")
    assert worker("default").process_one() is None
    outcome = worker("critical", "default").process_one()
    assert outcome is not None and outcome.status == "done", outcome
    assert ran()[0]["jid"] == jid and ran()[0]["args"] == [7, {"rush": True}, ["gift"]]


def test_job_scheduled_by_ruby_client_is_moved_and_run_by_jobkit(
    sidekiq: Sidekiq, worker: Callable[..., jobkit.Worker]
) -> None:
    pushed = sidekiq.run("push_in", "120", "ProcessOrderJob", "[43]")
    [scheduled] = sidekiq.snapshot()["scheduled"]
    assert scheduled["jid"] == pushed["jid"]
    assert scheduled["at"] == pytest.approx(pushed["at"], abs=1e-3)
    w = worker()
    assert w.scheduler.enqueue_due() == 0, "moved before it was due"
    assert w.scheduler.enqueue_due(now=pushed["at"] + 1) == 1
    outcome = w.process_one()
    assert outcome is not None and outcome.status == "done", outcome
    assert ran()[0]["jid"] == pushed["jid"] and ran()[0]["args"] == [43]


# -- jobkit writes, Sidekiq's API reads ------------------------------------------------


def test_jobkit_enqueued_job_reads_in_sidekiq_queue(sidekiq: Sidekiq) -> None:
    before = time.time()
    jid = ProcessOrderJob.perform_async(42, "express")
    [payload] = stored(KEYS.queue("default"))
    snap = sidekiq.snapshot()
    [job] = snap["queues"]["default"]["jobs"]
    assert job["class"] == job["display_class"] == "ProcessOrderJob"
    assert job["args"] == job["display_args"] == [42, "express"]
    assert job["jid"] == jid and job["queue"] == "default"
    assert job["enqueued_at"] == pytest.approx(payload["enqueued_at"], abs=1e-3)
    assert job["created_at"] == pytest.approx(payload["created_at"], abs=1e-3)
    assert before - 1 <= job["enqueued_at"] <= time.time() + 1
    assert 0 <= job["latency"] < 60
    assert snap["stats"]["enqueued"] == 1 and snap["stats"]["queues"] == {"default": 1}


def test_jobkit_scheduled_job_reads_in_sidekiq_scheduled_set(sidekiq: Sidekiq) -> None:
    before = time.time()
    jid = ProcessOrderJob.perform_in(300, 9)
    [job] = sidekiq.snapshot()["scheduled"]
    assert job["class"] == "ProcessOrderJob" and job["args"] == [9] and job["jid"] == jid
    assert before + 299 <= job["at"] <= time.time() + 301
    assert before - 1 <= job["created_at"] <= time.time() + 1
    assert job["enqueued_at"] is None and "at" not in job["item"]
    assert job["error?"] is False


def test_jobkit_retried_job_reads_in_sidekiq_retry_set(
    sidekiq: Sidekiq, worker: Callable[..., jobkit.Worker]
) -> None:
    before = time.time()
    jid = fail_into_retry_set(worker, 5, "eu")
    snap = sidekiq.snapshot()
    [job] = snap["retries"]
    assert job["class"] == "FlakyJob" and job["args"] == [5, "eu"] and job["jid"] == jid
    assert job["error?"] is True and job["error_class"] == "RuntimeError"
    assert job["error_message"] == "upstream unavailable for (5, 'eu')"
    assert job["retry_count"] == 0
    assert before - 1 <= job["failed_at"] <= time.time() + 1
    # Sidekiq's backoff for the first retry: 15 s + rand(10) * 1.
    assert job["failed_at"] + 14 <= job["at"] <= job["failed_at"] + 26
    backtrace = job["error_backtrace"]
    assert isinstance(backtrace, list) and 0 < len(backtrace) <= 5
    assert "upstream unavailable" in "".join(backtrace)
    assert snap["stats"]["retry_size"] == 1
    assert snap["stats"]["processed"] == 1 and snap["stats"]["failed"] == 1


def test_jobkit_killed_job_reads_in_sidekiq_dead_set(
    sidekiq: Sidekiq, worker: Callable[..., jobkit.Worker]
) -> None:
    before = time.time()
    jid = kill_into_dead_set(worker, "order-77")
    snap = sidekiq.snapshot()
    assert snap["retries"] == []
    [job] = snap["dead"]
    assert job["class"] == "DoomedJob" and job["args"] == ["order-77"] and job["jid"] == jid
    assert job["error_class"] == "ValueError"
    assert job["error_message"] == "record ('order-77',) is corrupt"
    assert job["retry_count"] == 1
    assert before - 1 <= job["failed_at"] <= job["at"] <= time.time() + 1
    assert isinstance(job["item"]["retried_at"], float)
    assert snap["stats"]["dead_size"] == 1 and snap["stats"]["failed"] == 2


def test_jobkit_invalid_payload_in_dead_set_is_readable_by_sidekiq(
    sidekiq: Sidekiq, worker: Callable[..., jobkit.Worker]
) -> None:
    r = jobkit.get_client().redis
    r.sadd(KEYS.queues, "default")
    r.lpush(KEYS.queue("default"), b"{not json", b'{"class":"os.system","args":["true"],'
            b'"jid":"0123456789abcdef01234567","queue":"default"}')
    w = worker()
    assert [w.process_one().status for _ in range(2)] == ["invalid", "invalid"]  # type: ignore[union-attr]
    dead = sidekiq.snapshot()["dead"]
    by_class = {job["class"]: job for job in dead}
    assert set(by_class) == {"os.system", "jobkit.InvalidPayload"}
    assert by_class["jobkit.InvalidPayload"]["args"] == ["{not json"]
    assert by_class["os.system"]["jid"] == "0123456789abcdef01234567"
    for job in dead:
        assert job["error_message"] and job["error_class"] and job["failed_at"]


def test_running_jobkit_worker_shows_in_sidekiq_process_set_and_workers(
    sidekiq: Sidekiq, tmp_path: Path
) -> None:
    r = jobkit.get_client().redis
    jid = SlowJob.perform_async("busy-token", 30.0)
    env = {**os.environ, "JOBKIT_REDIS_URL": sidekiq.url, "JOBKIT_NAMESPACE": "",
           "JOBKIT_HEARTBEAT_INTERVAL": "0.3", "JOBKIT_RECOVERY_TIMEOUT": "2"}
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobkit", "--log-level", "WARNING", "worker",
             "-r", "tests.interop.interop_jobs", "-c", "3", "-q", "default,2", "-q", "low",
             "--tag", "interop", "--timeout", "0.5"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not r.sismember("interop:started", "busy-token"):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        # A heartbeat after the job started shows the busy thread.
        snap = sidekiq.snapshot()
        while not (snap["workers"] and snap["processes"][0]["busy"] == 1):
            assert time.monotonic() < deadline, snap
            snap = sidekiq.snapshot()
        [process] = snap["processes"]
        assert process["pid"] == proc.pid and process["busy"] == 1
        assert process["concurrency"] == 3 and process["queues"] == ["default", "low"]
        assert process["tag"] == "interop" and process["stopping?"] is False
        assert time.time() - process["beat"] < 5
        assert snap["stats"]["processes_size"] == 1 and snap["stats"]["workers_size"] == 1
        [work] = snap["workers"]
        assert work["process_id"] == process["identity"] and work["queue"] == "default"
        assert work["payload"]["class"] == "SlowJob" and work["payload"]["jid"] == jid
        assert work["payload"]["args"] == ["busy-token", 30.0]
        assert abs(work["run_at"] - time.time()) < 10

        # The Web UI's "Quiet" and "Stop" buttons reach the jobkit worker.
        sidekiq.run("signal", "quiet")
        deadline = time.monotonic() + 10
        while not sidekiq.snapshot()["processes"][0]["stopping?"]:
            assert time.monotonic() < deadline, "Process#quiet! was not reflected"
            time.sleep(0.2)
        sidekiq.run("signal", "stop")
        assert proc.wait(20) == 0, log.read_text()
        # Stopped mid-job: the job went back to its queue, where Sidekiq sees it.
        snap = sidekiq.snapshot()
        assert snap["processes"] == [] and snap["workers"] == []
        assert [job["jid"] for job in snap["queues"]["default"]["jobs"]] == [jid]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)


# -- Sidekiq moves jobkit's jobs back; jobkit runs them -----------------------------------


# Sidekiq's SortedEntry#retry (RetrySet#retry_all, the Web UI's "Retry now") decrements
# retry_count before pushing, so a job that failed once comes back with retry_count=-1.
@pytest.mark.parametrize("how", ["retry_all", "retry_each"])
def test_sidekiq_retry_of_a_jobkit_retry_runs_the_job_in_jobkit(
    sidekiq: Sidekiq, worker: Callable[..., jobkit.Worker], how: str
) -> None:
    jid = fail_into_retry_set(worker, 11, {"sku": "A-1"})
    make_healthy()
    sidekiq.run(how, "retry")
    snap = sidekiq.snapshot()
    assert snap["retries"] == []
    [queued] = snap["queues"]["default"]["jobs"]
    assert queued["jid"] == jid and queued["args"] == [11, {"sku": "A-1"}]
    outcome = worker().process_one()
    assert outcome is not None and outcome.status == "done", (outcome, outcome and outcome.exc)
    [run] = ran()
    assert run["jid"] == jid and run["args"] == [11, {"sku": "A-1"}]


@pytest.mark.parametrize("how", ["retry_all", "retry_each"])
def test_sidekiq_retry_of_a_jobkit_dead_job_runs_the_job_in_jobkit(
    sidekiq: Sidekiq, worker: Callable[..., jobkit.Worker], how: str
) -> None:
    jid = kill_into_dead_set(worker, "order-78")
    make_healthy()
    sidekiq.run(how, "dead")
    snap = sidekiq.snapshot()
    assert snap["dead"] == []
    [queued] = snap["queues"]["default"]["jobs"]
    assert queued["jid"] == jid and queued["args"] == ["order-78"]
    outcome = worker().process_one()
    assert outcome is not None and outcome.status == "done", (outcome, outcome and outcome.exc)
    [run] = ran()
    assert run["jid"] == jid and run["args"] == ["order-78"] and run["retry_count"] == 0


def test_sidekiq_add_to_queue_of_a_jobkit_scheduled_job_runs_it_in_jobkit(
    sidekiq: Sidekiq, worker: Callable[..., jobkit.Worker]
) -> None:
    jid = ProcessOrderJob.perform_in(3600, 99)
    sidekiq.run("add_to_queue")
    outcome = worker().process_one()
    assert outcome is not None and outcome.status == "done", outcome
    assert ran()[0]["jid"] == jid and ran()[0]["args"] == [99]


# -- counters ------------------------------------------------------------------------------


def test_sidekiq_stats_match_jobkit_counters(sidekiq: Sidekiq, tmp_path: Path) -> None:
    for i in range(5):
        ProcessOrderJob.perform_async(i)
    FlakyJob.perform_async("a")
    FlakyJob.perform_async("b")
    DoomedJob.set(retry=False).perform_async("c")
    ProcessOrderJob.perform_in(600, 100)
    settings = jobkit.get_settings()
    w = jobkit.Worker(settings, jobkit.WorkerOptions(concurrency=2, log_jobs=False))
    w.start()
    try:
        deadline = time.monotonic() + 20
        while w.processed < 8:
            assert time.monotonic() < deadline, (w.processed, w.failed)
            time.sleep(0.05)
    finally:
        w.stop(timeout=5)
        w.redis.close()
    assert (w.processed, w.failed, w.retried, w.dead) == (8, 3, 2, 1)
    snap = sidekiq.snapshot()
    stats = snap["stats"]
    assert (stats["processed"], stats["failed"]) == (w.processed, w.failed)
    assert (stats["retry_size"], stats["dead_size"], stats["scheduled_size"]) == (2, 1, 1)
    assert stats["enqueued"] == 0 and stats["processes_size"] == 0
    day = time.strftime("%Y-%m-%d", time.gmtime())
    assert snap["history"]["processed"] == {day: 8}
    assert snap["history"]["failed"] == {day: 3}


# -- the Web UI renders jobkit's data ------------------------------------------------------


def test_sidekiq_web_ui_renders_jobkit_queues_and_sets(
    sidekiq: Sidekiq, worker: Callable[..., jobkit.Worker]
) -> None:
    dead = kill_into_dead_set(worker, 4)
    retried = fail_into_retry_set(worker, 3)
    queued = ProcessOrderJob.perform_async(1)
    scheduled = ProcessOrderJob.perform_in(600, 2)
    snap = sidekiq.snapshot()
    [retry_entry], [dead_entry] = snap["retries"], snap["dead"]
    retry_page = f"/retries/{retry_entry['score']}-{retried}"
    dead_page = f"/morgue/{dead_entry['score']}-{dead}"
    paths = ["/", "/queues", "/queues/default", "/scheduled", "/retries", "/morgue", "/busy",
             retry_page, dead_page]
    pages = sidekiq.run("web", *paths)
    for path in paths:
        assert pages[path]["status"] == 200, (path, pages[path]["body"][-2000:])
    assert queued in pages["/queues/default"]["body"]
    assert scheduled in pages["/scheduled"]["body"]
    assert retried in pages["/retries"]["body"] and "RuntimeError" in pages[retry_page]["body"]
    assert dead in pages["/morgue"]["body"] and "ValueError" in pages[dead_page]["body"]


@pytest.mark.parametrize("field, value", [("created_at", "yesterday"), ("enqueued_at", [1])])
def test_dead_entry_of_a_payload_with_a_malformed_time_renders_in_sidekiq_web_ui(
    sidekiq: Sidekiq, worker: Callable[..., jobkit.Worker], field: str, value: Any
) -> None:
    jid = "0123456789abcdef01234567"
    r = jobkit.get_client().redis
    r.sadd(KEYS.queues, "default")
    r.lpush(KEYS.queue("default"), json.dumps({"class": "ProcessOrderJob", "args": [1],
                                               "jid": jid, "queue": "default", field: value}))
    outcome = worker().process_one()
    assert outcome is not None and outcome.status == "invalid", outcome
    [(_, score)] = r.zrange(KEYS.dead, 0, -1, withscores=True)
    page = f"/morgue/{score}-{jid}"
    pages = sidekiq.run("web", "/morgue", page)
    assert pages["/morgue"]["status"] == 200 and pages[page]["status"] == 200
    assert jid in pages[page]["body"] and "PayloadError" in pages[page]["body"]
