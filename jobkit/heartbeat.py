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
    ) -> None:
        self.redis = connection
        self.keys = keys
        self.identity = identity
        self.liveness_ttl_ms = int(liveness_ttl * 1000)
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

    def beat(self, busy: Mapping[str, tuple[str, bytes, float]], *, quiet: bool) -> list[str]:
        """Write one heartbeat; returns signals (``TSTP``, ``TERM``) an operator sent."""
        key = self.keys.process(self.identity)
        started = time.perf_counter()
        self.redis.ping()
        rtt_us = int((time.perf_counter() - started) * 1_000_000)
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self.keys.alive(self.identity), b"1", px=self.liveness_ttl_ms)
        pipe.sadd(self.keys.processes, self.identity)
        pipe.hset(key, mapping={
            "info": self.info, "busy": len(busy), "beat": time.time(),
            "quiet": "true" if quiet else "false", "rtt_us": rtt_us, "rss": rss_kb(),
        })
        pipe.expire(key, PROCESS_TTL)
        for hash_key, as_object in ((self.keys.workers(self.identity), True),
                                    (self.keys.work(self.identity), False)):
            pipe.delete(hash_key)
            if busy:
                pipe.hset(hash_key, mapping={
                    tid: _work_entry(queue, raw, run_at, as_object)
                    for tid, (queue, raw, run_at) in busy.items()
                })
                pipe.expire(hash_key, PROCESS_TTL)
        pipe.lrange(self.keys.signals(self.identity), 0, -1)
        pipe.delete(self.keys.signals(self.identity))
        results = pipe.execute()
        return [s.decode() if isinstance(s, bytes) else str(s) for s in results[-2]]

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


def cleanup(connection: redis.Redis, keys: Keys, *, now: float, stale_after: float) -> int:
    """Prune dead processes from ``processes``, as Sidekiq's ``ProcessSet.cleanup``; returns
    how many processes are alive.

    Sidekiq drops a member once its heartbeat hash has expired (60 s). A jobkit process is
    known dead sooner: its liveness key has expired and its last beat is ``stale_after``
    seconds old (the recovery timeout), so its hashes go too and no one waits a minute more.
    A Sidekiq process has no liveness key; its fresh beat keeps it alive.
    """
    members = sorted(texts(connection.smembers(keys.processes)))
    if not members:
        return 0
    pipe = connection.pipeline(transaction=False)
    for identity in members:
        pipe.hmget(keys.process(identity), ["info", "beat"])
        pipe.exists(keys.alive(identity))
    replies = pipe.execute()
    gone, live = [], 0
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
