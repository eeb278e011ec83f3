"""Every page of the dashboard, in headless Chromium, against a Redis holding real jobkit
data: each loads, shows that data, breaks no Content-Security-Policy rule, and is saved as
a screenshot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

import jobkit
from jobkit.web import create_app
from tests.runtime.test_worker import wait_for

from . import web_jobs
from .conftest import Served, make_worker, recorded, seed, seed_history


def test_every_page_loads_with_real_data(web_settings: jobkit.Settings, page: Any,
                                         serve: Callable[[Any], Served],
                                         shoot: Callable[[Any, str], Path]) -> None:
    seed(web_settings)
    url = serve(create_app(web_settings, live_interval=0.3)).url
    page.goto(url + "/")
    assert page.locator("[data-live=dead]").inner_text() == "2"
    assert page.locator("[data-live=retries]").inner_text() == "3"
    assert page.locator("[data-live=scheduled]").inner_text() == "2"
    assert page.locator("[data-live=enqueued]").inner_text() == "6"
    chart = page.locator("#live-chart")
    wait_for(lambda: int(chart.get_attribute("data-polls") or 0) >= 3, timeout=20)
    assert page.locator("#live-chart polyline.processed").get_attribute("points") != ""
    assert page.locator(".history circle").count() == 30
    assert "redis_version" in page.locator("table.info").inner_text()
    shoot(page, "dashboard")
    page.click("a.range >> text=7 days")
    expect(page.locator("a.range.current")).to_have_text("7 days")
    assert page.locator(".history circle").count() == 7

    page.click("nav >> text=Queues")
    expect(page.locator("h1")).to_have_text("Queues")
    rows = page.locator("table.queues tbody tr")
    assert rows.count() == 2
    assert "mailers" in rows.nth(1).inner_text() and "6" in rows.nth(1).inner_text()
    shoot(page, "queues")
    page.click("text=mailers")
    expect(page.locator("h1")).to_have_text("Queue mailers")
    assert page.locator("table.jobs tbody tr").count() == 6
    assert "shop.SendReceipt" in page.locator("table.jobs").inner_text()
    assert "[15]" in page.locator("table.jobs tbody tr").first.inner_text()
    shoot(page, "queue")

    page.click("nav >> text=Retries")
    expect(page.locator("h1")).to_have_text("Retries 3")
    assert page.locator("table.jobs tbody tr").count() == 3
    assert "card declined for order" in page.locator("table.jobs").inner_text()
    shoot(page, "retries")
    page.locator("table.jobs tbody tr a").first.click()
    expect(page.locator("h1")).to_have_text("Retry")
    info = page.locator("table.job").inner_text()
    assert "RuntimeError" in info and "card declined for order" in info
    assert "failed_at" in info and "created_at" in info and "Backtrace" in info
    shoot(page, "retry-job")

    page.click("nav >> text=Scheduled")
    expect(page.locator("h1")).to_have_text("Scheduled 2")
    assert page.locator("table.jobs tbody tr").count() == 2
    shoot(page, "scheduled")

    page.click("nav >> text=Dead")
    expect(page.locator("h1")).to_have_text("Dead 2")
    assert page.locator("table.jobs tbody tr").count() == 2
    assert page.locator("table.jobs .badge.invalid").count() == 1
    shoot(page, "dead")

    page.click("nav >> text=Busy")
    expect(page.locator("h1")).to_have_text("Busy")
    assert "No live process" in page.locator("table.processes").inner_text()
    shoot(page, "busy")


def test_the_live_chart_follows_a_running_worker(web_settings: jobkit.Settings, page: Any,
                                                 serve: Callable[[Any], Served],
                                                 shoot: Callable[[Any, str], Path]) -> None:
    seed_history(web_settings)
    url = serve(create_app(web_settings, live_interval=0.25)).url
    worker = make_worker(web_settings, "mailers")
    worker.start()
    try:
        page.goto(url + "/")
        chart = page.locator("#live-chart")

        def polls() -> int:
            return int(chart.get_attribute("data-polls") or 0)

        for batch in range(8):
            web_jobs.SendReceipt.perform_bulk([[batch * 100 + n] for n in range(25 * batch)])
            seen = polls()
            wait_for(lambda seen=seen: polls() > seen, timeout=20)
        wait_for(lambda: len(recorded(web_settings, "mailed")) == 25 * 28)
        wait_for(lambda: page.locator("[data-live=processed]").inner_text() == "700")
        points = chart.locator("polyline.processed").get_attribute("points") or ""
        heights = [float(p.split(",")[1]) for p in points.split()]
        assert min(heights) < 140  # some poll saw jobs done (the baseline is y = 140)
        assert int((chart.locator(".ymax").text_content() or "0").replace(",", "")) >= 1
        shoot(page, "dashboard-live")
        page.goto("about:blank")  # stop polling before the server goes away
    finally:
        worker.stop(timeout=5)
