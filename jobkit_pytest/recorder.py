"""The client middleware that records every enqueue and where in the test it came from."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import jobkit

Payload = dict[str, Any]
_JOBKIT = os.path.dirname(jobkit.__file__) + os.sep
_SKIP = (_JOBKIT, os.path.dirname(__file__) + os.sep)
# perform_async and friends live in job.py; client middleware runs below them, in client.py
# (called by aclient.py for the awaitable variants).
_JOB_API = os.path.join(_JOBKIT, "job.py")
_CLIENTS = (os.path.join(_JOBKIT, "client.py"), os.path.join(_JOBKIT, "aclient.py"))


def _outside(frame: FrameType | None) -> str | None:
    while frame is not None:
        if not frame.f_code.co_filename.startswith(_SKIP):
            return f"{os.path.relpath(frame.f_code.co_filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def caller_location() -> str | None:
    """``file:line`` of the code that called jobkit's enqueue API (not a client middleware)."""
    frame: FrameType | None = sys._getframe(1)
    client: FrameType | None = None
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename == _JOB_API:
            return _outside(frame)
        if filename in _CLIENTS:
            client = frame  # the outermost one: middleware frames lie inside it
        frame = frame.f_back
    # Called through jobkit.Client directly: the first frame outside jobkit above it.
    return _outside(client)


class Recorder(jobkit.ClientMiddleware):
    """Innermost client middleware: sees each payload exactly as it will be pushed."""

    def __init__(self) -> None:
        self.locations: dict[str, str | None] = {}
        #: Payloads in enqueue order (shallow copies taken before the push).
        self.log: list[Payload] = []
        #: Every queue name enqueued to, so the runner reads them all in one round trip.
        self.queues: set[str] = set()
        #: Set by inline mode: runs each job right after it was pushed.
        self.inline: Callable[[Payload], None] | None = None

    def enqueue(
        self, payload: Payload, call_next: Callable[[Payload], Payload | None]
    ) -> Payload | None:
        result = call_next(payload)
        if result is None:
            return None
        self.locations[result["jid"]] = caller_location()
        self.log.append(dict(result))
        self.queues.add(str(result["queue"]))
        return result

    def after_push(self, payload: Payload) -> None:
        # Inline mode runs the job once the real client has pushed it, so perform_async
        # still returns its jid, as Sidekiq's inline! does.
        if self.inline is not None:
            self.inline(payload)
