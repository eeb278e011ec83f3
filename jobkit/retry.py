"""What happens to a job that raised: retry later, kill (dead set), discard or drop.

Pure: it takes the payload, the exception and the time, and returns the decision.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from . import payload as pl

if TYPE_CHECKING:
    from .job import Job
    from .settings import Settings

log = logging.getLogger("jobkit.retry")
Verdict = Literal["retry", "dead", "discarded", "dropped"]
#: Sidekiq 7 trims stored error messages to this many characters.
MAX_ERROR_MESSAGE = 10_000


@dataclass(frozen=True)
class Failure:
    """The decision for a failed job: its updated payload and, for a retry, when."""

    verdict: Verdict
    payload: pl.Payload
    retry_at: float | None = None


def error_class_name(exc: BaseException) -> str:
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def record_error(payload: pl.Payload, exc: BaseException, now: float) -> pl.Payload:
    """A copy of ``payload`` with Sidekiq's failure fields updated for ``exc``."""
    job = dict(payload)
    job["error_message"] = str(exc)[:MAX_ERROR_MESSAGE]
    job["error_class"] = error_class_name(exc)
    if "retry_count" in job and isinstance(job["retry_count"], int):
        job["retry_count"] += 1
        job["retried_at"] = float(now)
    else:
        job["retry_count"] = 0
        job["failed_at"] = float(now)
    keep = job.get("backtrace")
    if keep:
        lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
        if keep is not True and isinstance(keep, int):
            lines = lines[-keep:]
        job["error_backtrace"] = pl.compress_backtrace(lines)
    return job


def retry_delay(job: type[Job] | None, count: int, exc: BaseException, *,
                randrange: Callable[[int], int] = random.randrange) -> float:
    """Seconds until the next attempt: ``retry_in`` when it gives a positive number, else
    Sidekiq's backoff; Sidekiq's jitter ``random(10) * (count + 1)`` is added unless disabled,
    drawn from ``randrange``."""
    try:
        custom = job.retry_in(count, exc) if job is not None else None
    except Exception:
        # A broken retry_in must not lose the job: fall back to Sidekiq's backoff.
        log.exception("%s.retry_in(%d, ...) raised; using the default backoff", job, count)
        custom = None
    if isinstance(custom, int | float) and not isinstance(custom, bool) and custom > 0:
        delay = float(custom)
    else:
        delay = float(count**4 + 15)
    if job is None or job.retry_jitter:
        delay += randrange(10) * (count + 1)
    return delay


def decide(
    payload: pl.Payload,
    exc: BaseException,
    job: type[Job] | None,
    *,
    now: float,
    settings: Settings,
) -> Failure:
    """Retry, kill, discard or drop ``payload`` after ``exc``."""
    if job is not None and job.discard_on and isinstance(exc, job.discard_on):
        discarded = record_error(payload, exc, now)
        discarded["discarded_at"] = float(now)
        return Failure("discarded", discarded)
    failed = record_error(payload, exc, now)
    count = failed["retry_count"]
    default = job.options().retry if job is not None else True
    attempts = pl.max_attempts(failed.get("retry", default), settings.default_max_retries)
    if count < attempts:
        return Failure("retry", failed,
                       now + retry_delay(job, count, exc, randrange=settings.jitter_random))
    if failed.get("dead", job.dead if job is not None else True) is False:
        return Failure("dropped", failed)
    return Failure("dead", failed)
