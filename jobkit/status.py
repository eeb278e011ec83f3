"""Where a job is now, by jid, and what is in flight on live and dead processes.

Read-only lookups over Sidekiq's layout plus jobkit's in-progress lists, for ``jobkit status``,
``jobkit stats`` and :meth:`jobkit.api.Admin.status`. A job moves while we look, so a lookup
that finds nothing looks once more before it answers "not found".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import redis

from . import payload as pl
from .errors import ConfigError, PayloadError
from .keys import Keys
from .replies import texts, values
from .settings import Settings

State = Literal["queued", "running", "fetched", "scheduled", "retrying", "dead", "not_found"]
#: Queue entries read per round trip while looking for a jid.
CHUNK = 1000


@dataclass(frozen=True)
class JobStatus:
    """Where one job is: ``state`` and the fields that state has (the others are None)."""

    jid: str
    state: State
    job_class: str | None = None
    queue: str | None = None
    #: Queued: 1 = the next job a worker fetches from this queue.
    position: int | None = None
    #: Running or fetched: the process (``host:pid:nonce``) holding it, and whether it lives.
    process: str | None = None
    process_alive: bool | None = None
    #: Running: epoch seconds it started; scheduled/retrying: the next run; dead: its death.
    since: float | None = None
    at: float | None = None
    #: Retrying: the attempt that runs next (1 = first retry); dead: retries made.
    attempt: int | None = None
    error: str | None = None
    args: list[Any] | None = None
    payload: dict[str, Any] | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields, without the empty ones (and without the raw payload)."""
        data = asdict(self)
        data.pop("payload")
        data["class"] = data.pop("job_class")
        return {k: v for k, v in data.items() if v is not None}

    def describe(self) -> str:
        """One line for a person, such as ``retrying: attempt 3 at ... (last error ...)``."""
        what = f"{self.job_class or '?'} {self.jid}"
        if self.state == "queued":
            return f"{what}: queued on {self.queue!r}, position {self.position}"
        if self.state in ("running", "fetched"):
            alive = "" if self.process_alive else " (process is dead: recovery requeues it)"
            since = f" since {_when(self.since)}" if self.since else " (waiting for a thread)"
            return f"{what}: {self.state} on {self.process}{since}{alive}"
        if self.state == "scheduled":
            return f"{what}: scheduled for {_when(self.at)} on {self.queue!r}"
        if self.state == "retrying":
            return (f"{what}: retrying, attempt {self.attempt} at {_when(self.at)}; "
                    f"last error {self.error}")
        if self.state == "dead":
            return f"{what}: dead since {_when(self.at)} after {self.attempt} retries; {self.error}"
        return f"{self.jid}: not found (finished, deleted, or never enqueued here)"


def _when(ts: float | None) -> str:
    import datetime as dt

    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _load(raw: bytes | str) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _time(value: Any) -> float | None:
    try:
        return pl.epoch(value) if value is not None else None
    except PayloadError:
        return None


def _error(job: dict[str, Any]) -> str | None:
    if not job.get("error_class") and not job.get("error_message"):
        return None
    return f"{job.get('error_class') or ''}: {job.get('error_message') or ''}".strip(": ")


def check_jid(jid: str) -> str:
    """``jid`` if it looks like a job id; :class:`ConfigError` naming it otherwise."""
    if not isinstance(jid, str) or not jid or not all(c in "0123456789abcdefABCDEF" for c in jid):
        raise ConfigError(f"jid={jid!r} is not a job id (hex characters, as 'b4a577edbccf1d8')")
    return jid


class StatusReader:
    """Looks jobs up by jid on one Redis."""

    def __init__(self, connection: redis.Redis, settings: Settings) -> None:
        self.redis = connection
        self.settings = settings
        self.keys = Keys(settings.namespace)

    def status(self, jid: str) -> JobStatus:
        """Where the job with ``jid`` is now."""
        check_jid(jid)
        # Twice: a job between two places (queue → in-progress, retry → queue) may be seen
        # in neither on the first pass.
        for _ in range(2):
            found = self._find(jid)
            if found is not None:
                return found
        return JobStatus(jid, "not_found")

    def _find(self, jid: str) -> JobStatus | None:
        # In the order a job travels, so a job moving ahead of the scan is usually caught.
        return (self._in_set(jid, "schedule") or self._in_queues(jid)
                or self._in_progress(jid) or self._in_set(jid, "retry")
                or self._in_set(jid, "dead"))

    def _in_set(self, jid: str, where: str) -> JobStatus | None:
        key = {"schedule": self.keys.schedule, "retry": self.keys.retry,
               "dead": self.keys.dead}[where]
        for raw, score in self.redis.zscan_iter(key, match=f"*{jid}*", count=1000):
            job = _load(raw)
            if job is None or job.get("jid") != jid:
                continue
            common: dict[str, Any] = {"job_class": job.get("class"), "queue": job.get("queue"),
                                      "at": float(score), "args": job.get("args"),
                                      "payload": job}
            if where == "schedule":
                return JobStatus(jid, "scheduled", **common)
            count = job.get("retry_count")
            count = count if isinstance(count, int) and not isinstance(count, bool) else 0
            if where == "retry":
                # retry_count is 0 after the first failure; Sidekiq shows that as retry 1.
                return JobStatus(jid, "retrying", attempt=count + 1, error=_error(job), **common)
            return JobStatus(jid, "dead", attempt=count, error=_error(job), **common)
        return None

    def _in_queues(self, jid: str) -> JobStatus | None:
        needle = jid.encode()
        for name in sorted(texts(self.redis.smembers(self.keys.queues))):
            key = self.keys.queue(name)
            # From the right end: position 1 is the job fetched next.
            start = 0
            while True:
                chunk: list[bytes] = self.redis.lrange(  # type: ignore[assignment]
                    key, -start - CHUNK, -start - 1)
                if not chunk:
                    break
                for offset, raw in enumerate(reversed(chunk)):
                    if needle in raw:
                        job = _load(raw)
                        if job is not None and job.get("jid") == jid:
                            return JobStatus(jid, "queued", job_class=job.get("class"),
                                             queue=name, position=start + offset + 1,
                                             args=job.get("args"), payload=job)
                if len(chunk) < CHUNK:
                    break
                start += CHUNK
        return None

    def _in_progress(self, jid: str) -> JobStatus | None:
        needle = jid.encode()
        for member in sorted(texts(self.redis.smembers(self.keys.inprogress_index))):
            identity, _, queue = member.partition("|")
            for raw in values(self.redis.lrange(self.keys.inprogress(identity, queue), 0, -1)):
                if needle not in raw:
                    continue
                job = _load(raw)
                if job is None or job.get("jid") != jid:
                    continue
                since = self._started(identity, jid)
                alive = bool(self.redis.exists(self.keys.alive(identity)))
                return JobStatus(jid, "running" if since is not None else "fetched",
                                 job_class=job.get("class"), queue=queue, process=identity,
                                 process_alive=alive, since=since, args=job.get("args"),
                                 payload=job)
        return None

    def _started(self, identity: str, jid: str) -> float | None:
        """When a thread of ``identity`` started running ``jid`` (from its busy hash)."""
        for entry in values(self.redis.hvals(self.keys.work(identity))):
            try:
                work = json.loads(entry)
                payload = work.get("payload")
                job = payload if isinstance(payload, dict) else json.loads(payload)
            except (ValueError, TypeError, AttributeError):
                continue
            if isinstance(job, dict) and job.get("jid") == jid:
                return _time(work.get("run_at"))
        return None

    # -- what is in flight -----------------------------------------------------------------

    def in_flight(self) -> list[Holder]:
        """Every process holding jobs in progress, live ones and dead ones not yet recovered."""
        members = sorted(texts(self.redis.smembers(self.keys.inprogress_index)))
        if not members:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for member in members:
            identity, _, queue = member.partition("|")
            pipe.llen(self.keys.inprogress(identity, queue))
        counts: dict[str, int] = {}
        for member, n in zip(members, pipe.execute(), strict=True):
            identity = member.partition("|")[0]
            counts[identity] = counts.get(identity, 0) + int(n)
        identities = sorted(i for i, n in counts.items() if n)
        pipe = self.redis.pipeline(transaction=False)
        for identity in identities:
            pipe.pttl(self.keys.alive(identity))
        return [self._holder(identity, counts[identity], int(ttl))
                for identity, ttl in zip(identities, pipe.execute(), strict=True)]

    def _holder(self, identity: str, jobs: int, ttl_ms: int) -> Holder:
        s = self.settings
        # Any live worker runs recovery every recovery_timeout / 2 seconds.
        sweep = s.recovery_timeout / 2
        if ttl_ms < 0:
            return Holder(identity, jobs, "dead", silent_for=None, recovered_within=sweep)
        silent = max(0.0, s.recovery_timeout - ttl_ms / 1000)
        # A live process refreshes its liveness key every heartbeat; two missed beats
        # mean it is dead, hung, or cut off from Redis.
        if silent > 2 * s.heartbeat_interval:
            return Holder(identity, jobs, "silent", silent_for=round(silent, 1),
                          recovered_within=round(ttl_ms / 1000 + sweep, 1))
        return Holder(identity, jobs, "alive", silent_for=round(silent, 1),
                      recovered_within=None)


@dataclass(frozen=True)
class Holder:
    """A process with jobs in its in-progress lists."""

    identity: str
    jobs: int
    #: alive; silent (missed heartbeats, liveness key not yet expired); dead (expired).
    state: Literal["alive", "silent", "dead"]
    silent_for: float | None
    #: Seconds (at most) until a live worker requeues the jobs; None for a live process.
    recovered_within: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        if self.state == "alive":
            return f"{self.jobs} in progress on {self.identity}"
        why = ("dead process" if self.state == "dead"
               else f"silent process (no heartbeat for {self.silent_for:.0f} s)")
        return (f"{self.jobs} in progress on {why} {self.identity}, recovered within "
                f"{self.recovered_within:.0f} s (by any running worker)")


def iter_holders(holders: list[Holder]) -> Iterator[Holder]:
    """Holders with dead and silent ones first: those are what an operator looks for."""
    order = {"dead": 0, "silent": 1, "alive": 2}
    yield from sorted(holders, key=lambda h: (order[h.state], h.identity))
