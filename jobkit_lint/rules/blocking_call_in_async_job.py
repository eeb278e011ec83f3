"""JK304: a blocking call inside a coroutine job (`async def`)."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from jobkit_lint.rule import (
    FileFacts,
    JobDef,
    Rule,
    Violation,
    blocking_advice,
    is_async_job,
    job_code,
    local_bindings,
)

_THREAD = "or run it in a thread: `await asyncio.to_thread(...)`"


class BlockingCallInAsyncJob(Rule):
    """Don't block the event loop in a coroutine job: await an async API instead.

    A coroutine job (`async def perform`, an `async def` arq, SAQ or taskiq task, an async
    `@jobkit.job`) shares one event loop with every other coroutine job of its worker. A
    blocking call — `time.sleep`, `requests`, sync `httpx`, `urllib.request.urlopen`,
    `urllib3`, a sync `redis.Redis` client, `subprocess.run`, `smtplib`, `psycopg2.connect` —
    stops all of them until it returns, so one slow partner stalls the whole worker and the
    concurrency you asked for is gone. Use the async counterpart the message names, or run
    the call in a thread with `await asyncio.to_thread(...)` (a call passed to `to_thread`
    or `run_in_executor` is not flagged). Functions of the same module that the job calls
    (or awaits) by name, and a job class's methods called as `self.name(...)`, are checked
    too, one level deep. This rule owns blocking calls in
    `async def` jobs, where the loop, not a thread, is at stake: a rule that also looks at
    calls in job bodies (a sleep, a request without a timeout) leaves those to it, through
    `is_async_job` and `blocking_advice` of the rule API, so each call is reported once.
    """

    CODE = "JK304"
    NAME = "blocking-call-in-async-job"
    MESSAGE = "`{call}` blocks the event loop in {where}, stalling every coroutine job " \
        "of the worker; {advice}"
    VALID = (
        """\
import asyncio
import httpx
import jobkit

class FetchFeedJob(jobkit.Job):
    async def perform(self, url):
        async with httpx.AsyncClient(timeout=10) as client:
            await client.get(url)
        await asyncio.sleep(1)
        await asyncio.to_thread(parse_with_lxml, url)
""",
        """\
import time
import requests
import jobkit

class SyncJob(jobkit.Job):
    def perform(self, url):
        requests.get(url, timeout=10)
        time.sleep(1)
""",
    )
    INVALID = (
        """\
import time
import requests
import jobkit

class FetchFeedJob(jobkit.Job):
    async def perform(self, url):
        requests.get(url, timeout=10)
        time.sleep(1)
""",
        """\
import redis
from arq.connections import RedisSettings

cache = redis.Redis()

async def download(ctx, url):
    cache.set(url, "started")

class WorkerSettings:
    functions = [download]
    redis_settings = RedisSettings()
""",
        """\
from urllib.request import urlopen
from taskiq_redis import ListQueueBroker

broker = ListQueueBroker("redis://localhost")

def read(url):
    return urlopen(url, timeout=5).read()

@broker.task
async def mirror(url):
    return read(url)
""",
    )

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Flag blocking calls in `async def` job bodies and the helpers they call."""
        seen: set[int] = set()
        for job in facts.jobs:
            if not is_async_job(job):
                continue
            for _function, nodes, helper in job_code(facts, job):
                yield from self._scan(facts, job, nodes, helper, seen)

    def _scan(self, facts: FileFacts, job: JobDef, nodes: list[cst.CSTNode],
              helper: str | None, seen: set[int]) -> Iterator[Violation]:
        local = local_bindings(nodes)
        for node in nodes:
            if type(node) is not cst.Call or id(node) in seen:
                continue
            advice = blocking_advice(facts, local, node)
            if advice is None:
                continue
            seen.add(id(node))
            name = job.node.name.value
            where = f"`{helper}` (called by async job `{name}`)" if helper \
                else f"async job `{name}`"
            yield Violation(node, message=self.MESSAGE.format(
                call=facts.module.code_for_node(node.func), where=where,
                advice=f"{advice}, {_THREAD}"))
