"""Reading and managing jobkit's (and Sidekiq's) data in Redis: the operations API.

What Sidekiq's ``Sidekiq::Stats``, ``Queue``, ``RetrySet``, ``DeadSet`` and ``ProcessSet`` do,
for the ``jobkit`` operations commands and for scripts. Moves between sets are atomic.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from . import payload as pl
from . import scripts
from .ack import add_dead
from .errors import JobkitError, NotFoundError, PayloadError
from .keys import Keys
from .options import check_queue
from .replies import integer, texts, values
from .settings import Settings
from .status import Holder, JobStatus, StatusReader

SETS = ("schedule", "retry", "dead")


@dataclass(frozen=True)
class JobRecord:
    """One job as stored: where it is, its score (run time or time of death) and payload."""

    where: str
    raw: bytes
    payload: dict[str, Any]
    score: float | None = None

    @property
    def jid(self) -> str:
        return str(self.payload.get("jid", ""))

    def summary(self) -> dict[str, Any]:
        """The fields an operator wants to see, as JSON-ready data."""
        p = self.payload
        return {
            "jid": self.jid, "class": p.get("class"), "args": p.get("args"),
            "queue": p.get("queue"), "where": self.where, "at": self.score,
            "retry_count": p.get("retry_count"), "error_class": p.get("error_class"),
            "error_message": p.get("error_message"),
            "failed_at": _time(p.get("failed_at")), "enqueued_at": _time(p.get("enqueued_at")),
        }


def _time(value: Any) -> float | None:
    try:
        return pl.epoch(value) if value is not None else None
    except PayloadError:
        return None


def _load(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {"class": None, "args": [raw.decode("utf-8", "replace")], "jid": ""}
    return value if isinstance(value, dict) else {"class": None, "args": [value], "jid": ""}


class Admin:
    """Operations on one Redis: statistics, listing, retry, kill, delete, clear."""

    def __init__(self, settings: Settings, *, connection: redis.Redis | None = None) -> None:
        from .connection import connect

        self.settings = settings
        self.keys = Keys(settings.namespace)
        self.redis = connection if connection is not None else connect(settings.redis_url)
        self._move_due = self.redis.register_script(scripts.MOVE_DUE)
        self._move_member = self.redis.register_script(scripts.MOVE_MEMBER)

    # -- reading ---------------------------------------------------------------------------

    def queue_names(self) -> list[str]:
        return sorted(texts(self.redis.smembers(self.keys.queues)))

    def queues(self) -> list[dict[str, Any]]:
        """Each known queue's size, latency (seconds since its oldest job was enqueued) and
        whether it is paused."""
        names = self.queue_names()
        pipe = self.redis.pipeline(transaction=False)
        pipe.smembers(self.keys.paused)
        for name in names:
            pipe.llen(self.keys.queue(name))
            pipe.lindex(self.keys.queue(name), -1)
        paused, *replies = pipe.execute()
        paused_names = set(texts(paused))
        now = self.settings.clock()
        out = []
        for i, name in enumerate(names):
            size, oldest = replies[2 * i], replies[2 * i + 1]
            enqueued = _time(_load(oldest).get("enqueued_at")) if oldest else None
            out.append({"name": name, "size": int(size),
                        "latency": round(max(0.0, now - enqueued), 3) if enqueued else 0.0,
                        "paused": name in paused_names})
        return out

    def paused_queues(self) -> list[str]:
        """Names of the paused queues (Sidekiq Pro's ``paused`` set)."""
        return sorted(texts(self.redis.smembers(self.keys.paused)))

    def processes(self) -> list[dict[str, Any]]:
        """Live processes from the heartbeat hashes, after pruning dead ones as Sidekiq's
        ``ProcessSet.cleanup`` does."""
        import time

        from .heartbeat import cleanup

        cleanup(self.redis, self.keys, now=time.time(), stale_after=self.settings.recovery_timeout)
        out = []
        for identity in sorted(texts(self.redis.smembers(self.keys.processes))):
            info, busy, beat, quiet = values(self.redis.hmget(
                self.keys.process(identity), ["info", "busy", "beat", "quiet"]))
            if info is None:
                continue
            data = json.loads(info)
            out.append({"identity": identity, "hostname": data.get("hostname"),
                        "pid": data.get("pid"), "queues": data.get("queues"),
                        "concurrency": data.get("concurrency"), "busy": int(busy or 0),
                        "beat": float(beat or 0), "quiet": quiet == b"true"})
        return out

    def stats(self) -> dict[str, Any]:
        """Sidekiq's dashboard numbers."""
        processed, failed = values(
            self.redis.mget(self.keys.stat("processed"), self.keys.stat("failed")))
        queues = self.queues()
        processes = self.processes()
        holders = self.in_flight()
        return {
            "processed": int(processed or 0), "failed": int(failed or 0),
            "enqueued": sum(q["size"] for q in queues),
            "scheduled": integer(self.redis.zcard(self.keys.schedule)),
            "retries": integer(self.redis.zcard(self.keys.retry)),
            "dead": integer(self.redis.zcard(self.keys.dead)),
            "processes": len(processes), "busy": sum(p["busy"] for p in processes),
            "queues": queues,
            "in_progress": sum(h.jobs for h in holders),
            # Jobs of dead (or silent) processes: in no queue until recovery requeues them.
            "unrecovered": [h.as_dict() for h in holders if h.state != "alive"],
        }

    def status(self, jid: str) -> JobStatus:
        """Where the job with ``jid`` is now: queued, running, scheduled, retrying, dead or
        not found (see :mod:`jobkit.status`)."""
        return StatusReader(self.redis, self.settings).status(jid)

    def in_flight(self) -> list[Holder]:
        """Processes holding jobs in progress, dead and silent ones included."""
        return StatusReader(self.redis, self.settings).in_flight()

    def entries(self, where: str, *, limit: int = 50) -> list[JobRecord]:
        """Jobs in a sorted set (``schedule``, ``retry``, ``dead``), soonest/newest first."""
        key = self._set_key(where)
        rows: list[tuple[bytes, float]]
        if where == "dead":
            rows = self.redis.zrevrange(key, 0, limit - 1, withscores=True)  # type: ignore[assignment]
        else:
            rows = self.redis.zrange(key, 0, limit - 1, withscores=True)  # type: ignore[assignment]
        return [JobRecord(where, raw, _load(raw), float(score)) for raw, score in rows]

    def _set_key(self, where: str) -> str:
        if where not in SETS:
            raise JobkitError(f"set {where!r} must be one of {', '.join(SETS)}")
        return str(getattr(self.keys, where))

    def find(self, jid: str, *, where: tuple[str, ...] = SETS) -> JobRecord:
        """The job with ``jid`` in the given sets; :class:`NotFoundError` if absent."""
        if not jid or not all(c in "0123456789abcdefABCDEF" for c in jid):
            raise NotFoundError(f"jid={jid!r} is not a job id (hex characters)")
        for name in where:
            for raw, score in self._scan(self._set_key(name), jid):
                return JobRecord(name, raw, _load(raw), score)
        raise NotFoundError(f"no job with jid {jid} in {', '.join(where)}")

    def _scan(self, key: str, jid: str) -> Iterator[tuple[bytes, float]]:
        for raw, score in self.redis.zscan_iter(key, match=f"*{jid}*", count=1000):
            if _load(raw).get("jid") == jid:
                yield raw, score

    # -- changing --------------------------------------------------------------------------

    def retry_now(self, record: JobRecord) -> bool:
        """Push a scheduled, retry or dead job onto its queue now, keeping jid and
        created_at (as Sidekiq's "Retry Now"); False if another process moved it first."""
        job = dict(record.payload)
        job["enqueued_at"] = float(self.settings.clock())
        count = job.get("retry_count")
        if isinstance(count, int) and not isinstance(count, bool):
            # As Sidekiq's "Retry Now": a retry an operator asks for uses up no attempt.
            job["retry_count"] = count - 1
        queue = job["queue"] if isinstance(job.get("queue"), str) and job["queue"] else "default"
        moved = self._move_due(keys=[self._set_key(record.where), self.keys.queues,
                                     self.keys.queue(queue)],
                               args=[record.raw, pl.encode(job), queue])
        return bool(moved)

    def retry_all(self, where: str = "retry") -> int:
        """Retry every job in ``where``; returns how many moved."""
        moved = 0
        while batch := self.entries(where, limit=500):
            moved += sum(self.retry_now(r) for r in batch)
        return moved

    def kill(self, record: JobRecord) -> bool:
        """Move a scheduled or retry job to the dead set now."""
        if record.where == "dead":
            return False
        now = self.settings.clock()
        moved = self._move_member(keys=[self._set_key(record.where), self.keys.dead],
                                  args=[record.raw, record.raw, now])
        if moved:
            pipe = self.redis.pipeline(transaction=True)
            # Re-adding the same member is a no-op; this only trims as Sidekiq's kill does.
            add_dead(pipe, self.keys, self.settings, record.raw, now)
            pipe.execute()
        return bool(moved)

    def delete(self, record: JobRecord) -> bool:
        """Remove one job from its set."""
        return bool(self.redis.zrem(self._set_key(record.where), record.raw))

    def pause_queue(self, name: str) -> bool:
        """Stop every worker from fetching queue ``name``'s jobs (they keep waiting there);
        False if it was already paused. Running jobs finish; jobs still arrive."""
        return integer(self.redis.sadd(self.keys.paused, check_queue(name, "pause"))) == 1

    def resume_queue(self, name: str) -> bool:
        """Let workers fetch queue ``name`` again; False if it was not paused."""
        return integer(self.redis.srem(self.keys.paused, check_queue(name, "resume"))) == 1

    def clear_queue(self, name: str) -> int:
        """Delete every job waiting in queue ``name``; returns how many were deleted."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.llen(self.keys.queue(name))
        pipe.delete(self.keys.queue(name))
        pipe.srem(self.keys.queues, name)
        return int(pipe.execute()[0])

    def clear_set(self, where: str) -> int:
        """Delete every job in ``schedule``, ``retry`` or ``dead``; returns how many."""
        key = self._set_key(where)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zcard(key)
        pipe.delete(key)
        return int(pipe.execute()[0])
