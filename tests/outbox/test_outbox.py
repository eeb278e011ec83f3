"""The transactional outbox on real PostgreSQL, MariaDB and SQLite: rows committed with
the transaction, relayed to Redis, none lost when Redis is away or a relay is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.orm import Session

import jobkit
from jobkit.outbox.relay import Relay, status
from tests.outbox.databases import Database, RedisServer
from tests.outbox.jobs import (
    ChargeOrderJob,
    UniqueChargeJob,
    queued,
    queued_args,
    scheduled,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]


def _relay(db: Database, settings: jobkit.Settings, **kw: Any) -> Relay:
    return Relay(db.url, jobkit.Client(settings), **kw)


def _drain(db: Database, settings: jobkit.Settings, **kw: Any) -> int:
    with _relay(db, settings, **kw) as relay:
        return relay.drain()


def test_outbox_row_is_written_in_the_transaction_and_relayed_with_its_jid(
    db: Database, real_settings: jobkit.Settings
) -> None:
    with Session(db.engine) as session, session.begin():
        session.execute(text("INSERT INTO orders (id, item) VALUES (1, 'book')"))
        jid = ChargeOrderJob.set(outbox=session).perform_async(1)
    with Session(db.engine) as session, session.begin():
        ChargeOrderJob.set(outbox=session).perform_async(2)
        session.rollback()
    assert db.count_outbox() == 1
    assert _drain(db, real_settings) == 1
    assert [(p["jid"], p["args"]) for p in queued(real_settings)] == [(jid, [1])]
    assert "enqueued_at" in queued(real_settings)[0]
    assert db.count_outbox() == 0


def test_outbox_through_a_connection_a_savepoint_bulk_and_a_schedule(
    db: Database, real_settings: jobkit.Settings
) -> None:
    with db.engine.connect() as conn, conn.begin():
        ChargeOrderJob.set(outbox=conn).perform_bulk([[1], [2]])
        savepoint = conn.begin_nested()
        ChargeOrderJob.set(outbox=conn).perform_async(3)
        savepoint.rollback()
        ChargeOrderJob.set(outbox=conn).perform_in(3600, 4)
    assert _drain(db, real_settings) == 3
    assert queued_args(real_settings) == [1, 2]
    assert [p["args"] for p, _ in scheduled(real_settings)] == [[4]]


def test_outbox_with_redis_stopped_at_commit_delivers_every_committed_job(
    db: Database, redis_server: RedisServer
) -> None:
    settings = jobkit.Settings(redis_url=redis_server.url, namespace="down")
    jobkit.configure(settings)
    try:
        redis_server.stop()
        committed = []
        for i in range(20):
            with Session(db.engine) as session, session.begin():
                session.execute(text("INSERT INTO orders (id, item) VALUES (:i, 'x')"),
                                {"i": i})
                committed.append(ChargeOrderJob.set(outbox=session).perform_async(i))
        for i in range(100, 105):
            with Session(db.engine) as session, session.begin():
                ChargeOrderJob.set(outbox=session).perform_async(i)
                session.rollback()
        relay = _relay(db, settings, batch_size=7, poll_interval=0.05)
        relay.start()
        time.sleep(0.3)  # the relay is failing against the stopped Redis meanwhile
        assert db.count_outbox() == 20
        redis_server.start()
        wait_for(lambda: db.count_outbox() == 0)
        relay.stop()
    finally:
        jobkit.configure(jobkit.Settings())
    got = queued(settings)
    assert [p["jid"] for p in got] == committed
    assert [p["args"][0] for p in got] == list(range(20))


def test_two_relays_in_parallel_deliver_each_row_once(
    db: Database, real_settings: jobkit.Settings
) -> None:
    with Session(db.engine) as session, session.begin():
        jids = ChargeOrderJob.set(outbox=session).perform_bulk([[i] for i in range(3000)])
    relays = [_relay(db, real_settings, batch_size=50) for _ in range(2)]
    threads = [threading.Thread(target=lambda r=r: (r.drain(), r.close())) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    counts = Counter(p["jid"] for p in queued(real_settings))
    assert set(counts) == set(jids)
    assert max(counts.values()) == 1
    if db.kind != "sqlite":
        # Both took batches: the row locks let them share the table.
        assert all(r.relayed > 0 for r in relays), [r.relayed for r in relays]
    assert sum(r.relayed for r in relays) == 3000


def test_unique_jobs_stay_unique_through_the_outbox(
    db: Database, real_settings: jobkit.Settings
) -> None:
    with Session(db.engine) as session, session.begin():
        UniqueChargeJob.set(outbox=session).perform_async(1)
        UniqueChargeJob.set(outbox=session).perform_async(1)
    assert _drain(db, real_settings) == 2
    assert len(queued(real_settings)) == 1


def test_relay_sigkilled_mid_batch_loses_nothing_and_repushes_at_most_that_batch(
    db: Database, redis_server: RedisServer
) -> None:
    """The relay is killed holding a batch whose MULTI is already inside Redis (held
    there by DEBUG SLEEP): Redis runs it after the relay died, the database never saw the
    commit, so the rows come back and the next relay pushes them again, same jids."""
    batch, total = 100, 2000
    settings = jobkit.Settings(redis_url=redis_server.url, namespace="kill")
    jobkit.configure(settings)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "jobkit", "outbox", "relay", "--database-url", db.url,
           "--redis-url", redis_server.url, "--namespace", "kill",
           "--batch-size", str(batch), "--poll-interval", "0.05"]
    relay = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = redis.Redis.from_url(redis_server.url)
    queue = jobkit.Client(settings).keys.queue("default")
    sleeper = threading.Thread(target=_sleep_redis, args=(redis_server.url, 6.0))
    try:
        # A first job, so the relay's Redis connection is open before Redis sleeps.
        with Session(db.engine) as session, session.begin():
            first = ChargeOrderJob.set(outbox=session).perform_async(-1)
        wait_for(lambda: r.llen(queue) == 1)
        sleeper.start()
        time.sleep(0.2)
        with Session(db.engine) as session, session.begin():
            jids = ChargeOrderJob.set(outbox=session).perform_bulk(
                [[i] for i in range(total)])
        wait_for(lambda: _locked_by_relay(db) > 0, timeout=5)
        time.sleep(0.3)  # the MULTI is on its way to the sleeping server
        relay.send_signal(signal.SIGKILL)
        relay.wait(10)
    finally:
        if relay.poll() is None:
            relay.kill()
            relay.wait(10)
        if sleeper.is_alive() or sleeper.ident:
            sleeper.join()
        r.close()
        jobkit.configure(jobkit.Settings())
    # The relay could not commit while Redis slept: every row is still there.
    assert db.count_outbox() == total
    with Relay(db.url, jobkit.Client(settings), batch_size=batch) as second:
        assert second.drain() == total
    counts = Counter(p["jid"] for p in queued(settings))
    duplicates = sum(n - 1 for n in counts.values())
    print(f"\nrelay SIGKILLed mid-batch on {db.kind}: {total} jobs, "
          f"{duplicates} delivered twice (batch size {batch})")
    assert set(counts) == {first, *jids}  # nothing lost
    assert duplicates <= batch
    assert all(n <= 2 for n in counts.values())


def _sleep_redis(url: str, seconds: float) -> None:
    client = redis.Redis.from_url(url, socket_timeout=seconds + 30)
    try:
        client.execute_command("DEBUG", "SLEEP", str(seconds))
    finally:
        client.close()


def _locked_by_relay(db: Database) -> int:
    """Rows another connection holds locked (SQLite: 1 if the file's write lock is held)."""
    if db.kind == "sqlite":
        import sqlite3

        conn = sqlite3.connect(db.url.split(":///", 1)[1], timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return 0
        except sqlite3.OperationalError:
            return 1
        finally:
            conn.close()
    with db.engine.connect() as conn:
        total = conn.execute(text("SELECT COUNT(*) FROM jobkit_outbox")).scalar_one()
        free = len(conn.execute(
            text("SELECT id FROM jobkit_outbox FOR UPDATE SKIP LOCKED")).fetchall())
        conn.rollback()
    return int(total) - free


@pytest.mark.parametrize("module_database", ["postgresql"], indirect=True)
def test_idle_relay_on_postgresql_wakes_on_notify_not_on_its_poll(
    db: Database, real_settings: jobkit.Settings
) -> None:
    relay = _relay(db, real_settings, poll_interval=30.0)
    relay.start()
    try:
        wait_for(lambda: relay._listener is not None)
        time.sleep(0.2)  # idle: waiting on the notification now
        with Session(db.engine) as session, session.begin():
            ChargeOrderJob.set(outbox=session).perform_async(1)
        committed = time.monotonic()
        # A 30 s poll cannot explain a pickup within 10 s: the NOTIFY woke the relay.
        wait_for(lambda: queued_args(real_settings) == [1], timeout=10)
        print(f"\npicked up {time.monotonic() - committed:.3f} s after commit")
    finally:
        relay.stop()


def test_status_counts_rows_waiting_and_the_oldest_age(
    db: Database, real_settings: jobkit.Settings
) -> None:
    assert status(db.url) == {"waiting": 0, "oldest_age": None}
    with Session(db.engine) as session, session.begin():
        ChargeOrderJob.set(outbox=session).perform_bulk([[1], [2]])
    found = status(db.url)
    assert found["waiting"] == 2 and 0 <= found["oldest_age"] < 60
    out = _cli("outbox", "status", "--database-url", db.url)
    assert out.returncode == 0 and "2 job(s) waiting; oldest" in out.stdout


def test_cli_creates_the_table_and_relays_inside_the_worker(
    db: Database, real_settings: jobkit.Settings, tmp_path: Path
) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE jobkit_outbox"))
    out = _cli("outbox", "create-table", "--database-url", db.url)
    assert out.returncode == 0, out.stderr
    assert _cli("outbox", "create-table", "--database-url", db.url).returncode == 0
    marker = tmp_path / "ran.txt"
    (tmp_path / "outbox_jobs.py").write_text(
        "import jobkit\n\n"
        "class MarkJob(jobkit.Job):\n"
        "    def perform(self, n):\n"
        f"        with open({str(marker)!r}, 'a') as f:\n"
        "            f.write(f'{n}\\n')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import outbox_jobs
    finally:
        sys.path.remove(str(tmp_path))
    with Session(db.engine) as session, session.begin():
        outbox_jobs.MarkJob.set(outbox=session).perform_bulk([[1], [2], [3]])
    worker = subprocess.Popen(
        [sys.executable, "-m", "jobkit", "worker", "-r", str(tmp_path / "outbox_jobs.py"),
         "--redis-url", real_settings.redis_url, "--namespace", real_settings.namespace,
         "--outbox-url", db.url, "--outbox-poll-interval", "0.1"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: marker.exists() and len(marker.read_text().split()) == 3)
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
    assert sorted(marker.read_text().split()) == ["1", "2", "3"]
    assert worker.returncode == 0, err.decode()
    assert db.count_outbox() == 0


def test_bad_database_urls_are_errors_naming_them() -> None:
    out = _cli("outbox", "status", "--database-url", "oracle://x/y")
    assert out.returncode == 2 and "'oracle' is not supported" in out.stderr
    out = _cli("outbox", "status", "--database-url", "nonsense")
    assert out.returncode == 2 and "'nonsense'" in out.stderr
    env_free = _cli("outbox", "status", env={"JOBKIT_OUTBOX_URL": ""})
    assert env_free.returncode == 2 and "--database-url is required" in env_free.stderr


def test_status_of_a_database_without_the_table_says_how_to_create_it(
    tmp_path: Path,
) -> None:
    out = _cli("outbox", "status", "--database-url", f"sqlite:///{tmp_path}/empty.db")
    assert out.returncode == 2 and "jobkit outbox create-table" in out.stderr


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobkit", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, env={**os.environ, **(env or {})})


