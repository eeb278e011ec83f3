"""The whole exception tree of jobkit, rooted at :class:`JobkitError`."""

from __future__ import annotations


class JobkitError(Exception):
    """Raised for every error jobkit itself reports; catch this to catch them all."""


class ConfigError(JobkitError, ValueError):
    """Raised when a setting or a command-line option has a bad value."""


class JobDefinitionError(JobkitError, TypeError):
    """Raised when a job class declares a bad option or clashes with a registered name."""


class ArgumentError(JobkitError, TypeError):
    """Raised when a job is enqueued with arguments Sidekiq's JSON format cannot carry."""


class EnqueueError(JobkitError):
    """Raised when Redis fails part way through a bulk enqueue; says which jobs are in Redis."""

    def __init__(self, message: str, *, pushed: list[str | None], unconfirmed: range,
                 not_pushed: range) -> None:
        super().__init__(message)
        #: The jids of the jobs pushed before the failure (None: dropped or lock taken).
        self.pushed = pushed
        #: Indexes into ``args_list`` of the batch that failed: Redis did not confirm them
        #: (one MULTI: after a lost connection all or none are in).
        self.unconfirmed = unconfirmed
        #: Indexes into ``args_list`` of the jobs never sent.
        self.not_pushed = not_pushed

    @classmethod
    def part_way(cls, pushed: list[str | None], start: int, size: int, total: int,
                 cause: BaseException) -> EnqueueError:
        """The error for a bulk enqueue whose batch at ``start`` (of ``size`` jobs, of
        ``total``) failed with ``cause``."""
        end = start + size
        return cls(
            f"bulk enqueue failed at args_list[{start}:{end}] ({type(cause).__name__}: "
            f"{cause}): args_list[0:{start}] are pushed (jids in .pushed); args_list"
            f"[{start}:{end}] are unconfirmed (Redis did not acknowledge their batch); "
            f"args_list[{end}:{total}] are not pushed",
            pushed=pushed, unconfirmed=range(start, end), not_pushed=range(end, total))


class ScheduleError(JobkitError, ValueError):
    """Raised when a run time or delay for a scheduled job is not a usable time."""


class PayloadError(JobkitError, ValueError):
    """Raised when a job payload read from Redis is not a valid job."""


class UnknownJobError(PayloadError):
    """Raised when a payload names a job class that is not registered in this process."""


class WorkerCrashed(JobkitError):
    """Recorded on a job that was in progress in too many worker processes that died."""


class NotFoundError(JobkitError, LookupError):
    """Raised when no job, queue or entry with the given name is where it was looked for."""


class OutboxError(JobkitError):
    """Raised when the outbox table cannot be reached, created or read (bad URL, no table,
    a database jobkit's outbox does not support)."""
