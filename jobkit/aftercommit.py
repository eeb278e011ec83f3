"""Pushes deferred to a commit: the jobs waiting for their transaction, and their delivery.

The SQLAlchemy and Django halves (``jobkit.transactions``) decide *when* (commit, rollback,
savepoints); this module holds what they share: the list behind
:func:`pending_after_commit` and the push with bounded retries once the commit happened.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis

from .client import Client, Ready

log = logging.getLogger("jobkit.aftercommit")

#: Seconds a push that failed after its commit (Redis away) is retried before it is logged
#: as lost with its payload.
RETRY_FOR = 300.0

Item = tuple[Client, Ready]
_providers: list[Callable[[], Iterable[Item]]] = []


def add_pending_source(source: Callable[[], Iterable[Item]]) -> None:
    """Register where one integration keeps the jobs of open transactions."""
    if source not in _providers:
        _providers.append(source)


def pending_after_commit() -> list[dict[str, Any]]:
    """Payloads enqueued with ``after_commit=`` whose transaction has not committed yet
    (in every thread), oldest first. Each is a copy: changing it changes nothing."""
    found = [ready for source in _providers for _, ready in source()]
    found.sort(key=lambda r: float(r.payload.get("created_at", 0.0)))
    return [dict(r.payload) for r in found]


def deliver(items: Sequence[Item]) -> None:
    """Push jobs whose transaction committed; those Redis refuses go to the retrier.

    Another error (a client middleware's ``after_push``, a failing job in the plugin's
    inline mode) does not stop the others: it is raised once all were pushed.
    """
    failure: BaseException | None = None
    for n, (client, ready) in enumerate(items):
        try:
            client.push_ready(ready)
        except redis.RedisError as e:
            log.warning("after-commit push failed (%s); retrying %d job(s) for up to %.0f s",
                        e, len(items) - n, RETRY_FOR)
            retrier().add(items[n:])
            break
        except Exception as e:
            failure = failure or e
    if failure is not None:
        raise failure


class Retrier:
    """A thread that retries failed after-commit pushes with backoff for ``retry_for``
    seconds each, then logs them as lost with their payloads."""

    def __init__(self, *, retry_for: float | None = None) -> None:
        # Read at creation, not at import: setting RETRY_FOR before the first failure counts.
        self.retry_for = RETRY_FOR if retry_for is None else retry_for
        self._items: deque[tuple[float, Item]] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.lost: list[dict[str, Any]] = []

    def add(self, items: Iterable[Item]) -> None:
        deadline = time.monotonic() + self.retry_for
        with self._cond:
            self._items.extend((deadline, item) for item in items)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="jobkit-after-commit-retry")
                self._thread.start()
            self._cond.notify()

    @property
    def waiting(self) -> int:
        """Jobs not yet pushed."""
        return len(self._items)

    def _run(self) -> None:
        delay = 0.1
        while True:
            with self._cond:
                if not self._items:
                    return
                deadline, (client, ready) = self._items[0]
            try:
                client.push_ready(ready)
            except redis.RedisError as e:
                if time.monotonic() >= deadline:
                    with self._cond:
                        self._items.popleft()
                    self._lose(ready, f"Redis still failing after {self.retry_for:.0f} s: {e}")
                    continue
                with self._cond:
                    self._cond.wait(delay)
                delay = min(5.0, delay * 2)
                continue
            delay = 0.1
            with self._cond:
                self._items.popleft()

    def _lose(self, ready: Ready, why: str) -> None:
        self.lost.append(dict(ready.payload))
        log.error("after-commit job LOST (%s); payload: %s", why, _encoded(ready))

    def lose_all(self, why: str) -> None:
        """Give up on everything left (at interpreter exit), logging each payload."""
        with self._cond:
            items, self._items = list(self._items), deque()
        for _, (_, ready) in items:
            self._lose(ready, why)


def _encoded(ready: Ready) -> str:
    from .payload import encode

    return encode(ready.payload).decode()


_retrier: Retrier | None = None
_retrier_lock = threading.Lock()


def retrier() -> Retrier:
    """The process's retrier, started on first use."""
    global _retrier
    with _retrier_lock:
        if _retrier is None:
            _retrier = Retrier()
        return _retrier


@atexit.register
def _at_exit() -> None:
    if _retrier is not None and _retrier.waiting:
        _retrier.lose_all("the process exited before Redis came back")
