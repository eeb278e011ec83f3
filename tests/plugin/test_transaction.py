"""A job enqueued inside a database transaction looks its record up when it runs."""

from __future__ import annotations

from tests.plugin.helpers import Backend, Inner

TRANSACTION = """
import contextlib
import pytest
import jobkit


class DB:
    committed = {}
    pending = None

    @classmethod
    @contextlib.contextmanager
    def transaction(cls):
        cls.pending = {}
        yield cls.pending
        cls.committed.update(cls.pending)
        cls.pending = None

    @classmethod
    def find(cls, order_id):
        if order_id not in cls.committed:
            raise LookupError(f"order {order_id} not found")
        return cls.committed[order_id]


SHIPPED = []


class ShipOrderJob(jobkit.Job):
    def perform(self, order_id: int) -> None:
        SHIPPED.append(DB.find(order_id)["sku"])


def place_order(order_id):
    with DB.transaction() as tx:
        tx[order_id] = {"sku": "book"}
        ShipOrderJob.perform_async(order_id)


@pytest.fixture(autouse=True)
def _reset():
    DB.committed.clear()
    SHIPPED.clear()


def test_the_job_finds_the_committed_record_when_drained(jobkit):
    place_order(1)
    jobkit.assert_enqueued(ShipOrderJob, 1)
    assert jobkit.drain().performed == 1
    assert SHIPPED == ["book"]


@pytest.mark.jobkit(inline=True)
def test_inline_mode_runs_inside_the_transaction_and_exposes_the_race(jobkit):
    with pytest.raises(LookupError, match="order 2 not found"):
        place_order(2)
"""


def test_jobs_enqueued_in_a_transaction_see_the_record_at_perform_time(
    inner: Inner, backend: Backend
) -> None:
    inner.run(TRANSACTION, backend=backend).assert_outcomes(passed=2)
