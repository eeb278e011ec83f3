"""The linter knows coroutine jobs: jobkit's ``async def perform`` and async ``@jobkit.job``,
arq and SAQ coroutines listed in a worker's functions (from any module), taskiq tasks; JK304
flags blocking calls in them, and only there."""

from __future__ import annotations

from pathlib import Path

from jobkit_lint import Config, lint_paths, lint_source

from .helpers import write_tree


def jk304(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.message.split("`")[1]) for f in lint_source(source, path="jobs.py")
            if f.code == "JK304"]


def lint_tree(root: Path, files: dict[str, str]) -> list[tuple[str, int, str]]:
    write_tree(root, files)
    report = lint_paths([root], config=Config(root=root, select=("JK304",)), jobs=1,
                        use_cache=False)
    return sorted((Path(f.path).name, f.line, f.message) for f in report)


def test_arq_coroutines_listed_in_worker_settings_of_another_module(tmp_path: Path) -> None:
    found = lint_tree(tmp_path, {
        "app/__init__.py": "",
        "app/tasks.py": """\
            import requests

            async def download(ctx, url):
                return requests.get(url, timeout=5)

            async def fine(ctx, url):
                return url
        """,
        "app/worker.py": """\
            from arq import cron
            from arq.worker import func
            from app.tasks import download, fine

            class WorkerSettings:
                functions = [func(download, timeout=60)]
                cron_jobs = [cron(fine, hour=1)]
        """,
    })
    assert [(name, line) for name, line, _ in found] == [("tasks.py", 4)]
    assert "in async job `download`" in found[0][2]
    assert "httpx.AsyncClient" in found[0][2]


def test_saq_settings_and_taskiq_tasks_are_coroutine_jobs() -> None:
    assert jk304("""\
import time
import subprocess
from saq import Queue

async def report(ctx, *, day):
    subprocess.run(["make-report", day])

settings = {"queue": Queue.from_url("redis://"), "functions": [report]}
""") == [(6, "subprocess.run")]
    assert jk304("""\
import time
from taskiq import InMemoryBroker

broker = InMemoryBroker()

@broker.task
async def tick():
    time.sleep(1)

@broker.task
def plain_tick():
    time.sleep(1)
""") == [(8, "time.sleep")]


def test_calls_handed_to_a_thread_or_awaited_are_not_flagged() -> None:
    assert jk304("""\
import asyncio
import requests
import redis.asyncio as aioredis
import jobkit

cache = aioredis.Redis()

@jobkit.job
async def warm(url):
    await asyncio.to_thread(requests.get, url, timeout=5)
    await asyncio.get_running_loop().run_in_executor(None, lambda: requests.get(url))
    await cache.set(url, "warm")
    pipe = cache.pipeline()
""") == []


def test_sync_redis_clients_and_helpers_are_followed_one_level() -> None:
    assert jk304("""\
import redis
import requests
import jobkit

r = redis.Redis.from_url("redis://localhost")

def record(key):
    r.incr(key)

async def fetch(url):
    with requests.Session() as session:
        return session.get(url, timeout=3)

class CountJob(jobkit.Job):
    async def perform(self, key):
        record(key)
        await fetch(key)
        r.pipeline()

    def on_done(self):
        r.incr("done")
""") == [(8, "r.incr"), (12, "session.get")]


def test_a_name_bound_to_an_async_client_somewhere_is_not_guessed() -> None:
    assert jk304("""\
import httpx
import jobkit

class PingJob(jobkit.Job):
    async def perform(self, url, fast):
        client = httpx.AsyncClient() if fast else None
        client = httpx.Client()
        client.get(url)
""") == []


def test_an_async_task_of_an_imported_taskiq_broker_is_checked(tmp_path: Path) -> None:
    found = lint_tree(tmp_path, {
        "app/__init__.py": "",
        "app/broker.py": """\
            from taskiq_redis import ListQueueBroker

            broker = ListQueueBroker("redis://localhost")
        """,
        "app/tasks.py": """\
            import time
            from app.broker import broker

            @broker.task
            async def tick():
                time.sleep(1)
        """,
    })
    assert [(name, line) for name, line, _ in found] == [("tasks.py", 6)]


def test_awaited_enqueues_are_checked_like_the_sync_ones() -> None:
    found = [(f.code, f.line) for f in lint_source("""\
import datetime as dt
import jobkit
from shop.models import Order

class ShipJob(jobkit.Job):
    async def perform(self, order_id, when):
        pass

async def checkout(order_id):
    order = Order.objects.get(id=order_id)
    await ShipJob.aperform_async(order, "now")
    await ShipJob.set(queue="low").aperform_in(60, order_id, dt.datetime.now())
    await ShipJob.aperform_in(dt.timedelta(minutes=5), order_id, "later")
""", path="shop/views.py") if f.code in ("JK101", "JK102")]
    assert found == [("JK101", 11), ("JK102", 12)]


def test_a_blocking_call_in_a_coroutine_job_is_reported_once_by_jk304() -> None:
    source = """\
import time
import httpx
import requests
import jobkit

class SyncFeedJob(jobkit.Job):
    async def perform(self, url):
        requests.get(url)
        time.sleep(1)
        self.pause()
        async with httpx.AsyncClient(timeout=None) as client:
            await client.get(url)

    def pause(self):
        time.sleep(2)

class PlainJob(jobkit.Job):
    def perform(self, url):
        requests.get(url)
        time.sleep(1)
"""
    found = sorted((f.line, f.code) for f in lint_source(source, path="jobs.py")
                   if f.code in ("JK302", "JK303", "JK304"))
    assert found == [(8, "JK304"), (9, "JK304"), (11, "JK303"), (15, "JK304"),
                     (19, "JK303"), (20, "JK302")]
