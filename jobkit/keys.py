"""Every Redis key jobkit reads or writes, in one place.

The names match Sidekiq's layout (see SIDEKIQ.md) so Sidekiq's API and Web UI see jobkit's data;
jobkit's own additions live under ``jobkit:`` so they never collide with Sidekiq's keys.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Key names under an optional namespace (``namespace="app"`` gives ``app:queue:default``)."""

    namespace: str = ""

    def _k(self, name: str) -> str:
        return f"{self.namespace}:{name}" if self.namespace else name

    @property
    def queues(self) -> str:
        return self._k("queues")

    def queue(self, name: str) -> str:
        return self._k(f"queue:{name}")

    @property
    def paused(self) -> str:
        """Set of paused queue names, as Sidekiq Pro keeps it: workers fetch none of their jobs."""
        return self._k("paused")

    @property
    def schedule(self) -> str:
        return self._k("schedule")

    @property
    def retry(self) -> str:
        return self._k("retry")

    @property
    def dead(self) -> str:
        return self._k("dead")

    def stat(self, name: str, day: str | None = None) -> str:
        """``stat:processed`` or, with a UTC ``YYYY-MM-DD`` day, ``stat:processed:2026-11-29``."""
        return self._k(f"stat:{name}:{day}" if day else f"stat:{name}")

    @property
    def processes(self) -> str:
        return self._k("processes")

    def process(self, identity: str) -> str:
        return self._k(identity)

    def workers(self, identity: str) -> str:
        """Busy-thread hash as Sidekiq 6.x names it."""
        return self._k(f"{identity}:workers")

    def work(self, identity: str) -> str:
        """Busy-thread hash as Sidekiq 7.x+ names it."""
        return self._k(f"{identity}:work")

    def signals(self, identity: str) -> str:
        return self._k(f"{identity}-signals")

    # jobkit's own keys (reliable fetch and unique locks).

    @property
    def inprogress_index(self) -> str:
        """Set of ``identity|queue`` members naming every in-progress list that may hold jobs."""
        return self._k("jobkit:inprogress")

    def inprogress(self, identity: str, queue: str) -> str:
        """Jobs a process has fetched from ``queue`` and not yet acknowledged."""
        return self._k(f"jobkit:inprogress:{identity}|{queue}")

    def alive(self, identity: str) -> str:
        """Liveness key with a short TTL; its absence lets other workers recover the jobs."""
        return self._k(f"jobkit:alive:{identity}")

    @property
    def recovered(self) -> str:
        """Hash of payload → times it was recovered from a dead process (expires daily)."""
        return self._k("jobkit:recovered")

    @property
    def poison(self) -> str:
        """Jobs recovered too often, waiting to be moved to the dead set."""
        return self._k("jobkit:poison")

    def unique(self, digest: str) -> str:
        return self._k(f"jobkit:unique:{digest}")

    @property
    def unique_rejected(self) -> str:
        """Counter of enqueues refused because a unique lock was held."""
        return self._k("jobkit:stat:unique_rejected")

    # Periodic jobs.

    @property
    def cron_entries(self) -> str:
        """Hash of entry name → its definition as JSON, published by every worker."""
        return self._k("jobkit:cron:entries")

    def cron_entry(self, name: str) -> str:
        """Hash of one entry's last claimed tick: ``last_tick`` (ms), ``last_jid``, ..."""
        return self._k(f"jobkit:cron:entry:{name}")

    def cron_ticks(self, name: str) -> str:
        """Sorted set of an entry's recently claimed ticks (ms): the per-tick claims."""
        return self._k(f"jobkit:cron:ticks:{name}")

    @property
    def cron_paused(self) -> str:
        """Set of paused entry names; every process skips their ticks."""
        return self._k("jobkit:cron:paused")
