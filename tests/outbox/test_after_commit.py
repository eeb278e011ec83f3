"""``set(after_commit=...)`` on real PostgreSQL, MariaDB and SQLite through SQLAlchemy:
pushed when the outermost transaction commits, dropped on rollback, savepoints honoured."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.orm import Session

import jobkit
from jobkit import aftercommit
from tests.outbox.databases import Database
from tests.outbox.jobs import (
    ChargeOrderJob,
    UniqueChargeJob,
    queued,
    queued_args,
    scheduled,
    wait_for,
)


def _order(conn: Any, order_id: int) -> None:
    conn.execute(text("INSERT INTO orders (id, item) VALUES (:id, 'book')"), {"id": order_id})


def test_session_job_is_pushed_when_the_transaction_commits(
    db: Database, real_settings: jobkit.Settings
) -> None:
    with Session(db.engine) as session, session.begin():
        _order(session, 1)
        jid = ChargeOrderJob.set(after_commit=session).perform_async(1)
        assert queued_args(real_settings) == []
        assert [p["jid"] for p in jobkit.pending_after_commit()] == [jid]
    assert [p["jid"] for p in queued(real_settings)] == [jid]
    assert jobkit.pending_after_commit() == []


def test_session_job_is_dropped_on_rollback(
    db: Database, real_settings: jobkit.Settings
) -> None:
    with Session(db.engine) as session:
        with pytest.raises(RuntimeError), session.begin():
            _order(session, 1)
            ChargeOrderJob.set(after_commit=session).perform_async(1)
            raise RuntimeError("payment refused")
        with session.begin():
            ChargeOrderJob.set(after_commit=session).perform_async(2)
            session.rollback()
    assert queued_args(real_settings) == []
    assert jobkit.pending_after_commit() == []


def test_session_rolled_back_savepoint_drops_only_its_jobs(
    db: Database, real_settings: jobkit.Settings
) -> None:
    with Session(db.engine) as session, session.begin():
        ChargeOrderJob.set(after_commit=session).perform_async(1)
        with pytest.raises(ValueError), session.begin_nested():
            ChargeOrderJob.set(after_commit=session).perform_async(2)
            with session.begin_nested():
                ChargeOrderJob.set(after_commit=session).perform_async(3)
            raise ValueError("inner step failed")
        with session.begin_nested():
            ChargeOrderJob.set(after_commit=session).perform_async(4)
        # A released savepoint's jobs still wait for the outer commit.
        assert queued_args(real_settings) == []
        assert sorted(p["args"][0] for p in jobkit.pending_after_commit()) == [1, 4]
    assert queued_args(real_settings) == [1, 4]


def test_session_outside_a_transaction_pushes_at_once(
    db: Database, real_settings: jobkit.Settings
) -> None:
    with Session(db.engine) as session:
        ChargeOrderJob.set(after_commit=session).perform_async(7)
        assert queued_args(real_settings) == [7]


def test_session_reused_for_a_second_transaction_tracks_it_too(
    db: Database, real_settings: jobkit.Settings
) -> None:
    with Session(db.engine) as session:
        with session.begin():
            ChargeOrderJob.set(after_commit=session).perform_async(1)
        with session.begin():
            ChargeOrderJob.set(after_commit=session).perform_async(2)
            session.rollback()
        with session.begin():
            ChargeOrderJob.set(after_commit=session).perform_async(3)
    assert queued_args(real_settings) == [1, 3]


def test_connection_job_is_pushed_after_commit_dropped_on_rollback_and_savepoint(
    db: Database, real_settings: jobkit.Settings
) -> None:
    with db.engine.connect() as conn:
        with conn.begin():
            _order(conn, 1)
            ChargeOrderJob.set(after_commit=conn).perform_async(1)
            savepoint = conn.begin_nested()
            ChargeOrderJob.set(after_commit=conn).perform_async(2)
            savepoint.rollback()
            with conn.begin_nested():
                ChargeOrderJob.set(after_commit=conn).perform_async(3)
            assert queued_args(real_settings) == []
        assert queued_args(real_settings) == [1, 3]
        with conn.begin():
            _order(conn, 2)
            ChargeOrderJob.set(after_commit=conn).perform_async(4)
            conn.rollback()
    assert queued_args(real_settings) == [1, 3]
    with db.engine.connect() as conn:
        # The commit really happened before the push: the order is there.
        assert conn.execute(text("SELECT COUNT(*) FROM orders")).scalar_one() == 1


# Only PostgreSQL has deferred constraints, to make a COMMIT itself fail.
@pytest.mark.parametrize("module_database", ["postgresql"], indirect=True)
def test_connection_failed_commit_pushes_nothing(
    db: Database, real_settings: jobkit.Settings
) -> None:
    with db.engine.connect() as conn:
        conn.execute(text("CREATE TABLE deferred_check (id INTEGER PRIMARY KEY "
                          "REFERENCES orders (id) DEFERRABLE INITIALLY DEFERRED)"))
        conn.commit()
        conn.execute(text("INSERT INTO deferred_check (id) VALUES (99)"))
        ChargeOrderJob.set(after_commit=conn).perform_async(99)
        with pytest.raises(Exception, match="foreign key"):
            conn.commit()
    assert queued_args(real_settings) == []


def test_scheduled_and_bulk_jobs_wait_for_the_commit(
    db: Database, real_settings: jobkit.Settings
) -> None:
    with Session(db.engine) as session, session.begin():
        ChargeOrderJob.set(after_commit=session).perform_in(600, 1)
        jids = ChargeOrderJob.set(after_commit=session).perform_bulk([[2], [3]])
        assert scheduled(real_settings) == [] and queued_args(real_settings) == []
    assert [p["args"] for p, _ in scheduled(real_settings)] == [[1]]
    assert [p["jid"] for p in queued(real_settings)] == jids


def test_bad_arguments_fail_at_the_call_not_at_commit(
    db: Database, real_settings: jobkit.Settings
) -> None:
    with Session(db.engine) as session, session.begin():
        with pytest.raises(jobkit.ArgumentError, match="takes 1 argument"):
            ChargeOrderJob.set(after_commit=session).perform_async(1, 2)  # noqa: JK104
        assert jobkit.pending_after_commit() == []


# Async drivers: psycopg's for PostgreSQL, aiosqlite for SQLite.
@pytest.mark.parametrize("module_database", ["postgresql", "sqlite"], indirect=True)
def test_async_session_job_is_pushed_on_commit_and_dropped_on_rollback(
    db: Database, real_settings: jobkit.Settings
) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    url = db.sa_url.replace("sqlite://", "sqlite+aiosqlite://")

    async def scenario() -> None:
        engine = create_async_engine(url)
        try:
            async with AsyncSession(engine) as session:
                async with session.begin():
                    await session.execute(text("INSERT INTO orders (id, item) VALUES (1, 'a')"))
                    ChargeOrderJob.set(after_commit=session).perform_async(1)
                    assert queued_args(real_settings) == []
                async with session.begin():
                    ChargeOrderJob.set(after_commit=session).perform_async(2)
                    await session.rollback()
            async with engine.connect() as conn, conn.begin():
                ChargeOrderJob.set(after_commit=conn).perform_async(3)
                assert queued_args(real_settings) == [1]
        finally:
            await engine.dispose()

    asyncio.run(scenario())
    assert queued_args(real_settings) == [1, 3]


def test_unique_job_after_commit_keeps_its_lock(
    db: Database, real_settings: jobkit.Settings
) -> None:
    with Session(db.engine) as session, session.begin():
        UniqueChargeJob.set(after_commit=session).perform_async(1)
        UniqueChargeJob.set(after_commit=session).perform_async(1)
    assert len(queued(real_settings)) == 1


@pytest.mark.parametrize("bad", [object(), 3, b"default", ""])
def test_an_object_that_is_no_transaction_is_an_error_naming_its_type(bad: Any) -> None:
    with pytest.raises(jobkit.JobDefinitionError, match=type(bad).__qualname__):
        ChargeOrderJob.set(after_commit=bad)
    with pytest.raises(jobkit.JobDefinitionError, match=type(bad).__qualname__):
        ChargeOrderJob.set(outbox=bad)


def test_after_commit_and_outbox_together_is_an_error(db: Database) -> None:
    with Session(db.engine) as session, pytest.raises(jobkit.JobDefinitionError,
                                                       match="exclude each other"):
        ChargeOrderJob.set(after_commit=session, outbox=session)


def test_push_failing_after_commit_is_retried_until_redis_is_back(
    db: Database, redis_server: Any
) -> None:
    settings = jobkit.Settings(redis_url=redis_server.url, namespace="ac")
    previous = jobkit.get_settings()
    jobkit.configure(settings)
    try:
        with Session(db.engine) as session, session.begin():
            _order(session, 1)
            ChargeOrderJob.set(after_commit=session).perform_async(1)
            redis_server.stop()
        # The commit succeeded although Redis is down; the push waits in the retrier.
        assert aftercommit.retrier().waiting >= 1
        redis_server.start()
        wait_for(lambda: aftercommit.retrier().waiting == 0)
        assert queued_args(settings) == [1]
    finally:
        jobkit.configure(previous)


def test_push_that_keeps_failing_is_logged_as_lost_with_its_payload(
    caplog: pytest.LogCaptureFixture, redis_server: Any
) -> None:
    settings = jobkit.Settings(redis_url=redis_server.url, namespace="lost")
    client = jobkit.Client(settings)
    ready = client.prepare(ChargeOrderJob, [5], ChargeOrderJob.options())
    assert ready is not None
    redis_server.stop()
    retrier = aftercommit.Retrier(retry_for=0.3)
    with caplog.at_level(logging.ERROR, "jobkit.aftercommit"):
        retrier.add([(client, ready)])
        wait_for(lambda: retrier.waiting == 0)
    assert [p["jid"] for p in retrier.lost] == [ready.payload["jid"]]
    assert "LOST" in caplog.text and ready.payload["jid"] in caplog.text




def test_import_jobkit_imports_no_database_library() -> None:
    import subprocess
    import sys

    code = ("import sys, jobkit; print([m for m in ('sqlalchemy', 'django', 'psycopg', "
            "'pymysql', 'alembic', 'aiosqlite') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_redis_errors_are_not_swallowed_by_a_plain_enqueue(redis_server: Any) -> None:
    # The contrast the README draws: without after_commit the caller sees the error.
    jobkit.configure(jobkit.Settings(redis_url=redis_server.url, namespace="plain"))
    try:
        redis_server.stop()
        with pytest.raises(redis.ConnectionError):
            ChargeOrderJob.perform_async(1)
    finally:
        jobkit.configure(jobkit.Settings())


def test_jobs_still_unpushed_at_exit_are_logged_as_lost(tmp_path: Any) -> None:
    import subprocess
    import sys

    from tests.outbox.databases import free_port

    script = f"""
import logging
import jobkit
from jobkit import aftercommit
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

logging.basicConfig(level=logging.ERROR)
aftercommit.RETRY_FOR = 3600.0
jobkit.configure(redis_url="redis://127.0.0.1:{free_port()}/0")

class ChargeOrderJob(jobkit.Job):
    def perform(self, order_id):
        pass

engine = create_engine("sqlite:///{tmp_path}/exit.db")
with Session(engine) as session, session.begin():
    jid = ChargeOrderJob.set(after_commit=session).perform_async(42)
print(jid)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60)
    jid = out.stdout.strip()
    assert len(jid) == 24, out.stderr
    assert "after-commit job LOST (the process exited before Redis came back)" in out.stderr
    assert f'"jid":"{jid}"' in out.stderr and '"args":[42]' in out.stderr


def test_a_failing_after_push_hook_does_not_stop_the_other_pushes(
    db: Database, real_settings: jobkit.Settings
) -> None:
    class Refuse(jobkit.ClientMiddleware):
        def after_push(self, payload: dict[str, Any]) -> None:
            if payload["args"] == [1]:
                raise RuntimeError("metrics backend down")

    jobkit.configure(real_settings.replace(client_middleware=[Refuse()]))
    with pytest.raises(RuntimeError, match="metrics backend down"), \
            Session(db.engine) as session, session.begin():
        ChargeOrderJob.set(after_commit=session).perform_bulk([[1], [2], [3]])
    assert queued_args(real_settings) == [1, 2, 3]
