"""A probe pushed as any Sidekiq-format producer pushes it (Ruby's client, a plain script):
one ``LPUSH`` of the JSON payload, no jobkit client. Shared by the latency peers that take
the enqueuing client out of the measurement."""

from __future__ import annotations

import json
import os
import time

import redis

from jobkit.keys import Keys

QUEUE = "default"
_client: redis.Redis | None = None


def push(namespace: str, enqueued_at: float) -> None:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    now = time.time()
    payload = {"class": "ProbeJob", "args": [enqueued_at], "queue": QUEUE, "retry": True,
               "jid": os.urandom(12).hex(), "created_at": now, "enqueued_at": now}
    _client.lpush(Keys(namespace).queue(QUEUE), json.dumps(payload, separators=(",", ":")))
