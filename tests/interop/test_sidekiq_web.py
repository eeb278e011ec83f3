"""Sidekiq 6.4's Web UI buttons on jobkit's jobs: "Kill" and "Delete" pressed as a browser
presses them (the page fetched with a session cookie, its CSRF token and the job's checkbox
posted back), then checked as jobkit sees the data."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import jobkit
from jobkit.api import Admin, NotFoundError
from jobkit.keys import Keys

from .conftest import Sidekiq, fail_into_retry_set, kill_into_dead_set, make_healthy, ran
from .interop_jobs import ProcessOrderJob

pytestmark = pytest.mark.redis
KEYS = Keys("")


def _admin() -> Admin:
    return Admin(jobkit.get_settings())


def _jids(where: str) -> list[str]:
    return sorted(record.jid for record in _admin().entries(where))


def _pressed(result: dict[str, object], action: str) -> None:
    # Sidekiq answers a handled form with a redirect back to its list page.
    assert result["status"] == 302 and result["action"] == action, result


def test_web_ui_kill_moves_a_jobkit_retry_to_the_dead_set_jobkit_can_revive(
    sidekiq: Sidekiq, worker: Callable[..., jobkit.Worker]
) -> None:
    doomed = fail_into_retry_set(worker, 21, {"sku": "B-2"})
    spared = fail_into_retry_set(worker, 22)
    _pressed(sidekiq.run("press", "/retries", "kill", doomed), "/retries")
    assert _jids("retry") == [spared] and _jids("dead") == [doomed]
    record = _admin().find(doomed, where=("dead",))
    assert record.payload["class"] == "FlakyJob" and record.payload["args"] == [21, {"sku": "B-2"}]
    assert record.payload["error_message"] == "upstream unavailable for (21, {'sku': 'B-2'})"
    # An ordinary jobkit dead job: jobkit's retry runs it.
    assert _admin().retry_now(record)
    make_healthy()
    outcome = worker().process_one()
    assert outcome is not None and outcome.status == "done", outcome
    assert [(run["jid"], run["args"]) for run in ran()] == [(doomed, [21, {"sku": "B-2"}])]


@pytest.mark.parametrize("page", ["/retries", "/morgue", "/scheduled"])
def test_web_ui_delete_removes_exactly_the_ticked_jobkit_job(
    sidekiq: Sidekiq, worker: Callable[..., jobkit.Worker], page: str
) -> None:
    where = {"/retries": "retry", "/morgue": "dead", "/scheduled": "schedule"}[page]
    make: Callable[[int], str] = {
        "retry": lambda n: fail_into_retry_set(worker, n),
        "dead": lambda n: kill_into_dead_set(worker, n),
        "schedule": lambda n: str(ProcessOrderJob.perform_in(3600, n)),
    }[where]
    gone, kept = make(1), make(2)
    _pressed(sidekiq.run("press", page, "delete", gone), page)
    assert _jids(where) == [kept]
    with pytest.raises(NotFoundError):
        _admin().find(gone)
    # Deleted, not moved: no queue holds it either.
    assert all(_admin().redis.llen(KEYS.queue(name)) == 0 for name in _admin().queue_names())


def test_web_ui_delete_on_a_jobkit_jobs_own_page(
    sidekiq: Sidekiq, worker: Callable[..., jobkit.Worker]
) -> None:
    jid = kill_into_dead_set(worker, "order-5")
    [record] = _admin().entries("dead")
    page = f"/morgue/{record.score}-{jid}"
    _pressed(sidekiq.run("press", page, "delete"), page)
    assert _jids("dead") == []


def test_web_ui_refuses_a_kill_without_the_pages_csrf_token(
    sidekiq: Sidekiq, worker: Callable[..., jobkit.Worker]
) -> None:
    jid = fail_into_retry_set(worker, 31)
    result = sidekiq.run("press-forged", "/retries", "kill", jid)
    assert result["status"] == 403, result
    assert _jids("retry") == [jid] and _jids("dead") == []
