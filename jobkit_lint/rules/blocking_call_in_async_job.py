"""JK304: a blocking call inside a coroutine job (`async def`)."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from jobkit_lint.rule import FileFacts, JobDef, Rule, Violation, iter_body_nodes

_HTTP_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options",
                         "request"})
_ASYNC_HTTP = "use an async client (`httpx.AsyncClient`, aiohttp)"
_THREAD = "or run it in a thread: `await asyncio.to_thread(...)`"
#: Qualified callables that block, and what to use on an event loop instead.
_BLOCKING: dict[str, str] = {
    "time.sleep": "use `await asyncio.sleep(...)`",
    "urllib.request.urlopen": _ASYNC_HTTP,
    "urllib3.request": _ASYNC_HTTP,
    "subprocess.run": "use `await asyncio.create_subprocess_exec(...)`",
    "subprocess.call": "use `await asyncio.create_subprocess_exec(...)`",
    "subprocess.check_call": "use `await asyncio.create_subprocess_exec(...)`",
    "subprocess.check_output": "use `await asyncio.create_subprocess_exec(...)`",
    "socket.create_connection": "use `await asyncio.open_connection(...)`",
    "smtplib.SMTP": "use aiosmtplib",
    "smtplib.SMTP_SSL": "use aiosmtplib",
    "psycopg2.connect": "use asyncpg or psycopg's `AsyncConnection`",
    **{f"requests.{verb}": _ASYNC_HTTP for verb in _HTTP_VERBS},
    **{f"requests.api.{verb}": _ASYNC_HTTP for verb in _HTTP_VERBS},
    **{f"httpx.{verb}": "use `httpx.AsyncClient`" for verb in (*_HTTP_VERBS, "stream")},
}
#: Constructors of sync clients: any method called on what they return blocks.
_SYNC_CLIENTS: dict[str, str] = {
    "requests.Session": _ASYNC_HTTP,
    "requests.session": _ASYNC_HTTP,
    "httpx.Client": "use `httpx.AsyncClient`",
    "urllib3.PoolManager": _ASYNC_HTTP,
    "redis.Redis": "use `redis.asyncio.Redis`",
    "redis.StrictRedis": "use `redis.asyncio.Redis`",
    "redis.from_url": "use `redis.asyncio.from_url`",
    "redis.Redis.from_url": "use `redis.asyncio.Redis.from_url`",
    "redis.client.Redis": "use `redis.asyncio.Redis`",
}
#: Methods of those clients that do no I/O.
_LOCAL_METHODS = frozenset({"pipeline", "register_script", "lock", "pubsub", "mount",
                            "build_request", "prepare_request"})


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
    (or awaits) by name are checked too, one level deep. Plain `def` jobs are left to JK302
    and JK303: this rule owns `async def` bodies, where the loop, not a thread, is at stake.
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
        helpers = {
            stmt.name.value: stmt for stmt in facts.module.body
            if isinstance(stmt, cst.FunctionDef)
        }
        for job in facts.jobs:
            for body in job.bodies:
                if body.asynchronous is None:
                    continue
                nodes = job.body_nodes(body)
                yield from self._scan(facts, job, nodes, None, seen)
                for name in self._called_helpers(nodes, helpers, facts, job):
                    helper_nodes = list(iter_body_nodes(helpers[name].body))
                    yield from self._scan(facts, job, helper_nodes, name, seen)

    @staticmethod
    def _called_helpers(nodes: list[cst.CSTNode], helpers: dict[str, cst.FunctionDef],
                        facts: FileFacts, job: JobDef) -> list[str]:
        jobs = {j.node.name.value for j in facts.jobs}
        names: list[str] = []
        for node in nodes:
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Name):
                name = node.func.value
                if name in helpers and name not in jobs and name not in names \
                        and helpers[name] is not job.node:
                    names.append(name)
        return names

    def _scan(self, facts: FileFacts, job: JobDef, nodes: list[cst.CSTNode],
              helper: str | None, seen: set[int]) -> Iterator[Violation]:
        local = _bindings(nodes)
        for node in nodes:
            if not isinstance(node, cst.Call) or id(node) in seen:
                continue
            advice = self._advice(facts, local, node)
            if advice is None:
                continue
            seen.add(id(node))
            name = job.node.name.value
            where = f"`{helper}` (called by async job `{name}`)" if helper \
                else f"async job `{name}`"
            yield Violation(node, message=self.MESSAGE.format(
                call=facts.module.code_for_node(node.func), where=where,
                advice=f"{advice}, {_THREAD}"))

    @staticmethod
    def _advice(facts: FileFacts, local: dict[str, list[cst.BaseExpression]],
                call: cst.Call) -> str | None:
        qualified = facts.resolver.qualify(call.func) or ""
        if qualified in _BLOCKING:
            return _BLOCKING[qualified]
        if not isinstance(call.func, cst.Attribute) or call.func.attr.value in _LOCAL_METHODS:
            return None
        receiver = call.func.value
        values: list[cst.BaseExpression] = [receiver]
        if isinstance(receiver, cst.Name):
            values = local.get(receiver.value) or facts.module_scope.env.get(receiver.value, [])
        kinds = {
            _SYNC_CLIENTS.get(facts.resolver.qualify(v.func) or "")
            if isinstance(v, cst.Call) else None
            for v in values
        }
        # Every binding must be a sync client: a name also bound to an async one is unknown.
        return kinds.pop() if len(kinds) == 1 else None


def _bindings(nodes: list[cst.CSTNode]) -> dict[str, list[cst.BaseExpression]]:
    """Local names bound by `name = value` and `with value as name`."""
    bound: dict[str, list[cst.BaseExpression]] = {}
    for node in nodes:
        if isinstance(node, cst.Assign):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    bound.setdefault(target.target.value, []).append(node.value)
        elif (isinstance(node, cst.WithItem) and node.asname is not None
              and isinstance(node.asname.name, cst.Name)):
            bound.setdefault(node.asname.name.value, []).append(node.item)
    return bound
