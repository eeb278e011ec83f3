"""Periodic jobs across real worker processes, and the ``jobkit cron`` command."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

import jobkit
from jobkit import periodic_entries as periodic
from jobkit.cli import main
from jobkit.keys import Keys
from jobkit.ticker import Ticker

from .test_worker_process import spawn, wait_for

__all__ = ["spawn"]


def _cli(settings: jobkit.Settings, capsys: pytest.CaptureFixture[str], *argv: str,
         code: int = 0) -> Any:
    got = main([*argv[:2], "--redis-url", settings.redis_url, "--namespace",
                settings.namespace, "--json", *argv[2:]])
    out = capsys.readouterr().out
    assert got == code, out
    return json.loads(out) if code == 0 else out


@pytest.mark.slow
def test_three_workers_one_killed_run_each_tick_exactly_once(
        real_settings: jobkit.Settings, spawn: Callable[..., subprocess.Popen[bytes]]) -> None:
    r = jobkit.get_client().redis
    ns = real_settings.namespace
    workers = [spawn("-r", "tests.runtime.periodic_jobs") for _ in range(3)]
    keys = Keys(ns)
    wait_for(lambda: r.scard(keys.processes) == 3, 20, "three workers")
    started = time.time()
    time.sleep(15)
    workers[1].send_signal(signal.SIGKILL)
    workers[1].wait(5)
    killed_at = time.time()
    time.sleep(15)
    stopped = time.time()
    for w in (workers[0], workers[2]):
        w.send_signal(signal.SIGTERM)
    for w in (workers[0], workers[2]):
        assert w.wait(20) == 0
    ticks = {int(k): v for k, v in r.hgetall(f"{ns}:test:ticks").items()}
    runs = {k.decode(): int(v) for k, v in r.hgetall(f"{ns}:test:tick-jids").items()}
    # One jid per tick: never two enqueues of one tick (a redelivery keeps its jid).
    per_tick: dict[str, set[str]] = {}
    for key in runs:
        tick, jid = key.split(":")
        per_tick.setdefault(tick, set()).add(jid)
    assert all(len(jids) == 1 for jids in per_tick.values()), per_tick
    # No tick missing: every second from the first run to the last, killed or not.
    expected = set(range(min(ticks), max(ticks) + 1000, 1000))
    assert set(ticks) == expected, sorted(expected - set(ticks))
    assert min(ticks) / 1000 <= started + 1 and max(ticks) / 1000 >= stopped - 2
    assert any(killed_at - 1 < t / 1000 < killed_at + 5 for t in ticks)
    assert len(ticks) >= 29


def test_pause_and_resume_are_seen_by_every_worker_process(
        real_settings: jobkit.Settings, spawn: Callable[..., subprocess.Popen[bytes]],
        capsys: pytest.CaptureFixture[str]) -> None:
    r = jobkit.get_client().redis
    ns = real_settings.namespace
    workers = [spawn("-r", "tests.runtime.periodic_jobs") for _ in range(2)]
    wait_for(lambda: r.hlen(f"{ns}:test:ticks") >= 2, 20, "ticks to run")
    assert _cli(real_settings, capsys, "cron", "pause", "sample.EverySecond")["changed"]
    paused_at = time.time()
    time.sleep(3)
    resumed_at = time.time()
    _cli(real_settings, capsys, "cron", "resume", "sample.EverySecond")
    wait_for(lambda: any(int(t) / 1000 > resumed_at + 1 for t in r.hkeys(f"{ns}:test:ticks")),
             10, "a tick after resume")
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        assert w.wait(20) == 0
    ticks = [int(t) / 1000 for t in r.hkeys(f"{ns}:test:ticks")]
    assert not [t for t in ticks if paused_at + 0.5 < t < resumed_at - 0.5]
    assert [t for t in ticks if t > resumed_at + 1]


class Nightly(jobkit.Job):
    name = "cron_cli_test.Nightly"

    def perform(self) -> None:
        pass


def test_cron_lists_entries_with_next_and_last_run_and_outcome(
        settings: jobkit.Settings, r: redis.Redis, capsys: pytest.CaptureFixture[str]) -> None:
    entry = periodic.periodic("nightly-report", Nightly, cron="0 3 * * *", tz="Europe/Berlin")
    try:
        ticker = Ticker(r, settings, identity="h:1:a", entries={entry.name: entry})
        ticker.poll(time.time())  # publishes the definition, as a worker does
        [row] = _cli(settings, capsys, "cron")
        assert (row["name"], row["schedule"], row["zone"], row["last_run"], row["outcome"]) == (
            "nightly-report", "cron 0 3 * * *", "Europe/Berlin", None, None)
        assert row["next_run"] == entry.schedule.next_after(time.time())
        assert row["stale"] is False
        ran = _cli(settings, capsys, "cron", "run", "nightly-report")
        [row] = _cli(settings, capsys, "cron")
        assert (row["last_jid"], row["outcome"]) == (ran["jid"], "queued")
        jobkit.Worker(settings, jobkit.WorkerOptions(log_jobs=False)).process_one()
        [row] = _cli(settings, capsys, "cron")
        assert row["outcome"] == "done"
        main(["cron", "--redis-url", settings.redis_url, "--namespace", settings.namespace])
        out = capsys.readouterr().out
        assert "nightly-report" in out and "Europe/Berlin" in out and "done" in out
        assert _cli(settings, capsys, "cron", "pause", "nightly-report")["paused"] is True
        main(["cron", "--redis-url", settings.redis_url, "--namespace", settings.namespace])
        assert "nightly-report (paused)" in capsys.readouterr().out
        # No worker has published it for three days: removed from the code, or none runs.
        keys = Keys(settings.namespace)
        definition = json.loads(r.hget(keys.cron_entries, "nightly-report"))  # type: ignore[arg-type]
        definition["published_at"] = time.time() - 3 * 86400
        r.hset(keys.cron_entries, "nightly-report", json.dumps(definition))
        assert _cli(settings, capsys, "cron")[0]["stale"] is True
        main(["cron", "--redis-url", settings.redis_url, "--namespace", settings.namespace])
        assert "nightly-report (paused) (no worker ticks it)" in capsys.readouterr().out
        # A running worker republishes hourly.
        ticker.poll(time.time() + 3601)
        assert _cli(settings, capsys, "cron")[0]["stale"] is False
    finally:
        periodic.unregister(entry.name)


def test_cron_on_an_unknown_entry_names_it(settings: jobkit.Settings,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cron", "pause", "nope", "--redis-url", settings.redis_url, "--namespace",
                 settings.namespace])
    assert code == 1
    assert "no periodic entry named 'nope'" in capsys.readouterr().err
