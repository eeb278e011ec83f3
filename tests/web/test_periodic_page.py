"""The Periodic page: entries a real worker ticks, with pause / resume and run now, the
same data and actions as ``jobkit cron``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from playwright.sync_api import expect

import jobkit
from jobkit import periodic_entries
from jobkit.keys import Keys
from jobkit.web import create_app
from tests.runtime.test_worker import wait_for

from . import web_jobs
from .conftest import Served, make_worker, recorded

NAME = "web-test-report"


@pytest.fixture
def entry() -> Iterator[str]:
    """A periodic entry ticking every second, defined for this test only."""
    periodic_entries.periodic(NAME, web_jobs.Report, every=1)
    yield NAME
    periodic_entries.unregister(NAME)


def test_pause_resume_and_run_a_periodic_entry(
        web_settings: jobkit.Settings, entry: str, page: Any, r: redis.Redis,
        serve: Callable[[Any], Served], shoot: Callable[[Any, str], Path]) -> None:
    keys = Keys(web_settings.namespace)
    url = serve(create_app(web_settings)).url
    worker = make_worker(web_settings, "reports")
    worker.start()
    try:
        wait_for(lambda: len(recorded(web_settings, "reported")) >= 1)
        page.goto(url + "/periodic")
        row = page.locator(f"tr[data-entry={entry}]")
        assert "shop.Report" in row.inner_text() and "active" in row.inner_text()
        # The last run's outcome, from where its job is now (as jobkit cron says it).
        assert row.locator(".outcome").inner_text() in ("done", "queued", "fetched", "running")
        shoot(page, "periodic")

        row.locator("button:has-text('Pause')").click()
        expect(page.locator(".flash")).to_have_text(f"paused {entry}")
        expect(row.locator(".badge").first).to_have_text("paused")
        assert r.smembers(keys.cron_paused) == {entry.encode()}
        # The worker skips the next tick (and says so where jobkit cron reads it).
        wait_for(lambda: r.hget(keys.cron_entry(entry), "last_result") == b"paused")

        row.locator("button:has-text('Run now')").click()
        flash = page.locator(".flash")
        expect(flash).to_contain_text(f"enqueued {entry} ")
        jid = flash.inner_text().split()[2]
        wait_for(lambda: repr(jid) in recorded(web_settings, "reported"))

        ran = len(recorded(web_settings, "reported"))
        row.locator("button:has-text('Resume')").click()
        expect(page.locator(".flash")).to_have_text(f"resumed {entry}")
        wait_for(lambda: len(recorded(web_settings, "reported")) > ran)
        assert r.smembers(keys.cron_paused) == set()
    finally:
        worker.stop(timeout=5)


def test_an_unknown_entry_is_a_404_and_read_only_hides_the_buttons(
        web_settings: jobkit.Settings, entry: str, page: Any,
        serve: Callable[[Any], Served]) -> None:
    worker = make_worker(web_settings, "reports")
    worker.start()
    try:
        wait_for(lambda: jobkit.get_client().redis.hexists(
            Keys(web_settings.namespace).cron_entries, entry))
    finally:
        worker.stop(timeout=5)
    url = serve(create_app(web_settings, read_only=True)).url
    page.goto(url + "/periodic")
    assert entry in page.locator("table.periodic").inner_text()
    assert page.locator("table.periodic button").count() == 0
    page.goto(url + "/queues")  # leave a page without errors before the 404 below
    response = page.request.post(url + "/periodic/nope/pause")
    assert response.status == 403  # read-only refuses before looking
