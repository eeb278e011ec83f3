"""Which calls block an event loop, shared by JK304 (which reports them in coroutine jobs)
and by any rule that must leave those calls to it, so that one call is reported once."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from jobkit_lint.facts import FileFacts, JobDef

__all__ = ["blocking_advice", "is_async_job", "local_bindings"]

_HTTP_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options",
                         "request"})
_ASYNC_HTTP = "use an async client (`httpx.AsyncClient`, aiohttp)"
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




def is_async_job(job: JobDef) -> bool:
    """Whether the job's body is ``async def``: a coroutine job, whose blocking calls JK304
    reports."""
    return any(body.asynchronous is not None for body in job.bodies)


def local_bindings(nodes: Sequence[cst.CSTNode]) -> dict[str, list[cst.BaseExpression]]:
    """Local names bound by `name = value` and `with value as name`."""
    bound: dict[str, list[cst.BaseExpression]] = {}
    for node in nodes:
        if type(node) is cst.Assign:
            for target in node.targets:
                if type(target.target) is cst.Name:
                    bound.setdefault(target.target.value, []).append(node.value)
        elif (type(node) is cst.WithItem and node.asname is not None
              and type(node.asname.name) is cst.Name):
            bound.setdefault(node.asname.name.value, []).append(node.item)
    return bound


def blocking_advice(
    facts: FileFacts, local: dict[str, list[cst.BaseExpression]], call: cst.Call
) -> str | None:
    """What to use instead when ``call`` blocks (a known blocking function, or a method of a
    sync client every binding of its receiver makes); None when it does not block."""
    qualified = facts.resolver.qualify(call.func) or ""
    if qualified in _BLOCKING:
        return _BLOCKING[qualified]
    if type(call.func) is not cst.Attribute or call.func.attr.value in _LOCAL_METHODS:
        return None
    receiver = call.func.value
    values: list[cst.BaseExpression] = [receiver]
    if type(receiver) is cst.Name:
        values = local.get(receiver.value) or facts.module_scope.env.get(receiver.value, [])
    kinds = {
        _SYNC_CLIENTS.get(facts.resolver.qualify(v.func) or "")
        if type(v) is cst.Call else None
        for v in values
    }
    # Every binding must be a sync client: a name also bound to an async one is unknown.
    return kinds.pop() if len(kinds) == 1 else None
