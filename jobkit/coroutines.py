"""Running jobs through the server middleware chain, plain and coroutine alike.

A plain job goes through each middleware's ``perform``; a coroutine job through each
``aperform``. A middleware that defines only the other hook is bridged: an ``aperform``-only
middleware around a plain job runs on the calling thread's own event loop, a
``perform``-only middleware around a coroutine job runs in a thread of its own while the job
is awaited on the loop, so every middleware wraps every job and times what it wraps.

:func:`run_sync` runs a coroutine to completion from a worker thread (the threaded worker's
way to run coroutine jobs), on one event loop per thread that lives as long as the thread.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import functools
import inspect
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .middleware.base import ServerMiddleware, overrides

if TYPE_CHECKING:
    from .job import Job

T = TypeVar("T")
Payload = dict[str, Any]
Call = Callable[[], None]
ACall = Callable[[], Awaitable[None]]

#: Threads for ``perform``-only middleware around coroutine jobs: one per such job in
#: flight, so the pool is large; its threads start only when needed.
BRIDGE_THREADS = 256

_local = threading.local()
_bridge_pool: concurrent.futures.ThreadPoolExecutor | None = None
_bridge_lock = threading.Lock()


class _ThreadLoop:
    """This thread's event loop, closed when the thread's locals go (thread exit)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        if self.loop.is_closed() or self.loop.is_running():
            return
        try:
            # As asyncio.run does: pools opened on this loop (aperform_async inside a job)
            # are tied to its async generators, and go with them.
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()

    def __del__(self) -> None:
        # Not while the interpreter tears its modules down: running the loop then calls
        # into modules half gone (time-machine before 2.18 segfaults in its patched clock).
        # The main thread's loop was closed by atexit, before that.
        if not sys.is_finalizing():
            self.close()


def close_thread_loop() -> None:
    """Close this thread's loop and its connections (an executor thread calls it last;
    otherwise it happens when the thread's locals are freed)."""
    holder: _ThreadLoop | None = getattr(_local, "loop", None)
    if holder is not None:
        _local.loop = None
        holder.close()


# The main thread's locals outlive every atexit callback: close its loop while all is whole.
atexit.register(close_thread_loop)


def run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run the awaitable ``factory()`` to completion and return its result.

    On this thread's own loop; when a loop already runs on this thread (inline mode from
    async code), on a short-lived helper thread instead, since loops cannot nest.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        holder: _ThreadLoop | None = getattr(_local, "loop", None)
        if holder is None or holder.loop.is_closed():
            holder = _local.loop = _ThreadLoop()
        return holder.loop.run_until_complete(factory())
    box: list[Any] = []
    context = contextvars.copy_context()

    def run() -> None:
        box.append((True, run_sync(factory)))

    def target() -> None:
        try:
            context.run(run)
        except BaseException as e:
            box.append((False, e))

    helper = threading.Thread(target=target, name="jobkit-coroutine", daemon=True)
    helper.start()
    helper.join()
    ok, value = box[0]
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


#: One middleware's hook for plain jobs: called as ``layer(job, payload, call_next)``.
PlainLayer = Callable[["Job", Payload, Call], None]


def plain_layers(middleware: Sequence[ServerMiddleware]) -> tuple[PlainLayer, ...]:
    """Each middleware's ``perform`` (``aperform`` on this thread's loop for a middleware
    that defines only that), innermost first: worked out once per middleware tuple."""
    layers: list[PlainLayer] = []
    for mw in reversed(middleware):
        if overrides(mw, "perform") or not overrides(mw, "aperform"):
            layers.append(mw.perform)
        else:
            layers.append(functools.partial(_run_aperform, mw))
    return tuple(layers)


#: One middleware's hook for coroutine jobs: called as ``layer(job, payload, call_next)``.
Layer = Callable[["Job", Payload, ACall], Awaitable[None]]


def coroutine_layers(middleware: Sequence[ServerMiddleware]) -> tuple[Layer, ...]:
    """The hooks :func:`coroutine_chain` calls for ``middleware``, innermost first: worked
    out once per middleware tuple, not per job."""
    layers: list[Layer] = []
    for mw in reversed(middleware):
        if overrides(mw, "aperform"):
            layers.append(mw.aperform)
        elif overrides(mw, "perform"):
            layers.append(functools.partial(_bridge, mw))
    return tuple(layers)


def wrap(layers: Sequence[Layer], job: Job, payload: Payload, inner: ACall) -> ACall:
    """``inner`` wrapped in ``layers`` (from :func:`coroutine_layers`)."""
    call = inner
    for layer in layers:
        call = functools.partial(layer, job, payload, call)
    return call


def _run_aperform(mw: ServerMiddleware, job: Job, payload: Payload, call_next: Call) -> None:
    async def next_layer() -> None:
        # Blocks only this thread's private loop, which runs nothing but this job.
        call_next()

    async def run() -> None:
        await mw.aperform(job, payload, next_layer)

    run_sync(run)


async def _bridge(mw: ServerMiddleware, job: Job, payload: Payload, call_next: ACall) -> None:
    loop = asyncio.get_running_loop()
    started: list[concurrent.futures.Future[None]] = []

    async def awaited() -> None:
        await call_next()

    def sync_next() -> None:
        future = asyncio.run_coroutine_threadsafe(awaited(), loop)
        started.append(future)
        future.result()

    context = contextvars.copy_context()
    try:
        await loop.run_in_executor(
            _pool(), functools.partial(context.run, mw.perform, job, payload, sync_next)
        )
    except asyncio.CancelledError:
        # Cancel the job itself too: the middleware's thread then sees it fail and returns.
        for future in started:
            future.cancel()
        raise


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _bridge_pool
    with _bridge_lock:
        if _bridge_pool is None:
            _bridge_pool = concurrent.futures.ThreadPoolExecutor(
                BRIDGE_THREADS, thread_name_prefix="jobkit-middleware"
            )
        return _bridge_pool


async def settle(result: Any) -> None:
    """Await ``result`` if a plain ``perform`` returned an awaitable (a decorated coroutine)."""
    if inspect.isawaitable(result):
        await result


def cancelling(*, unknown: bool) -> bool:
    """Whether the current task is being cancelled; ``unknown`` before Python 3.11, where a
    task cannot tell."""
    task = asyncio.current_task()
    if task is None:
        return False
    # try, not getattr: this runs after every coroutine job, and the attribute is there
    # from Python 3.11 on.
    try:
        return bool(task.cancelling() > 0)
    except AttributeError:
        return unknown
