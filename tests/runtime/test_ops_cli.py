"""The operations commands README's table documents, each checked for what it changes in
Redis: queues, scheduled, retry (one job or all), kill, delete, enqueue --in / -r, clear."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import jobkit
from jobkit.cli import main
from jobkit.keys import Keys

from .helpers import Clock

ROOT = Path(__file__).resolve().parents[2]


class Refund(jobkit.Job):
    name = "ops_cli_test.Refund"
    queue = "billing"
    retry = 2

    def perform(self, order_id: int) -> None:
        raise RuntimeError(f"gateway refused refund {order_id}")


class Import(jobkit.Job):
    name = "ops_cli_test.Import"
    queue = "imports"
    retry = False  # straight to the dead set

    def perform(self, row: int) -> None:
        raise ValueError(f"row {row} is corrupt")


def _cli(settings: jobkit.Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main([*argv[:1], "--redis-url", settings.redis_url, "--namespace",
                 settings.namespace, "--json", *argv[1:]])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def _text(settings: jobkit.Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main([*argv[:1], "--redis-url", settings.redis_url, "--namespace",
                 settings.namespace, *argv[1:]])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def _fail(job: type[jobkit.Job], arg: int, status: str) -> str:
    """Enqueue ``job(arg)`` and run it once; it must end in ``status`` (retry or dead)."""
    jid = job.perform_async(arg)
    worker = jobkit.Worker(jobkit.get_settings(), jobkit.WorkerOptions(
        queues=((job.options().queue, 1),), log_jobs=False))
    outcome = worker.process_one()
    assert outcome is not None and outcome.status == status, outcome
    assert jid is not None
    return jid


def _jids(r: redis.Redis, key: str) -> list[str]:
    raws = r.zrange(key, 0, -1) if r.type(key) == b"zset" else r.lrange(key, 0, -1)
    return [json.loads(raw)["jid"] for raw in raws]  # type: ignore[union-attr]


def test_queues_lists_each_queue_with_its_size_and_latency(
    settings: jobkit.Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = Clock()
    jobkit.configure(settings.replace(clock=clock))
    Refund.perform_async(1)
    clock.now += 4
    Refund.perform_async(2)
    Import.perform_async(3)
    clock.now += 1.5
    assert _cli(settings, capsys, "queues") == [
        {"name": "billing", "size": 2, "latency": 5.5, "paused": False},
        {"name": "imports", "size": 1, "latency": 1.5, "paused": False},
    ]
    lines = _text(settings, capsys, "queues").splitlines()
    assert lines[0].split() == ["queue", "size", "latency", "state"]
    assert [line.split() for line in lines[1:]] == [["billing", "2", "5.5s", "-"],
                                                    ["imports", "1", "1.5s", "-"]]


def test_scheduled_lists_jobs_soonest_first_with_their_run_time(
    settings: jobkit.Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = Clock(1_800_000_000.0)  # 2027-01-15 08:00:00 UTC
    jobkit.configure(settings.replace(clock=clock))
    later = Refund.perform_in(600, 2)
    sooner = Refund.perform_in(60, 1)
    rows = _cli(settings, capsys, "scheduled")
    assert [(row["jid"], row["class"], row["args"], row["queue"], row["at"]) for row in rows] == [
        (sooner, "ops_cli_test.Refund", [1], "billing", 1_800_000_060.0),
        (later, "ops_cli_test.Refund", [2], "billing", 1_800_000_600.0),
    ]
    text = _text(settings, capsys, "scheduled")
    assert "next run" in text.splitlines()[0]
    assert f"{sooner}  ops_cli_test.Refund  [1]" in text and "2027-01-15 08:01:00" in text
    assert [row["jid"] for row in _cli(settings, capsys, "scheduled", "--limit", "1")] == [sooner]


def test_retry_all_without_dead_moves_the_retry_set_and_leaves_the_dead_set(
    settings: jobkit.Settings, r: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = Keys(settings.namespace)
    retrying = [_fail(Refund, 1, "retry"), _fail(Refund, 2, "retry")]
    dead = _fail(Import, 3, "dead")
    assert _cli(settings, capsys, "retry", "--all") == {"retried": 2, "from": "retry"}
    assert r.zcard(keys.retry) == 0
    assert sorted(_jids(r, keys.queue("billing"))) == sorted(retrying)
    assert _jids(r, keys.dead) == [dead] and r.llen(keys.queue("imports")) == 0


def test_retry_jid_of_a_dead_job_pushes_it_back_with_its_jid_and_created_at(
    settings: jobkit.Settings, r: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = Keys(settings.namespace)
    jid = _fail(Import, 7, "dead")
    created = json.loads(r.zrange(keys.dead, 0, 0)[0])["created_at"]  # type: ignore[index]
    assert _cli(settings, capsys, "retry", jid) == {"retried": 1, "jid": jid, "from": "dead"}
    assert r.zcard(keys.dead) == 0
    [raw] = r.lrange(keys.queue("imports"), 0, -1)
    queued = json.loads(raw)
    assert (queued["jid"], queued["args"], queued["created_at"]) == (jid, [7], created)
    assert r.sismember(keys.queues, "imports")


def test_retry_jid_of_a_scheduled_job_runs_it_now(
    settings: jobkit.Settings, r: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = Keys(settings.namespace)
    jid = Refund.perform_in(3600, 5)
    other = Refund.perform_in(3600, 6)
    assert _cli(settings, capsys, "retry", jid) == {"retried": 1, "jid": jid, "from": "schedule"}
    assert _jids(r, keys.queue("billing")) == [jid]
    assert _jids(r, keys.schedule) == [other]


def test_kill_moves_a_scheduled_job_to_the_dead_set(
    settings: jobkit.Settings, r: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = Keys(settings.namespace)
    jid = Refund.perform_in(3600, 5)
    assert _cli(settings, capsys, "kill", jid) == {"killed": 1, "jid": jid, "from": "schedule"}
    assert r.zcard(keys.schedule) == 0
    assert _jids(r, keys.dead) == [jid]
    [dead] = _cli(settings, capsys, "dead")
    assert (dead["jid"], dead["args"]) == (jid, [5])
    # A dead job cannot be killed again: the command says so (exit 1: nothing found).
    code = main(["kill", jid, "--redis-url", settings.redis_url, "--namespace",
                 settings.namespace])
    assert code == 1 and f"no job with jid {jid} in retry, schedule" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["schedule", "dead"])
def test_delete_removes_exactly_that_job_from_its_set(
    settings: jobkit.Settings, r: redis.Redis, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    keys = Keys(settings.namespace)
    if where == "schedule":
        jid, kept = Refund.perform_in(60, 1), Refund.perform_in(60, 2)
    else:
        jid, kept = _fail(Import, 1, "dead"), _fail(Import, 2, "dead")
    assert _cli(settings, capsys, "delete", jid) == {"deleted": 1, "jid": jid, "from": where}
    assert _jids(r, getattr(keys, where)) == [kept]
    assert not [k for k in r.scan_iter(match=f"{settings.namespace}:queue:*")]


def test_enqueue_in_puts_the_job_in_the_schedule_at_now_plus_seconds(
    settings: jobkit.Settings, r: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = Clock()
    jobkit.configure(settings.replace(clock=clock))
    keys = Keys(settings.namespace)
    out = _cli(settings, capsys, "enqueue", "ops_cli_test.Refund", "[9]", "--in", "90")
    [(raw, score)] = r.zrange(keys.schedule, 0, -1, withscores=True)
    assert score == clock.now + 90
    assert json.loads(raw)["jid"] == out["jid"] and r.llen(keys.queue("billing")) == 0
    # Due: the scheduler moves it to the job's queue.
    worker = jobkit.Worker(jobkit.get_settings(), jobkit.WorkerOptions(
        queues=(("billing", 1),), log_jobs=False))
    assert worker.scheduler.enqueue_due(now=clock.now + 89) == 0
    assert worker.scheduler.enqueue_due(now=clock.now + 90) == 1
    assert _jids(r, keys.queue("billing")) == [out["jid"]]


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A job module outside sys.path (imported only through ``-r``) and its job's name,
    both new for every test: the job registry outlives a test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    module = f"ops_cli_app_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{module}.py"
    path.write_text(
        "import jobkit\n\n"
        "class Reindex(jobkit.Job):\n"
        f"    name = '{module}.Reindex'\n"
        "    queue = 'search'\n"
        "    retry = 4\n\n"
        "    def perform(self, index: str, shard: int) -> None:\n"
        "        pass\n")
    yield path, f"{module}.Reindex"
    sys.modules.pop(module, None)


def test_enqueue_with_require_applies_the_jobs_own_options_and_checks(
    settings: jobkit.Settings, r: redis.Redis, capsys: pytest.CaptureFixture[str],
    app_module: tuple[Path, str],
) -> None:
    keys = Keys(settings.namespace)
    path, name = app_module
    # Without -r the name is unknown here: a plain payload on the default queue.
    plain = _cli(settings, capsys, "enqueue", name, '["users", 1]')
    assert plain["queue"] == "default"
    code = main(["enqueue", name, '["users"]', "-r", str(path),
                 "--redis-url", settings.redis_url, "--namespace", settings.namespace])
    assert code == 2 and "takes 2 argument(s) but 1 were given" in capsys.readouterr().err
    out = _cli(settings, capsys, "enqueue", name, '["users", 2]', "-r", str(path))
    assert out["queue"] == "search"
    [queued] = [json.loads(raw) for raw in r.lrange(keys.queue("search"), 0, -1)]
    assert (queued["jid"], queued["args"], queued["retry"]) == (out["jid"], ["users", 2], 4)


def _run_cli(*argv: str, stdin: int | None = None, input: str | None = None,
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobkit", *argv], cwd=ROOT, stdin=stdin,
                          input=input, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_clear_refuses_without_a_terminal_even_when_yes_is_piped(
    real_settings: jobkit.Settings,
) -> None:
    r = jobkit.get_client().redis
    keys = Keys(real_settings.namespace)
    Refund.perform_bulk([[1], [2]])
    target = ["--redis-url", real_settings.redis_url, "--namespace", real_settings.namespace]
    done = _run_cli("clear", "billing", *target, input="yes\n")
    assert done.returncode == 2, done
    assert ("refusing to clear queue 'billing' without confirmation; pass --yes"
            in done.stderr)
    assert r.llen(keys.queue("billing")) == 2
    done = _run_cli("clear", "billing", "--yes", *target, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and "deleted 2 job(s) from queue 'billing'" in done.stdout
    assert r.llen(keys.queue("billing")) == 0


def test_clear_on_a_terminal_asks_and_deletes_only_after_yes(
    real_settings: jobkit.Settings,
) -> None:
    r = jobkit.get_client().redis
    keys = Keys(real_settings.namespace)
    _fail(Refund, 1, "retry")
    target = ["--redis-url", real_settings.redis_url, "--namespace", real_settings.namespace]
    for answer, code, left in (("no", 1, 1), ("yes", 0, 0)):
        leader, follower = os.openpty()
        try:
            os.write(leader, f"{answer}\n".encode())
            done = _run_cli("clear", "--set", "retry", *target, stdin=follower)
        finally:
            os.close(follower)
            os.close(leader)
        assert done.returncode == code, done
        assert "Delete every job in the retry set? Type 'yes':" in done.stdout
        assert r.zcard(keys.retry) == left
