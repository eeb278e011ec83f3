"""Bulk enqueue: the one-template encoding writes the one-job path's bytes, unique locks
hold inside and across calls, middleware still sees every job, and a failure part way
says which jobs are in Redis."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import redis
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

import jobkit
from jobkit import bulk, unique
from jobkit import payload as pl
from jobkit.keys import Keys

NOW = 1_764_600_000.123456


class Invoice(jobkit.Job):
    name = "bulk_test.Invoice"
    queue = "billing"
    retry = 7
    tags = ("money",)
    backtrace = 5

    def perform(self, *args: Any) -> None:
        pass


class Keep(jobkit.Job):
    name = "bulk_test.Keep"
    dead = False

    def perform(self, *args: Any) -> None:
        pass


class OncePerDay(jobkit.Job):
    name = "bulk_test.OncePerDay"
    unique = "until_executed"
    unique_for = 60

    def perform(self, *days: str) -> None:
        pass


class WhileRunning(jobkit.Job):
    name = "bulk_test.WhileRunning"
    unique = "while_executing"

    def perform(self, *args: Any) -> None:
        pass


def _one_job_bytes(job: type[jobkit.Job], options: jobkit.JobOptions, args: list[Any],
                   jid: str) -> bytes:
    """The bytes ``perform_async`` writes for the same job, jid and time."""
    client = jobkit.Client(jobkit.Settings(redis_url="memory://bulk-bytes"))
    built = client.build(job, args, options, now=NOW)
    built["jid"] = jid
    return client.prepare_push(built, now=NOW).raw


ENQUEUERS = [
    Invoice.set(),
    Keep.set(),
    Keep.set(dead=True),
    Invoice.set(queue="low", retry=False, tags=()),
    OncePerDay.set(),
    WhileRunning.set(),
]
SCALAR = (st.none() | st.booleans() | st.integers() | st.text()
          | st.floats(allow_nan=False, allow_infinity=False))
NESTED = SCALAR | st.lists(SCALAR, max_size=3) | st.dictionaries(st.text(), SCALAR, max_size=3)
JSON = NESTED | st.lists(NESTED, max_size=3) | st.dictionaries(st.text(), NESTED, max_size=3)


@pytest.mark.parametrize("enqueuer", ENQUEUERS,
                         ids=lambda e: f"{e.job.__name__}-{e.options.queue}-{e.options.dead}")
@given(args=st.lists(JSON, max_size=4))
@hsettings(max_examples=40, deadline=None)
def test_template_writes_the_bytes_of_the_one_job_path(enqueuer: jobkit.Enqueuer,
                                                       args: list[Any]) -> None:
    jid, options = bulk.new_jids(1)[0], enqueuer.options
    digest = unique.digest(options, args) if options.unique else ""
    assert bulk.Template(options, NOW).encode(args, jid, digest) == _one_job_bytes(
        enqueuer.job, options, args, jid)


def test_jids_are_sidekiqs_form_and_distinct() -> None:
    jids = bulk.new_jids(10_000)
    assert len(set(jids)) == 10_000
    assert all(re.fullmatch(r"[0-9a-f]{24}", j) for j in jids)


def test_perform_bulk_writes_one_timestamp_and_the_class_options(settings: jobkit.Settings,
                                                                  r: redis.Redis) -> None:
    jids = Invoice.perform_bulk([[1, "a"], [2, {"x": 1.5}]])
    raws = r.lrange(Keys(settings.namespace).queue("billing"), 0, -1)
    jobs = [pl.decode(raw) for raw in reversed(raws)]
    assert [j["jid"] for j in jobs] == jids
    assert [j["args"] for j in jobs] == [[1, "a"], [2, {"x": 1.5}]]
    assert {(j["tags"][0], j["backtrace"], j["retry"]) for j in jobs} == {("money", 5, 7)}
    assert len({(j["created_at"], j["enqueued_at"]) for j in jobs}) == 1


def test_unique_bulk_refuses_duplicates_within_and_across_calls(settings: jobkit.Settings,
                                                                r: redis.Redis) -> None:
    first = OncePerDay.perform_bulk([["mon"], ["tue"], ["mon"]], batch_size=2)
    second = OncePerDay.perform_bulk([["tue"], ["wed"]])
    assert first[0] and first[1] and first[2] is None
    assert second[0] is None and second[1]
    raws = r.lrange(Keys(settings.namespace).queue("default"), 0, -1)
    assert sorted(json.loads(x)["args"][0] for x in raws) == ["mon", "tue", "wed"]
    assert int(r.get(Keys(settings.namespace).unique_rejected) or 0) == 2


class Route(jobkit.ClientMiddleware):
    """Drops odd jobs, sends jobs >= 4 to the "late" queue, logs what was pushed."""

    def __init__(self) -> None:
        self.pushed: list[str] = []

    def enqueue(self, payload, call_next):  # type: ignore[no-untyped-def]
        n = payload["args"][0]
        if n % 2:
            return None
        if n >= 4:
            payload["queue"] = "late"
        return call_next(payload)

    def after_push(self, payload):  # type: ignore[no-untyped-def]
        self.pushed.append(payload["jid"])


def test_bulk_through_middleware_drops_reroutes_and_reports(settings: jobkit.Settings,
                                                            r: redis.Redis) -> None:
    log = Route()
    jobkit.configure(client_middleware=[log])
    jids = Keep.perform_bulk([[n] for n in range(7)], batch_size=3)
    assert [j is None for j in jids] == [False, True, False, True, False, True, False]
    assert log.pushed == [j for j in jids if j]
    keys = Keys(settings.namespace)
    assert [json.loads(x)["args"] for x in r.lrange(keys.queue("default"), 0, -1)] == [[2], [0]]
    assert [json.loads(x)["args"] for x in r.lrange(keys.queue("late"), 0, -1)] == [[6], [4]]


def test_a_bad_argument_anywhere_pushes_nothing(settings: jobkit.Settings,
                                                r: redis.Redis) -> None:
    with pytest.raises(jobkit.ArgumentError, match=r"args_list\[2500\]: args\[0\]=b'x'"):
        Keep.perform_bulk([[n] for n in range(2500)] + [[b"x"]])  # noqa: JK102
    assert r.llen(Keys(settings.namespace).queue("default")) == 0


def _sync_bulk(args_list: list[list[Any]], batch_size: int) -> list[str | None]:
    return Keep.perform_bulk(args_list, batch_size=batch_size)


def _async_bulk(args_list: list[list[Any]], batch_size: int) -> list[str | None]:
    async def main() -> list[str | None]:
        try:
            return await Keep.aperform_bulk(args_list, batch_size=batch_size)
        finally:
            await jobkit.aclose()

    return asyncio.run(main())


@pytest.mark.parametrize("perform_bulk", [_sync_bulk, _async_bulk], ids=["sync", "async"])
def test_a_failure_part_way_names_the_jobs_in_and_not_in(
    settings: jobkit.Settings, r: redis.Redis, perform_bulk: Callable[..., list[str | None]]
) -> None:
    keys = Keys(settings.namespace)
    r.set(keys.queue("late"), "not a list")  # LPUSH onto it fails in the second batch
    jobkit.configure(client_middleware=[Route()])
    with pytest.raises(jobkit.EnqueueError) as caught:
        perform_bulk([[0], [2], [4], [6], [8], [10]], 2)
    error = caught.value
    assert len(error.pushed) == 2 and all(error.pushed)
    assert (error.unconfirmed, error.not_pushed) == (range(2, 4), range(4, 6))
    assert "args_list[2:4] are unconfirmed" in str(error)
    assert "args_list[4:6] are not pushed" in str(error)
    assert isinstance(error.__cause__, redis.ResponseError)
    in_redis = [json.loads(x)["jid"] for x in reversed(r.lrange(keys.queue("default"), 0, -1))]
    assert in_redis == error.pushed


@pytest.mark.parametrize("batch_size", [0, -1, True, 1.5, "10"])
def test_batch_size_must_be_a_positive_integer(settings: jobkit.Settings,
                                               batch_size: Any) -> None:
    with pytest.raises(jobkit.ArgumentError, match=f"batch_size={re.escape(repr(batch_size))}"):
        Keep.perform_bulk([[1]], batch_size=batch_size)


class Refuse(jobkit.ClientMiddleware):
    def enqueue(self, payload, call_next):  # type: ignore[no-untyped-def]
        if payload["args"] == [1500]:
            raise RuntimeError("refused 1500")
        return call_next(payload)


class ByAccount(jobkit.Job):
    name = "bulk_test.ByAccount"
    unique = "until_executed"

    @staticmethod
    def unique_args(args: list[Any]) -> Any:
        account = args[0]["account"]
        return account if account >= 0 else {account}  # a set: not JSON

    def perform(self, order: dict[str, Any]) -> None:
        pass


def test_a_middleware_or_unique_args_failure_pushes_nothing(settings: jobkit.Settings,
                                                            r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    jobkit.configure(client_middleware=[Refuse()])
    with pytest.raises(RuntimeError, match="refused 1500"):
        Keep.perform_bulk([[n] for n in range(2000)])
    jobkit.configure(client_middleware=[])
    orders = [{"account": n} for n in range(1500)] + [{"account": -1}]
    with pytest.raises(jobkit.ArgumentError, match=r"args_list\[1500\]: .*unique_args"):
        ByAccount.perform_bulk([[o] for o in orders])
    assert r.llen(keys.queue("default")) == 0
    assert list(r.scan_iter(match=keys.unique("*"))) == []
