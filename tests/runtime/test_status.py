"""Job status by jid and what is in flight: ``Admin.status``, ``jobkit status``, ``stats``."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

import jobkit
from jobkit.api import Admin
from jobkit.cli import main
from jobkit.errors import ConfigError
from jobkit.heartbeat import Heartbeat
from jobkit.keys import Keys

from .helpers import Clock


class Invoice(jobkit.Job):
    name = "status_test.Invoice"
    retry = 3

    def perform(self, number: int) -> None:
        raise RuntimeError(f"printer jammed on {number}")


def _cli(settings: jobkit.Settings, capsys: pytest.CaptureFixture[str], *argv: str,
         code: int = 0) -> Any:
    got = main([*argv[:1], "--redis-url", settings.redis_url, "--namespace",
                settings.namespace, "--json", *argv[1:]])
    out = capsys.readouterr().out
    assert got == code, out
    return json.loads(out)


def _worker(**options: Any) -> jobkit.Worker:
    return jobkit.Worker(jobkit.get_settings(), jobkit.WorkerOptions(log_jobs=False, **options))


def test_queued_job_reports_its_queue_and_position(settings: jobkit.Settings,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    first = Invoice.perform_async(1)
    second = Invoice.perform_async(2)
    third = Invoice.set(queue="low").perform_async(3)
    admin = Admin(settings)
    assert (admin.status(first).state, admin.status(first).position) == ("queued", 1)
    found = admin.status(second)
    assert (found.queue, found.position, found.args) == ("default", 2, [2])
    assert admin.status(third).queue == "low"
    cli = _cli(settings, capsys, "status", str(second))
    assert cli == {"jid": second, "state": "queued", "class": "status_test.Invoice",
                   "queue": "default", "position": 2, "args": [2]}


def test_position_counts_across_read_chunks(settings: jobkit.Settings, r: redis.Redis,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from jobkit import status

    monkeypatch.setattr(status, "CHUNK", 3)
    jids = [Invoice.perform_async(n) for n in range(8)]
    assert [Admin(settings).status(str(j)).position for j in jids] == list(range(1, 9))


def test_retrying_job_reports_attempt_next_run_and_last_error(
        settings: jobkit.Settings, capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    jobkit.configure(settings.replace(clock=clock))
    jid = Invoice.perform_async(7)
    _worker().process_one()
    found = Admin(jobkit.get_settings()).status(str(jid))
    assert found.state == "retrying" and found.attempt == 1
    assert found.error == "RuntimeError: printer jammed on 7"
    assert found.at is not None and found.at > clock.now
    main(["status", "--redis-url", settings.redis_url, "--namespace", settings.namespace,
          str(jid)])
    out = capsys.readouterr().out
    assert "retrying, attempt 1" in out and "printer jammed on 7" in out


def test_scheduled_dead_and_missing_jobs(settings: jobkit.Settings,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    jobkit.configure(settings.replace(clock=clock))
    later = Invoice.perform_in(600, 1)
    found = Admin(jobkit.get_settings()).status(str(later))
    assert (found.state, found.at) == ("scheduled", clock.now + 600)
    doomed = Invoice.set(retry=0).perform_async(2)
    _worker().process_one()
    dead = Admin(jobkit.get_settings()).status(str(doomed))
    assert (dead.state, dead.attempt) == ("dead", 0)
    assert dead.error == "RuntimeError: printer jammed on 2"
    assert _cli(settings, capsys, "status", "abc123", code=1) == {"jid": "abc123",
                                                                  "state": "not_found"}


def test_a_jid_that_is_not_hex_is_a_clear_error(settings: jobkit.Settings) -> None:
    with pytest.raises(ConfigError, match=r"jid='not a jid' is not a job id"):
        Admin(settings).status("not a jid")


def test_running_job_reports_its_process_and_start(settings: jobkit.Settings,
                                                   r: redis.Redis) -> None:
    jid = Invoice.perform_async(5)
    worker = _worker()
    [(queue, raw)] = worker.fetcher.fetch(1)
    admin = Admin(settings)
    fetched = admin.status(str(jid))
    # Fetched into the process's in-progress list, no thread on it yet.
    assert (fetched.state, fetched.process, fetched.queue) == ("fetched", worker.identity,
                                                               "default")
    assert fetched.process_alive is False
    worker.heartbeat.beat({"tid-1": (queue, raw, 1_800_000_123.0)}, quiet=False)
    running = admin.status(str(jid))
    assert (running.state, running.since, running.process_alive) == (
        "running", 1_800_000_123.0, True)


def test_stats_show_jobs_held_by_a_dead_process_until_recovery(
        settings: jobkit.Settings, r: redis.Redis, capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(17):
        Invoice.perform_async(n)
    victim = _worker()
    victim.heartbeat.alive()
    victim.fetcher.fetch(17)
    stats = Admin(settings).stats()
    assert (stats["in_progress"], stats["enqueued"], stats["unrecovered"]) == (17, 0, [])
    # kill -9: the liveness key is never refreshed again and expires.
    r.delete(Keys(settings.namespace).alive(victim.identity))
    stats = _cli(settings, capsys, "stats")
    assert stats["in_progress"] == 17
    assert stats["unrecovered"] == [{"identity": victim.identity, "jobs": 17, "state": "dead",
                                     "silent_for": None, "recovered_within": 15.0}]
    main(["stats", "--redis-url", settings.redis_url, "--namespace", settings.namespace])
    assert (f"17 in progress on dead process {victim.identity}, recovered within 15 s"
            in capsys.readouterr().out)
    _worker().recovery.run()
    stats = Admin(settings).stats()
    assert (stats["in_progress"], stats["enqueued"], stats["unrecovered"]) == (0, 17, [])


def test_a_process_that_missed_heartbeats_is_reported_silent(settings: jobkit.Settings,
                                                             r: redis.Redis) -> None:
    Invoice.perform_async(1)
    victim = _worker()
    victim.fetcher.fetch(1)
    # The liveness key was last refreshed 20 s ago (it lasts recovery_timeout = 30 s).
    r.set(Keys(settings.namespace).alive(victim.identity), b"1", px=10_000)
    [held] = Admin(settings).in_flight()
    assert (held.state, held.jobs) == ("silent", 1)
    # Time passes between the SET and the PTTL read (seconds on a loaded machine): silence
    # only grows from 20 s, the time to recovery only shrinks from 25 s.
    assert held.silent_for is not None and 20 <= held.silent_for <= 22
    assert held.recovered_within is not None and 23 <= held.recovered_within <= 25


def test_status_reads_sidekiq_7_busy_entries_too(settings: jobkit.Settings,
                                                 r: redis.Redis) -> None:
    jid = Invoice.perform_async(3)
    worker = _worker()
    [(queue, raw)] = worker.fetcher.fetch(1)
    keys = Keys(settings.namespace)
    hb = Heartbeat(r, keys, worker.identity, queues=(("default", 1),), concurrency=1, tag="",
                   liveness_ttl=30, started_at=0.0)
    hb.beat({"t": (queue, raw, 1_800_000_500.0)}, quiet=False)
    r.delete(keys.workers(worker.identity))  # only the 7.x-style "work" hash is left
    assert Admin(settings).status(str(jid)).since == 1_800_000_500.0
