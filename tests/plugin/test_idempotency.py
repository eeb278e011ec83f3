"""``assert_idempotent``: a double charge is caught and shrunk; a guarded job passes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jobkit
from jobkit_pytest import UsageError
from jobkit_pytest.strategies import args_for
from tests.plugin.helpers import Inner

PAYMENTS = '''
import jobkit


class Gateway:
    """A payment gateway double: records charges; dedupes by idempotency key if given."""

    def __init__(self):
        self.calls = []
        self.keys = set()

    def charge(self, payment_id, amount, key=None):
        if key is not None and key in self.keys:
            return "duplicate"
        self.keys.add(key)
        self.calls.append((payment_id, amount))
        return "ok"


class Payment:
    table = {}

    def __init__(self, id, charged=False):
        self.id, self.charged = id, charged

    def save(self):
        Payment.table[self.id] = {"charged": self.charged}

    @classmethod
    def get(cls, id):
        return cls(id, **cls.table[id])


gateway = Gateway()


def reset():
    gateway.__init__()
    Payment.table.clear()


class ChargePaymentJob(jobkit.Job):
    def perform(self, payment_id: int) -> None:
        gateway.charge(payment_id, 100)


class FlagGuardedChargeJob(jobkit.Job):
    def perform(self, payment_id: int) -> None:
        payment = Payment.get(payment_id)
        if payment.charged:
            return
        gateway.charge(payment_id, 100)
        payment.charged = True
        payment.save()


class KeyGuardedChargeJob(jobkit.Job):
    def perform(self, payment_id: int) -> None:
        payment = Payment.get(payment_id)
        if payment.charged:
            return
        gateway.charge(payment_id, 100, key=f"payment-{payment_id}")
        payment.charged = True
        payment.save()
'''

CHECKS = """
import pytest
from hypothesis import strategies as st
from payments import (
    ChargePaymentJob, FlagGuardedChargeJob, KeyGuardedChargeJob, Payment, gateway, reset,
)


@pytest.fixture
def db():
    reset()
    yield Payment.table
    reset()


def observe():
    return {"charges": list(gateway.calls), "payments": dict(Payment.table)}


def test_double_charge_is_caught(jobkit, db):
    jobkit.assert_idempotent(
        ChargePaymentJob,
        args=st.tuples(st.integers(1, 10_000)),
        setup=lambda pid: Payment(pid).save(),
        observe=observe,
        reset=reset,
        max_examples=10,
    )


def test_flag_guard_is_not_crash_safe(jobkit, db):
    jobkit.assert_idempotent(
        FlagGuardedChargeJob,
        setup=lambda pid: Payment(pid).save(),
        observe=observe,
        reset=reset,
        redeliver_after=["payments.Gateway.charge", Payment.save],
        max_examples=10,
    )


def test_key_guard_survives_every_crash_point(jobkit, db):
    jobkit.assert_idempotent(
        KeyGuardedChargeJob,
        setup=lambda pid: Payment(pid).save(),
        observe=observe,
        reset=reset,
        redeliver_after=["payments.Gateway.charge", Payment.save],
        max_examples=10,
    )
    jobkit.assert_not_enqueued()
"""


def test_idempotency_checker_catches_double_charges_and_passes_guarded_jobs(
    inner: Inner,
) -> None:
    inner.pytester.makepyfile(payments=PAYMENTS)
    result = inner.run(CHECKS)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*NotIdempotentError: payments.ChargePaymentJob is not idempotent: running it "
            "twice changed what observe() sees",
            "*args: ?1?",
            "*after one clean run:  {'charges': ?(1, 100)?, 'payments': {1: {'charged': False}}}",
            "*after the redelivery: {'charges': ?(1, 100), (1, 100)?, *",
            "*diff (- one run, + redelivered):",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*NotIdempotentError: payments.FlagGuardedChargeJob is not idempotent: crashing "
            "right after call 1 of payments.Gateway.charge and redelivering changed what "
            "observe() sees",
        ]
    )


def test_args_for_derives_json_native_strategies_from_annotations() -> None:
    class Typed(jobkit.Job):
        name = "tests.plugin.Typed"

        def perform(
            self, a: int, b: str, c: list[float], d: dict[str, bool] | None, e: bool = False
        ) -> None:
            pass

    @settings(max_examples=20, deadline=None)
    @given(args_for(Typed))
    def check(args: tuple[object, ...]) -> None:
        assert len(args) == 4
        jobkit.payload.check_args(list(args))

    check()


def test_args_for_rejects_annotations_json_cannot_carry() -> None:
    class Dated(jobkit.Job):
        name = "tests.plugin.Dated"

        def perform(self, when: dt.datetime) -> None:
            pass

    with pytest.raises(UsageError, match=r"Dated.perform\(when\).*not JSON-native"):
        args_for(Dated).example()


def test_args_for_reads_job_function_signatures() -> None:
    @jobkit.job(name="tests.plugin.fn")
    def fn(days: int) -> None:
        pass

    strategy = args_for(fn)
    assert isinstance(strategy, st.SearchStrategy)

    @settings(max_examples=20, deadline=None)
    @given(strategy)
    def check(args: tuple[object, ...]) -> None:
        assert len(args) == 1 and type(args[0]) is int

    check()
