"""The plugin and ``set(after_commit=...)``: inline mode runs the job after the commit,
assertions explain a job still waiting for its commit, ``pending_after_commit()``."""

from __future__ import annotations

import importlib

from tests.plugin.helpers import Backend, Inner

importlib.import_module("sqlalchemy.orm")

AFTER_COMMIT = """
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

import jobkit
from jobkit_pytest import EnqueueAssertionError

SHIPPED = []


class ShipOrderJob(jobkit.Job):
    def perform(self, order_id: int) -> None:
        with ENGINE.connect() as conn:
            row = conn.execute(text("SELECT sku FROM orders WHERE id = :id"),
                               {"id": order_id}).first()
        if row is None:
            raise LookupError(f"order {order_id} not found")
        SHIPPED.append(row[0])


ENGINE = None


@pytest.fixture(autouse=True)
def engine(tmp_path):
    global ENGINE
    ENGINE = create_engine(f"sqlite:///{tmp_path}/shop.db")
    with ENGINE.begin() as conn:
        conn.execute(text("CREATE TABLE orders (id INTEGER PRIMARY KEY, sku TEXT)"))
    SHIPPED.clear()
    yield ENGINE
    ENGINE.dispose()


def place_order(order_id, *, fail=False):
    with Session(ENGINE) as session, session.begin():
        session.execute(text("INSERT INTO orders VALUES (:id, 'book')"), {"id": order_id})
        ShipOrderJob.set(after_commit=session).perform_async(order_id)
        if fail:
            raise RuntimeError("payment refused")


@pytest.mark.jobkit(inline=True)
def test_inline_mode_runs_the_job_after_the_commit(jobkit):
    place_order(1)
    assert SHIPPED == ["book"]


@pytest.mark.jobkit(inline=True)
def test_inline_mode_runs_nothing_on_rollback(jobkit):
    with pytest.raises(RuntimeError):
        place_order(2, fail=True)
    assert SHIPPED == []
    jobkit.assert_not_enqueued(ShipOrderJob)


def test_assertion_inside_the_transaction_says_the_commit_has_not_happened(jobkit):
    with Session(ENGINE) as session, session.begin():
        ShipOrderJob.set(after_commit=session).perform_async(3)
        assert [j.args for j in jobkit.pending_after_commit()] == [[3]]
        assert [p["args"] for p in jobkit_module().pending_after_commit()] == [[3]]
        with pytest.raises(EnqueueAssertionError) as info:
            jobkit.assert_enqueued(ShipOrderJob, 3)
        message = str(info.value)
        assert message.splitlines()[0] == (
            "expected test_inner.ShipOrderJob(3) to be enqueued, but it was enqueued after "
            "commit — the transaction has not committed")
        assert "test_inner.py:" in message
    jobkit.assert_enqueued(ShipOrderJob, 3)
    assert jobkit.pending_after_commit() == []


def test_pending_job_fails_the_assertion_with_the_hint(jobkit):
    with Session(ENGINE) as session, session.begin():
        ShipOrderJob.set(after_commit=session).perform_async(4)
        jobkit.assert_enqueued(ShipOrderJob, 4)


def outbox_of(tmp_path):
    # The outbox table in the shop's database; its URL for the relay.
    from jobkit.outbox.relay import create_table

    url = f"sqlite:///{tmp_path}/shop.db"
    create_table(url)
    return url


def test_outbox_rows_are_relayed_into_the_test_and_drained(jobkit, tmp_path):
    url = outbox_of(tmp_path)
    with Session(ENGINE) as session, session.begin():
        session.execute(text("INSERT INTO orders VALUES (5, 'pen')"))
        ShipOrderJob.set(outbox=session).perform_async(5)
    jobkit.assert_not_enqueued(ShipOrderJob)
    assert jobkit.relay_outbox(url) == 1
    jobkit.assert_enqueued(ShipOrderJob, 5)
    assert jobkit.drain().performed == 1
    assert SHIPPED == ["pen"]


@pytest.mark.jobkit(inline=True)
def test_inline_mode_runs_relayed_outbox_jobs_and_raises_their_failures(jobkit, tmp_path):
    url = outbox_of(tmp_path)
    with Session(ENGINE) as session, session.begin():
        session.execute(text("INSERT INTO orders VALUES (6, 'ink')"))
        ShipOrderJob.set(outbox=session).perform_async(6)
        ShipOrderJob.set(outbox=session).perform_async(7)  # no such order: it fails
    assert SHIPPED == []
    with pytest.raises(LookupError, match="order 7 not found"):
        jobkit.relay_outbox(url)
    assert SHIPPED == ["ink"]


def jobkit_module():
    import jobkit as module

    return module
"""


def test_after_commit_jobs_under_the_plugin(inner: Inner, backend: Backend) -> None:
    result = inner.run(AFTER_COMMIT, backend=backend)
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines([
        "*expected test_inner.ShipOrderJob(4) to be enqueued, but it was enqueued after "
        "commit — the transaction has not committed*",
        "*Waiting for their commit:*",
        "*test_inner.ShipOrderJob(4)*enqueued at test_inner.py:*",
    ])
