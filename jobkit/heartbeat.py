"""The process heartbeat Sidekiq's API and Web UI read, plus jobkit's liveness key."""

from __future__ import annotations

import json
import os
import resource
import secrets
import socket
import time
from collections.abc import Mapping, Sequence
from typing import Any

import redis

from ._version import __version__
from .keys import Keys
from .replies import texts

#: Sidekiq expires a process's heartbeat hash after 60 seconds without a beat.
PROCESS_TTL = 60
#: Signals taken per beat (an operator sends one at a time).
SIGNALS_MAX = 100


def new_identity() -> str:
    """``hostname:pid:nonce``, as Sidekiq names processes."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(6)}"


def rss_kb() -> int:
    """Resident memory of this process in KB (current where /proc has it, else peak)."""
    try:
        with open(f"/proc/{os.getpid()}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


class Heartbeat:
    """Writes ``processes``, the ``IDENTITY`` hash and the busy-thread hashes."""

    def __init__(
        self,
        connection: redis.Redis,
        keys: Keys,
        identity: str,
        *,
        queues: Sequence[tuple[str, int]],
        concurrency: int,
        tag: str,
        liveness_ttl: float,
        started_at: float,
        heartbeat_interval: float = 5.0,
    ) -> None:
        self.redis = connection
        self.keys = keys
        self.identity = identity
        self.liveness_ttl_ms = int(liveness_ttl * 1000)
        self._beats = 0
        self._rtt_us = 0
        self._was_busy = True  # clear whatever a previous process of this name left
        # Refresh each TTL at least three times within it (a beat may come late).
        self._refresh_every = max(1, int(liveness_ttl / max(heartbeat_interval, 1e-3) / 3))
        self._hash_every = max(1, int(PROCESS_TTL / max(heartbeat_interval, 1e-3) / 3))
        hostname, pid, _ = identity.rsplit(":", 2)
        self.info = json.dumps(
            {
                "hostname": hostname,
                "started_at": started_at,
                "pid": int(pid),
                "tag": tag,
                "concurrency": concurrency,
                "queues": [name for name, _ in queues],
                "weights": [{name: weight for name, weight in queues}],
                "labels": ["jobkit"],
                "identity": identity,
                "version": f"jobkit {__version__}",
                "embedded": False,
            }
        )

    def alive(self) -> None:
        """Refresh only the liveness key (cheap; done before the first fetch)."""
        self.redis.set(self.keys.alive(self.identity), b"1", px=self.liveness_ttl_ms)

    def beat(self, busy: Mapping[str, tuple[str, bytes, float]], *, quiet: bool,
             signals: bool = True) -> list[str]:
        """Write one heartbeat; returns signals (``TSTP``, ``TERM``) an operator sent, if
        ``signals`` (a worker that blocks on its signal list reads them there).

        An idle fleet's load on Redis is mostly heartbeats, so a beat sends what changed:
        the process hash's fields each time, the TTLs (liveness key, hash expiry, the
        ``processes`` entry) about three times per TTL rather than every beat, the busy
        hashes only while busy and once after. One round trip; the round-trip time shown
        is the previous beat's."""
        key = self.keys.process(self.identity)
        refresh = self._beats % self._refresh_every == 0
        self._beats += 1
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, mapping={
            "info": self.info, "busy": len(busy), "beat": time.time(),
            "quiet": "true" if quiet else "false", "rtt_us": self._rtt_us, "rss": rss_kb(),
        })
        if refresh or self._beats == 1:
            pipe.set(self.keys.alive(self.identity), b"1", px=self.liveness_ttl_ms)
        if self._beats % self._hash_every == 1 or self._hash_every == 1:
            pipe.expire(key, PROCESS_TTL)
            pipe.sadd(self.keys.processes, self.identity)
        if busy or self._was_busy:
            for hash_key, as_object in ((self.keys.workers(self.identity), True),
                                        (self.keys.work(self.identity), False)):
                pipe.delete(hash_key)
                if busy:
                    pipe.hset(hash_key, mapping={
                        tid: _work_entry(queue, raw, run_at, as_object)
                        for tid, (queue, raw, run_at) in busy.items()
                    })
                    pipe.expire(hash_key, PROCESS_TTL)
        if signals:
            # Sidekiq's Web UI pushes onto this list; one atomic pop takes them all.
            pipe.lpop(self.keys.signals(self.identity), SIGNALS_MAX)
        started = time.perf_counter()
        results = pipe.execute()
        self._rtt_us = int((time.perf_counter() - started) * 1_000_000)
        self._was_busy = bool(busy)
        if not signals or not results[-1]:
            return []
        # LPOP takes the newest first; act on them in the order they were sent.
        return [s.decode() if isinstance(s, bytes) else str(s) for s in reversed(results[-1])]

    def clear(self) -> None:
        """Remove this process from ``processes`` and delete its heartbeat keys."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.srem(self.keys.processes, self.identity)
        pipe.delete(
            self.keys.process(self.identity),
            self.keys.workers(self.identity),
            self.keys.work(self.identity),
            self.keys.alive(self.identity),
        )
        pipe.execute()


def cleanup(connection: redis.Redis, keys: Keys, *, now: float, stale_after: float,
            alive: str | None = None) -> int:
    """Prune dead processes from ``processes``, as Sidekiq's ``ProcessSet.cleanup``; returns
    how many processes are alive.

    Sidekiq drops a member once its heartbeat hash has expired (60 s). A jobkit process is
    known dead sooner: its liveness key has expired and its last beat is ``stale_after``
    seconds old (the recovery timeout), so its hashes go too and no one waits a minute more.
    A Sidekiq process has no liveness key; its fresh beat keeps it alive. ``alive`` names
    the calling process, counted without asking (two commands fewer per idle call).
    """
    found = set(texts(connection.smembers(keys.processes)))
    own = int(alive in found)
    members = sorted(found - {alive})
    if not members:
        return own
    pipe = connection.pipeline(transaction=False)
    for identity in members:
        pipe.hmget(keys.process(identity), ["info", "beat"])
        pipe.exists(keys.alive(identity))
    replies = pipe.execute()
    gone, live = [], own
    for i, identity in enumerate(members):
        (info, beat), alive = replies[2 * i], replies[2 * i + 1]
        if info is None:
            gone.append(identity)
        elif alive or now - float(beat or 0) <= stale_after:
            live += 1
        elif _is_jobkit(info):
            gone.append(identity)
    if gone:
        pipe = connection.pipeline(transaction=True)
        pipe.srem(keys.processes, *gone)
        for identity in gone:
            pipe.delete(keys.process(identity), keys.workers(identity), keys.work(identity))
        pipe.execute()
    return live


def _is_jobkit(info: bytes) -> bool:
    """Whether a heartbeat's ``info`` is a jobkit process's (Sidekiq's has no liveness key)."""
    try:
        labels = json.loads(info).get("labels")
    except (ValueError, AttributeError):
        return False
    return isinstance(labels, list) and "jobkit" in labels


def _work_entry(queue: str, raw: bytes, run_at: float, as_object: bool) -> str:
    # Sidekiq 6.x stores the payload as a JSON object in ``workers``; 7.x keeps the raw job
    # string in ``work`` and parses it on read.
    text = raw.decode("utf-8", "replace")
    payload: Any = text
    if as_object:
        try:
            payload = json.loads(text)
        except (ValueError, RecursionError):
            payload = text
    return json.dumps({"queue": queue, "payload": payload, "run_at": int(run_at)})
