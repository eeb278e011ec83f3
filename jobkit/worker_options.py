"""How one worker process fetches and runs jobs: its options, validated."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ConfigError
from .fetch import check_queues
from .middleware.base import ServerMiddleware

#: Adaptive prefetch holds about this much work ahead of the threads: fast jobs need a deep
#: buffer to keep the threads busy between round trips; slow jobs should stay in Redis where
#: idle workers can take them.
PREFETCH_SECONDS = 0.05
#: Deeper buffers made the executor threads starve the fetch and acknowledge threads of the
#: GIL in measurements (throughput fell by two thirds in some runs).
MAX_PREFETCH = 200


@dataclass(frozen=True)
class WorkerOptions:
    """How one worker process fetches and runs jobs."""

    queues: tuple[tuple[str, int], ...] = (("default", 1),)
    concurrency: int = 10
    #: Coroutine jobs in flight at once on the worker's event loop, beside the threads.
    async_concurrency: int = 100
    strict: bool = False
    #: Seconds a graceful shutdown waits for running jobs before requeueing them.
    timeout: float = 25.0
    tag: str = ""
    #: Jobs fetched ahead of free threads. None adapts it to the jobs' speed: enough for
    #: about ``PREFETCH_SECONDS`` of work, from 1 to ``MAX_PREFETCH``.
    prefetch: int | None = None
    #: Seconds to wait before polling again when every queue was empty — on fakeredis only:
    #: with a real Redis an idle worker blocks on its queues instead (jobkit.blocking).
    idle_wait: float = 0.05
    log_jobs: bool = True
    extra_middleware: tuple[ServerMiddleware, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "queues", check_queues(self.queues))
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int) or not (
            1 <= self.concurrency <= 1000
        ):
            raise ConfigError(f"concurrency={self.concurrency!r} must be an integer from 1 to 1000")
        if isinstance(self.async_concurrency, bool) or not isinstance(
                self.async_concurrency, int) or not 1 <= self.async_concurrency <= 100_000:
            raise ConfigError(f"async_concurrency={self.async_concurrency!r} must be an integer "
                              "from 1 to 100000")
        if not isinstance(self.timeout, int | float) or self.timeout < 0:
            raise ConfigError(f"timeout={self.timeout!r} must be a number of seconds >= 0")
        if self.prefetch is not None and (not isinstance(self.prefetch, int) or self.prefetch < 0):
            raise ConfigError(f"prefetch={self.prefetch!r} must be an integer >= 0")
        if not isinstance(self.idle_wait, int | float) or not 0 < self.idle_wait <= 5:
            raise ConfigError(f"idle_wait={self.idle_wait!r} must be between 0 and 5 seconds")

