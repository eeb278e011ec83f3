"""Executors: the threads that run jobs, one at a time each, through the processor."""

from __future__ import annotations

import logging
import queue as queue_mod
import threading
import time

import redis

from .errors import PayloadError
from .exchanger import Exchanger
from .processor import Outcome, Processor, invalid_payload
from .settings import Settings
from .threads import thread

log = logging.getLogger("jobkit.worker")


class ThreadExecutors:
    """``concurrency`` threads taking jobs from the exchanger and handing outcomes back."""

    def __init__(self, processor: Processor, exchanger: Exchanger, settings: Settings,
                 *, concurrency: int, stopping: threading.Event) -> None:
        self.processor = processor
        self.exchanger = exchanger
        self.settings = settings
        self.concurrency = concurrency
        self._stopping = stopping
        #: Thread name → (queue, raw payload, started at) of the job it runs, for the heartbeat.
        self.busy: dict[str, tuple[str, bytes, float]] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._threads = [thread(self._loop, f"executor-{i}") for i in range(self.concurrency)]
        for worker_thread in self._threads:
            worker_thread.start()

    def join(self, deadline: float) -> None:
        """Wake every waiting thread (the stop flag is set) and wait until each finished its
        job, or until ``deadline`` (monotonic)."""
        for _ in self._threads:
            self.exchanger.ready.put(None)  # a waiting thread wakes at once and ends
        for worker_thread in self._threads:
            worker_thread.join(max(0.0, deadline - time.monotonic()))

    def _loop(self) -> None:
        tid = threading.current_thread().name
        take = self.exchanger.ready.get
        hand_back = self.exchanger.inbox.put
        process = self.processor.process
        stopping = self._stopping.is_set
        busy = self.busy
        while not stopping():
            try:
                work = take(timeout=0.2)
            except queue_mod.Empty:
                continue
            if work is None:  # join() wakes the threads this way
                return
            queue, raw = work
            if stopping():
                # Shutdown began while we waited: leave the job for stop() to requeue.
                self.exchanger.ready.put(work)
                return
            busy[tid] = (queue, raw, time.time())
            try:
                outcome = process(raw, queue)
            except redis.RedisError as e:
                # A unique-lock call failed before the job ran: try the job again later.
                log.warning("redis error before running a job, will retry it: %s", e)
                busy.pop(tid, None)
                self.exchanger.ready.put(work)
                self._stopping.wait(1.0)
                continue
            except Exception as e:
                # A bug outside the job itself: keep the thread, keep the job (in the dead set).
                log.exception("internal error processing a job from %r", queue)
                error = PayloadError(f"internal error while processing the job: {e!r}")
                outcome = Outcome(raw, queue, "invalid",
                                  invalid_payload(raw, queue, error, self.settings.clock()),
                                  exc=error)
            busy.pop(tid, None)
            # Lock-free: the exchanger collects outcomes when it is ready for them.
            hand_back(outcome)
