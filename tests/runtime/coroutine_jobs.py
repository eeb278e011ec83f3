"""Coroutine jobs (and plain ones beside them) shared by the coroutine-job tests; each
records what it did in ``events``, a list the test reads and clears."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import jobkit

events: list[Any] = []
started = threading.Event()


class Gone(Exception):
    """Raised by a job to be discarded."""


class Fetch(jobkit.Job):
    name = "coro_test.Fetch"

    async def perform(self, url: str, times: int = 1) -> None:
        await asyncio.sleep(0)
        events.append(("fetch", url, times, self.jid != ""))


class PlainNote(jobkit.Job):
    name = "coro_test.PlainNote"

    def perform(self, value: object) -> None:
        events.append(("plain", value))


@jobkit.job(name="coro_test.notify", queue="io", retry=3, retry_jitter=False,
            retry_in=lambda count, exc: 7.0)
async def notify(user_id: int) -> None:
    """A function coroutine job that fails until told not to."""
    await asyncio.sleep(0)
    events.append(("notify", user_id))
    if user_id < 0:
        raise ValueError(f"no user {user_id}")


class Flaky(jobkit.Job):
    name = "coro_test.Flaky"
    retry = 1
    retry_jitter = False

    @classmethod
    def retry_in(cls, count: int, exc: BaseException) -> float:
        return 30.0

    async def perform(self, n: int) -> None:
        await asyncio.sleep(0)
        raise RuntimeError(f"flaky {n} try {self.retry_count}")


class Discarded(jobkit.Job):
    name = "coro_test.Discarded"
    discard_on = (Gone,)
    unique = "until_executed"

    async def perform(self, n: int) -> None:
        await asyncio.sleep(0)
        raise Gone(n)


class Once(jobkit.Job):
    name = "coro_test.Once"
    unique = "until_executed"

    async def perform(self, n: int) -> None:
        await asyncio.sleep(0)
        events.append(("once", n))


class Executing(jobkit.Job):
    name = "coro_test.Executing"
    unique = "until_executing"

    async def perform(self, n: int) -> None:
        events.append(("executing", n))


class Sleeper(jobkit.Job):
    """Waits until cancelled (or ``seconds`` pass); ``started`` tells the test it began."""

    name = "coro_test.Sleeper"
    unique = "while_executing"
    retry = 0

    async def perform(self, seconds: float) -> None:
        started.set()
        await asyncio.sleep(seconds)
        events.append(("slept", seconds))


class Stubborn(jobkit.Job):
    """Swallows its cancellation and returns as if done."""

    name = "coro_test.Stubborn"

    async def perform(self) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("swallowed")


class InnerCancel(jobkit.Job):
    """Awaits a future that something else cancels: its own failure, not a shutdown."""

    name = "coro_test.InnerCancel"
    retry = 0

    async def perform(self) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.cancel()
        await future


class Enqueues(jobkit.Job):
    """A coroutine job that enqueues another from inside, with the awaitable client."""

    name = "coro_test.Enqueues"

    async def perform(self, n: int) -> None:
        await Fetch.aperform_async(f"child-{n}")
