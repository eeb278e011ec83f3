"""The outbox INSERT on real PostgreSQL, MariaDB and SQLite: straight on the DBAPI cursor
when nothing listens to SQLAlchemy's execution, through SQLAlchemy when something does,
with SQLAlchemy's errors either way."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import event, exc, text
from sqlalchemy.orm import Session

from tests.outbox.databases import Database
from tests.outbox.jobs import ChargeOrderJob


def test_an_engine_with_listeners_sees_the_outbox_insert(db: Database) -> None:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with Session(db.engine) as session, session.begin():
            ChargeOrderJob.set(outbox=session).perform_async(1)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert [s for s in seen if s.startswith("INSERT INTO jobkit_outbox")]
    assert db.count_outbox() == 1


def test_a_missing_table_is_sqlalchemys_error_at_the_call_and_the_session_recovers(
    db: Database,
) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE jobkit_outbox"))
    with Session(db.engine) as session:
        with pytest.raises(exc.DBAPIError, match="jobkit_outbox") as raised, session.begin():
            ChargeOrderJob.set(outbox=session).perform_async(1)
        assert "INSERT INTO jobkit_outbox" in str(raised.value)
        db.reset()
        with session.begin():
            ChargeOrderJob.set(outbox=session).perform_async(2)
    assert db.count_outbox() == 1


def test_rows_land_through_new_transactions_and_replaced_connections(db: Database) -> None:
    with Session(db.engine) as session:
        for n in range(2):
            with session.begin():
                ChargeOrderJob.set(outbox=session).perform_async(n)
        first = session.connection().connection.dbapi_connection
        # The next transaction gets a fresh DBAPI connection, and with it a new cursor.
        session.connection().invalidate()
        session.rollback()
        with session.begin():
            ChargeOrderJob.set(outbox=session).perform_async(2)
            assert session.connection().connection.dbapi_connection is not first
    with db.engine.connect() as conn:
        payloads = conn.execute(text("SELECT payload FROM jobkit_outbox ORDER BY id")).scalars()
        assert [json.loads(p)["args"] for p in payloads] == [[0], [1], [2]]


def test_outside_a_transaction_the_enqueue_begins_one_as_sqlalchemy_would(
    db: Database,
) -> None:
    with db.engine.connect() as conn:
        ChargeOrderJob.set(outbox=conn).perform_async(1)
        assert conn.in_transaction()
        conn.commit()
        ChargeOrderJob.set(outbox=conn).perform_async(2)
        conn.rollback()
    with Session(db.engine) as session:
        ChargeOrderJob.set(outbox=session).perform_async(3)
        session.commit()
        ChargeOrderJob.set(outbox=session).perform_async(4)
    assert db.count_outbox() == 2
