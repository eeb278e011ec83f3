"""Client middleware around outbox jobs, on real PostgreSQL, MariaDB and SQLite: ``enqueue``
runs at the call, ``after_push`` runs when the relay has the job in Redis, as for a push."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

import jobkit
from jobkit.middleware import ClientMiddleware
from jobkit.outbox.relay import Relay
from tests.outbox.databases import Database
from tests.outbox.jobs import ChargeOrderJob, UniqueChargeJob, queued, scheduled, wait_for

ROOT = Path(__file__).resolve().parents[2]


class Recorder(ClientMiddleware):
    """Counts what a metrics middleware would: jobs enqueued, jobs pushed."""

    def __init__(self) -> None:
        self.enqueued: list[str] = []
        self.pushed: list[dict[str, Any]] = []

    def enqueue(self, payload: dict[str, Any],
                call_next: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Any:
        self.enqueued.append(payload["jid"])
        return call_next(payload)

    def after_push(self, payload: dict[str, Any]) -> None:
        self.pushed.append(payload)


class Failing(ClientMiddleware):
    def after_push(self, payload: dict[str, Any]) -> None:
        raise RuntimeError(f"metrics backend down for {payload['jid']}")


def _with(settings: jobkit.Settings, *middleware: ClientMiddleware) -> jobkit.Settings:
    return jobkit.configure(settings.replace(client_middleware=middleware))


def _drain(db: Database, settings: jobkit.Settings) -> int:
    with Relay(db.url, jobkit.Client(settings)) as relay:
        return relay.drain()


def test_relayed_jobs_run_after_push_once_they_are_in_redis(
    db: Database, real_settings: jobkit.Settings
) -> None:
    recorder = Recorder()
    settings = _with(real_settings, recorder)
    with Session(db.engine) as session, session.begin():
        now = ChargeOrderJob.set(outbox=session).perform_async(1)
        later = ChargeOrderJob.set(outbox=session).perform_in(3600, 2)
    with Session(db.engine) as session, session.begin():
        ChargeOrderJob.set(outbox=session).perform_async(3)
        session.rollback()
    # enqueue ran at each call, rolled back or not; nothing is in Redis yet.
    assert len(recorder.enqueued) == 3 and recorder.pushed == []
    assert _drain(db, settings) == 2
    assert [p["jid"] for p in recorder.pushed] == [now, later]
    # The payload as it went into Redis: enqueued_at on the queued job, not the scheduled one.
    assert recorder.pushed[0] == queued(settings)[0]
    assert recorder.pushed[1] == scheduled(settings)[0][0]
    assert "enqueued_at" not in recorder.pushed[1]


def test_a_unique_job_refused_at_the_relay_runs_no_after_push(
    db: Database, real_settings: jobkit.Settings
) -> None:
    recorder = Recorder()
    settings = _with(real_settings, recorder)
    with Session(db.engine) as session, session.begin():
        first = UniqueChargeJob.set(outbox=session).perform_async(7)
        UniqueChargeJob.set(outbox=session).perform_async(7)
    assert _drain(db, settings) == 2
    assert [p["jid"] for p in recorder.pushed] == [first]
    assert [p["jid"] for p in queued(settings)] == [first]


def test_a_failing_after_push_is_raised_by_drain_once_the_batch_is_committed(
    db: Database, real_settings: jobkit.Settings
) -> None:
    recorder = Recorder()
    settings = _with(real_settings, Failing(), recorder)
    with Session(db.engine) as session, session.begin():
        jids = ChargeOrderJob.set(outbox=session).perform_bulk([[1], [2]])
    with pytest.raises(RuntimeError, match=f"metrics backend down for {jids[0]}"):
        _drain(db, settings)
    # Every hook ran for every job, and the batch is done: in Redis, gone from the table.
    assert [p["jid"] for p in recorder.pushed] == jids
    assert [p["jid"] for p in queued(settings)] == jids
    assert db.count_outbox() == 0


def test_a_running_relay_logs_a_failing_after_push_and_goes_on(
    db: Database, real_settings: jobkit.Settings, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    settings = _with(real_settings, Failing(), recorder)
    relay = Relay(db.url, jobkit.Client(settings), poll_interval=0.05)
    with caplog.at_level(logging.ERROR, logger="jobkit.outbox"):
        relay.start()
        try:
            for n in (1, 2):
                with Session(db.engine) as session, session.begin():
                    ChargeOrderJob.set(outbox=session).perform_async(n)
                wait_for(lambda n=n: len(recorder.pushed) == n)
        finally:
            relay.stop()
    failed = [r.getMessage() for r in caplog.records if "after_push failed" in r.getMessage()]
    assert [p["jid"] in m for p, m in zip(recorder.pushed, failed, strict=True)] == [True, True]
    assert "RuntimeError: metrics backend down" in failed[0]


@pytest.mark.parametrize("command", ["outbox relay", "worker --outbox-url"])
def test_a_relay_process_runs_the_middleware_its_require_modules_configure(
    db: Database, real_settings: jobkit.Settings, tmp_path: Path, command: str
) -> None:
    marker = tmp_path / "pushed.txt"
    config = tmp_path / "relay_config.py"
    config.write_text(
        "import jobkit\n\n"
        "class Mark(jobkit.ClientMiddleware):\n"
        "    def after_push(self, payload):\n"
        f"        with open({str(marker)!r}, 'a') as f:\n"
        "            f.write(payload['jid'] + '\\n')\n\n"
        "jobkit.configure(jobkit.get_settings().replace(client_middleware=[Mark()]))\n")
    with Session(db.engine) as session, session.begin():
        jids = ChargeOrderJob.set(outbox=session).perform_bulk([[1], [2]])
    where = (["outbox", "relay", "--database-url", db.url, "--poll-interval", "0.1"]
             if command == "outbox relay" else
             # A queue the jobs are not on: this worker only relays them.
             ["worker", "-q", "elsewhere", "--outbox-url", db.url,
              "--outbox-poll-interval", "0.1"])
    relay = subprocess.Popen(
        [sys.executable, "-m", "jobkit", *where, "-r", str(config),
         "--redis-url", real_settings.redis_url, "--namespace", real_settings.namespace],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: marker.exists() and len(marker.read_text().split()) == 2)
    finally:
        relay.terminate()
        _, err = relay.communicate(timeout=30)
    assert marker.read_text().split() == jids
    assert relay.returncode == 0, err.decode()
    assert [p["jid"] for p in queued(real_settings)] == jids
