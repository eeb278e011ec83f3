"""Coroutine jobs for worker subprocesses: each records what it did in Redis under the
test's namespace, through the worker's own async client (``redis.asyncio``)."""

from __future__ import annotations

import asyncio

import jobkit


def _key(name: str) -> str:
    return f"{jobkit.get_settings().namespace}:test:{name}"


class AsyncRecordJob(jobkit.Job):
    """Records its argument, awaiting the event loop's jobkit connection."""

    name = "sample.AsyncRecordJob"

    async def perform(self, value: str) -> None:
        await jobkit.get_async_client().redis.rpush(_key("record"), value)


class AsyncSlowJob(jobkit.Job):
    """Marks itself started, sleeps on the loop, then records completion."""

    name = "sample.AsyncSlowJob"

    async def perform(self, token: str, seconds: float) -> None:
        r = jobkit.get_async_client().redis
        await r.sadd(_key("started"), token)
        await asyncio.sleep(seconds)
        await r.sadd(_key("done"), token)


@jobkit.job(name="sample.plain_record")
def plain_record(value: str) -> None:
    """A plain job beside the coroutine ones."""
    jobkit.get_client().redis.rpush(_key("record"), value)
