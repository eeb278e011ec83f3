"""The harness clock that jobkit's client, scheduler and retries read through ``Settings.clock``.

It is the ambient ``time.time()`` plus an offset that :meth:`FakeClock.advance` moves
forward. Reading ``time.time`` at each call means freezegun and time-machine, when active,
move jobkit's time too, and ``advance`` stacks on top of them; tests never sleep.
"""

from __future__ import annotations

import datetime as dt
import time

from jobkit import ScheduleError, times

from .errors import UsageError


def seconds_of(value: object, name: str) -> float:
    """Seconds in ``value`` (a number or a timedelta), named ``name`` in errors."""
    try:
        return times.delay_seconds(value, name=name)
    except ScheduleError as e:
        raise UsageError(str(e)) from None


def epoch_of(value: object, name: str) -> float:
    """Epoch seconds of an aware datetime (or a number), named ``name`` in errors."""
    try:
        return times.epoch_of(value, name=name)
    except ScheduleError as e:
        raise UsageError(str(e)) from None


class FakeClock:
    """Epoch seconds: the ambient clock plus the time the test advanced."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def now(self) -> dt.datetime:
        """The current jobkit time as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self(), dt.timezone.utc)

    def advance(self, by: object) -> None:
        """Move forward by ``by`` seconds (number or timedelta); never backwards."""
        seconds = seconds_of(by, "by")
        if seconds < 0:
            raise UsageError(f"by={by!r} is negative; the jobkit clock only moves forward")
        self.offset += seconds

    def advance_to(self, when: float) -> None:
        """Move forward to epoch ``when`` if it is in the future."""
        gap = when - self()
        if gap > 0:
            self.offset += gap
