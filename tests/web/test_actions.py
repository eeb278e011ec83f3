"""What an operator does in the browser: retry a dead job and watch a real worker run it,
search, page through 10,000 dead jobs, bulk delete, pause a queue under a running worker,
quiet and stop a worker — on a real Redis."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from playwright.sync_api import expect

import jobkit
from jobkit import payload as pl
from jobkit.api import Admin
from jobkit.keys import Keys
from jobkit.web import create_app
from tests.runtime.test_worker import wait_for

from . import web_jobs
from .conftest import Served, make_worker, recorded, seed


def _open(page: Any, url: str) -> None:
    page.goto(url)
    assert page.locator("h1").count() == 1


def test_retry_now_on_a_dead_job_runs_it_on_a_worker(
        web_settings: jobkit.Settings, page: Any, serve: Callable[[Any], Served],
        r: redis.Redis, shoot: Callable[[Any, str], Path]) -> None:
    seed(web_settings)
    keys = Keys(web_settings.namespace)
    url = serve(create_app(web_settings)).url
    web_jobs.ChargeCard.fail = False
    worker = make_worker(web_settings, "critical")
    worker.start()
    try:
        _open(page, url + "/dead")
        page.locator("tr", has_text="shop.ChargeCard").locator("a").first.click()
        expect(page.locator("h1")).to_have_text("Dead job")
        shoot(page, "dead-job")
        page.click("button:has-text('Retry now')")
        assert page.locator(".flash").inner_text() == "retry now: 1 job(s)"
        assert page.locator("table.jobs tbody tr").count() == 1  # the invalid payload is left
        wait_for(lambda: recorded(web_settings, "charged") == ["4"])
        assert r.zcard(keys.dead) == 1
    finally:
        worker.stop(timeout=5)


def test_search_finds_jobs_by_class_arguments_and_error_in_any_case(
        web_settings: jobkit.Settings, page: Any, serve: Callable[[Any], Served]) -> None:
    seed(web_settings)
    url = serve(create_app(web_settings)).url
    _open(page, url + "/retries")
    for query, rows in (("ORDER 2", 1), ("chargecard", 3), ("12.50", 3), ("declined", 3),
                        ("nothing like this", 0), ("mailers", 0)):
        page.fill("form.search input[name=q]", query)
        with page.expect_navigation():
            page.click("form.search button")
        body = page.locator("table.jobs tbody")
        assert body.locator("input[name=key]").count() == rows, query
        assert page.locator("form.search input[name=q]").input_value() == query
    assert "No job matches nothing like this" not in page.content()  # last was 'mailers'
    _open(page, url + "/dead?q=NOT+JSON")
    assert page.locator("table.jobs .badge.invalid").count() == 1


def _fill_dead(settings: jobkit.Settings, r: redis.Redis, count: int) -> float:
    """``count`` dead jobs as a worker writes them, one a second apart; returns the first's
    time of death."""
    keys = Keys(settings.namespace)
    start = time.time() - count
    pipe = r.pipeline(transaction=False)
    for n in range(count):
        job = pl.build("shop.ImportOrder", [n], queue="imports", retry=False, now=start + n)
        job.update(error_class="KeyError", error_message=f"missing sku for row {n}",
                   failed_at=start + n, retry_count=0)
        pipe.zadd(keys.dead, {pl.encode(job): start + n})
    pipe.execute()
    return start


def test_paging_through_10000_dead_jobs(web_settings: jobkit.Settings, page: Any,
                                        serve: Callable[[Any], Served], r: redis.Redis,
                                        shoot: Callable[[Any, str], Path]) -> None:
    _fill_dead(web_settings, r, 10_000)
    url = serve(create_app(web_settings)).url
    _open(page, url + "/dead")
    assert page.locator(".pager .where").first.inner_text() == "page 1 of 400"
    rows = page.locator("table.jobs tbody tr")
    assert rows.count() == 25 and "[9999]" in rows.first.inner_text()
    where = page.locator(".pager .where").first
    page.locator(".pager a[rel=next]").first.click()
    expect(where).to_have_text("page 2 of 400")
    assert "[9974]" in rows.first.inner_text()
    page.locator(".pager a:has-text('last')").first.click()
    expect(where).to_have_text("page 400 of 400")
    assert "[0]" in rows.last.inner_text()
    page.click("text=oldest first")
    expect(page.locator(".order strong")).to_have_text("oldest first")
    assert "[0]" in rows.first.inner_text() and "[24]" in rows.last.inner_text()
    page.click("text=100")
    expect(where).to_have_text("page 1 of 100")
    assert rows.count() == 100
    page.fill("form.search input[name=q]", "row 4242")
    page.click("form.search button")
    expect(page.locator("h1 small")).to_have_text("1 matching")
    assert rows.count() == 1 and "[4242]" in rows.first.inner_text()
    page.click("text=newest first")
    expect(page.locator(".order strong")).to_have_text("newest first")
    page.fill("form.search input[name=q]", "ROW 42")  # 42, 420-429, 4200-4299
    page.click("form.search button")
    expect(page.locator("h1 small")).to_have_text("111 matching")
    assert rows.count() == 100 and "[4299]" in rows.first.inner_text()
    shoot(page, "dead-search")


def test_bulk_delete_of_selected_jobs_and_of_all_that_match(
        web_settings: jobkit.Settings, page: Any, serve: Callable[[Any], Served],
        r: redis.Redis) -> None:
    _fill_dead(web_settings, r, 60)
    keys = Keys(web_settings.namespace)
    url = serve(create_app(web_settings)).url
    _open(page, url + "/dead")
    boxes = page.locator("table.jobs tbody input[name=key]")
    boxes.nth(0).check()
    boxes.nth(2).check()
    page.click("button:has-text('Delete selected')")
    assert page.locator(".flash").inner_text() == "delete: 2 job(s)"
    left = {pl.decode(raw)["args"][0] for raw in r.zrange(keys.dead, 0, -1)}
    assert len(left) == 58 and {59, 57}.isdisjoint(left) and 58 in left

    page.fill("form.search input[name=q]", "row 1")  # rows 1 and 10-19
    page.click("form.search button")
    expect(page.locator("h1 small")).to_have_text("11 matching")
    page.click("a:has-text('Delete: all 11 matching')")
    assert page.locator(".question").inner_text() == (
        "Delete all 11 dead job(s) matching 'row 1'?")
    page.click("button:has-text('Yes, delete 11 job(s)')")
    assert page.locator(".flash").inner_text() == "delete: 11 job(s)"
    left = {pl.decode(raw)["args"][0] for raw in r.zrange(keys.dead, 0, -1)}
    assert len(left) == 47 and {1, *range(10, 20)}.isdisjoint(left)

    assert page.locator("table.jobs tbody").inner_text() == "No job matches row 1."
    _open(page, url + "/dead")
    page.check("input.select-all")
    assert page.locator("table.jobs tbody input:checked").count() == 25
    page.click("button:has-text('Delete selected')")
    assert page.locator(".flash").inner_text() == "delete: 25 job(s)"
    assert r.zcard(keys.dead) == 47 - 25


def test_pausing_a_queue_stops_a_running_worker_taking_its_jobs(
        web_settings: jobkit.Settings, page: Any, serve: Callable[[Any], Served],
        r: redis.Redis, shoot: Callable[[Any, str], Path]) -> None:
    keys = Keys(web_settings.namespace)
    web_jobs.ChargeCard.fail = False
    web_jobs.SendReceipt.perform_async(1)
    web_jobs.ChargeCard.perform_async(100, "1.00")
    url = serve(create_app(web_settings)).url
    worker = make_worker(web_settings, "mailers", "critical")
    worker.start()
    try:
        wait_for(lambda: recorded(web_settings, "mailed") == ["1"])
        _open(page, url + "/queues")
        page.locator("tr[data-queue=mailers] button:has-text('Pause')").click()
        assert page.locator(".flash").inner_text() == "queue 'mailers' paused"
        assert page.locator("tr[data-queue=mailers] .badge").inner_text() == "paused"
        for order in (2, 3, 4):
            web_jobs.SendReceipt.perform_async(order)
        web_jobs.ChargeCard.perform_async(101, "1.00")
        # The worker is still fetching (the other queue's job runs), just not from mailers.
        wait_for(lambda: "101" in recorded(web_settings, "charged"))
        # A wait armed before the pause may move a mailers job and then put it back (it
        # sees the pause in the same round trip): back in the queue soon, never run.
        wait_for(lambda: r.llen(keys.queue("mailers")) == 3)
        assert recorded(web_settings, "mailed") == ["1"]
        assert Admin(web_settings).paused_queues() == ["mailers"]
        page.reload()
        shoot(page, "queues-paused")
        page.locator("tr[data-queue=mailers] button:has-text('Resume')").click()
        assert page.locator(".flash").inner_text() == "queue 'mailers' resumed"
        wait_for(lambda: sorted(recorded(web_settings, "mailed")) == ["1", "2", "3", "4"])
    finally:
        worker.stop(timeout=5)


def test_clearing_a_queue_asks_first_and_deleting_one_job_keeps_the_rest(
        web_settings: jobkit.Settings, page: Any, serve: Callable[[Any], Served],
        r: redis.Redis) -> None:
    keys = Keys(web_settings.namespace)
    for order in range(5):
        web_jobs.SendReceipt.perform_async(order)
    url = serve(create_app(web_settings)).url
    _open(page, url + "/queues/mailers")
    page.locator("table.jobs tbody tr", has_text="[2]").locator("button").click()
    assert page.locator(".flash").inner_text() == "deleted 1 job from queue 'mailers'"
    assert sorted(pl.decode(raw)["args"][0] for raw in r.lrange(keys.queue("mailers"), 0, -1)
                  ) == [0, 1, 3, 4]
    page.click("a:has-text('Clear')")
    expect(page.locator("h1")).to_have_text("Clear queue mailers")
    assert page.locator(".question").inner_text() == (
        "Delete all 4 job(s) waiting in queue 'mailers'?")
    assert r.llen(keys.queue("mailers")) == 4  # asking changed nothing
    page.click("button:has-text('Yes, delete 4 job(s)')")
    assert page.locator(".flash").inner_text() == "deleted 4 job(s) from queue 'mailers'"
    assert page.locator("h1").inner_text() == "Queues"
    assert r.llen(keys.queue("mailers")) == 0


def test_busy_shows_running_jobs_and_quiet_and_stop_reach_the_worker(
        web_settings: jobkit.Settings, page: Any, serve: Callable[[Any], Served],
        shoot: Callable[[Any, str], Path]) -> None:
    web_jobs.Hold.release.clear()
    web_jobs.Hold.perform_async("report-7")
    url = serve(create_app(web_settings)).url
    worker = make_worker(web_settings, "slow", "mailers", concurrency=3)
    worker.start()
    try:
        wait_for(lambda: recorded(web_settings, "held") == ["'report-7'"])
        # The heartbeat (every 0.2 s here) publishes the busy thread.
        wait_for(lambda: Admin(web_settings).processes()[0]["busy"] == 1)
        _open(page, url + "/busy")
        row = page.locator(f"tr[data-identity='{worker.identity}']")
        assert "1 / 3" in row.inner_text() and "slow, mailers" in row.inner_text()
        running = page.locator("table.running tbody").inner_text()
        assert "shop.Hold" in running and "report-7" in running
        shoot(page, "busy-running")
        row.locator("button:has-text('Quiet')").click()
        assert page.locator(".flash").inner_text() == "sent quiet to 1 process(es)"
        wait_for(lambda: worker._quiet.is_set())
        web_jobs.SendReceipt.perform_async(5)
        wait_for(lambda: Admin(web_settings).processes()[0]["quiet"])
        page.reload()
        expect(row.locator(".badge")).to_have_text("quiet")
        assert recorded(web_settings, "mailed") == []  # a quiet worker fetches nothing
        row.locator("button:has-text('Stop')").click()
        wait_for(lambda: worker._stopping.is_set())
    finally:
        web_jobs.Hold.release.set()
        worker.stop(timeout=5)
