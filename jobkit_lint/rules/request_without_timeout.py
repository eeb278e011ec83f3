"""JK303: a network call without a timeout inside a job body."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import libcst as cst

from jobkit_lint.rule import (
    FileFacts,
    Rule,
    Violation,
    blocking_advice,
    is_async_job,
    job_code,
    local_bindings,
)

_REQUESTS_FUNCS = frozenset({"get", "post", "put", "patch", "delete", "head", "options",
                             "request"})
_REQUESTS_SESSIONS = frozenset({"requests.Session", "requests.session",
                                "requests.sessions.Session"})
_SESSION_METHODS = _REQUESTS_FUNCS | {"send"}
_URLLIB3_POOLS = frozenset({
    "urllib3.PoolManager", "urllib3.ProxyManager", "urllib3.HTTPConnectionPool",
    "urllib3.HTTPSConnectionPool", "urllib3.connection_from_url", "urllib3.proxy_from_url",
    "urllib3.poolmanager.PoolManager", "urllib3.connectionpool.HTTPConnectionPool",
    "urllib3.connectionpool.HTTPSConnectionPool",
})
_URLLIB3_METHODS = frozenset({"request", "urlopen", "request_encode_url", "request_encode_body"})
_HTTPX_CLIENTS = frozenset({"httpx.Client", "httpx.AsyncClient"})
_URLOPEN = frozenset({"urllib.request.urlopen"})
_URLOPEN_TIMEOUT_POSITION = 2  # urlopen(url, data=None, timeout=...)


def _keyword(call: cst.Call, name: str) -> cst.Arg | None:
    return next((a for a in call.args if a.keyword is not None and a.keyword.value == name),
                None)


def _has_double_star(call: cst.Call) -> bool:
    return any(a.star == "**" for a in call.args)


def _is_none(arg: cst.Arg | None) -> bool:
    return arg is not None and type(arg.value) is cst.Name and arg.value.value == "None"


def _mounted(facts: FileFacts, nodes: Sequence[cst.CSTNode]) -> set[str]:
    """Names that get `name.mount(...)` — a custom adapter, the usual home of a default
    timeout — in the job's code or at module level."""
    module_calls = [
        small.value for stmt in facts.module.body if type(stmt) is cst.SimpleStatementLine
        for small in stmt.body if type(small) is cst.Expr
    ]
    return {
        c.func.value.value for c in (*nodes, *module_calls)
        if type(c) is cst.Call and type(c.func) is cst.Attribute
        and c.func.attr.value == "mount" and type(c.func.value) is cst.Name
    }


class RequestWithoutTimeout(Rule):
    """Give every network call in a job a timeout: without one the job can hang forever.

    `requests` and `urllib3` wait forever by default: a partner that accepts the connection and
    never answers keeps the job — and its worker thread — stuck for good, and a stuck job
    never fails, so it never retries. Pass `timeout=` (seconds, or a `(connect, read)` pair).

    Flagged: `requests.get/post/put/patch/delete/head/options/request(...)` and the same
    methods (and `send`) of a `requests.Session()` bound in the job or at module level, without
    `timeout=` (unless the session gets an adapter with `.mount(...)` in the job or at module
    level, the usual place for a default timeout); `urllib3.request(...)` and
    `request`/`urlopen` on a urllib3 pool created without `timeout=`, without `timeout=` of
    their own; `urllib.request.urlopen(url)` without a timeout (it falls back to the socket
    default, which is none); and an explicit `timeout=None` on any of these and on `httpx`.
    `httpx` calls and clients *without* `timeout=` are not flagged: httpx applies a 5-second
    default to connect, read, write and pool waits, so only `timeout=None` turns that off. A
    call that passes `**kwargs` may carry a timeout and is not flagged. Functions of the same
    module that the job calls by name, and a job class's methods called as `self.name(...)`,
    are checked too (one level deep); helpers imported from elsewhere are not seen. Job time
    limits (RQ's `job_timeout`, Dramatiq's `time_limit`, Celery's `time_limit`) bound the hang
    but turn it into a killed job instead of a retryable connection error.
    """

    CODE = "JK303"
    NAME = "request-without-timeout"
    MESSAGE = "`{call}` in {where} {why}, so the job can hang forever; pass timeout="
    VALID = (
        """\
import requests
import httpx
from celery import shared_task

@shared_task
def sync(account_id):
    requests.post("https://crm.example.com/sync", json={"id": account_id}, timeout=10)
    httpx.get("https://status.example.com")
    with requests.Session() as session:
        session.get("https://crm.example.com/ping", timeout=(3, 10))
""",
        """\
import requests

def health_check():
    return requests.get("https://status.example.com")
""",
    )
    INVALID = (
        """\
import requests
from celery import shared_task

@shared_task
def sync(account_id):
    requests.post("https://crm.example.com/sync", json={"id": account_id})
""",
        """\
import requests
import jobkit

session = requests.Session()

class SyncJob(jobkit.Job):
    def perform(self, account_id):
        self.fetch(account_id)

    def fetch(self, account_id):
        return session.get(f"https://crm.example.com/accounts/{account_id}")
""",
        """\
import urllib3
from urllib.request import urlopen
import dramatiq

@dramatiq.actor
def fetch(url):
    http = urllib3.PoolManager()
    http.request("GET", url)
    urlopen(url)
""",
        """\
import requests
from celery import shared_task

def _push(endpoint, version):
    return requests.put(endpoint, data={"version": version})

@shared_task
def notify(endpoint, version):
    _push(endpoint, version)
""",
        """\
import httpx
from celery import shared_task

@shared_task
def fetch(url):
    with httpx.Client(timeout=None) as client:
        client.get(url)
""",
    )

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Flag network calls in job bodies (and their same-module helpers) that can hang."""
        seen: set[int] = set()
        for job in facts.jobs:
            coroutine = is_async_job(job)
            for _function, nodes, helper in job_code(facts, job):
                local = local_bindings(nodes)
                mounted = _mounted(facts, nodes)
                for node in nodes:
                    if type(node) is not cst.Call or id(node) in seen:
                        continue
                    if coroutine and blocking_advice(facts, local, node) is not None:
                        # A blocking call in a coroutine job is JK304's: it stalls the loop
                        # with or without a timeout.
                        continue
                    why = self._why(facts, local, mounted, node)
                    if why:
                        seen.add(id(node))
                        where = f"`{helper}` (called by job `{job.node.name.value}`)" \
                            if helper else f"job `{job.node.name.value}`"
                        label = facts.module.code_for_node(node.func)
                        yield Violation(node, message=self.MESSAGE.format(
                            call=label, where=where, why=why,
                        ))

    def _why(
        self,
        facts: FileFacts,
        local: dict[str, list[cst.BaseExpression]],
        mounted: set[str],
        call: cst.Call,
    ) -> str | None:
        timeout = _keyword(call, "timeout")
        if _is_none(timeout):
            return "has timeout=None" if self._is_client_call(facts, local, call) else None
        if timeout is not None or _has_double_star(call):
            return None
        qualified = facts.resolver.qualify(call.func) or ""
        module, _, name = qualified.rpartition(".")
        if module in {"requests", "requests.api"} and name in _REQUESTS_FUNCS:
            return "has no timeout"
        if qualified == "urllib3.request":
            return "has no timeout"
        if qualified in _URLOPEN:
            positional = [a for a in call.args if a.keyword is None]
            return "has no timeout" if len(positional) <= _URLOPEN_TIMEOUT_POSITION else None
        if type(call.func) is not cst.Attribute:
            return None
        method = call.func.attr.value
        if method not in _SESSION_METHODS and method not in _URLLIB3_METHODS:
            return None  # before tracing what the receiver was built from
        kind = self._receiver_kind(facts, local, call.func.value)
        receiver = call.func.value
        adapter = type(receiver) is cst.Name and receiver.value in mounted
        if kind == "session" and method in _SESSION_METHODS and not adapter:
            return "uses a requests Session without a timeout"
        if kind == "pool" and method in _URLLIB3_METHODS:
            return "uses a urllib3 pool created without a timeout"
        return None

    def _is_client_call(
        self, facts: FileFacts, local: dict[str, list[cst.BaseExpression]], call: cst.Call
    ) -> bool:
        qualified = facts.resolver.qualify(call.func) or ""
        if qualified.startswith(("requests.", "httpx.", "urllib3.")) or qualified in _URLOPEN:
            return True
        return type(call.func) is cst.Attribute and self._receiver_kind(
            facts, local, call.func.value, any_client=True
        ) is not None

    def _receiver_kind(
        self,
        facts: FileFacts,
        local: dict[str, list[cst.BaseExpression]],
        receiver: cst.BaseExpression,
        *,
        any_client: bool = False,
    ) -> str | None:
        values: list[cst.BaseExpression] = [receiver]
        if type(receiver) is cst.Name:
            values = local.get(receiver.value) or facts.module_scope.env.get(receiver.value, [])
        kinds = {self._constructed(facts, v, any_client=any_client) for v in values}
        return kinds.pop() if len(kinds) == 1 else None

    @staticmethod
    def _constructed(
        facts: FileFacts, value: cst.BaseExpression, *, any_client: bool
    ) -> str | None:
        if type(value) is not cst.Call:
            return None
        qualified = facts.resolver.qualify(value.func) or ""
        if qualified in _REQUESTS_SESSIONS:
            return "session"
        if qualified in _URLLIB3_POOLS:
            timeout = _keyword(value, "timeout")
            unset = (timeout is None or _is_none(timeout)) and not _has_double_star(value)
            return "pool" if unset or any_client else None
        if any_client and qualified in _HTTPX_CLIENTS:
            return "httpx"
        return None
