"""Turning the delays and run times users pass into epoch seconds."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from .errors import ScheduleError


def delay_seconds(interval: Any, *, name: str = "interval") -> float:
    """Seconds in ``interval`` (a number or a ``timedelta``); a past delay means "now"."""
    if isinstance(interval, dt.timedelta):
        return interval.total_seconds()
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        raise ScheduleError(
            f"{name}={interval!r} must be a number of seconds or a datetime.timedelta"
        )
    if not math.isfinite(interval):
        raise ScheduleError(f"{name}={interval!r} must be a finite number of seconds")
    return float(interval)


def epoch_of(when: Any, *, name: str = "when") -> float:
    """Epoch seconds of ``when``: an aware ``datetime`` or epoch seconds as a number."""
    if isinstance(when, dt.datetime):
        if when.tzinfo is None or when.utcoffset() is None:
            raise ScheduleError(
                f"{name}={when!r} is a naive datetime; pass an aware one such as "
                "datetime(..., tzinfo=timezone.utc) so the run time is unambiguous"
            )
        return when.timestamp()
    if isinstance(when, bool) or not isinstance(when, int | float) or not math.isfinite(when):
        raise ScheduleError(
            f"{name}={when!r} must be a timezone-aware datetime or epoch seconds as a number"
        )
    return float(when)
