"""jobkit: a Sidekiq-compatible Redis job runtime for Python.

Define jobs by subclassing :class:`Job` (or with :func:`job`), enqueue them with
``perform_async``/``perform_in``/``perform_at``/``perform_bulk`` (``await
Job.aperform_async(...)`` and friends from async code), and run them with ``jobkit worker``;
``perform`` may be ``async def``; declare periodic jobs with ``cron``/``every`` or :func:`periodic`.
"""

from ._version import __version__
from .aclient import AsyncClient, aclose, get_async_client
from .aftercommit import pending_after_commit
from .client import Client
from .config import configure, get_client, get_settings, use_client
from .errors import (
    ArgumentError,
    ConfigError,
    EnqueueError,
    JobDefinitionError,
    JobkitError,
    PayloadError,
    ScheduleError,
    UnknownJobError,
)
from .job import Enqueuer, Job, JobFunction, job, resolve
from .middleware import (
    ClientMiddleware,
    JobLogger,
    MetricsMiddleware,
    MetricsSink,
    ServerMiddleware,
)
from .options import JobOptions
from .periodic_entries import periodic
from .processor import Outcome
from .registry import lookup, registered
from .settings import Settings
from .worker import Worker, WorkerOptions

__all__ = [
    "ArgumentError",
    "AsyncClient",
    "Client",
    "ClientMiddleware",
    "ConfigError",
    "EnqueueError",
    "Enqueuer",
    "Job",
    "JobDefinitionError",
    "JobFunction",
    "JobLogger",
    "JobOptions",
    "JobkitError",
    "MetricsMiddleware",
    "MetricsSink",
    "Outcome",
    "PayloadError",
    "ScheduleError",
    "ServerMiddleware",
    "Settings",
    "UnknownJobError",
    "Worker",
    "WorkerOptions",
    "__version__",
    "aclose",
    "configure",
    "get_async_client",
    "get_client",
    "get_settings",
    "job",
    "lookup",
    "pending_after_commit",
    "periodic",
    "registered",
    "resolve",
    "use_client",
]
