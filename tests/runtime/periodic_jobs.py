"""A periodic job for worker subprocesses in tests (never imported by the test process itself:
its ``every = 1`` entry would tick in every worker the suite starts)."""

from __future__ import annotations

import jobkit


class EverySecond(jobkit.Job):
    """Records which jid ran for which tick."""

    name = "sample.EverySecond"
    every = 1

    def perform(self) -> None:
        client = jobkit.get_client()
        assert self.tick is not None
        client.redis.hset(f"{client.settings.namespace}:test:ticks",
                          str(round(self.tick.timestamp() * 1000)), self.jid)
        client.redis.hincrby(f"{client.settings.namespace}:test:tick-jids",
                             f"{round(self.tick.timestamp() * 1000)}:{self.jid}", 1)
