"""Recovery of dead processes' jobs, in-process: requeue order, live processes untouched,
and the poison-pill limit for a job that keeps killing its workers."""

from __future__ import annotations

import json
from typing import Any

import redis

import jobkit
from jobkit.fetch import Fetcher
from jobkit.keys import Keys
from jobkit.recovery import Recovery


class Crashy(jobkit.Job):
    name = "recovery_test.Crashy"

    def perform(self, n: int) -> None: ...


def _fetch_as(r: redis.Redis, keys: Keys, identity: str, n: int) -> list[tuple[str, bytes]]:
    return Fetcher(r, keys, identity, [("default", 1)]).fetch(n)


def test_dead_process_jobs_return_to_the_front_in_their_order(settings: jobkit.Settings,
                                                              r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    Crashy.perform_bulk([[i] for i in range(5)])
    _fetch_as(r, keys, "ghost:1:aaa", 3)
    assert Recovery(r, settings).run() == 3
    order = [json.loads(x)["args"][0] for x in reversed(r.lrange(keys.queue("default"), 0, -1))]
    assert order == [0, 1, 2, 3, 4]
    assert r.scard(keys.inprogress_index) == 0


def test_live_process_jobs_are_left_alone(settings: jobkit.Settings, r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    Crashy.perform_async(1)
    r.set(keys.alive("alive:1:bbb"), 1, px=10_000)
    _fetch_as(r, keys, "alive:1:bbb", 1)
    assert Recovery(r, settings).run() == 0
    assert r.llen(keys.inprogress("alive:1:bbb", "default")) == 1


def test_job_that_kills_every_worker_is_killed_after_max_recoveries(
    settings: jobkit.Settings, r: redis.Redis
) -> None:
    deaths: list[tuple[dict[str, Any], BaseException]] = []
    s = settings.replace(max_recoveries=3, death_handlers=[lambda j, e: deaths.append((j, e))])
    keys = Keys(s.namespace)
    jid = Crashy.perform_async(666)
    recovery = Recovery(r, s)
    for crash in range(3):
        assert _fetch_as(r, keys, f"victim:{crash}:x", 1)
        assert recovery.run() == 1
    assert _fetch_as(r, keys, "victim:3:x", 1)
    assert recovery.run() == 0
    assert r.llen(keys.queue("default")) == 0 and r.llen(keys.poison) == 0
    [raw] = r.zrange(keys.dead, 0, -1)
    dead = json.loads(raw)
    assert dead["jid"] == jid and dead["error_class"] == "jobkit.errors.WorkerCrashed"
    assert "4 worker processes that died" in dead["error_message"]
    assert [j["jid"] for j, _ in deaths] == [jid]
