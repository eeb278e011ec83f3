"""What the dashboard and the Busy page read: totals, daily history, Redis facts, processes
and the jobs running on them. Each reader is a handful of pipelined round trips."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import redis

from ..keys import Keys
from ..replies import texts, values
from .entries import Entry

HISTORY_DAYS = (7, 30, 90)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def days_back(today: dt.date, count: int) -> list[str]:
    """``count`` UTC dates ending with ``today``, oldest first, as ``YYYY-MM-DD``."""
    return [(today - dt.timedelta(days=n)).isoformat() for n in range(count - 1, -1, -1)]


@dataclass(frozen=True)
class Running:
    """One busy thread: which process, since when, and the job."""

    identity: str
    thread: str
    queue: str
    run_at: float
    entry: Entry


@dataclass(frozen=True)
class Process:
    """One live worker process as its heartbeat describes it."""

    identity: str
    info: dict[str, Any]
    busy: int
    beat: float
    quiet: bool
    rss_kb: int
    running: list[Running] = field(default_factory=list)

    @property
    def concurrency(self) -> int:
        return _int(self.info.get("concurrency"))

    @property
    def started_at(self) -> float:
        return _float(self.info.get("started_at"))


class StatsReader:
    """Reads the counters, processes and server facts of one Redis under one namespace."""

    def __init__(self, connection: redis.Redis, keys: Keys) -> None:
        self.redis = connection
        self.keys = keys

    def live(self, now: float) -> dict[str, Any]:
        """The numbers the live chart polls: totals, today, set sizes, enqueued, busy."""
        today = dt.datetime.fromtimestamp(now, dt.timezone.utc).date().isoformat()
        k = self.keys
        pipe = self.redis.pipeline(transaction=False)
        pipe.mget(k.stat("processed"), k.stat("failed"), k.stat("processed", today),
                  k.stat("failed", today))
        pipe.zcard(k.schedule)
        pipe.zcard(k.retry)
        pipe.zcard(k.dead)
        pipe.smembers(k.queues)
        pipe.smembers(k.processes)
        counters, scheduled, retries, dead, queues, processes = pipe.execute()
        names, identities = sorted(_text(q) for q in queues), sorted(_text(p) for p in processes)
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.llen(k.queue(name))
        for identity in identities:
            pipe.hget(k.process(identity), "busy")
        replies = pipe.execute() if names or identities else []
        sizes, busy = replies[:len(names)], replies[len(names):]
        processed, failed, processed_today, failed_today = (_int(c) for c in counters)
        return {
            "time": now, "processed": processed, "failed": failed,
            "processed_today": processed_today, "failed_today": failed_today,
            "scheduled": int(scheduled), "retries": int(retries), "dead": int(dead),
            "enqueued": sum(_int(s) for s in sizes),
            "processes": sum(b is not None for b in busy),
            "busy": sum(_int(b) for b in busy),
        }

    def history(self, today: dt.date, days: int) -> list[tuple[str, int, int]]:
        """(day, processed, failed) for each of the last ``days`` UTC days, oldest first."""
        dates = days_back(today, days)
        keys = [self.keys.stat(kind, day) for day in dates for kind in ("processed", "failed")]
        counts = [_int(v) for v in values(self.redis.mget(keys))]
        return [(day, counts[2 * i], counts[2 * i + 1]) for i, day in enumerate(dates)]

    def redis_info(self) -> dict[str, str]:
        """Version, memory, clients and uptime of the server (Sidekiq's dashboard footer)."""
        try:
            info: Any = self.redis.info()
        except redis.ResponseError as e:
            # The embedded fakeredis (memory://) has no INFO.
            return {"info": f"not available: {e}"}
        wanted = ("redis_version", "uptime_in_days", "connected_clients", "used_memory_human",
                  "used_memory_peak_human", "maxmemory_policy")
        return {name: str(info[name]) for name in wanted if name in info}

    def processes(self) -> list[Process]:
        """Live processes (expired heartbeats skipped) with the jobs running on each."""
        k = self.keys
        identities = sorted(texts(self.redis.smembers(k.processes)))
        pipe = self.redis.pipeline(transaction=False)
        for identity in identities:
            pipe.hmget(k.process(identity), ["info", "busy", "beat", "quiet", "rss"])
            pipe.hgetall(k.work(identity))
        replies = pipe.execute() if identities else []
        out = []
        for i, identity in enumerate(identities):
            (info, busy, beat, quiet, rss), work = replies[2 * i], replies[2 * i + 1]
            if info is None:
                continue
            try:
                data = json.loads(info)
            except ValueError:
                data = {}
            process = Process(identity, data if isinstance(data, dict) else {}, _int(busy),
                              _float(beat), quiet == b"true", _int(rss))
            process.running.extend(sorted(
                (_running(identity, _text(tid), value) for tid, value in work.items()),
                key=lambda r: r.run_at))
            out.append(process)
        return out


def _running(identity: str, thread: str, value: bytes) -> Running:
    # Sidekiq 7's ``work`` hash keeps the payload as a string; 6.x's ``workers`` as an object.
    try:
        data = json.loads(value)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    payload = data.get("payload")
    raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    return Running(identity, thread, str(data.get("queue") or ""), _float(data.get("run_at")),
                   Entry.load("running", raw))
