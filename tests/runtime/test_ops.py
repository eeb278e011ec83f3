"""The operations API and CLI: stats, listings, retry/kill/delete/clear, enqueue, --json."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

import jobkit
from jobkit.api import Admin, NotFoundError
from jobkit.cli import main
from jobkit.keys import Keys

from .helpers import Clock


class Charge(jobkit.Job):
    name = "ops_test.Charge"
    retry = 2
    queue = "critical"

    def perform(self, order_id: int) -> None:
        raise RuntimeError(f"card declined for {order_id}")


def _cli(settings: jobkit.Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main([*argv[:1], "--redis-url", settings.redis_url, "--namespace",
                 settings.namespace, "--json", *argv[1:]])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def _failed_job(settings: jobkit.Settings) -> tuple[str, jobkit.Worker]:
    jid = Charge.perform_async(7)
    worker = jobkit.Worker(jobkit.get_settings(), jobkit.WorkerOptions(
        queues=(("critical", 1),), log_jobs=False))
    worker.process_one()
    assert jid
    return jid, worker


def test_stats_reports_counters_sets_and_queue_latency(settings: jobkit.Settings,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    jobkit.configure(settings.replace(clock=clock))
    _failed_job(settings)
    Charge.perform_async(8)
    Charge.perform_in(60, 9)
    clock.now += 3
    admin = Admin(jobkit.get_settings())
    stats = admin.stats()
    assert (stats["processed"], stats["failed"], stats["retries"], stats["scheduled"],
            stats["dead"], stats["enqueued"]) == (1, 1, 1, 1, 0, 1)
    assert stats["queues"] == [{"name": "critical", "size": 1, "latency": 3.0, "paused": False}]
    cli = _cli(settings, capsys, "stats")
    assert cli["processed"] == 1 and cli["retries"] == 1


def test_retries_list_shows_class_args_and_error(settings: jobkit.Settings,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    jid, _ = _failed_job(settings)
    [row] = _cli(settings, capsys, "retries", "--limit", "5")
    assert row["jid"] == jid and row["class"] == "ops_test.Charge" and row["args"] == [7]
    assert row["error_message"] == "card declined for 7" and row["retry_count"] == 0
    main(["retries", "--redis-url", settings.redis_url, "--namespace", settings.namespace])
    text = capsys.readouterr().out
    assert jid in text and "RuntimeError: card declined for 7" in text


def test_retry_now_moves_the_job_back_with_the_same_jid(settings: jobkit.Settings,
                                                        r: redis.Redis,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    jid, worker = _failed_job(settings)
    assert _cli(settings, capsys, "retry", jid) == {"retried": 1, "jid": jid, "from": "retry"}
    keys = Keys(settings.namespace)
    assert r.zcard(keys.retry) == 0
    queued = json.loads(r.lindex(keys.queue("critical"), 0))  # type: ignore[arg-type]
    # Sidekiq's "Retry Now" takes one off the count: an operator's retry uses up no attempt.
    assert queued["jid"] == jid and queued["retry_count"] == -1
    assert worker.process_one().status == "retry"  # type: ignore[union-attr]
    [again] = r.zrange(keys.retry, 0, -1)
    assert json.loads(again)["retry_count"] == 0


def test_kill_moves_a_retry_to_dead_and_retry_all_dead_revives(
    settings: jobkit.Settings, r: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    jid, _ = _failed_job(settings)
    assert _cli(settings, capsys, "kill", jid)["killed"] == 1
    keys = Keys(settings.namespace)
    assert (r.zcard(keys.retry), r.zcard(keys.dead)) == (0, 1)
    [dead] = _cli(settings, capsys, "dead")
    assert dead["jid"] == jid
    assert _cli(settings, capsys, "retry", "--all", "--dead") == {"retried": 1, "from": "dead"}
    assert r.llen(keys.queue("critical")) == 1


def test_delete_and_clear_report_counts(settings: jobkit.Settings, r: redis.Redis,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    jid, _ = _failed_job(settings)
    assert _cli(settings, capsys, "delete", jid) == {"deleted": 1, "jid": jid, "from": "retry"}
    Charge.perform_bulk([[1], [2], [3]])
    assert _cli(settings, capsys, "clear", "critical", "--yes") == {"deleted": 3,
                                                                   "target": "critical"}
    Charge.perform_in(100, 1)
    assert _cli(settings, capsys, "clear", "--set", "schedule", "--yes")["deleted"] == 1


def test_clear_without_yes_refuses_when_not_interactive(
    settings: jobkit.Settings, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Charge.perform_async(1)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code = main(["clear", "critical", "--redis-url", settings.redis_url,
                 "--namespace", settings.namespace])
    assert code == 2
    assert "without confirmation; pass --yes" in capsys.readouterr().err
    assert jobkit.get_client().redis.llen(Keys(settings.namespace).queue("critical")) == 1


def test_unknown_jid_is_a_clear_error(settings: jobkit.Settings) -> None:
    with pytest.raises(NotFoundError, match="no job with jid abc123 in retry"):
        Admin(settings).find("abc123", where=("retry",))


def test_enqueue_by_name_uses_the_registered_options(settings: jobkit.Settings,
                                                     r: redis.Redis,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = _cli(settings, capsys, "enqueue", "ops_test.Charge", "[42]")
    assert out["queue"] == "critical"
    out = _cli(settings, capsys, "enqueue", "RubyOnlyJob", '[1, "a"]', "--queue", "low")
    raw = r.lindex(Keys(settings.namespace).queue("low"), 0)
    assert json.loads(raw)["class"] == "RubyOnlyJob"  # type: ignore[arg-type]


@pytest.mark.parametrize(("args_json", "message"), [("{}", "must be a JSON array"),
                                                    ("[", "is not JSON")])
def test_enqueue_rejects_bad_argument_json(settings: jobkit.Settings, args_json: str,
                                           message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["enqueue", "X", args_json, "--redis-url", settings.redis_url])
    assert code == 2 and message in capsys.readouterr().err


def test_enqueue_rejects_arguments_the_job_cannot_take(settings: jobkit.Settings,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["enqueue", "ops_test.Charge", "[1, 2]", "--redis-url", settings.redis_url])
    assert code == 2 and "takes 1 argument(s) but 2 were given" in capsys.readouterr().err
