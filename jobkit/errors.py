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
