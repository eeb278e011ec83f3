"""Pages of the schedule, retry and dead sets and of a queue's jobs, read in windows.

A page is one ``ZRANGE``/``LRANGE`` window plus the size, never a full read; a search asks
Redis to scan with a ``MATCH`` pattern and keeps at most :data:`SEARCH_LIMIT` hits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import redis

from ..keys import Keys
from .entries import Entry, glob_for, parse_key
from .entries import digest as digest_of

SETS = ("schedule", "retry", "dead")
PER_PAGE = (25, 50, 100)
#: Hits a search collects before it stops (the page then says the list is cut).
SEARCH_LIMIT = 10_000


@dataclass(frozen=True)
class Page:
    """One window of a set or queue, with what the page needs to link to the others."""

    entries: list[Entry]
    total: int
    page: int
    per_page: int
    newest_first: bool
    query: str = ""
    truncated: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _window(page: int, per_page: int) -> tuple[int, int]:
    start = (max(page, 1) - 1) * per_page
    return start, start + per_page - 1


class SetReader:
    """Reads the sorted sets and queues of one Redis under one namespace."""

    def __init__(self, connection: redis.Redis, keys: Keys) -> None:
        self.redis = connection
        self.keys = keys

    def set_key(self, where: str) -> str:
        if where not in SETS:
            raise ValueError(f"set {where!r} must be one of {', '.join(SETS)}")
        return str(getattr(self.keys, where))

    def page(self, where: str, *, page: int = 1, per_page: int = 25, newest_first: bool = True,
             query: str = "") -> Page:
        """The jobs of one page; ``newest_first`` orders by score, highest first."""
        key = self.set_key(where)
        if query:
            return self._search(where, page=page, per_page=per_page,
                                newest_first=newest_first, query=query)
        start, stop = _window(page, per_page)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcard(key)
        if newest_first:
            pipe.zrevrange(key, start, stop, withscores=True)
        else:
            pipe.zrange(key, start, stop, withscores=True)
        total, rows = pipe.execute()
        return Page([Entry.load(where, raw, float(score)) for raw, score in rows], int(total),
                    max(page, 1), per_page, newest_first)

    def _search(self, where: str, *, page: int, per_page: int, newest_first: bool,
                query: str) -> Page:
        hits: list[Entry] = []
        truncated = False
        for entry in self.matching(where, query):
            if len(hits) == SEARCH_LIMIT:
                truncated = True
                break
            hits.append(entry)
        hits.sort(key=lambda e: e.score or 0.0, reverse=newest_first)
        start, stop = _window(page, per_page)
        return Page(hits[start:stop + 1], len(hits), max(page, 1), per_page, newest_first,
                    query, truncated)

    def matching(self, where: str, query: str) -> Iterator[Entry]:
        """Every entry whose class, arguments or error contains ``query`` (any case); every
        entry when ``query`` is empty. Scans in chunks: the set may change meanwhile."""
        needle = query.lower()
        pattern = glob_for(query) if query else None
        for raw, score in self.redis.zscan_iter(self.set_key(where), match=pattern, count=1000):
            entry = Entry.load(where, raw, float(score))
            if not needle or entry.matches(needle):
                yield entry

    def find(self, where: str, key: str) -> Entry | None:
        """The entry a page named by its key (score and digest), if it is still there."""
        parsed = parse_key(key)
        if parsed is None:
            return None
        score, name = parsed
        rows: list[tuple[bytes, float]] = self.redis.zrangebyscore(  # type: ignore[assignment]
            self.set_key(where), score, score, withscores=True)
        for raw, found in rows:
            entry = Entry.load(where, raw, float(found))
            if entry.digest == name:
                return entry
        return None

    def queue_page(self, name: str, *, page: int = 1, per_page: int = 25) -> Page:
        """A queue's jobs, newest (the last pushed) first, as Sidekiq's Web UI lists them."""
        key = self.keys.queue(name)
        start, stop = _window(page, per_page)
        pipe = self.redis.pipeline(transaction=False)
        pipe.llen(key)
        pipe.lrange(key, start, stop)
        total, rows = pipe.execute()
        return Page([Entry.load(f"queue:{name}", raw) for raw in rows], int(total),
                    max(page, 1), per_page, True)

    def find_in_queue(self, name: str, digest: str, *, near: int = 0) -> Entry | None:
        """The queued job with ``digest``, looked for in the window around position ``near``
        (where the page showed it) and the windows after it: a job's index only grows, as
        newer jobs are pushed at the left (workers take from the right)."""
        key = self.keys.queue(name)
        start = max(0, near - 100)
        for _ in range(20):
            rows: list[bytes] = self.redis.lrange(key, start, start + 999)  # type: ignore[assignment]
            for raw in rows:
                if digest_of(raw) == digest:
                    return Entry.load(f"queue:{name}", raw)
            if len(rows) < 1000:
                return None
            start += 1000
        return None
