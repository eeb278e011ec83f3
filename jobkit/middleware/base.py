"""Middleware base classes; each hook's default passes straight through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..job import Job

Payload = dict[str, Any]


class ClientMiddleware:
    """Wraps every enqueue. Override :meth:`enqueue`."""

    def enqueue(
        self, payload: Payload, call_next: Callable[[Payload], Payload | None]
    ) -> Payload | None:
        """Return ``call_next(payload)`` (payload may be changed first) or None to drop the job."""
        return call_next(payload)

    def after_push(self, payload: Payload) -> None:
        """Called once the job is in Redis (not for dropped or unique-refused jobs): by the
        pushing process — after the commit for ``set(after_commit=...)``, in the relay once
        its batch is committed for ``set(outbox=...)``."""


class ServerMiddleware:
    """Wraps every perform in the worker. Override :meth:`perform`, and :meth:`aperform` to
    wrap coroutine jobs on the event loop without a thread.

    A middleware that overrides only ``perform`` wraps coroutine jobs too: its ``perform``
    then runs in a thread of its own while ``call_next()`` awaits the job on the loop. One
    that overrides only ``aperform`` wraps plain jobs too, awaited around the job's thread.
    """

    def perform(self, job: Job, payload: Payload, call_next: Callable[[], None]) -> None:
        """Call ``call_next()`` to run the job; exceptions propagate to the retry logic."""
        call_next()

    def aperform(
        self, job: Job, payload: Payload, call_next: Callable[[], Awaitable[None]]
    ) -> Awaitable[None]:
        """Await ``call_next()`` to run the job (define it ``async def``); exceptions (and
        cancellation) propagate."""
        # Not async itself: a plain function returning an awaitable is a valid hook too, and
        # one that hands back call_next()'s adds no frame (JobLogger below WARNING does so).
        return call_next()


def overrides(mw: ServerMiddleware, hook: str) -> bool:
    """Whether ``mw``'s class defines its own ``hook`` (``"perform"`` or ``"aperform"``)."""
    return getattr(type(mw), hook) is not getattr(ServerMiddleware, hook)
