"""The Job-by-jid page: the same answer as ``jobkit status JID`` (jobkit.status), wherever
the job is, with a link to its set entry."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

import jobkit
from jobkit.status import StatusReader
from jobkit.web import create_app
from tests.runtime.test_worker import wait_for

from . import web_jobs
from .conftest import Served, make_worker, recorded


def _state(url: str, jid: str) -> str:
    response = httpx.get(f"{url}/jobs/{jid}")
    assert response.status_code == 200, response.text
    return response.text


def test_the_page_says_where_a_job_is_as_jobkit_status_does(
        web_settings: jobkit.Settings, page: Any, serve: Callable[[Any], Served]) -> None:
    url = serve(create_app(web_settings)).url
    reader = StatusReader(jobkit.get_client().redis, web_settings)
    queued = web_jobs.SendReceipt.perform_async(1)
    scheduled = web_jobs.SendReceipt.perform_in(600, 2)
    web_jobs.ChargeCard.fail = True
    retrying = web_jobs.ChargeCard.perform_async(3, "9.99")
    dead = web_jobs.ChargeCard.set(retry=False).perform_async(4, "9.99")
    worker = make_worker(web_settings, "critical")
    while worker.process_one() is not None:
        pass
    for jid, state in ((queued, "queued"), (scheduled, "scheduled"), (retrying, "retrying"),
                       (dead, "dead")):
        assert jid is not None
        status = reader.status(jid)
        assert status.state == state
        page.goto(f"{url}/")
        page.fill("input[name=jid]", jid)
        with page.expect_navigation(url=f"{url}/jobs/{jid}"):
            page.click("form.jid button")
        assert page.locator("h1").inner_text() == f"Job {jid}"
        assert page.locator(".state .badge").inner_text() == state
        assert status.describe() in page.locator(".state").inner_text()
    with page.expect_navigation():
        page.click("a:has-text('Open in dead')")
    assert page.locator("h1").inner_text() == "Dead job"
    assert dead in page.locator("table.job").inner_text()


def test_a_running_job_names_its_process(web_settings: jobkit.Settings,
                                         serve: Callable[[Any], Served]) -> None:
    url = serve(create_app(web_settings)).url
    web_jobs.Hold.release = threading.Event()
    jid = web_jobs.Hold.perform_async("nightly")
    assert jid is not None
    worker = make_worker(web_settings, "slow")
    worker.start()
    try:
        wait_for(lambda: recorded(web_settings, "held") == ["'nightly'"])
        wait_for(lambda: "running" in _state(url, jid))
        text = _state(url, jid)
        assert worker.identity in text and "(alive)" in text
    finally:
        web_jobs.Hold.release.set()
        worker.stop(timeout=5)
