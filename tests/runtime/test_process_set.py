"""The ``processes`` set: dead processes are pruned (as Sidekiq's ``ProcessSet.cleanup``), and
the scheduler's poll interval counts only live ones."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable

import redis

import jobkit
from jobkit.api import Admin
from jobkit.heartbeat import Heartbeat, cleanup
from jobkit.keys import Keys

from .sample_jobs import SlowJob
from .test_worker_process import _members, spawn, wait_for

__all__ = ["spawn"]
NOW = 1_800_000_000.0


def _announce(r: redis.Redis, keys: Keys, identity: str, *, beat: float, alive: bool,
              labels: tuple[str, ...] = ("jobkit",)) -> None:
    hb = Heartbeat(r, keys, identity, queues=(("default", 1),), concurrency=1, tag="",
                   liveness_ttl=30, started_at=0.0)
    hb.beat({}, quiet=False)
    info = json.loads(hb.info)
    info["labels"] = list(labels)
    r.hset(keys.process(identity), mapping={"beat": beat, "info": json.dumps(info)})
    if not alive:
        r.delete(keys.alive(identity))


def test_cleanup_prunes_dead_jobkit_processes_and_expired_hashes(
        settings: jobkit.Settings, r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    _announce(r, keys, "h:1:live", beat=NOW, alive=True)
    _announce(r, keys, "h:2:killed", beat=NOW - 31, alive=False)
    # Killed less than a recovery timeout ago: its liveness key just expired early (no).
    _announce(r, keys, "h:3:recent", beat=NOW - 5, alive=False)
    # A Sidekiq process has no liveness key; its fresh beat is what keeps it.
    _announce(r, keys, "h:4:sidekiq", beat=NOW - 3, alive=False, labels=())
    _announce(r, keys, "h:5:old-sidekiq", beat=NOW - 300, alive=False, labels=())
    r.sadd(keys.processes, "h:6:expired")  # its hash expired long ago
    assert cleanup(r, keys, now=NOW, stale_after=30) == 3
    assert sorted(m.decode() for m in r.smembers(keys.processes)) == [
        "h:1:live", "h:3:recent", "h:4:sidekiq", "h:5:old-sidekiq"]
    assert not r.exists(keys.process("h:2:killed"), keys.workers("h:2:killed"),
                        keys.work("h:2:killed"))
    # Sidekiq's own hash is left to expire as Sidekiq expects.
    assert r.exists(keys.process("h:5:old-sidekiq"))


def test_admin_processes_lists_only_live_ones(settings: jobkit.Settings, r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    now = time.time()
    _announce(r, keys, "h:1:live", beat=now, alive=True)
    _announce(r, keys, "h:2:killed", beat=now - 45, alive=False)
    assert [p["identity"] for p in Admin(settings).processes()] == ["h:1:live"]
    assert Admin(settings).stats()["processes"] == 1


def test_stale_processes_do_not_stretch_the_poll_interval(settings: jobkit.Settings,
                                                          r: redis.Redis) -> None:
    keys = Keys(settings.namespace)
    # Twenty processes killed a minute ago whose hashes have not expired: counted, they
    # made the average poll interval 21 x 0.5 s.
    for n in range(20):
        _announce(r, keys, f"h:{n}:killed", beat=time.time() - 50, alive=False)
    fast = settings.replace(poll_interval=0.5)
    jobkit.configure(fast)
    SlowJob.perform_in(0.3, "due-soon", 0.0)
    worker = jobkit.Worker(fast, jobkit.WorkerOptions(log_jobs=False, concurrency=1))
    started = time.monotonic()
    worker.start()
    try:
        wait_for(lambda: b"due-soon" in _members(r, settings.namespace, "done"), 5,
                 "the scheduled job to run")
    finally:
        worker.stop()
    assert time.monotonic() - started < 5
    assert r.scard(keys.processes) == 0


def test_a_killed_worker_leaves_the_process_set(
        real_settings: jobkit.Settings, spawn: Callable[..., subprocess.Popen[bytes]]) -> None:
    r = jobkit.get_client().redis
    keys = Keys(real_settings.namespace)
    victim = spawn()
    survivor = spawn()
    wait_for(lambda: r.scard(keys.processes) == 2, 15, "two processes to register")
    victim.send_signal(signal.SIGKILL)
    victim.wait(5)
    # recovery_timeout is 2 s in these workers: pruned within about 2 + 1 s, well before
    # the 60 s the heartbeat hash would live.
    wait_for(lambda: r.scard(keys.processes) == 1, 10, "the killed process to be pruned")
    [left] = Admin(real_settings).processes()
    assert left["pid"] == survivor.pid
    survivor.send_signal(signal.SIGTERM)
    assert survivor.wait(15) == 0
