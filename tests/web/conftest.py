"""The dashboard served by a real uvicorn on a free port, Redis holding real jobkit data, and
headless Chromium (Debian's package) driven by Playwright."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import jobkit
from jobkit.keys import Keys
from tests.conftest import make_settings
from tests.needs import missing

from . import web_jobs

CHROMIUM = os.environ.get("JOBKIT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


class Served:
    """An ASGI or WSGI-wrapped app on uvicorn in a thread, at ``url``."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start in 10 s")
            time.sleep(0.01)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def serve() -> Iterator[Callable[[Any], Served]]:
    """Serves apps for the test's duration: ``serve(app).url``."""
    started: list[Served] = []

    def start(app: Any) -> Served:
        started.append(Served(app))
        return started[-1]

    yield start
    for served in started:
        served.close()


@pytest.fixture
def web_settings() -> Iterator[jobkit.Settings]:
    """A namespace of the real Redis, made jobkit's settings for the test; heartbeats every
    0.2 s so signals sent from the Busy page are read at once."""
    settings = make_settings("redis", heartbeat_interval=0.2)
    previous = jobkit.get_settings()
    jobkit.configure(settings)
    yield settings
    jobkit.configure(previous)
    r = redis.Redis.from_url(settings.redis_url)
    keys = list(r.scan_iter(match=f"{settings.namespace}:*", count=1000))
    if keys:
        r.delete(*keys)
    r.close()


@pytest.fixture
def r(web_settings: jobkit.Settings) -> redis.Redis:
    return jobkit.get_client().redis


def recorded(settings: jobkit.Settings, key: str) -> list[str]:
    """What the test jobs recorded under ``key``."""
    r = jobkit.get_client().redis
    return [v.decode() for v in r.lrange(f"{settings.namespace}:test:{key}", 0, -1)]


def make_worker(settings: jobkit.Settings, *queues: str, concurrency: int = 2) -> jobkit.Worker:
    return jobkit.Worker(settings, jobkit.WorkerOptions(
        queues=tuple((q, 1) for q in queues), concurrency=concurrency, log_jobs=False))


XSS = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"


def seed(settings: jobkit.Settings) -> None:
    """Real jobkit data: processed and failed counts over days, queued jobs on two queues,
    scheduled jobs, retries and dead jobs made by a real worker, an XSS payload and a
    payload that is not JSON."""
    r = jobkit.get_client().redis
    keys = Keys(settings.namespace)
    web_jobs.ChargeCard.fail = True
    for order in range(1, 4):
        web_jobs.ChargeCard.perform_async(order, "12.50")
    web_jobs.ChargeCard.set(retry=False).perform_async(4, XSS)
    worker = make_worker(settings, "critical")
    while worker.process_one() is not None:
        pass
    for order in range(10, 16):
        web_jobs.SendReceipt.perform_async(order)
    web_jobs.SendReceipt.perform_in(3600, 99)
    web_jobs.SendReceipt.perform_in(7200, 100)
    r.zadd(keys.dead, {b"\xff\xfe not json <b>bold</b>": time.time() - 5})
    seed_history(settings)


def seed_history(settings: jobkit.Settings) -> None:
    """Daily processed and failed counters for the last 30 days, as workers keep them."""
    keys = Keys(settings.namespace)
    pipe = jobkit.get_client().redis.pipeline()
    for back in range(30):
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - back * 86400))
        pipe.incrby(keys.stat("processed", day), 100 + 7 * back)
        pipe.incrby(keys.stat("failed", day), back % 5)
    pipe.execute()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian's package (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        missing(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests save a screenshot of each page they visit."""
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def shoot(screenshots: Path) -> Callable[[Any, str], Path]:
    """``shoot(page, name)`` saves a full-page PNG (also into $JOBKIT_TEST_SCREENSHOTS, if
    set: that is how docs/ gets its pictures)."""

    def save(tab: Any, name: str) -> Path:
        path = screenshots / f"{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        extra = os.environ.get("JOBKIT_TEST_SCREENSHOTS")
        if extra:
            tab.screenshot(path=str(Path(extra) / f"{name}.png"), full_page=False)
        return path

    return save


@pytest.fixture
def page(browser: Any, screenshots: Path, request: pytest.FixtureRequest,
         serve: Callable[[Any], Served]) -> Iterator[Any]:
    """A fresh browser page; console errors (a CSP violation included) fail the test.

    It depends on ``serve`` so that it closes before the servers stop: a page left open
    would poll a stopped server and log connection errors that are no fault of the app."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("dialog", lambda d: d.accept())
    tab.errors = errors
    yield tab
    context.close()
    assert errors == [], f"browser errors: {errors}"
